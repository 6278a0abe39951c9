// Runs the calibration study (issue 8): for every prior × operator × noise
// level, draw M truths from the prior, simulate y = A x + n, compute each
// observation's exact posterior (CalibrationOracle), and for every sampler draw
// K posterior samples per observation and score them (CalibrationAccumulator).
//
// Randomness (DESIGN §2): truth o of a prior is stream (hash(seed, prior), o);
// the noise of observation o is ObservationSimulator's stream of seed
// streamSeed(hash(seed, prior, operator, noise), o); sample k of observation o
// for a sampler uses stream (streamSeed(hash(seed, prior, operator, noise,
// sampler), o), k). Every sampler therefore sees the same truths and
// observations (paired comparison), and a case's result does not depend on
// which other cases ran or on a resume.
//
// Resume: each case × sampler result is written atomically to
// `<dir>/cases/<id>.json` as soon as it is done; a later run skips a case
// whose file exists with the same fingerprint (every parameter that
// determines it) and recomputes it otherwise.

import Foundation
import TweedieCore
import TweedieOperators
import TweediePriors
import TweedieSampling

/// One finished case × sampler: every parameter and every score.
public struct CalibrationResult: Codable, Sendable, Equatable {
    public var id: String
    public var fingerprint: String
    public var prior: String
    public var priorSpec: String
    public var priorFamily: String
    public var priorShape: String
    public var operatorName: String
    public var operatorSummary: String
    public var noiseTag: String
    public var sigma: Double
    /// √(E_prior ‖A x‖²)/σ.
    public var snr: Double
    public var sampler: String
    public var samplerKind: String
    public var samplerSummary: String
    public var steps: Int?
    public var guidance: Double?
    public var iterations: Int?
    public var priorSteps: Int?
    public var rhoMax: Double?
    public var finalIterations: Int?
    public var route: String
    public var seed: UInt64
    public var scores: CalibrationScores
}

/// Progress of the study, reported on every finished observation and case.
public struct CalibrationProgress: Sendable {
    public var caseIndex: Int
    public var caseCount: Int
    public var caseID: String
    public var observation: Int
    public var observations: Int
    /// True when the case was found finished on disk.
    public var skipped: Bool
}

/// The fixed part of a prior × operator × noise case: truths, observations, exact posteriors.
public struct CalibrationSetup: Sendable {
    public let prior: any AnalyticPrior
    public let forwardOperator: any ForwardOperator
    public let sigma: Double
    public let snr: Double
    public let truths: [ImageBatch]
    public let observations: [ImageBatch]
    public let oracles: [CalibrationOracle]
    public let priorVariance: [Double]
    public let baseSeed: UInt64

    public init(prior: any AnalyticPrior, priorName: String, forwardOperator op: any ForwardOperator, operatorName: String,
                noise: CalibrationNoise, observations count: Int, seed: UInt64) throws {
        guard op.inputShape == prior.imageShape else {
            throw TweedieError.shapeMismatch(what: "calibration operator '\(operatorName)' input vs prior '\(priorName)'",
                                             expected: "\(prior.imageShape)", got: "\(op.inputShape)")
        }
        self.prior = prior
        forwardOperator = op
        // σ: given, or from the SNR against the prior (256 draws of a dedicated stream).
        let draws = prior.samples(count: 256, seed: seed ^ calibrationHash("snr/\(priorName)"))
        let clean = try op.apply(draws)
        var power = 0.0
        for v in clean.data { power += Double(v) * Double(v) }
        let rms = (power / 256).squareRoot()
        switch noise {
        case let .sigma(s): sigma = s
        case let .snr(r): sigma = rms / r
        }
        snr = rms / sigma
        let truthSeed = seed ^ calibrationHash("truth/\(priorName)")
        baseSeed = seed ^ calibrationHash("case/\(priorName)/\(operatorName)/\(noise.tag)")
        var ts: [ImageBatch] = [], ys: [ImageBatch] = [], os: [CalibrationOracle] = []
        for o in 0..<count {
            let t = prior.samples(count: 1, seed: truthSeed, firstIndex: o)
            let sim = try ObservationSimulator.simulate(truth: t, operator: op, noise: .sigma(sigma),
                                                        seed: streamSeed(seed: baseSeed, index: UInt64(o)))
            ts.append(t); ys.append(sim.noisy)
            os.append(try CalibrationOracle(prior: prior, operator: op, sigma: sigma, observation: sim.noisy))
        }
        truths = ts; observations = ys; oracles = os
        priorVariance = CalibrationSetup.pixelVariance(of: prior)
    }

