// The scores of `tweedie sample` mean what they say (issue 22), against
// independent oracles:
// - coverage of a truth exchangeable with K exact draws (all K + 1 i.i.d.
//   Gaussian) by the type-6 empirical rule lands within binomial error of the
//   nominal level, while the old type-7 rule lands on L(K−1)/(K+1)
//   (0.659 / 0.921 at K = 64 — the 0.65 / 0.92), and the rule is the
//   one `CalibrationAccumulator` uses (identical counts on the same data);
// - the type-6 quantile on a hand-computed sorted list, the clamp, and the
//   fewest samples an unclamped interval needs;
// - observed-band detection on a band selection, a band-mixing operator and
//   a fully masked band;
// - per-band aperture variance ratios and the observed-band headline of
//   `PosteriorProducts.compute` on a hand-built 3-band case where only r is
//   observed.
import Foundation
import Testing
import TweedieCore
import TweedieOperators
import TweedieTestSupport
@testable import TweedieSampling

@Suite struct PosteriorScoreDefinitionTests {
    /// Type-7 central-interval coverage, written out here as the oracle of the old rule:
    /// position p(K−1)+1 (1-based) among the sorted values, interpolated.
    static func type7Coverage(truth: [Float], samples: [Float], count k: Int, levels: [Double]) -> [Double] {
        let n = truth.count
        var inside = [Int](repeating: 0, count: levels.count)
        for j in 0..<n {
            let col = (0..<k).map { samples[$0 * n + j] }.sorted()
            func q(_ p: Double) -> Double {
                let h = p * Double(k - 1), i = Int(h), f = h - Double(i)
                return i + 1 < k ? Double(col[i]) * (1 - f) + Double(col[i + 1]) * f : Double(col[i])
            }
            let t = Double(truth[j])
            for (l, level) in levels.enumerated() where t >= q((1 - level) / 2) && t <= q((1 + level) / 2) { inside[l] += 1 }
        }
        return inside.map { Double($0) / Double(n) }
    }

