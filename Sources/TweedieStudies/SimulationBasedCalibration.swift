// Simulation-based calibration of a posterior sampler on any prior, neural ones
// included (Talts, Betancourt, Simpson, Vehtari & Gelman 2018, "Validating
// Bayesian inference algorithms with simulation-based calibration").
//
// For truth i: u*_i ~ p(u) (the prior's own sampler), x*_i = s·T(u*_i), and for
// every SNR scale k the observation y = A x*_i + (σ_b/k)·n (n ~ N(0, I), one
// noise realisation per truth shared by every scale, so scale k is the scale-1
// observation with its noise divided by k). The sampler draws K samples from
// p(x | y). Because x*_i is a draw from p(x) and y from p(y | x*), x*_i is a
// draw from p(x | y): for a calibrated sampler the rank of any scalar f(x*)
// among f(x_1 … x_K) is uniform on {0 … K} (ties broken uniformly at random).
//
// Scalars ranked, all in physical units (pixel ranks are the same in network
// space, T being increasing):
// - pixel values, split into "source" and "sky" values by a rule that sees only
//   y (so the split conditions on the data, never on the truth, and keeps the
//   ranks uniform): value j is a source value when the matched-filter S/N of
//   its pixel, max over bands b of (Aᵀ W y)_{b,j} / √((Aᵀ W A)_{b,c,c}), exceeds
//   `sourceThreshold` (the normalisation taken at the centre pixel c of each
//   band, exact for a translation-invariant chain);
// - the aperture flux per band (sum of x over the scoring disk, DESIGN §6).
// Tests, each valid for independent truths:
// - χ² uniformity of one rank per truth: for pixels, one source and one sky
//   value chosen at random per truth (a dedicated stream; pooling every pixel of
//   an image would treat correlated ranks as independent), for aperture fluxes
//   the band's rank; B bins with expected counts M·|bin|/(K+1) (B = ⌊M/5⌋
//   capped at K+1, ≥ 2), p-value from the χ²_{B−1} survival function (GSL);
// - coverage of pixel values by the central type-6 empirical intervals of the
//   K samples (the rule of CalibrationMetrics; its expected coverage under
//   calibration is L once (1 − L)/2·(K + 1) ≥ 1, i.e. K ≥ 39 at 95 %, and
//   `expectedCoverage` below otherwise), per truth, then the mean over truths with the
//   standard error of that mean (the spread over truths allows for the
//   correlation between the pixels of one image);
// - the mean normalised rank r/K − ½ per truth (0 in expectation), mean and
//   standard error over truths: a sampler biased high or low shows here.
// The pooled rank histograms of every source and sky value are written for the
// figure. Per truth also: the aperture variance ratio per band (sample variance
// over the prior's pixel variance; its spread over truths says how stable the
// headline score is), and the reduced χ² of the posterior mean.
//
// Resume: each truth × scale is written atomically to `cases/k<scale>-t<i>.json`
// with a fingerprint of every setting; a rerun skips finished ones.

import CGSL
import Foundation
import TweedieCore
import TweedieOperators
import TweediePriors
import TweedieSampling

public struct SBCSettings: Codable, Sendable, Equatable {
    /// Truths M (drawn from the prior) and posterior samples K per truth and scale.
    public var truths: Int
    public var samples: Int
    /// Samples per sampler call.
    public var batch: Int
    public var seed: UInt64
    /// SNR scales k: σ_b/k per band.
    public var snrScales: [Double]
    /// σ per observed band at scale 1 (physical units), one value for all bands or one per band.
    public var sigmas: [Double]
    /// The flux scale s of the observations (physical = s·T(u)).
    public var fluxScale: Double
    /// Matched-filter S/N above which a pixel counts as source.
    public var sourceThreshold: Double
    /// Credible levels for coverage.
    public var levels: [Double]

    public init(truths: Int, samples: Int, batch: Int = 8, seed: UInt64 = 1, snrScales: [Double] = [1],
                sigmas: [Double], fluxScale: Double = 1, sourceThreshold: Double = 3, levels: [Double] = [0.68, 0.95]) {
        self.truths = truths; self.samples = samples; self.batch = batch; self.seed = seed; self.snrScales = snrScales
        self.sigmas = sigmas; self.fluxScale = fluxScale; self.sourceThreshold = sourceThreshold; self.levels = levels
    }

