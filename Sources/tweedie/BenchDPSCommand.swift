// `tweedie bench dps`: ms per DPS step per image (DESIGN §7: one network forward
// pass, one input VJP and one operator apply + adjoint per step per sample) on
// the reference network of DESIGN §7 or a prior's network, with a Gaussian PSF
// (FWHM 2 px, 41² stamp, linear boundary) and σ = 0.05 noise on a random
// observation. Compare with `python3 Priors/training/bench_dps_torch.py` run back
// to back on the same machine.
import ArgumentParser
import Foundation
import TweedieCore
import TweedieOperators
import TweediePriors
import TweedieSampling

struct BenchDPS: TweedieCommand {
    static let configuration = CommandConfiguration(
        commandName: "dps",
        abstract: "Time DPS steps: ms per step per image (forward + VJP + operator).")

    @Flag(help: "Use the reference network of DESIGN §7 with random weights.")
    var reference = false

    @Option(help: "Prior directory whose network to time.")
    var prior: String?

    @Option(help: "Samples per batch.")
    var batch = 8

    @Option(help: "DPS steps per timed run.")
    var steps = 5

    @Option(help: "Timed runs after one warm-up; best and median reported.")
    var repeats = 3

    @Option(help: "U-Net worker threads (default: all cores).")
    var threads: Int?

    func validate() throws {
        if reference == (prior != nil) { throw ValidationError("give one of --reference or --prior DIR") }
        for (name, value) in [("--batch", batch), ("--steps", steps), ("--repeats", repeats)] where value < 1 {
            throw ValidationError("\(name) must be ≥ 1, got \(value)")
        }
        if let threads, threads < 1 { throw ValidationError("--threads must be ≥ 1, got \(threads)") }
    }

    func execute() throws {
        if let threads { UNetThreading.setThreads(threads) }
        let denoiser: UNetDenoiser
        if reference {
            let cfg = UNetBenchmark.referenceConfig
            let model = try UNetModel(config: cfg, stateDict: try UNetBenchmark.randomStateDict(for: cfg), source: "reference")
            denoiser = UNetDenoiser(model: model, schedule: try NoiseSchedule(kind: cfg.noiseSchedule, steps: cfg.diffusionSteps))
        } else {
            denoiser = try UNetDenoiser(prior: try PriorDirectory.open(URL(fileURLWithPath: prior!)))
        }
        let shape = denoiser.imageShape
        let psf = try GaussianPSF(fwhm: 2).render(pixelScale: 1, height: 41, width: 41)
        let op = try PSFConvolution(psf: psf, imageShape: shape, boundary: .linear)
        var y = ImageBatch(count: 1, shape: op.outputShape)
        y.data.withUnsafeMutableBufferPointer { SampleStream(seed: 99, index: 0).fillNormal($0) }
        let problem = try PosteriorProblem(observation: y, forwardOperator: op,
                                           noise: try DiagonalGaussianNoise(sigma: 0.05, shape: op.outputShape), fluxScale: 1)
        // A schedule respaced to `steps` steps: each step is one full DPS step.
        let sampler = try DPSSampler(prior: denoiser, problem: problem, settings: DPSSettings(steps: steps, guidanceScale: 0.1))
        _ = try sampler.sample(indices: 0..<batch, seed: 1)
        var times: [Double] = []
        for r in 0..<repeats {
            let t0 = Date()
            _ = try sampler.sample(indices: 0..<batch, seed: UInt64(2 + r))
            times.append(Date().timeIntervalSince(t0) * 1000 / Double(steps * batch))
        }
        times.sort()
        var load = [Double](repeating: 0, count: 3)
        let got = getloadavg(&load, 3)
        print("DPS benchmark: \(reference ? "reference network (DESIGN §7)" : prior!), \(shape), batch \(batch), \(steps) steps, threads \(UNetThreading.threads)")
        print(String(format: "DPS step: %.1f ms per step per image (best of %d), median %.1f", times[0], repeats, times[times.count / 2]))
        print(String(format: "=> %.0f s per posterior sample at 1000 steps", times[0]))
        if got == 3 { print(String(format: "load average: %.2f %.2f %.2f", load[0], load[1], load[2])) }
    }
}