    /// The prior's pixel variance (N values).
    static func pixelVariance(of prior: any AnalyticPrior) -> [Double] {
        let shape = prior.imageShape
        if let g = prior as? StationaryGaussianPrior {
            return g.pixelVariances.flatMap { [Double](repeating: $0, count: shape.planeCount) }
        }
        if let m = prior as? GaussianMixturePrior {
            return (0..<shape.count).map { j in
                var mean = 0.0, second = 0.0
                for k in 0..<m.componentCount {
                    mean += m.weights[k] * m.means[k][j]
                    second += m.weights[k] * (m.variances[k][j] + m.means[k][j] * m.means[k][j])
                }
                return second - mean * mean
            }
        }
        // Any other analytic prior: the exact posterior with an uninformative (σ huge) observation is the prior.
        return [Double](repeating: .nan, count: shape.count)
    }

    /// Draws K samples for every observation with `sampler` and scores them.
    public func run(_ sampler: CalibrationSampler, samples k: Int, levels: [Double], samplerSeed: UInt64,
                    progress: (Int) -> Void = { _ in }) throws -> CalibrationScores {
        var acc = CalibrationAccumulator(levels: levels, samplesPerObservation: k)
        let n = prior.imageShape.count
        for o in 0..<observations.count {
            let seed = streamSeed(seed: samplerSeed, index: UInt64(o))
            let start = Date()
            var values = [Float](); values.reserveCapacity(k * n)
            let batch = sampler.batch
            if case .exact = sampler.choice {
                for i in 0..<k {
                    values += oracles[o].sample(using: SampleStream(seed: seed, index: i)).map { Float($0) }
                }
            } else {
                // A sampler with a diagnostic draws through it and prints its report after the observation.
                let posterior = try sampler.choice.makeSampler(prior: prior, problem: try makeProblem(o))
                let diagnostic = (posterior as? any CalibrationDiagnosedSampler)?.makeCalibrationDiagnostic(samples: k)
                for lo in stride(from: 0, to: k, by: batch) {
                    let indices = lo..<min(k, lo + batch)
                    values += try (diagnostic?.sample(indices: indices, seed: seed) ?? posterior.sample(indices: indices, seed: seed)).data
                }
                if let diagnostic {
                    let context = CalibrationDiagnosticContext(prior: prior, forwardOperator: forwardOperator, sigma: sigma,
                                                               observation: observations[o], index: o)
                    FileHandle.standardError.write(Data((try diagnostic.report(context) + "\n").utf8))
                }
            }
            let seconds = Date().timeIntervalSince(start)
            guard values.allSatisfy(\.isFinite) else {
                throw TweedieError.numerical(problem: "calibration: \(sampler.label) produced non-finite samples for observation \(o)")
            }
            let resp = oracles[o].componentWeights.count > 1
                ? (0..<k).map { CalibrationOracle.responsibilities(of: values[(($0) * n)..<(($0 + 1) * n)], prior: prior) }
                : []
            if let v = oracles[o].modeVariance {
                if acc.fourierBands == nil { acc.fourierBands = FourierBandAccumulator() }
                acc.fourierBands!.add(samples: values, count: k, shape: prior.imageShape, modeVariance: v)
            }
            acc.add(truth: truths[o].data, samples: values, exactMean: oracles[o].mean, exactVariance: oracles[o].variance,
                    priorVariance: priorVariance, exactWeights: oracles[o].componentWeights, sampleResponsibilities: resp,
                    seconds: seconds)
            progress(o + 1)
        }
        return acc.scores
    }

    private func makeProblem(_ o: Int) throws -> PosteriorProblem {
        try PosteriorProblem(observation: observations[o], forwardOperator: forwardOperator,
                             noise: try DiagonalGaussianNoise(sigma: sigma, shape: forwardOperator.outputShape), fluxScale: 1)
    }
}