    @Test func type6CoverageOfExactDrawsIsNominalAndType7IsNot() {
        // N independent pixels; truth and K samples all i.i.d. N(μ_j, s_j²): the truth is exchangeable
        // with the samples, exactly as for a sampler that draws from the true posterior.
        let n = 40_000, k = 64
        var rng = SplitMix64Generator(seed: 2201)
        var truth = [Float](repeating: 0, count: n), samples = [Float](repeating: 0, count: n * k)
        for j in 0..<n {
            let mu = 3 * rng.normal(), s = 0.1 + Double(j % 7)
            truth[j] = Float(mu + s * rng.normal())
            for i in 0..<k { samples[i * n + j] = Float(mu + s * rng.normal()) }
        }
        let levels = [0.5, 0.68, 0.95]
        let type7 = Self.type7Coverage(truth: truth, samples: samples, count: k, levels: levels)
        for (l, level) in levels.enumerated() {
            let se = (level * (1 - level) / Double(n)).squareRoot()
            let c6 = PosteriorMetrics.empiricalCoverage(truth: truth, samples: samples, count: k, level: level)
            #expect(abs(c6 - level) < 4 * se, "type 6 at \(level): \(c6) (SE \(se))")
            // Type 7 covers L(K−1)/(K+1) of an exchangeable truth: below nominal by 2L/(K+1).
            let c7 = type7[l], expected7 = level * Double(k - 1) / Double(k + 1)
            #expect(abs(c7 - expected7) < 4 * se, "type 7 at \(level): \(c7), expected \(expected7)")
            // Its deficit 2L/(K+1) is 9 SE at 68 % and 19 SE at 95 % here (only 6 SE at 50 %).
            if level > 0.6 { #expect(level - c7 > 5 * se, "type 7 should miss the nominal \(level): \(c7)") }
        }
        // The numbers: 0.659 / 0.921 at K = 64.
        #expect(abs(0.68 * 63 / 65 - 0.659) < 0.001 && abs(0.95 * 63 / 65 - 0.921) < 0.001)
    }

    @Test func sampleCoverageUsesTheCalibrateRule() {
        // Same data through `calibrate`'s accumulator and `sample`'s coverage: identical fractions.
        let n = 500, k = 40
        var rng = SplitMix64Generator(seed: 7)
        let truth = (0..<n).map { _ in Float(rng.normal()) }
        let samples = (0..<(n * k)).map { _ in Float(1.2 * rng.normal()) }
        let levels = [0.5, 0.68, 0.95]
        var acc = CalibrationAccumulator(levels: levels, samplesPerObservation: k)
        acc.add(truth: truth, samples: samples, exactMean: .init(repeating: 0, count: n),
                exactVariance: .init(repeating: 1, count: n), priorVariance: .init(repeating: 1, count: n),
                exactWeights: [1], sampleResponsibilities: [], seconds: 0)
        let calibrate = acc.scores.coverage
        for (l, level) in levels.enumerated() {
            let sample = PosteriorMetrics.empiricalCoverage(truth: truth, samples: samples, count: k, level: level)
            #expect(sample == calibrate[l], "level \(level): sample \(sample) vs calibrate \(calibrate[l])")
        }
    }

    @Test func type6QuantileByHand() {
        let v: [Float] = [1, 2, 3, 4, 5, 6, 7, 8, 9]   // K = 9: position p·10
        #expect(PosteriorMetrics.empiricalQuantile(sorted: v, 0.5) == 5)
        #expect(PosteriorMetrics.empiricalQuantile(sorted: v, 0.25) == 2.5)
        #expect(abs(PosteriorMetrics.empiricalQuantile(sorted: v, 0.84) - 8.4) < 1e-12)
        #expect(PosteriorMetrics.empiricalQuantile(sorted: v, 0.05) == 1)    // 0.5 → clamped to X_(1)
        #expect(PosteriorMetrics.empiricalQuantile(sorted: v, 0.975) == 9)   // 9.75 → clamped to X_(K)
        // The fewest samples whose (1 ∓ L)/2 · (K+1) both lie in [1, K]: K + 1 ≥ 2/(1 − L).
        #expect(PosteriorMetrics.minimumSamplesForEmpiricalCoverage(level: 0.95) == 39)
        #expect(PosteriorMetrics.minimumSamplesForEmpiricalCoverage(level: 0.68) == 6)
        #expect(PosteriorMetrics.minimumSamplesForEmpiricalCoverage(level: 0.5) == 3)
        #expect(0.025 * 40 >= 1 && 0.025 * 39 < 1 && 0.16 * 7 >= 1 && 0.16 * 6 < 1)
    }

    @Test func observedBandsOfABandSelection() throws {
        let shape = ImageShape(channels: 3, height: 6, width: 5)
        let sel = try BandSelection(inputShape: shape, inputBands: ["g", "r", "i"], select: ["i", "g"])
        let w = [Float](repeating: 2, count: sel.outputShape.count)
        #expect(try PosteriorMetrics.observedBands(of: sel, sqrtWeights: w) == [true, false, true])
        let only = try BandSelection(inputShape: shape, inputBands: ["g", "r", "i"], select: ["r"])
        #expect(try PosteriorMetrics.observedBands(of: only, sqrtWeights: [Float](repeating: 1, count: only.outputShape.count))
                == [false, true, false])
    }

    @Test func observedBandsOfAMixingChainAndOfAMaskedBand() throws {
        // A colour mix: one output band = band 0 + 0.5 · band 1 pixel by pixel; band 2 dropped.
        let shape = ImageShape(channels: 3, height: 3, width: 3)
        let out = ImageShape(channels: 1, height: 3, width: 3)
        var m = [Double](repeating: 0, count: out.count * shape.count)
        for p in 0..<9 { m[p * shape.count + p] = 1; m[p * shape.count + 9 + p] = 0.5 }
        let mix = DenseOperator(inputShape: shape, outputShape: out, matrix: m)
        #expect(try PosteriorMetrics.observedBands(of: mix, sqrtWeights: [Float](repeating: 1, count: 9)) == [true, true, false])
        // The identity on all three bands, but every value of band 1 masked (weight 0): not observed.
        let id = DenseOperator.identity(shape)
        var w = [Float](repeating: 1, count: shape.count)
        for j in 9..<18 { w[j] = 0 }
        #expect(try PosteriorMetrics.observedBands(of: id, sqrtWeights: w) == [true, false, true])
        // A chain: band selection of r then the mix-free identity on one band.
        let sel = try BandSelection(inputShape: shape, indices: [1])
        let chain = try composeOperators([sel, DenseOperator.identity(sel.outputShape)])
        #expect(try PosteriorMetrics.observedBands(of: chain, sqrtWeights: [Float](repeating: 1, count: 9)) == [false, true, false])
    }

