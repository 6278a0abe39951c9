// `tweedie calibrate SPEC.yaml` with a top-level `sbc:` section: simulation-based
// calibration of one posterior sampler on a prior directory (neural) or an
// analytic prior, through an operator spec, at a list of SNR scales
// (TweedieSampling's SimulationBasedCalibration). Options → a typed SBC setup →
// the library run; this file holds the spec, the prior / sampler wiring and the
// printing.
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
import Foundation
import TweedieCore
import TweedieOperators
import TweediePriors
import TweedieSampling
import Yams

struct SBCSpec: Decodable {
    struct TruthSampler: Decodable {
        var method: String
        var eta: Double?
        var steps: Int?
    }
    var prior: String
    var `operator`: String
    var sigma: OneOrMany<Double>
    var fluxScale: Double?
    var snrScales: [Double]?
    var truths: Int
    var samples: Int
    var batch: Int?
    var seed: UInt64?
    var sourceThreshold: Double?
    var levels: [Double]?
    var truthSampler: TruthSampler?
    var sampler: CalibrationSpec.SamplerEntry

    enum CodingKeys: String, CodingKey, CaseIterable {
        case prior, `operator`, sigma, truths, samples, batch, seed, levels, sampler
        case fluxScale = "flux_scale", snrScales = "snr_scales", sourceThreshold = "source_threshold"
        case truthSampler = "truth_sampler"
    }

    struct File: Decodable { var sbc: SBCSpec }
}

/// True when the YAML file's top level has an `sbc` key.
func isSBCSpec(_ path: String) -> Bool {
    guard let text = try? String(contentsOfFile: path, encoding: .utf8),
          let node = try? Yams.compose(yaml: text), let map = node.mapping else { return false }
    return map.keys.contains { $0.string == "sbc" }
}

