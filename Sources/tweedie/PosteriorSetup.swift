// Turns `tweedie sample` options into a PosteriorRequest, prepares it with the library's
// PosteriorPipeline (which reads and checks every input before anything is written), runs it into
// an output directory with a checkpoint (one process per directory: StudyCaseLock), and prints its
// events and scores. Shared by `sample`, `demo`, `bench sampler` and the resumption of study cases
// recorded as command lines.
import Foundation
import TweedieCore
import TweedieOperators
import TweediePriors
import TweedieSampling
import TweedieStudies

enum PosteriorSetup {
    /// Prepares and runs the run `tweedie sample`'s options describe, into `dir` (fresh, or resuming
    /// its checkpoint); `arguments` go into run.json so that `--resume` can rebuild the same run.
    /// A second process on the same directory (a second --resume, or -o) is refused.
    static func run(_ o: SampleCommand, in dir: URL, resuming: Bool, arguments: [String]) throws {
        if !resuming, FileManager.default.fileExists(atPath: dir.appendingPathComponent(PosteriorJob.checkpointName).path) {
            throw TweedieError.io(path: dir.path, problem: "already holds a run; continue it with --resume \(dir.path) or choose another -o")
        }
        let lockPath = dir.standardizedFileURL.path + ".lock"
        let lock: StudyCaseLock
        switch try StudyCaseLock.acquire(at: lockPath, holder: "`tweedie sample`") {
        case let .acquired(l): lock = l
        case let .heldBy(pid):
            throw TweedieError.invalidInput(what: "run directory \(dir.path)", problem: "is in use by another tweedie process (\(pid > 0 ? "pid \(pid)" : "pid not yet recorded"), lock \(lockPath)); wait for it or choose another -o")
        }
        defer { lock.release() }
        let prepared = try PosteriorPipeline.prepare(try request(o), warn: { printNote("warning: \($0)") })
        let record = PosteriorJobRecord(arguments: arguments, workingDirectory: FileManager.default.currentDirectoryPath,
                                        toolVersion: TweedieVersion.string, started: ISO8601DateFormatter().string(from: Date()))
        let quiet = o.quiet
        let progress = ProgressLine(what: "samples", quiet: quiet)
        let settings = PosteriorRunSettings(samples: o.samples, seed: o.seed, batch: o.batch, keepSamples: o.keepSamples,
                                            checkpointEvery: o.checkpointEvery)
        let outcome = try PosteriorPipeline.run(prepared, in: dir, settings: settings, resuming: resuming, record: record) { event in
            switch event {
            case let .starting(line): if !quiet { printNote("tweedie sample: " + line) }
            case let .progress(p): progress.update(done: p.done, total: p.total, rate: p.samplesPerSecond, eta: p.etaSeconds)
            case .sampled: progress.finish()
            case let .tempering(line): if !quiet { printNote(line) }
            case let .warning(w): printNote("warning: \(w)")
            }
        }
        if !quiet { print(outcome.report(prepared: prepared, directory: dir).joined(separator: "\n")) }
    }

    /// The options as a PosteriorRequest (errors name the options).
    static func request(_ o: SampleCommand) throws -> PosteriorRequest {
        var r = PosteriorRequest(prior: o.prior!, observation: o.observation!, operatorSpec: try loadOperatorSpec(o.spec!),
                                 operatorSpecPath: o.spec!, samples: o.samples, command: commandLineForProvenance)
        r.names.cutout = "--cutout"; r.names.background = "--background"; r.names.sigma = "--sigma"
        r.names.noiseMaps = "--variance-map / --weight-map"; r.names.fluxScale = "--flux-scale"
        r.names.truth = "--truth"; r.names.apertureRadius = "--aperture-radius"
        r.hdu = o.hdu.map(FITSHDUSelector.init(parsing:))
        r.batch = o.batch; r.seed = o.seed; r.truth = o.truth
        if let c = o.cutout {
            let v = try parseNumbers(c, option: "--cutout")
            guard v.count == 3, v.allSatisfy({ $0 == $0.rounded() }), v[2] >= 1 else {
                throw TweedieError.invalidInput(what: "--cutout", problem: "needs X,Y,SIZE as integers (1-based centre pixel, size ≥ 1), got '\(c)'")
            }
            r.cutout = .init(x: Int(v[0]), y: Int(v[1]), size: Int(v[2]))
        }
        switch o.background {
        case "none": r.background = .none
        case "auto": r.background = .sigmaClippedMedian
        default:
            guard let v = Double(o.background), v.isFinite else {
                throw TweedieError.invalidInput(what: "--background", problem: "must be none, auto or a number, got '\(o.background)'")
            }
            r.background = .value(v)
        }
        if let s = o.sigma { r.noise = .sigma(try parseNumbers(s, option: "--sigma")) }
        else if let v = o.varianceMap { r.noise = .varianceMap(v) }
        else if let w = o.weightMap { r.noise = .weightMap(w) }
        if let f = o.fluxScale { r.fluxScale = .given(f) }
        r.apertureRadius = o.apertureRadius
        if let text = o.apertureCenter {
            let v = try parseNumbers(text, option: "--aperture-center")
            guard v.count == 2 else { throw TweedieError.invalidInput(what: "--aperture-center", problem: "needs X,Y, got '\(text)'") }
            r.apertureCenter = (v[0], v[1])
        }
        r.names.sampler = "--sampler"
        r.sampler = try samplerRequest(o)
        return r
    }

    /// --sampler with its settings: the common options (SamplerRequest.commonSettings) where they
    /// apply to its kind, then every --sampler-setting KEY=VALUE (which must be one of the kind's keys).
    private static func samplerRequest(_ o: SampleCommand) throws -> SamplerRequest {
        let given: [String: String?] = [
            "steps": o.steps.map(String.init), "guidance": o.guidance.map { "\($0)" }, "clip": o.clip,
            "dps_eta": o.dpsEta.map { "\($0)" }, "gibbs_iterations": o.gibbsIterations.map(String.init),
            "gibbs_rho_max": o.gibbsRhoMax.map { "\($0)" }, "gibbs_prior_steps": o.gibbsPriorSteps.map(String.init),
            "particles": o.particles.map(String.init), "samples_per_population": o.samplesPerPopulation.map(String.init),
            "smc_tempering": o.smcTempering,
        ]
        let common = given.compactMapValues { $0.map(SamplerSettingValue.init(parsing:)) }
        var byKey: [String: SamplerSettingValue] = [:]
        for setting in o.samplerSettings {
            let parts = setting.split(separator: "=", maxSplits: 1).map(String.init)
            byKey[parts[0].trimmingCharacters(in: .whitespaces)] = SamplerSettingValue(parsing: parts.count > 1 ? parts[1] : "")
        }
        return try SamplerRequest(kind: o.sampler, common: common, settings: byKey, what: "--sampler",
                                  name: { "--" + $0.replacingOccurrences(of: "_", with: "-") })
    }
}

/// Parses "a,b,c" into numbers with a clear error.
func parseNumbers(_ text: String, option: String) throws -> [Double] {
    let parts = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
    let values = parts.map { Double($0) }
    guard !parts.isEmpty, values.allSatisfy({ $0 != nil && $0!.isFinite }) else {
        throw TweedieError.invalidInput(what: option, problem: "expected comma-separated numbers, got '\(text)'")
    }
    return values.map { $0! }
}