/// The whole study: cases in spec order, results on disk, resumable.
public struct CalibrationStudy {
    public let spec: CalibrationSpec
    public let directory: URL

    public init(spec: CalibrationSpec, directory: URL) throws {
        try spec.validate()
        self.spec = spec
        self.directory = directory
    }

    public var casesDirectory: URL { directory.appendingPathComponent("cases") }

    /// Case identifiers in order: prior__operator__noise__sampler.
    public func caseIDs() -> [String] {
        var ids: [String] = []
        for p in spec.priors { for op in spec.operators { for nz in spec.noiseLevels { for s in spec.samplerSettings() {
            ids.append("\(p.name)__\(op.name)__\(nz.tag)__\(s.label)")
        } } } }
        return ids
    }

    /// Everything that determines a case's result.
    func fingerprint(prior: CalibrationSpec.PriorEntry, op: CalibrationSpec.OperatorEntry, noise: CalibrationNoise,
                     sampler: CalibrationSampler) -> String {
        let enc = JSONEncoder(); enc.outputFormatting = .sortedKeys
        let opText = (try? enc.encode(op)).map { String(decoding: $0, as: UTF8.self) } ?? op.name
        return "v1|seed=\(spec.seed)|M=\(spec.observations)|K=\(spec.samples)|levels=\(spec.levels)|pixel=\(spec.pixelScaleArcsec)"
            + "|prior=\(prior.spec)|op=\(opText)|noise=\(noise.tag)|sampler=\(sampler.label)|batch=\(sampler.batch)"
    }

    /// Runs every missing case; returns all results in case order. With `shard` (K, N)
    /// only the cases with (g + s) ≡ K mod N are run or returned, g the index of the
    /// prior × operator × noise group and s the sampler's index, so N processes can share
    /// one directory (case files are written atomically) and the cases spread over the
    /// shards whether the spec varies the groups, the samplers, or both.
    public func run(shard: (index: Int, count: Int) = (0, 1),
                    progress: (CalibrationProgress) -> Void = { _ in }) throws -> [CalibrationResult] {
        precondition(shard.count >= 1 && shard.index >= 0 && shard.index < shard.count, "shard K/N needs 0 ≤ K < N")
        try FileManager.default.createDirectory(at: casesDirectory, withIntermediateDirectories: true)
        let samplers = spec.samplerSettings()
        let total = caseIDs().count
        var results: [CalibrationResult] = []
        var index = 0
        for p in spec.priors {
            let prior = try AnalyticPriorSpec.parseAnalytic(p.spec)
            for opEntry in spec.operators {
                let op = try opEntry.build(priorShape: prior.imageShape, pixelScaleArcsec: spec.pixelScaleArcsec)
                for nz in spec.noiseLevels {
                    var setup: CalibrationSetup? = nil
                    func groupSetup() throws -> CalibrationSetup {
                        if let s = setup { return s }
                        let s = try CalibrationSetup(prior: prior, priorName: p.name, forwardOperator: op, operatorName: opEntry.name,
                                                     noise: nz, observations: spec.observations, seed: spec.seed)
                        setup = s
                        return s
                    }
                    let group = index / samplers.count   // index = group × samplers + sampler here
                    for (samplerIndex, s) in samplers.enumerated() {
                        if (group + samplerIndex) % shard.count != shard.index { index += 1; continue }
                        let id = "\(p.name)__\(opEntry.name)__\(nz.tag)__\(s.label)"
                        let fp = fingerprint(prior: p, op: opEntry, noise: nz, sampler: s)
                        let file = casesDirectory.appendingPathComponent(id + ".json")
                        // A mixture's exact row also writes the mode weights along split-Gibbs's ρ path.
                        if case .exact = s.choice, let mix = prior as? GaussianMixturePrior, mix.componentCount > 1 {
                            let path = casesDirectory.appendingPathComponent(id + ".weight_path.csv")
                            if !FileManager.default.fileExists(atPath: path.path) { try writeWeightPath(try groupSetup(), prior: mix, to: path) }
                        }
                        if let done = try? JSONDecoder().decode(CalibrationResult.self, from: Data(contentsOf: file)),
                           done.fingerprint == fp {
                            results.append(done)
                            progress(CalibrationProgress(caseIndex: index, caseCount: total, caseID: id, observation: spec.observations,
                                                         observations: spec.observations, skipped: true))
                            index += 1
                            continue
                        }
                        let su = try groupSetup()
                        let samplerSeed = su.baseSeed ^ calibrationHash("sampler/\(s.label)")
                        let i = index
                        let scores = try su.run(s, samples: spec.samples, levels: spec.levels, samplerSeed: samplerSeed) { o in
                            progress(CalibrationProgress(caseIndex: i, caseCount: total, caseID: id, observation: o,
                                                         observations: spec.observations, skipped: false))
                        }
                        let result = makeResult(id: id, fingerprint: fp, prior: p, priorObject: prior, op: opEntry, opObject: op,
                                                noise: nz, setup: su, sampler: s, scores: scores)
                        try writeJSON(result, to: file)
                        results.append(result)
                        index += 1
                    }
                }
            }
        }
        return results
    }