/// Runs the SBC study of `specPath` into `output`; prints one line per truth and the verdict per scale.
func runSBC(specPath: String, output: String, quiet: Bool) throws {
    let text: String
    do { text = try String(contentsOfFile: specPath, encoding: .utf8) } catch {
        throw TweedieError.io(path: specPath, problem: "cannot be read as UTF-8 text")
    }
    let spec: SBCSpec
    do { spec = try YAMLDecoder().decode(SBCSpec.File.self, from: text).sbc } catch let e as TweedieError {
        throw TweedieError.invalidInput(what: specPath, problem: e.description)
    } catch {
        throw TweedieError.invalidInput(what: specPath, problem: "is not a valid SBC spec (\(error)); see `tweedie calibrate --help`")
    }
    let base = URL(fileURLWithPath: specPath).deletingLastPathComponent()
    func resolve(_ p: String) -> String {
        if p.hasPrefix("/") || p.contains(":") { return p }
        let rel = base.appendingPathComponent(p).standardizedFileURL.path
        return FileManager.default.fileExists(atPath: rel) ? rel : p
    }
    let priorText = resolve(spec.prior)
    let prior = try SamplingPrior.resolve(priorText)
    let chain = try buildOperatorChain(specPath: resolve(spec.operator))
    let settings = SBCSettings(truths: spec.truths, samples: spec.samples, batch: spec.batch ?? 8, seed: spec.seed ?? 1,
                               snrScales: spec.snrScales ?? [1], sigmas: spec.sigma.values, fluxScale: spec.fluxScale ?? 1,
                               sourceThreshold: spec.sourceThreshold ?? 3, levels: spec.levels ?? [0.68, 0.95])

    // Truths: exact draws of an analytic prior; the declared (or given) ancestral sampler of a neural one.
    let den = prior.denoiser
    let truthSeed = settings.seed ^ 0x7_2074
    let drawTruth: (Int) throws -> ImageBatch
    let truthName: String
    if let a = den as? any AnalyticPrior {
        drawTruth = { i in a.samples(count: 1, seed: truthSeed, firstIndex: i) }
        truthName = "exact prior draws"
    } else {
        let resolved = try PriorLoader.load(priorText)
        let declared = UnconditionalSamplingOptions.declaredSampler(resolved)
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
        truthName = ancestral.name + " \(steps) steps"
    }

    // The posterior sampler: the spec's kind, its unset settings from the prior's config.
    let entry = spec.sampler
    func one<T>(_ v: [T]?, _ key: String) throws -> T? {
        guard let v else { return nil }
        guard v.count == 1 else { throw TweedieError.invalidInput(what: "\(specPath) sbc.sampler.\(key)", problem: "takes one value in an SBC spec, got \(v.count)") }
        return v[0]
    }
    let gibbsBase = SplitGibbsSettings(declaredBy: prior)
    let gibbs = SplitGibbsSettings(iterations: try one(entry.iterations, "iterations") ?? gibbsBase.iterations,
                                   rhoMax: try one(entry.rhoMax, "rho_max") ?? gibbsBase.rhoMax,
                                   priorSteps: try one(entry.priorSteps, "prior_steps") ?? gibbsBase.priorSteps,
                                   finalIterations: try one(entry.finalIterations, "final_iterations") ?? gibbsBase.finalIterations,
                                   likelihoodMoves: try one(entry.likelihoodMoves, "likelihood_moves") ?? gibbsBase.likelihoodMoves,
                                   gaussNewtonSteps: try one(entry.gaussNewtonSteps, "gauss_newton_steps") ?? gibbsBase.gaussNewtonSteps,
                                   priorStepVariance: try one(entry.priorStepVariance, "prior_step_variance") ?? gibbsBase.priorStepVariance,
                                   cgErrorTolerance: try one(entry.cgErrorTolerance, "cg_error_tolerance") ?? gibbsBase.cgErrorTolerance,
                                   coupling: try one(entry.coupling, "coupling") ?? gibbsBase.coupling,
                                   priorStepVarianceScale: try one(entry.priorStepVarianceScale, "prior_step_variance_scale")
                                       ?? gibbsBase.priorStepVarianceScale)
    let choice: SamplerChoice
    switch entry.kind {
    case "exact":
        guard den is any AnalyticPrior else {
            throw TweedieError.invalidInput(what: "\(specPath) sbc.sampler.kind", problem: "exact draws need an analytic prior (gaussian:…, mixture:…)")
        }
        choice = .exact
    case "split-gibbs":
        choice = .splitGibbs(gibbs)
    case "dps":
        let steps = try one(entry.steps, "steps") ?? 100
        guard let zeta = try one(entry.guidance, "guidance") ?? prior.recommendedGuidance(steps: steps)?.zeta else {
            throw TweedieError.invalidInput(what: "\(specPath) sbc.sampler.guidance", problem: "the prior declares no DPS ζ; give guidance: ζ")
        }
        choice = .dps(DPSSettings(steps: steps, guidanceScale: zeta, clipMin: prior.x0Clip?.0, clipMax: prior.x0Clip?.1))
    case "smc":
        choice = .smc(SMCSettings(gibbs: gibbs, particles: try one(entry.particles, "particles") ?? 4,
                                  adaptive: try one(entry.adaptive, "adaptive") ?? false,
                                  samplesPerPopulation: try one(entry.keep, "keep") ?? 1))
    default:
        throw TweedieError.invalidInput(what: "\(specPath) sbc.sampler.kind", problem: "must be exact, split-gibbs, dps or smc, got '\(entry.kind)'")
    }
    let makeSampler = { (problem: PosteriorProblem) throws -> any PosteriorSampler in try choice.makeSampler(prior: den, problem: problem) }
    // The sampler's own description (built on a throwaway problem) names every setting in the fingerprint.
    let probeNoise = try DiagonalGaussianNoise(bandSigmas: settings.sigmas.count == 1
                                               ? [Double](repeating: settings.sigmas[0], count: chain.forwardOperator.outputShape.channels)
                                               : settings.sigmas, shape: chain.forwardOperator.outputShape)
    let probe = try makeSampler(PosteriorProblem(observation: ImageBatch(count: 1, shape: chain.forwardOperator.outputShape),
                                                 forwardOperator: chain.forwardOperator, noise: probeNoise, fluxScale: settings.fluxScale))
    let identity = "prior \(prior.provenance["sha256"] ?? prior.source) | truths \(truthName) | sampler \(probe.summary)"
    let sbc = try SimulationBasedCalibration(prior: den, forwardOperator: chain.forwardOperator, settings: settings,
                                             priorVariance: prior.variance.map { ($0.values, $0.space) }, identity: identity,
                                             drawTruth: drawTruth, makeSampler: makeSampler)
    let dir = URL(fileURLWithPath: output)
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    if !quiet { printNote("SBC: \(settings.truths) truths × \(settings.samples) samples at SNR ×\(settings.snrScales.map { shortSBC($0) }.joined(separator: ", ×")); \(probe.summary)") }
    let start = Date()
    let metadata = { () -> [String: String] in [
        "command": commandLineForProvenance, "spec": specPath, "tool_version": TweedieVersion.string,
        "sampler": probe.summary, "truths_from": truthName, "prior": prior.source,
        "operator": chain.forwardOperator.summary, "bands": chain.outputBands.joined(separator: ","),
        "wall_seconds_this_invocation": String(format: "%.1f", Date().timeIntervalSince(start)),
        "load_average": loadAverageText(),
        "cpu_cores": String(ProcessInfo.processInfo.activeProcessorCount),
        "unet_threads": String(UNetThreading.threads),
    ] }
    let reports = try sbc.run(directory: dir, progress: { p in
        guard !quiet else { return }
        printNote(p.skipped ? "truth \(p.truth + 1)/\(p.truths) at ×\(shortSBC(p.scale)): done earlier, kept"
                            : String(format: "truth %d/%d at ×%@: %.1f s", p.truth + 1, p.truths, shortSBC(p.scale), p.seconds))
    }, checkpoint: { try writeSBC($0, to: dir, metadata: metadata()) })
    try writeSBC(reports, to: dir, metadata: metadata())
    if !quiet {
        for r in reports { printNote(sbcReportLine(r)) }
        printNote("wrote sbc.json and sbc_ranks.csv to \(output); figure: python3 Notebooks/calibration/plot_sbc.py \(output)")
    }
}