    public func validate() throws {
        func bad(_ key: String, _ problem: String) -> TweedieError { .invalidInput(what: "sbc.\(key)", problem: problem) }
        guard truths >= 10 else { throw bad("truths", "must be ≥ 10 (a rank histogram needs several truths per bin), got \(truths)") }
        guard samples >= 4 else { throw bad("samples", "must be ≥ 4, got \(samples)") }
        guard batch >= 1 else { throw bad("batch", "must be ≥ 1, got \(batch)") }
        guard !snrScales.isEmpty, snrScales.allSatisfy({ $0.isFinite && $0 > 0 }) else {
            throw bad("snr_scales", "must be a non-empty list of positive numbers (σ is divided by each), got \(snrScales)")
        }
        guard !sigmas.isEmpty, sigmas.allSatisfy({ $0.isFinite && $0 > 0 }) else {
            throw bad("sigma", "must be one positive σ or one per band, got \(sigmas)")
        }
        guard fluxScale.isFinite, fluxScale > 0 else { throw bad("flux_scale", "must be a positive number, got \(fluxScale)") }
        guard sourceThreshold.isFinite, sourceThreshold > 0 else { throw bad("source_threshold", "must be > 0, got \(sourceThreshold)") }
        guard !levels.isEmpty, levels.allSatisfy({ $0 > 0 && $0 < 1 }) else { throw bad("levels", "must lie in (0, 1), got \(levels)") }
    }
}

/// One truth at one SNR scale: its ranks and scores (written to cases/ when done).
public struct SBCTruthRecord: Codable, Sendable, Equatable {
    public var fingerprint: String
    public var scale: Double
    public var truth: Int
    /// Pooled rank counts (K + 1 entries) of every source and every sky value.
    public var sourceRankCounts: [Int]
    public var skyRankCounts: [Int]
    /// One randomly chosen source / sky value's rank (nil when the group is empty).
    public var sourcePickRank: Int?
    public var skyPickRank: Int?
    /// Coverage of the source / sky values at each level (nil when the group is empty).
    public var sourceCoverage: [Double]?
    public var skyCoverage: [Double]?
    /// Mean of r/K − ½ over the source / sky values.
    public var sourceRankOffset: Double?
    public var skyRankOffset: Double?
    public var sourceValues: Int
    /// Per band: rank of the truth's aperture flux, the truth's flux, the samples' mean and std.
    public var apertureFluxRank: [Int]
    public var apertureFluxTruth: [Double]
    public var apertureFluxMean: [Double]
    public var apertureFluxStd: [Double]
    /// Per band and level: whether the truth's aperture flux lies in the samples' central type-6 interval.
    public var apertureFluxCovered: [[Bool]]
    /// Per band: aperture mean of sample variance / prior variance (nil without a prior variance).
    public var apertureVarianceRatio: [Double]?
    public var reducedChiSquaredOfMean: Double
    public var seconds: Double
}

/// A χ² uniformity test of ranks on {0 … K}.
public struct RankUniformityTest: Codable, Sendable, Equatable {
    public var ranks: Int
    public var bins: Int
    public var counts: [Int]
    public var expected: [Double]
    public var chiSquared: Double
    public var pValue: Double

    /// B = ⌊M/5⌋ bins (2 … K+1) of consecutive ranks; expected counts M·|bin|/(K+1).
    public init(ranks: [Int], samples k: Int) {
        let m = ranks.count
        let b = max(2, min(k + 1, m / 5))
        var counts = [Int](repeating: 0, count: b), width = [Int](repeating: 0, count: b)
        func bin(_ r: Int) -> Int { min(b - 1, r * b / (k + 1)) }
        for r in 0...k { width[bin(r)] += 1 }
        for r in ranks { counts[bin(min(max(r, 0), k))] += 1 }
        let expected = width.map { Double(m) * Double($0) / Double(k + 1) }
        var chi2 = 0.0
        for i in 0..<b where expected[i] > 0 { let d = Double(counts[i]) - expected[i]; chi2 += d * d / expected[i] }
        self.ranks = m; bins = b; self.counts = counts; self.expected = expected; chiSquared = chi2
        pValue = m == 0 ? .nan : gsl_cdf_chisq_Q(chi2, Double(b - 1))
    }
}

