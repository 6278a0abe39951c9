// Simulation-based calibration of one posterior sampler as `tweedie calibrate` runs it from a spec
// with a top-level `sbc:` section (Talts et al. 2018; TweedieSampling's SimulationBasedCalibration
// does the ranking): a prior directory (neural) or an analytic prior, an operator spec, σ per band
// at SNR scale 1, a list of SNR scales, the truth and sample counts and one sampler.
//
//   sbc:
//     prior: ../../Priors/Models/galaxy-gri-64   # a prior directory or an analytic spec; paths are relative to this file
//     operator: ../../Priors/Models/galaxy-gri-64/demo/operator.yaml
//     sigma: [0.0406, 0.0586, 0.0705]            # σ per observed band at scale 1 (physical units)
//     flux_scale: 1000                           # physical = s·T(u)
//     snr_scales: [1, 10]                        # σ/k
//     truths: 50
//     samples: 32
//     batch: 8
//     seed: 1
//     source_threshold: 3                        # matched-filter S/N of "source" pixels
//     truth_sampler: {method: ddim, eta: 0.5, steps: 100}   # default: the prior's declared sampler
//     sampler: {kind: split-gibbs}               # keys as in the calibration table; unset ones from the prior's config
//
// Truths are exact draws of an analytic prior, or the declared (or given) ancestral sampler's draws
// of a neural one. The outputs: sbc.json (metadata and one report per scale) and sbc_ranks.csv
// (rank histograms, for the figure).
import Foundation
import TweedieCore
import TweedieOperators
import TweediePriors
import TweedieSampling
import Yams

/// The `sbc:` section of a calibration spec (keys as in the header above; unset ones take the
/// defaults SBCStudy names).
public struct SBCSpec: Decodable, Sendable {
    /// The ancestral sampler that draws a neural prior's truths (default: the prior's declared one).
    public struct TruthSampler: Decodable, Sendable {
        public var method: String
        public var eta: Double?
        public var steps: Int?
    }
    public var prior: String
    public var `operator`: String
    public var sigma: OneOrMany<Double>
    public var fluxScale: Double?
    public var snrScales: [Double]?
    public var truths: Int
    public var samples: Int
    public var batch: Int?
    public var seed: UInt64?
    public var sourceThreshold: Double?
    public var levels: [Double]?
    public var truthSampler: TruthSampler?
    public var sampler: CalibrationSpec.SamplerEntry

    enum CodingKeys: String, CodingKey, CaseIterable {
        case prior, `operator`, sigma, truths, samples, batch, seed, levels, sampler
        case fluxScale = "flux_scale", snrScales = "snr_scales", sourceThreshold = "source_threshold"
        case truthSampler = "truth_sampler"
    }

    struct File: Decodable { var sbc: SBCSpec }

    /// True when the YAML file's top level has an `sbc` key.
    public static func isSBCSpec(_ path: String) -> Bool {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8),
              let node = try? Yams.compose(yaml: text), let map = node.mapping else { return false }
        return map.keys.contains { $0.string == "sbc" }
    }

    /// The `sbc:` section of the file at `path`.
    public static func load(_ specPath: String) throws -> SBCSpec {
        let text: String
        do { text = try String(contentsOfFile: specPath, encoding: .utf8) } catch {
            throw TweedieError.io(path: specPath, problem: "cannot be read as UTF-8 text")
        }
        return try SpecFile.decode(SBCSpec.File.self, text: text, path: specPath, kind: "SBC spec").sbc
    }
}

/// An SBC study set up from its spec: the prior, the operator, the truth sampler and the posterior
/// sampler, ready to run into a directory.
public struct SBCStudy {
    public let specPath: String
    public let settings: SBCSettings
    public let prior: SamplingPrior
    public let chain: BuiltOperatorChain
    /// Where the truths come from, in words ("exact prior draws", "DDIM (η=0.5) 100 steps").
    public let truthDescription: String
    /// The posterior sampler's own description (every setting that enters the fingerprint).
    public let samplerSummary: String
    let sbc: SimulationBasedCalibration

