// `tweedie bench unet`: ms per image for the U-Net's forward pass and forward +
// input VJP, GFLOPS and threads (DESIGN §7) — a thin layer over UNetBenchmark.
import ArgumentParser
import Foundation
import TweedieCore
import TweediePriors

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmarks of Tweedie's compute kernels.",
        subcommands: [BenchUNet.self, BenchDPS.self, BenchUV.self, BenchSampler.self]
    )
}

struct BenchUNet: TweedieCommand {
    static let configuration = CommandConfiguration(
        commandName: "unet",
        abstract: "Time the U-Net: forward and forward + input VJP per image.",
        discussion: """
            --reference times DESIGN §7's network (64×64×1, base 64, channel_mult 1,2,2, 2 res blocks, \
            attention at 16 px, 4 heads, scale-shift norm) with random weights; compare with \
            `python3 Priors/training/bench_unet_torch.py` run at the same time. --prior times a prior \
            directory's network; --checkpoint with --config a network loaded from weights (safetensors or \
            PyTorch .pt). Say the machine load (uptime) next to the numbers.
            """
    )

    @Flag(help: "Use the reference network of DESIGN §7 with random weights.")
    var reference = false

    @Option(help: "Prior directory whose network to time.")
    var prior: String?

    @Option(help: "Checkpoint (.pt or safetensors) to time; needs --config.")
    var checkpoint: String?

    @Option(help: "Network flags (JSON, improved-diffusion names) for --checkpoint.")
    var config: String?

    @Option(help: "Images per network call.")
    var batch = 8

    @Option(help: "U-Net worker threads (default: all cores; each GEMM call runs single-threaded in OpenBLAS).")
    var threads: Int?

    @Option(help: "Timed runs after one warm-up; the best and the median are reported.")
    var repeats = 5

    @Option(help: "3×3 convolution algorithm (automatic: Winograd 4×4 up to 50 M parameters, else 2×2).")
    var convolution: ConvolutionAlgorithm = .automatic

    @Flag(help: "Also split one forward + VJP by kernel (GEMM, im2col, GroupNorm, …).")
    var profile = false

    func validate() throws {
        if [reference, prior != nil, checkpoint != nil].filter({ $0 }).count != 1 {
            throw ValidationError("give one of --reference, --prior DIR, or --checkpoint FILE --config FLAGS.json")
        }
        if checkpoint != nil && config == nil { throw ValidationError("--checkpoint needs --config FLAGS.json") }
        if batch < 1 { throw ValidationError("--batch must be at least 1, got \(batch)") }
        if repeats < 1 { throw ValidationError("--repeats must be at least 1, got \(repeats)") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1, got \(threads)") }
    }

    func execute() throws {
        if let threads { UNetThreading.setThreads(threads) }
        let model: UNetModel
        let name: String
        if reference {
            let cfg = UNetBenchmark.referenceConfig
            model = try UNetModel(config: cfg, stateDict: try UNetBenchmark.randomStateDict(for: cfg), source: "reference",
                              convolution: convolution)
            name = "reference network (DESIGN §7)"
        } else if let prior {
            let dir = try PriorDirectory.open(URL(fileURLWithPath: prior))
            model = try UNetModel(prior: dir, convolution: convolution)
            name = "prior \(dir.config.name) (\(prior))"
        } else {
            let cfgPath = config!, ckpt = checkpoint!
            let cfgData: Data
            do { cfgData = try Data(contentsOf: URL(fileURLWithPath: cfgPath)) } catch {
                throw TweedieError.io(path: cfgPath, problem: "cannot read the config: \(error.localizedDescription)")
            }
            let cfg: UNetConfig
            do { cfg = try JSONDecoder().decode(UNetConfig.self, from: cfgData) } catch {
                throw TweedieError.invalidInput(what: cfgPath, problem: "not a U-Net config (improved-diffusion flag names as JSON): \(error)")
            }
            let weights = try CheckpointLoader.load(URL(fileURLWithPath: ckpt)).tensors
            model = try UNetModel(config: cfg, stateDict: weights, source: ckpt, convolution: convolution)
            name = ckpt
        }
        let result = try UNetBenchmark.run(model, batch: batch, repeats: repeats, profiled: profile)
        var load = [Double](repeating: 0, count: 3)
        let got = getloadavg(&load, 3)
        print("U-Net benchmark: \(name), 3×3 convolutions: \(model.convolution.rawValue)")
        print(result.description)
        if got == 3 { print(String(format: "load average: %.2f %.2f %.2f", load[0], load[1], load[2])) }
    }
}

extension ConvolutionAlgorithm: ExpressibleByArgument {}