/// Mean and standard error of the mean over truths.
public struct MeanWithError: Codable, Sendable, Equatable {
    public var mean: Double
    public var standardError: Double
    public var count: Int
    public init(_ values: [Double]) {
        let v = values.filter(\.isFinite)
        count = v.count
        mean = v.isEmpty ? .nan : v.reduce(0, +) / Double(v.count)
        if v.count > 1 {
            let m = mean
            standardError = (v.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(v.count - 1) / Double(v.count)).squareRoot()
        } else { standardError = .nan }
    }
}

/// The SBC scores of one SNR scale.
public struct SBCScaleReport: Codable, Sendable, Equatable {
    public var scale: Double
    public var sigmas: [Double]
    public var truths: Int
    public var samples: Int
    public var sourcePixels: RankUniformityTest
    public var skyPixels: RankUniformityTest
    public var apertureFlux: [RankUniformityTest]
    /// Coverage per level that a calibrated sampler has with K samples (`expectedCoverage`).
    public var expectedCoverage: [Double]
    /// Coverage per level over truths (mean ± SE).
    public var sourceCoverage: [MeanWithError]
    public var skyCoverage: [MeanWithError]
    public var apertureFluxCoverage: [[Double]]
    public var sourceRankOffset: MeanWithError
    public var skyRankOffset: MeanWithError
    /// Pooled rank counts of every source / sky value (K + 1 entries).
    public var sourceRankCounts: [Int]
    public var skyRankCounts: [Int]
    /// Per band: the aperture variance ratio over truths (mean ± SE) and its spread (std over truths).
    public var apertureVarianceRatio: [MeanWithError]?
    public var apertureVarianceRatioSpread: [Double]?
    public var reducedChiSquaredOfMean: MeanWithError
    public var secondsPerSample: Double
    /// Every p-value > 0.01 and every pixel coverage within ±0.05 of its expected value.
    public var consistentWithCalibration: Bool
}

public struct SBCProgress: Sendable {
    public var scale: Double
    public var truth: Int
    public var truths: Int
    public var skipped: Bool
    public var seconds: Double
}

/// The coverage of the central type-6 interval of K exchangeable samples at level L: the truth's rank
/// is uniform on K + 1 places, and the interval runs between positions (1 ∓ L)/2·(K + 1), clamped to the
/// extreme samples 1 and K — so it is L when (1 − L)/2·(K + 1) ≥ 1 and smaller otherwise
/// (0.882 at L = 0.95 with K = 16: the widest interval [X_(1), X_(16)] covers 15/17).
public func expectedCoverage(level: Double, samples k: Int) -> Double {
    let lo = min(max((1 - level) / 2 * Double(k + 1), 1), Double(k))
    let hi = min(max((1 + level) / 2 * Double(k + 1), 1), Double(k))
    return (hi - lo) / Double(k + 1)
}

/// The SBC study of one sampler on one prior and operator.
public struct SimulationBasedCalibration {
    public let prior: any Denoiser
    public let forwardOperator: any ForwardOperator
    public let settings: SBCSettings
    /// The prior's pixel variance (prior grid, flux scale 1) in physical or network space, for the aperture VR.
    public let priorVariance: (values: [Float], space: VarianceSpace)?
    /// Truth i in network space (one image), a draw from the prior.
    public let drawTruth: (Int) throws -> ImageBatch
    /// The posterior sampler for a problem.
    public let makeSampler: (PosteriorProblem) throws -> any PosteriorSampler
    /// What identifies the prior, the truth sampler and the posterior sampler (part of the fingerprint).
    public let identity: String

    public init(prior: any Denoiser, forwardOperator: any ForwardOperator, settings: SBCSettings,
                priorVariance: (values: [Float], space: VarianceSpace)?, identity: String,
                drawTruth: @escaping (Int) throws -> ImageBatch,
                makeSampler: @escaping (PosteriorProblem) throws -> any PosteriorSampler) throws {
        try settings.validate()
        guard prior.imageShape == forwardOperator.inputShape else {
            throw TweedieError.shapeMismatch(what: "SBC prior image vs operator input (\(forwardOperator.summary))",
                                             expected: "\(prior.imageShape)", got: "\(forwardOperator.inputShape)")
        }
        let bands = forwardOperator.outputShape.channels
        guard settings.sigmas.count == 1 || settings.sigmas.count == bands else {
            throw TweedieError.invalidInput(what: "sbc.sigma", problem: "give one σ or one per observed band (\(bands)), got \(settings.sigmas.count)")
        }
        if let v = priorVariance, v.values.count != prior.imageShape.count {
            throw TweedieError.shapeMismatch(what: "SBC prior variance", expected: "\(prior.imageShape.count) values", got: "\(v.values.count)")
        }
        self.prior = prior; self.forwardOperator = forwardOperator; self.settings = settings
        self.priorVariance = priorVariance; self.identity = identity
        self.drawTruth = drawTruth; self.makeSampler = makeSampler
    }