    @Test func perBandApertureVarianceRatioAndObservedHeadline() throws {
        // Prior g, r, i on 5×5; only r observed. Aperture r = 1 px at (2, 2): 5 pixels.
        // Variance ratio inside the disk g 0.9, r 0.1, i 0.8; outside g 0.5, r 0.2, i 0.5.
        let shape = ImageShape(channels: 3, height: 5, width: 5)
        let inside: [Double] = [0.9, 0.1, 0.8], outside: [Double] = [0.5, 0.2, 0.5]
        let priorVariance: [Float] = [1, 2, 4]
        let sel = try BandSelection(inputShape: shape, inputBands: ["g", "r", "i"], select: ["r"])
        var y = ImageBatch(count: 1, shape: sel.outputShape)
        y.data = [Float](repeating: 0, count: 25)
        let problem = try PosteriorProblem(observation: y, forwardOperator: sel,
                                           noise: ScalarNoise(shape: sel.outputShape, sigma: 1), fluxScale: 1)
        // Three samples' worth of statistics: variance = M2 / (n − 1) = M2 / 2.
        var acc = PosteriorAccumulator(fingerprint: "t", totalSamples: 3, valueCount: shape.count)
        var m2 = [Double](repeating: 0, count: shape.count), pv = [Float](repeating: 0, count: shape.count)
        for c in 0..<3 {
            for yy in 0..<5 {
                for x in 0..<5 {
                    let j = (c * 5 + yy) * 5 + x
                    let inDisk = (x - 2) * (x - 2) + (yy - 2) * (yy - 2) <= 1
                    m2[j] = 2 * (inDisk ? inside[c] : outside[c]) * Double(priorVariance[c])
                    pv[j] = priorVariance[c]
                }
            }
        }
        acc.nextIndex = 3
        acc.physicalCount = 3; acc.physicalMean = .init(repeating: 0, count: shape.count); acc.physicalM2 = m2
        acc.networkCount = 3; acc.networkMean = .init(repeating: 0, count: shape.count); acc.networkM2 = m2
        acc.sampleChiSquared = [25, 25, 25]
        let p = try PosteriorProducts.compute(acc, problem: problem, bands: ["g", "r", "i"],
                                              priorVariance: (pv, .network), aperture: (1, (2, 2)))
        let sc = p.scores
        #expect(sc.observedBands == ["r"] && sc.unobservedBands == ["g", "i"])
        #expect(sc.priorBands.map(\.name) == ["g", "r", "i"] && sc.priorBands.map(\.observed) == [false, true, false])
        for (c, b) in sc.priorBands.enumerated() {
            #expect(abs(b.apertureVarianceRatio! - inside[c]) < 1e-6, "\(b.name): \(b.apertureVarianceRatio!)")
        }
        // Headline: r's 0.1 alone (all three bands pooled would give 0.6).
        #expect(abs(sc.apertureVarianceRatio! - 0.1) < 1e-6)
        for (c, b) in sc.priorBands.enumerated() { #expect(abs(b.medianVarianceRatio! - outside[c]) < 1e-6) }   // 20 of 25 pixels
        #expect(abs(sc.medianVarianceRatio! - 0.2) < 1e-6)
        #expect(sc.varianceRatioScope?.contains("observed bands [r]") == true)
        // Without band names the bands are named by their indices.
        let q = try PosteriorProducts.compute(acc, problem: problem, bands: [], priorVariance: (pv, .network),
                                              aperture: (1, (2, 2)))
        #expect(q.scores.observedBands == ["1"] && q.scores.priorBands.map(\.name) == ["0", "1", "2"])
    }
}