private func shortSBC(_ v: Double) -> String { v == v.rounded() ? String(Int(v)) : String(v) }

/// One line per scale: p-values, coverage and the verdict.
func sbcReportLine(_ r: SBCScaleReport) -> String {
    func f(_ v: Double) -> String { String(format: "%.3f", v) }
    let cov = { (c: [MeanWithError]) in c.map { "\(f($0.mean))±\(f($0.standardError))" }.joined(separator: "/") }
    return "SNR ×\(shortSBC(r.scale)) (\(r.truths) truths × \(r.samples)): expected coverage \(r.expectedCoverage.map(f).joined(separator: "/")); rank p source \(f(r.sourcePixels.pValue)), sky \(f(r.skyPixels.pValue)), "
        + "aperture flux \(r.apertureFlux.map { f($0.pValue) }.joined(separator: ",")); coverage source \(cov(r.sourceCoverage)), sky \(cov(r.skyCoverage)); "
        + "reduced χ² of mean \(f(r.reducedChiSquaredOfMean.mean)); \(String(format: "%.2f", r.secondsPerSample)) s/sample — "
        + (r.consistentWithCalibration ? "consistent with calibration" : "NOT consistent with calibration")
}

/// sbc.json (metadata + reports) and sbc_ranks.csv (scale, statistic, rank, count) for the figure.
func writeSBC(_ reports: [SBCScaleReport], to dir: URL, metadata: [String: String]) throws {
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