    private func makeResult(id: String, fingerprint: String, prior p: CalibrationSpec.PriorEntry, priorObject: any AnalyticPrior,
                            op: CalibrationSpec.OperatorEntry, opObject: any ForwardOperator, noise: CalibrationNoise,
                            setup: CalibrationSetup, sampler: CalibrationSampler, scores: CalibrationScores) -> CalibrationResult {
        var r = CalibrationResult(
            id: id, fingerprint: fingerprint, prior: p.name, priorSpec: p.spec,
            priorFamily: priorObject is GaussianMixturePrior ? "mixture" : "gaussian", priorShape: "\(priorObject.imageShape)",
            operatorName: op.name, operatorSummary: opObject.summary, noiseTag: noise.tag, sigma: setup.sigma, snr: setup.snr,
            sampler: sampler.label, samplerKind: sampler.kind, samplerSummary: "",
            steps: nil, guidance: nil, iterations: nil, priorSteps: nil, rhoMax: nil, finalIterations: nil,
            route: setup.oracles.first?.route.rawValue ?? "", seed: spec.seed, scores: scores)
        let d = sampler.choice.settings.calibrationDescription(route: r.route)
        r.samplerSummary = d.summary
        r.steps = d.steps; r.guidance = d.guidance
        r.iterations = d.iterations; r.priorSteps = d.priorSteps; r.rhoMax = d.rhoMax; r.finalIterations = d.finalIterations
        return r
    }

    /// The exact component weights of the ρ-smoothed posterior (CalibrationOracle.smoothedComponentWeights)
    /// for every observation on a geometric ρ grid from 10 to 0.01, then ρ = 0 (the posterior): one row per
    /// observation and ρ. Shows where along the annealing path the mode weights change.
    func writeWeightPath(_ setup: CalibrationSetup, prior mix: GaussianMixturePrior, to url: URL) throws {
        let rhos = (0...30).map { 10 * pow(0.001, Double($0) / 30) } + [0]
        var csv = "observation,rho," + (0..<mix.componentCount).map { "weight\($0)" }.joined(separator: ",") + "\n"
        for o in 0..<setup.observations.count {
            for rho in rhos {
                let w = try CalibrationOracle.smoothedComponentWeights(prior: mix, operator: setup.forwardOperator, sigma: setup.sigma,
                                                                       observation: setup.observations[o], rho: rho)
                csv += "\(o),\(String(format: "%.5g", rho)),\(w.map { String(format: "%.5f", $0) }.joined(separator: ","))\n"
            }
        }
        try AtomicFileWrite.write(to: url.path) { tmp in
            do { try csv.write(toFile: tmp, atomically: false, encoding: .utf8) }
            catch { throw TweedieError.io(path: url.path, problem: "cannot write (\(error.localizedDescription))") }
        }
    }

    func writeJSON<T: Encodable>(_ value: T, to url: URL) throws {
        let enc = JSONEncoder(); enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        let data = try enc.encode(value)
        try AtomicFileWrite.write(to: url.path) { tmp in
            do { try data.write(to: URL(fileURLWithPath: tmp)) }
            catch { throw TweedieError.io(path: url.path, problem: "cannot write (\(error.localizedDescription))") }
        }
    }
}