    var bandSigmas: [Double] {
        let b = forwardOperator.outputShape.channels
        return settings.sigmas.count == 1 ? [Double](repeating: settings.sigmas[0], count: b) : settings.sigmas
    }

    /// Every setting that decides a record.
    public var fingerprint: String {
        let s = settings
        // The truth count is not part of it: truth i's record does not depend on how many follow, so a
        // run extended to more truths keeps every record it has.
        return "sbc v1 | \(identity) | operator \(forwardOperator.summary) | K \(s.samples) seed \(s.seed) "
            + "| σ \(s.sigmas) s \(s.fluxScale) | source S/N \(s.sourceThreshold) | levels \(s.levels)"
    }

    static func recordName(scale: Double, truth: Int) -> String {
        "k\(shortNumber(scale))-t\(String(format: "%04d", truth)).json"
    }

    /// Runs the missing truths of every scale (finished ones in `directory/cases` are kept) and returns the
    /// reports. `checkpoint` receives the reports over the truths finished so far after every newly
    /// computed truth (so a long run killed midway leaves its current tables).
    public func run(directory: URL, progress: (SBCProgress) -> Void = { _ in },
                    checkpoint: ([SBCScaleReport]) throws -> Void = { _ in }) throws -> [SBCScaleReport] {
        let cases = directory.appendingPathComponent("cases")
        try FileManager.default.createDirectory(at: cases, withIntermediateDirectories: true)
        let fp = fingerprint
        var records: [Double: [SBCTruthRecord]] = [:]
        for i in 0..<settings.truths {
            var truthU: ImageBatch? = nil
            for k in settings.snrScales {
                let url = cases.appendingPathComponent(Self.recordName(scale: k, truth: i))
                if let data = try? Data(contentsOf: url), let r = try? JSONDecoder().decode(SBCTruthRecord.self, from: data),
                   r.fingerprint == fp {
                    records[k, default: []].append(r)
                    progress(SBCProgress(scale: k, truth: i, truths: settings.truths, skipped: true, seconds: 0))
                    continue
                }
                if truthU == nil { truthU = try drawTruth(i) }
                let r = try runTruth(truthU!, index: i, scale: k)
                let data = try JSONEncoder().encode(r)
                try AtomicFileWrite.write(to: url.path) { tmp in
                    do { try data.write(to: URL(fileURLWithPath: tmp)) } catch {
                        throw TweedieError.io(path: url.path, problem: "cannot be written (\(error.localizedDescription))")
                    }
                }
                records[k, default: []].append(r)
                progress(SBCProgress(scale: k, truth: i, truths: settings.truths, skipped: false, seconds: r.seconds))
            }
            if truthU != nil { try checkpoint(settings.snrScales.map { report(scale: $0, records: records[$0] ?? []) }) }
        }
        return settings.snrScales.map { report(scale: $0, records: records[$0] ?? []) }
    }

    /// The matched-filter S/N of every prior-grid value (file header), from the observation only.
    func sourceMask(observation y: ImageBatch, noise: DiagonalGaussianNoise) throws -> [Bool] {
        let shape = prior.imageShape
        let sw = noise.sqrtWeights
        var wy = y
        for j in 0..<wy.valueCount { wy.data[j] = sw[j] > 0 ? sw[j] * sw[j] * y.data[j] : 0 }
        let back = try forwardOperator.adjoint(wy)
        // (Aᵀ W A)_{cc} per band at the centre pixel.
        let centre = (shape.height / 2) * shape.width + shape.width / 2
        var norms = [Double](repeating: 0, count: shape.channels)
        for b in 0..<shape.channels {
            var e = ImageBatch(count: 1, shape: shape)
            e.data[b * shape.planeCount + centre] = 1
            let ae = try forwardOperator.apply(e)
            var s = 0.0
            for j in 0..<ae.valueCount { let w = Double(sw[j]) * Double(ae.data[j]); s += w * w }
            norms[b] = s.squareRoot()
        }
        var snr = [Double](repeating: 0, count: shape.planeCount)
        for b in 0..<shape.channels where norms[b] > 0 {
            for j in 0..<shape.planeCount { snr[j] = max(snr[j], Double(back.data[b * shape.planeCount + j]) / norms[b]) }
        }
        var mask = [Bool](repeating: false, count: shape.count)
        for b in 0..<shape.channels { for j in 0..<shape.planeCount { mask[b * shape.planeCount + j] = snr[j] > settings.sourceThreshold } }
        return mask
    }

