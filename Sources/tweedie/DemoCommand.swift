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
        let modelsDir = try models ?? BundledModels.locate()
        let prior = (modelsDir as NSString).appendingPathComponent(Self.priorName)
        let demo = (prior as NSString).appendingPathComponent("demo")
        for f in ["observation.fits", "truth.fits", "psf.fits", "operator.yaml"] {
            let p = (demo as NSString).appendingPathComponent(f)
            guard FileManager.default.fileExists(atPath: p) else {
                throw TweedieError.io(path: p, problem: "bundled demo file missing; the repository checkout is incomplete (regenerate with python3 Priors/training/make_demo_observation.py)")
            }
        }
        return ["--prior", prior,
                "--observation", (demo as NSString).appendingPathComponent("observation.fits"),
                "--spec", (demo as NSString).appendingPathComponent("operator.yaml"),
                "--truth", (demo as NSString).appendingPathComponent("truth.fits"),
                "--sigma", try demoSigmas(demo),
                "--flux-scale", try demoFlux(demo),
                "--sampler", sampler, "--samples", "\(samples)", "--steps", "\(steps)", "--batch", "\(batch)",
                "--seed", "\(seed)", "-o", output]
    }

    /// The flux scale from the observation's catalogue magnitude (MAG_R, AB, zero point 27): the
    /// galaxy prior is normalised to unit r-band flux, so s = 10^(−0.4 (MAG_R − 27)). (The estimate
    /// Σ y / Σ A(prior mean) needs a prior whose mean image has a clean background; the interim
    /// prior's has not.)
    private static func demoFlux(_ demo: String) throws -> String {
        let path = (demo as NSString).appendingPathComponent("observation.fits")
        guard let m = try FITSReader.read(path).header?.double("MAG_R") else {
            throw TweedieError.fits(path: path, problem: "lacks the MAG_R keyword; regenerate it with python3 Priors/training/make_demo_observation.py")
        }
        return String(pow(10, -0.4 * (m - 27)))
    }

    /// σ per band from the observation's SIGMA_G/R/I keywords (written by the demo script).
    private static func demoSigmas(_ demo: String) throws -> String {
        let path = (demo as NSString).appendingPathComponent("observation.fits")
        let h = try FITSReader.read(path).header ?? FITSHeader()
        let values = ["SIGMA_G", "SIGMA_R", "SIGMA_I"].compactMap { h.double($0) }
        guard values.count == 3 else {
            throw TweedieError.fits(path: path, problem: "lacks SIGMA_G/R/I keywords; regenerate it with python3 Priors/training/make_demo_observation.py")
        }
        return values.map { String($0) }.joined(separator: ",")
    }
}

/// Finds Priors/Models: $TWEEDIE_MODELS, else ./Priors/Models, else walking up from the executable.
enum BundledModels {
    static func locate() throws -> String {
        let fm = FileManager.default
        if let env = ProcessInfo.processInfo.environment["TWEEDIE_MODELS"], !env.isEmpty { return env }
        var tried: [String] = []
        let cwd = URL(fileURLWithPath: fm.currentDirectoryPath).appendingPathComponent("Priors/Models")
        tried.append(cwd.path)
        if fm.fileExists(atPath: cwd.path) { return cwd.path }
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<6 {
            let c = dir.appendingPathComponent("Priors/Models")
            tried.append(c.path)
            if fm.fileExists(atPath: c.path) { return c.path }
            dir = dir.deletingLastPathComponent()
        }
        throw TweedieError.io(path: tried.joined(separator: ", "),
                              problem: "bundled priors not found; run from the repository root or set TWEEDIE_MODELS=<repo>/Priors/Models")
    }
}
