// Calibration scores of a posterior sampler against exact posteriors (issue 8;
// DESIGN §5.2: samplers are judged on the analytic oracles by coverage).
//
// Per observation o (truth x*, K samples, exact posterior mean m and std s)
// and pixel j, pooled over every observation and pixel:
// - coverage at level L: x*_j inside the central empirical interval of the K
//   samples [q_{(1−L)/2}, q_{(1+L)/2}], type-6 quantiles (position p(K+1)
//   among the order statistics, interpolated). If the truth is exchangeable
//   with the samples — exactly what a calibrated sampler gives, since the truth
//   is a draw from p(x | y) — its rank among them is uniform on K+1 places, so
//   [X_(a), X_(b)] covers it with probability (b − a)/(K+1) and this interval
//   has expected coverage L for any K. (Type 7, position p(K−1)+1, would cover
//   only ≈ 92 % at L = 95 % with K = 64.) Its standard error comes from the spread of the
//   per-observation coverages (SE = sd_o / √M), which allows for the
//   correlation between the pixels of one image;
// - mean error e_j = (x̄_j − m_j)/s_j: RMS and mean |e|; an exact sampler gives
//   RMS ≈ 1/√K (Monte-Carlo floor, reported beside it);
// - std ratio √(Σ v̂_j / Σ s_j²), v̂ the unbiased sample variance;
// - z-scores z_j = (x*_j − x̄_j)/√v̂_j (sampled) and (x*_j − m_j)/s_j (exact):
//   mean, std, fraction with |z| > 2 and > 3, and a histogram of 0.5-wide bins
//   on [−5, 5] plus under- and overflow; for an exact sampler the sampled z has
//   std ≈ √(1 + 1/K) (Student-t-like), the exact z std 1;
// - mixture mode weights: the sampler's weight of component k is the average
//   exact responsibility p(k | x) of its samples; compared with the exact
//   posterior π_k by the total-variation distance ½ Σ_k |ŵ_k − π_k| per
//   observation (mean and max over observations).
// Every reduction accumulates in Double.

import Foundation
import TweedieCore

/// The scores of one case × sampler (JSON / CSV row).
public struct CalibrationScores: Codable, Sendable, Equatable {
    public var levels: [Double]
    public var coverage: [Double]
    public var coverageStandardError: [Double]
    public var meanErrorRMS: Double
    public var meanErrorMeanAbs: Double
    /// 1/√K: the RMS mean error of an exact sampler with K samples.
    public var meanErrorFloor: Double
    public var stdRatio: Double
    public var zMean: Double
    public var zStd: Double
    public var zFractionAbove2: Double
    public var zFractionAbove3: Double
    public var zExactMean: Double
    public var zExactStd: Double
    /// Histogram of the sampled z on [−5, 5] in 0.5 bins: 22 counts (underflow, 20 bins, overflow).
    public var zHistogram: [Int]
    public var zExactHistogram: [Int]
    /// Mixture priors: mean and max over observations of ½ Σ_k |ŵ_k − π_k|; nil for one component.
    public var modeWeightTVMean: Double?
    public var modeWeightTVMax: Double?
    /// Mixture priors: mean over observations of the exact π and the sampled ŵ (per component).
    public var modeWeightExact: [Double]?
    public var modeWeightSampled: [Double]?
    /// Mean over pixels and observations of exact posterior std / prior std (how much the data constrain).
    public var posteriorToPriorStd: Double
    public var observations: Int
    public var samplesPerObservation: Int
    public var pixels: Int
    /// Sampler wall time per sample (seconds; single thread).
    public var secondsPerSample: Double
    /// Stationary Gaussian prior under a periodic PSF: sampled / exact posterior variance per radial
    /// Fourier band (FourierBandAccumulator.edges, cycles per pixel); nil otherwise.
    public var fourierBandVarianceRatio: [Double?]?
}

/// Accumulates the scores over observations.
public struct CalibrationAccumulator: Sendable {
    public let levels: [Double]
    public let samplesPerObservation: Int
    private var inside: [Int]
    private var perObservationCoverage: [[Double]] = []
    private var pixelCount = 0
    private var e2 = 0.0, eAbs = 0.0
    private var sampledVar = 0.0, exactVar = 0.0
    private var z = (sum: 0.0, sum2: 0.0, above2: 0, above3: 0)
    private var zx = (sum: 0.0, sum2: 0.0)
    private var zHist = [Int](repeating: 0, count: 22)
    private var zxHist = [Int](repeating: 0, count: 22)
    private var tv: [Double] = []
    private var weightSums: [Double] = []
    private var sampledWeightSums: [Double] = []
    private var stdRatioToPrior = 0.0
    private var samplerSeconds = 0.0
    private var samplesDrawn = 0
    /// Per-band Fourier variance, when the exact posterior is diagonal in Fourier space.
    public var fourierBands: FourierBandAccumulator?

    public init(levels: [Double], samplesPerObservation: Int) {
        self.levels = levels
        self.samplesPerObservation = samplesPerObservation
        inside = [Int](repeating: 0, count: levels.count)
    }

    static func bin(_ v: Double) -> Int {
        guard v.isFinite else { return v > 0 ? 21 : 0 }
        if v < -5 { return 0 }
        if v >= 5 { return 21 }
        return min(20, 1 + Int(((v + 5) / 0.5).rounded(.down)))
    }