    /// One truth (network space) at one scale.
    func runTruth(_ u: ImageBatch, index i: Int, scale k: Double) throws -> SBCTruthRecord {
        let start = Date()
        let shape = prior.imageShape, n = shape.count, kCount = settings.samples
        let transform = prior.pixelTransform
        let s = Float(settings.fluxScale)
        var x = u
        for j in 0..<x.valueCount { x.data[j] = s * transform.toPhysical(u.data[j]) }
        // y = A x + (σ_b/k) n, n from the truth's noise stream (shared by every scale).
        var y = try forwardOperator.apply(x)
        let obsShape = forwardOperator.outputShape
        let sig = bandSigmas.map { $0 / k }
        let noiseDraw = SampleStream(seed: streamSeed(seed: settings.seed ^ 0x5BC0_0015E, index: UInt64(i)), index: 0).normals(obsShape.count)
        for b in 0..<obsShape.channels {
            for j in 0..<obsShape.planeCount { y.data[b * obsShape.planeCount + j] += Float(sig[b]) * noiseDraw[b * obsShape.planeCount + j] }
        }
        let noise = try DiagonalGaussianNoise(bandSigmas: sig, shape: obsShape)
        let problem = try PosteriorProblem(observation: y, forwardOperator: forwardOperator, noise: noise, fluxScale: settings.fluxScale)
        let sampler = try makeSampler(problem)
        // K samples in batches (multiples of the sampler's group size), seed per truth and scale.
        let sampleSeed = streamSeed(seed: settings.seed ^ calibrationHash("sbc/\(shortNumber(k))"), index: UInt64(i))
        let group = max(1, sampler.sampleGroupSize)
        let step = max(group, (settings.batch / group) * group)
        var samples = [Float](); samples.reserveCapacity(kCount * n)
        for lo in stride(from: 0, to: kCount, by: step) {
            let hi = min(kCount, lo + step)
            let drawn = try sampler.sample(indices: lo..<hi, seed: sampleSeed)
            guard drawn.allFinite else {
                throw TweedieError.numerical(problem: "SBC: \(sampler.name) produced non-finite samples for truth \(i) at SNR ×\(shortNumber(k))")
            }
            let phys = problem.physical(drawn, transform: transform)
            samples += phys.data[0..<((hi - lo) * n)]
        }
        let mask = try sourceMask(observation: y, noise: noise)
        let picker = SampleStream(seed: streamSeed(seed: settings.seed ^ 0x9_1CC5, index: UInt64(i)), index: Int(k * 1000))
        return try Self.score(truth: x.data, samples: samples, count: kCount, shape: shape, sourceMask: mask,
                              levels: settings.levels, picker: picker, fluxScale: settings.fluxScale,
                              priorVariance: priorVariance, problem: problem, fingerprint: fingerprint, scale: k, index: i,
                              seconds: Date().timeIntervalSince(start))
    }

    /// Rank of t among the values (ties broken uniformly with `stream`).
    static func rank(of t: Float, in values: ArraySlice<Float>, stream: SampleStream) -> Int {
        var below = 0, equal = 0
        for v in values { if v < t { below += 1 } else if v == t { equal += 1 } }
        return equal == 0 ? below : below + stream.uniformInt(equal + 1)
    }