    /// Reads the spec at `specPath` (paths in it relative to its folder) and builds everything.
    /// `warn` receives what resolving the sampler wants the user to know (an extrapolated DPS ζ).
    public init(specPath: String, warn: (String) -> Void = { _ in }) throws {
        self.specPath = specPath
        let spec = try SBCSpec.load(specPath)
        let base = URL(fileURLWithPath: specPath).deletingLastPathComponent()
        func resolve(_ p: String) -> String {
            if p.hasPrefix("/") || p.contains(":") { return p }
            let rel = base.appendingPathComponent(p).standardizedFileURL.path
            return FileManager.default.fileExists(atPath: rel) ? rel : p
        }
        let priorText = resolve(spec.prior)
        let prior = try SamplingPrior.resolve(priorText)
        self.prior = prior
        let chain = try buildOperatorChain(specPath: resolve(spec.operator))
        self.chain = chain
        let settings = SBCSettings(truths: spec.truths, samples: spec.samples, batch: spec.batch ?? 8, seed: spec.seed ?? 1,
                                   snrScales: spec.snrScales ?? [1], sigmas: spec.sigma.values, fluxScale: spec.fluxScale ?? 1,
                                   sourceThreshold: spec.sourceThreshold ?? 3, levels: spec.levels ?? [0.68, 0.95])
        self.settings = settings

        // Truths: exact draws of an analytic prior; the declared (or given) ancestral sampler of a neural one.
        let den = prior.denoiser
        let truthSeed = settings.seed ^ 0x7_2074
        let drawTruth: (Int) throws -> ImageBatch
        if let a = den as? any AnalyticPrior {
            drawTruth = { i in a.samples(count: 1, seed: truthSeed, firstIndex: i) }
            truthDescription = "exact prior draws"
        } else {
            let resolved = try PriorResolver.resolve(priorText)
            let declared = AncestralMethod.declared(by: resolved)
            var method = declared?.method ?? .ddpm(useBetaVariance: false)
            var steps = declared?.steps ?? min(250, den.schedule.count)
            if let t = spec.truthSampler {
                switch t.method {
                case "ddpm": method = .ddpm(useBetaVariance: false)
                case "ddim": method = .ddim(eta: t.eta ?? 0)
                default: throw TweedieError.invalidInput(what: "\(specPath) sbc.truth_sampler.method", problem: "must be ddpm or ddim, got '\(t.method)'")
                }
                steps = t.steps ?? steps
            }
            var ancestral = try AncestralSampler(prior: den, steps: steps, method: method)
            ancestral.clip = prior.x0Clip
            drawTruth = { i in try ancestral.sample(indices: i..<(i + 1), seed: truthSeed) }
            truthDescription = ancestral.name + " \(steps) steps"
        }

        // The posterior sampler: the spec's kind, its unset settings from what the prior declares.
        let choice = try spec.sampler.grid.resolved(prior: prior, what: "\(specPath) sbc.sampler", warn: warn)
        // Ranks are uniform only for independent draws (Talts et al. 2018 §4): a call that returns
        // several samples of one population (SMC keep > 1) gives correlated ones.
        if let perCall = choice.settings.samplesPerCall, perCall > 1 {
            throw TweedieError.invalidInput(what: "\(specPath) sbc.sampler", problem: "returns \(perCall) correlated samples per population; SBC ranks need independent draws: set keep: 1")
        }
        let makeSampler = { (problem: PosteriorProblem) throws -> any PosteriorSampler in try choice.makeSampler(prior: den, problem: problem) }
        // The sampler's own description (built on a throwaway problem) names every setting in the fingerprint.
        let probeNoise = try DiagonalGaussianNoise(bandSigmas: settings.sigmas.count == 1
                                                   ? [Double](repeating: settings.sigmas[0], count: chain.forwardOperator.outputShape.channels)
                                                   : settings.sigmas, shape: chain.forwardOperator.outputShape)
        let probe = try makeSampler(PosteriorProblem(observation: ImageBatch(count: 1, shape: chain.forwardOperator.outputShape),
                                                     forwardOperator: chain.forwardOperator, noise: probeNoise, fluxScale: settings.fluxScale))
        samplerSummary = probe.summary
        let identity = "prior \(prior.provenance["sha256"] ?? prior.source) | truths \(truthDescription) | sampler \(probe.summary)"
        self.sbc = try SimulationBasedCalibration(prior: den, forwardOperator: chain.forwardOperator, settings: settings,
                                                 priorVariance: prior.variance.map { ($0.values, $0.space) }, identity: identity,
                                                 drawTruth: drawTruth, makeSampler: makeSampler)
    }

    /// Runs the missing truths of every scale into `directory` (created; finished truths in it are
    /// kept), writing sbc.json and sbc_ranks.csv after every newly computed truth and at the end, with
    /// `metadata()` as it is then; returns the reports.
    public func run(directory dir: URL, metadata: () -> [String: String],
                    progress: (SBCProgress) -> Void = { _ in }) throws -> [SBCScaleReport] {
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let reports = try sbc.run(directory: dir, progress: progress, checkpoint: { try Self.write($0, to: dir, metadata: metadata()) })
        try Self.write(reports, to: dir, metadata: metadata())
        return reports
    }

    /// sbc.json (metadata + reports) and sbc_ranks.csv (scale, statistic, rank, count) for the figure.
    public static func write(_ reports: [SBCScaleReport], to dir: URL, metadata: [String: String]) throws {
        struct Out: Encodable { var metadata: [String: String]; var scales: [SBCScaleReport] }
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        enc.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        let json = try enc.encode(Out(metadata: metadata, scales: reports))
        var csv = "scale,statistic,rank,count,expected\n"
        for r in reports {
            let k = r.samples
            let pooledExpected = { (c: [Int]) in Double(c.reduce(0, +)) / Double(k + 1) }
            for (name, counts) in [("source_pixels_pooled", r.sourceRankCounts), ("sky_pixels_pooled", r.skyRankCounts)] {
                let e = pooledExpected(counts)
                for (i, c) in counts.enumerated() { csv += "\(r.scale),\(name),\(i),\(c),\(e)\n" }
            }
            for (name, t) in [("source_pixel_one_per_truth", r.sourcePixels), ("sky_pixel_one_per_truth", r.skyPixels)]
                + r.apertureFlux.enumerated().map({ ("aperture_flux_band\($0.offset)", $0.element) }) {
                for i in 0..<t.bins { csv += "\(r.scale),\(name)_bins,\(i),\(t.counts[i]),\(t.expected[i])\n" }
            }
        }
        for (name, data) in [("sbc.json", json), ("sbc_ranks.csv", Data(csv.utf8))] {
            let path = dir.appendingPathComponent(name).path
            try AtomicFileWrite.write(to: path) { tmp in
                do { try data.write(to: URL(fileURLWithPath: tmp)) } catch {
                    throw TweedieError.io(path: path, problem: "cannot be written (\(error.localizedDescription))")
                }
            }
        }
    }
}