    /// Adds one observation.
    /// - Parameters:
    ///   - truth: N values; samples: K × N values (sample-major);
    ///   - exactMean / exactVariance: the exact posterior's pixel moments;
    ///   - priorVariance: the prior's pixel variance (for the data-constraint context number);
    ///   - exactWeights / sampleResponsibilities: π_k and, per sample, p(k | x) (K × componentCount) for mixtures;
    ///   - seconds: sampler wall time for these K samples.
    public mutating func add(truth: [Float], samples: [Float], exactMean: [Double], exactVariance: [Double],
                             priorVariance: [Double], exactWeights: [Double], sampleResponsibilities: [[Double]],
                             seconds: Double) {
        let n = truth.count, k = samplesPerObservation
        precondition(samples.count == n * k && exactMean.count == n && exactVariance.count == n)
        var column = [Float](repeating: 0, count: k)
        var obsInside = [Int](repeating: 0, count: levels.count)
        for j in 0..<n {
            var s = 0.0, s2 = 0.0
            for i in 0..<k { let v = samples[i * n + j]; column[i] = v; s += Double(v) }
            let mean = s / Double(k)
            for i in 0..<k { let d = Double(column[i]) - mean; s2 += d * d }
            let v = s2 / Double(k - 1)
            column.sort()
            let t = Double(truth[j])
            for (l, level) in levels.enumerated() {
                let lo = Self.quantile(column, (1 - level) / 2), hi = Self.quantile(column, (1 + level) / 2)
                if t >= lo && t <= hi { obsInside[l] += 1 }
            }
            let sd = exactVariance[j].squareRoot()
            let e = (mean - exactMean[j]) / sd
            e2 += e * e; eAbs += abs(e)
            sampledVar += v; exactVar += exactVariance[j]
            let zs = (t - mean) / v.squareRoot()
            z.sum += zs; z.sum2 += zs * zs
            if abs(zs) > 2 { z.above2 += 1 }
            if abs(zs) > 3 { z.above3 += 1 }
            zHist[Self.bin(zs)] += 1
            let ze = (t - exactMean[j]) / sd
            zx.sum += ze; zx.sum2 += ze * ze
            zxHist[Self.bin(ze)] += 1
            stdRatioToPrior += sd / priorVariance[j].squareRoot()
        }
        for l in levels.indices { inside[l] += obsInside[l] }
        perObservationCoverage.append(obsInside.map { Double($0) / Double(n) })
        pixelCount += n
        if exactWeights.count > 1 {
            var w = [Double](repeating: 0, count: exactWeights.count)
            for r in sampleResponsibilities { for c in w.indices { w[c] += r[c] / Double(sampleResponsibilities.count) } }
            tv.append(0.5 * zip(w, exactWeights).reduce(0) { $0 + abs($1.0 - $1.1) })
            if weightSums.isEmpty {
                weightSums = [Double](repeating: 0, count: w.count); sampledWeightSums = weightSums
            }
            for c in w.indices { weightSums[c] += exactWeights[c]; sampledWeightSums[c] += w[c] }
        }
        samplerSeconds += seconds
        samplesDrawn += k
    }

    /// Type-6 quantile of sorted values: position p(K+1) among the order statistics X_(1) … X_(K)
    /// (1-based), linearly interpolated and clamped to [X_(1), X_(K)].
    public static func quantile(_ sorted: [Float], _ p: Double) -> Double {
        let k = sorted.count
        let h = min(max(p * Double(k + 1), 1), Double(k))  // 1-based position
        let i = Int(h.rounded(.down)), f = h - Double(i)
        return i < k ? Double(sorted[i - 1]) * (1 - f) + Double(sorted[i]) * f : Double(sorted[k - 1])
    }

    public var observations: Int { perObservationCoverage.count }

    public var scores: CalibrationScores {
        let np = Double(max(pixelCount, 1)), m = Double(observations)
        let coverage = inside.map { Double($0) / np }
        let se = levels.indices.map { l -> Double in
            guard observations > 1 else { return .nan }
            let c = perObservationCoverage.map { $0[l] }
            let mu = c.reduce(0, +) / m
            let v = c.reduce(0) { $0 + ($1 - mu) * ($1 - mu) } / (m - 1)
            return (v / m).squareRoot()
        }
        let zm = z.sum / np, zxm = zx.sum / np
        return CalibrationScores(
            levels: levels, coverage: coverage, coverageStandardError: se,
            meanErrorRMS: (e2 / np).squareRoot(), meanErrorMeanAbs: eAbs / np,
            meanErrorFloor: 1 / Double(samplesPerObservation).squareRoot(),
            stdRatio: (sampledVar / exactVar).squareRoot(),
            zMean: zm, zStd: max(0, z.sum2 / np - zm * zm).squareRoot(),
            zFractionAbove2: Double(z.above2) / np, zFractionAbove3: Double(z.above3) / np,
            zExactMean: zxm, zExactStd: max(0, zx.sum2 / np - zxm * zxm).squareRoot(),
            zHistogram: zHist, zExactHistogram: zxHist,
            modeWeightTVMean: tv.isEmpty ? nil : tv.reduce(0, +) / Double(tv.count),
            modeWeightTVMax: tv.max(),
            modeWeightExact: weightSums.isEmpty ? nil : weightSums.map { $0 / m },
            modeWeightSampled: sampledWeightSums.isEmpty ? nil : sampledWeightSums.map { $0 / m },
            posteriorToPriorStd: stdRatioToPrior / np,
            observations: observations, samplesPerObservation: samplesPerObservation, pixels: pixelCount,
            secondsPerSample: samplerSeconds / Double(max(samplesDrawn, 1)),
            fourierBandVarianceRatio: fourierBands?.ratios)
    }
}