    /// Scores one truth against its K samples (physical, sample-major).
    static func score(truth: [Float], samples: [Float], count kCount: Int, shape: ImageShape, sourceMask: [Bool],
                      levels: [Double], picker: SampleStream, fluxScale: Double,
                      priorVariance: (values: [Float], space: VarianceSpace)?, problem: PosteriorProblem,
                      fingerprint: String, scale: Double, index: Int, seconds: Double) throws -> SBCTruthRecord {
        let n = truth.count
        var sourceCounts = [Int](repeating: 0, count: kCount + 1), skyCounts = sourceCounts
        var sourceRanks: [Int] = [], skyRanks: [Int] = []
        var inside = [[Int]](repeating: [Int](repeating: 0, count: levels.count), count: 2)
        var offset = [0.0, 0.0]
        var column = [Float](repeating: 0, count: kCount)
        var mean = [Float](repeating: 0, count: n), variance = [Double](repeating: 0, count: n)
        for j in 0..<n {
            var sum = 0.0
            for i in 0..<kCount { column[i] = samples[i * n + j]; sum += Double(column[i]) }
            let m = sum / Double(kCount)
            var s2 = 0.0
            for v in column { s2 += (Double(v) - m) * (Double(v) - m) }
            mean[j] = Float(m); variance[j] = s2 / Double(kCount - 1)
            let r = rank(of: truth[j], in: column[...], stream: picker)
            let g = sourceMask[j] ? 0 : 1
            if g == 0 { sourceCounts[r] += 1; sourceRanks.append(r) } else { skyCounts[r] += 1; skyRanks.append(r) }
            offset[g] += Double(r) / Double(kCount) - 0.5
            column.sort()
            let t = Double(truth[j])
            for (l, level) in levels.enumerated() {
                let lo = CalibrationAccumulator.quantile(column, (1 - level) / 2)
                let hi = CalibrationAccumulator.quantile(column, (1 + level) / 2)
                if t >= lo && t <= hi { inside[g][l] += 1 }
            }
        }
        let nSource = sourceRanks.count, nSky = skyRanks.count
        func pick(_ r: [Int]) -> Int? { r.isEmpty ? nil : r[picker.uniformInt(r.count)] }
        func cov(_ g: Int, _ c: Int) -> [Double]? { c == 0 ? nil : inside[g].map { Double($0) / Double(c) } }
        // Aperture flux per band.
        let ap = PosteriorMetrics.defaultAperture(shape)
        let plane = shape.planeCount
        var inDisk = [Int]()
        for y in 0..<shape.height {
            for x in 0..<shape.width {
                let dx = Double(x) - ap.center.x, dy = Double(y) - ap.center.y
                if dx * dx + dy * dy <= ap.radius * ap.radius { inDisk.append(y * shape.width + x) }
            }
        }
        var fluxRank: [Int] = [], fluxTruth: [Double] = [], fluxMean: [Double] = [], fluxStd: [Double] = []
        var fluxCovered: [[Bool]] = []
        for b in 0..<shape.channels {
            let t = inDisk.reduce(0.0) { $0 + Double(truth[b * plane + $1]) }
            let f = (0..<kCount).map { i in inDisk.reduce(0.0) { $0 + Double(samples[i * n + b * plane + $1]) } }
            let fm = f.reduce(0, +) / Double(kCount)
            let fs = (f.reduce(0) { $0 + ($1 - fm) * ($1 - fm) } / Double(kCount - 1)).squareRoot()
            fluxRank.append(rank(of: Float(t), in: f.map { Float($0) }[...], stream: picker))
            fluxTruth.append(t); fluxMean.append(fm); fluxStd.append(fs)
            let sorted = f.map { Float($0) }.sorted()
            fluxCovered.append(levels.map { level in
                t >= CalibrationAccumulator.quantile(sorted, (1 - level) / 2) && t <= CalibrationAccumulator.quantile(sorted, (1 + level) / 2)
            })
        }
        // Aperture variance ratio per band (physical prior variance is of T(u) at flux scale 1).
        var vr: [Double]? = nil
        if let pv = priorVariance, pv.space == .physical {
            let s2 = fluxScale * fluxScale
            vr = (0..<shape.channels).map { b in
                var acc = 0.0, c = 0
                for p in inDisk {
                    let j = b * plane + p
                    let prior = Double(pv.values[j])
                    if prior > 0 { acc += variance[j] / s2 / prior; c += 1 }
                }
                return c > 0 ? acc / Double(c) : .nan
            }
        }
        let (_, chi2) = try problem.whitenedResiduals(ofPhysical: ImageBatch(count: 1, shape: shape, data: mean))
        return SBCTruthRecord(fingerprint: fingerprint, scale: scale, truth: index,
                              sourceRankCounts: sourceCounts, skyRankCounts: skyCounts,
                              sourcePickRank: pick(sourceRanks), skyPickRank: pick(skyRanks),
                              sourceCoverage: cov(0, nSource), skyCoverage: cov(1, nSky),
                              sourceRankOffset: nSource > 0 ? offset[0] / Double(nSource) : nil,
                              skyRankOffset: nSky > 0 ? offset[1] / Double(nSky) : nil,
                              sourceValues: nSource,
                              apertureFluxRank: fluxRank, apertureFluxTruth: fluxTruth, apertureFluxMean: fluxMean,
                              apertureFluxStd: fluxStd, apertureFluxCovered: fluxCovered, apertureVarianceRatio: vr,
                              reducedChiSquaredOfMean: chi2[0] / Double(problem.noise.usableCount), seconds: seconds)
    }

