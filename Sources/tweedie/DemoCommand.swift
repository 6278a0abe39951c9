// `tweedie demo`: the main job on the bundled default (issue 5 item 9). Runs
// `tweedie sample` with the bundled galaxy prior on the bundled HSC-like demo
// observation (Priors/Models/galaxy-gri-64/demo/, made by
// Priors/training/make_demo_observation.py) with its truth, so the summary
// also reports PSNR / SSIM / coverage. Settings are chosen to finish in a few
// minutes on 2 cores; `--samples 256` gives paper 003's sample count.
import ArgumentParser
import Foundation
import TweedieCore
import TweedieSampling
import TweedieStudies

struct DemoCommand: TweedieCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Deconvolve the bundled HSC-like galaxy observation with the bundled galaxy prior.",
        discussion: """
            The observation is a held-out galaxy of the prior's generator at z = 0.2 seen with HSC's 0.168″ \
            pixels through a Moffat PSF (FWHM 0.7″, β 3.5) with HSC Wide noise in g, r, i. The run is \
            `tweedie sample` with the options printed at the start; the outputs are those of `tweedie sample`.
            """)

    @Option(name: .shortAndLong, help: "Output directory (new or empty).")
    var output: String = "demo-output"

    @Option(help: "Number of posterior samples (256 for paper 003's variance ratio; slower).")
    var samples: Int = DemoCommand.defaultSamples

    @Option(help: "Sampling steps.")
    var steps: Int = DemoCommand.defaultSteps

    @Option(help: "Samples per batch.")
    var batch: Int = DemoCommand.defaultBatch

    @Option(help: "Sampler: split-gibbs (default: calibrated, with the prior's split_gibbs settings from its config.json; ≈ 1.6× DPS's time per sample), smc, or dps (faster, NOT calibrated: its intervals cover the demo's truth 0.20/0.56 of the time at 68/95 %).")
    var sampler: String = DemoCommand.defaultSampler

    @Option(help: "Random seed.")
    var seed: UInt64 = 0

    @Option(name: .customLong("models"), help: "Directory holding the bundled priors (default: found from the working directory or the executable).")
    var models: String?

    @Flag(help: "No progress line.")
    var quiet = false

    static let defaultSamples = 16
    static let defaultSteps = 100
    static let defaultBatch = 8
    static let defaultSampler = PosteriorDefaults.sampler
    static let priorName = "galaxy-gri-64"

    func execute() throws {
        var args = try Self.sampleArguments(models: models, sampler: sampler, samples: samples, steps: steps,
                                            batch: batch, seed: seed, output: output)
        if quiet { args.append("--quiet") }
        if !quiet { printNote("tweedie demo = tweedie sample " + args.joined(separator: " ")) }
        let cmd = try SampleCommand.parse(args)
        try cmd.validate()
        try cmd.runJob(resuming: nil, arguments: args)
    }

    /// The `tweedie sample` arguments of the demo run (also timed by `tweedie bench sampler`).
    static func sampleArguments(models: String?, sampler: String, samples: Int, steps: Int, batch: Int,
                                seed: UInt64, output: String) throws -> [String] {
        let demo = try DemoObservation(models: models, prior: Self.priorName)
        return ["--prior", demo.prior, "--observation", demo.observation, "--spec", demo.operatorSpec, "--truth", demo.truth,
                "--sigma", demo.sigmas.map { String($0) }.joined(separator: ","),
                "--flux-scale", String(demo.fluxScale),
                "--sampler", sampler, "--samples", "\(samples)", "--steps", "\(steps)", "--batch", "\(batch)",
                "--seed", "\(seed)", "-o", output]
    }
}
