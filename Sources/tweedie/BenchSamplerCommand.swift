// `tweedie bench sampler`: seconds per posterior sample of each sampler on the
// demo (the bundled galaxy prior and HSC-like observation, `tweedie demo`'s
// settings), one after the other in the same process, and each one's ratio to
// the first (DPS by default). Each run is a full `tweedie sample` into a
// temporary directory (network calls, likelihood steps, statistics, outputs),
// so the number is what a user waits for per sample. Report the load average
// and threads printed with it; the machines are shared, so compare ratios.
import ArgumentParser
import Foundation
import TweedieCore
import TweediePriors
import TweedieSampling

struct BenchSampler: TweedieCommand {
    static let configuration = CommandConfiguration(
        commandName: "sampler",
        abstract: "Time posterior samplers on the demo: seconds per sample and the ratio to the first.")

    @Option(help: "Samplers to time, comma-separated, the first the reference (dps, split-gibbs, smc).")
    var samplers: String = "dps,split-gibbs"

    @Option(help: "Samples per sampler (one batch of this size).")
    var samples: Int = 8

    @Option(help: "DPS steps (the demo's 100).")
    var steps: Int = DemoCommand.defaultSteps

    @Option(help: "U-Net worker threads (default: all cores).")
    var threads: Int?

    @Option(name: .customLong("models"), help: "Directory holding the bundled priors (default: found from the working directory or the executable).")
    var models: String?

    func validate() throws {
        if let problem = PosteriorDefaults.samplesProblem(samples, name: "--samples") { throw ValidationError(problem) }
        guard steps >= 1 else { throw ValidationError("--steps must be ≥ 1, got \(steps)") }
        if let threads, threads < 1 { throw ValidationError("--threads must be ≥ 1, got \(threads)") }
    }

    func execute() throws {
        if let threads { UNetThreading.setThreads(threads) }
        let names = samplers.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }
        guard !names.isEmpty else { throw ValidationError("--samplers needs at least one sampler") }
        #if DEBUG
        let mode = "debug"
        printNote("warning: a debug build; time a release build (swift build -c release)")
        #else
        let mode = "release"
        #endif
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("tweedie-bench-sampler-\(getpid())")
        defer { try? FileManager.default.removeItem(at: scratch) }
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        printNote("bench sampler: demo, \(samples) samples per sampler in one batch, \(UNetThreading.threads) U-Net threads, \(mode) build, load \(loadAverageText())")
        var reference: Double?
        for name in names {
            let out = scratch.appendingPathComponent(name).path
            var args = try DemoCommand.sampleArguments(models: models, sampler: name, samples: samples, steps: steps,
                                                       batch: samples, seed: 0, output: out)
            args.append("--quiet")
            let cmd = try SampleCommand.parse(args)
            try cmd.validate()
            let start = Date()
            try cmd.runJob(resuming: nil, arguments: args)
            let perSample = Date().timeIntervalSince(start) / Double(samples)
            if reference == nil { reference = perSample }
            var chi2 = "?"
            if let data = FileManager.default.contents(atPath: out + "/summary.json"),
               let summary = try? JSONDecoder().decode(PosteriorSummary.self, from: data),
               case let c = summary.scores.reducedChiSquaredOfMean {
                chi2 = String(format: "%.3f", c)
            }
            let label = name.padding(toLength: max(12, name.count), withPad: " ", startingAt: 0)
            print(label + String(format: " %8.2f s/sample  %5.2f× %@  (reduced χ² of the mean %@; load %@)",
                                 perSample, perSample / reference!, names[0] as NSString, chi2 as NSString, loadAverageText() as NSString))
        }
    }
}