    /// Pools the records of one scale.
    func report(scale: Double, records: [SBCTruthRecord]) -> SBCScaleReport {
        let k = settings.samples, levels = settings.levels
        let bands = prior.imageShape.channels
        let sourceTest = RankUniformityTest(ranks: records.compactMap(\.sourcePickRank), samples: k)
        let skyTest = RankUniformityTest(ranks: records.compactMap(\.skyPickRank), samples: k)
        let fluxTests = (0..<bands).map { b in RankUniformityTest(ranks: records.map { $0.apertureFluxRank[b] }, samples: k) }
        func coverage(_ get: (SBCTruthRecord) -> [Double]?) -> [MeanWithError] {
            levels.indices.map { l in MeanWithError(records.compactMap { get($0)?[l] }) }
        }
        let sourceCov = coverage(\.sourceCoverage), skyCov = coverage(\.skyCoverage)
        let fluxCov: [[Double]] = (0..<bands).map { b in
            levels.indices.map { l in
                records.isEmpty ? .nan : Double(records.filter { $0.apertureFluxCovered[b][l] }.count) / Double(records.count)
            }
        }
        var pooledSource = [Int](repeating: 0, count: k + 1), pooledSky = pooledSource
        for r in records {
            for i in 0...k { pooledSource[i] += r.sourceRankCounts[i]; pooledSky[i] += r.skyRankCounts[i] }
        }
        var vr: [MeanWithError]? = nil, vrSpread: [Double]? = nil
        if records.allSatisfy({ $0.apertureVarianceRatio != nil }), !records.isEmpty {
            let per = (0..<bands).map { b in records.map { $0.apertureVarianceRatio![b] } }
            vr = per.map { MeanWithError($0) }
            vrSpread = per.map { v in
                let f = v.filter(\.isFinite)
                guard f.count > 1 else { return .nan }
                let m = f.reduce(0, +) / Double(f.count)
                return (f.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(f.count - 1)).squareRoot()
            }
        }
        let seconds = records.reduce(0) { $0 + $1.seconds } / Double(max(1, records.count * k))
        let pValues = [sourceTest.pValue, skyTest.pValue] + fluxTests.map(\.pValue)
        let expected = levels.map { expectedCoverage(level: $0, samples: k) }
        let covOK = zip(expected, zip(sourceCov, skyCov)).allSatisfy { e, c in
            [c.0.mean, c.1.mean].allSatisfy { !$0.isFinite || abs($0 - e) <= 0.05 }
        }
        let consistent = pValues.allSatisfy { !$0.isFinite || $0 > 0.01 } && covOK
        return SBCScaleReport(scale: scale, sigmas: bandSigmas.map { $0 / scale }, truths: records.count, samples: k,
                              sourcePixels: sourceTest, skyPixels: skyTest, apertureFlux: fluxTests,
                              expectedCoverage: expected, sourceCoverage: sourceCov, skyCoverage: skyCov, apertureFluxCoverage: fluxCov,
                              sourceRankOffset: MeanWithError(records.compactMap(\.sourceRankOffset)),
                              skyRankOffset: MeanWithError(records.compactMap(\.skyRankOffset)),
                              sourceRankCounts: pooledSource, skyRankCounts: pooledSky,
                              apertureVarianceRatio: vr, apertureVarianceRatioSpread: vrSpread,
                              reducedChiSquaredOfMean: MeanWithError(records.map(\.reducedChiSquaredOfMean)),
                              secondsPerSample: seconds, consistentWithCalibration: consistent)
    }
}
