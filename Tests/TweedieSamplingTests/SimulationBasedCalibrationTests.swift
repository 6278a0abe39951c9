// Simulation-based calibration against independent facts (issue 22):
// - exact posterior draws (the closed form of a stationary Gaussian prior under a
//   periodic PSF) pass it: rank χ² p-values not small, pixel coverage at the
//   value a calibrated sampler has with K samples, rank offsets within 4 SE of 0;
// - an over-confident "sampler" (exact draws shrunk about the exact mean by
//   0.5, std half the truth's) fails it: p-values ≪ 0.01, coverage far below;
// - the expected coverage of the clamped type-6 interval, by hand (15/17 at
//   95 % with K = 16, L itself once (1 − L)/2·(K + 1) ≥ 1);
// - the χ² uniformity test on ranks laid out by hand;
// - a second run in the same directory reuses every record and reports the same.
import Foundation
import Testing
import TweedieCore
import TweedieOperators
import TweediePriors
@testable import TweedieSampling
@testable import TweedieStudies

/// Exact draws shrunk about the exact posterior mean: x = m + f·(x_exact − m).
private struct ShrunkExactSampler: PosteriorSampler {
    let exact: ExactPosteriorSampler
    let factor: Float
    var name: String { "shrunk-exact" }
    var summary: String { "exact draws shrunk by \(factor)" }
    func sample(indices: Range<Int>, seed: UInt64) throws -> ImageBatch {
        var x = try exact.sample(indices: indices, seed: seed)
        let n = exact.shape.count
        for k in 0..<x.count { for j in 0..<n { let m = Float(exact.oracle.mean[j]); x.data[k * n + j] = m + factor * (x.data[k * n + j] - m) } }
        return x
    }
}

@Suite struct SimulationBasedCalibrationTests {
    static func study(factor: Float?, truths: Int, samples: Int, scales: [Double] = [1, 10]) throws -> SimulationBasedCalibration {
        let prior = try AnalyticPriorSpec.parseAnalytic("gaussian:n=8,amplitude=1,slope=3,k0=0.3")
        let psf = try GaussianPSF(fwhm: 2).render(pixelScale: 1, height: 7, width: 7)
        let op = try PSFConvolution(psf: psf, imageShape: prior.imageShape, boundary: .periodic)
        let settings = SBCSettings(truths: truths, samples: samples, batch: samples, seed: 11, snrScales: scales, sigmas: [0.3])
        let variance = CalibrationSetup.pixelVariance(of: prior).map { Float($0) }
        return try SimulationBasedCalibration(
            prior: prior, forwardOperator: op, settings: settings, priorVariance: (variance, .physical),
            identity: "test \(factor.map { "shrunk \($0)" } ?? "exact")",
            drawTruth: { i in prior.samples(count: 1, seed: 5, firstIndex: i) },
            makeSampler: { problem in
                let exact = try ExactPosteriorSampler(prior: prior, problem: problem)
                if let f = factor { return ShrunkExactSampler(exact: exact, factor: f) }
                return exact
            })
    }

    static func scratch() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sbc-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    @Test func exactDrawsPassAndAShrunkSamplerFails() throws {
        let k = 16
        let dir = try Self.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let good = try Self.study(factor: nil, truths: 150, samples: k).run(directory: dir.appendingPathComponent("exact"))
        for r in good {
            let tests = [r.sourcePixels, r.skyPixels] + r.apertureFlux
            for t in tests where t.ranks > 0 { #expect(t.pValue > 1e-3, "exact draws at ×\(r.scale): p \(t.pValue), counts \(t.counts)") }
            for (l, e) in r.expectedCoverage.enumerated() {
                for c in [r.sourceCoverage[l], r.skyCoverage[l]] where c.count > 0 {
                    #expect(abs(c.mean - e) <= max(0.02, 4 * c.standardError), "coverage \(c.mean) ± \(c.standardError) vs \(e)")
                }
            }
            for o in [r.sourceRankOffset, r.skyRankOffset] where o.count > 1 {
                #expect(abs(o.mean) <= 4 * o.standardError, "rank offset \(o.mean) ± \(o.standardError)")
            }
        }
        // Both groups are populated at ×10 (bright structure above S/N 3, faint sky below it).
        #expect(good[1].sourcePixels.ranks >= 100 && good[1].skyPixels.ranks >= 100, "source \(good[1].sourcePixels.ranks), sky \(good[1].skyPixels.ranks)")
        let allConsistent = good.allSatisfy { $0.consistentWithCalibration }
        #expect(allConsistent)

        let bad = try Self.study(factor: 0.5, truths: 150, samples: k).run(directory: dir.appendingPathComponent("shrunk"))
        for r in bad {
            #expect(!r.consistentWithCalibration)
            let populated = [r.sourcePixels, r.skyPixels].filter { $0.ranks >= 50 }
            let pValues = populated.map { $0.pValue }
            #expect(!pValues.isEmpty && pValues.allSatisfy { $0 < 1e-3 }, "shrunk draws: \(pValues)")
            #expect(r.skyCoverage[0].mean < r.expectedCoverage[0] - 0.15)
        }
    }

    @Test func expectedCoverageOfTheClampedInterval() {
        #expect(abs(expectedCoverage(level: 0.95, samples: 16) - 15.0 / 17) < 1e-12)
        #expect(abs(expectedCoverage(level: 0.95, samples: 39) - 0.95) < 1e-12)
        #expect(abs(expectedCoverage(level: 0.68, samples: 16) - 0.68) < 1e-12)
        #expect(abs(expectedCoverage(level: 0.5, samples: 3) - 0.5) < 1e-12)
    }

    @Test func rankUniformityByHand() {
        // K = 9: ranks 0…9, 50 truths → 10 bins of one rank each, expected 5 per bin.
        let uniform = (0..<50).map { $0 % 10 }
        let t = RankUniformityTest(ranks: uniform, samples: 9)
        #expect(t.bins == 10 && t.counts == [Int](repeating: 5, count: 10) && t.chiSquared == 0 && abs(t.pValue - 1) < 1e-12)
        // Every truth below every sample (the over-confident signature): χ² = 45·… , p ≈ 0.
        let piled = RankUniformityTest(ranks: [Int](repeating: 0, count: 50), samples: 9)
        #expect(abs(piled.chiSquared - (45.0 * 45 / 5 + 9 * 5)) < 1e-9 && piled.pValue < 1e-12)
        // 10 truths, K = 31: 2 bins of 16 ranks, expected 5 each; 7 vs 3 gives χ² = 1.6, p = Q(1.6; 1).
        let two = RankUniformityTest(ranks: [0, 1, 2, 3, 4, 5, 6, 20, 25, 31], samples: 31)
        #expect(two.bins == 2 && two.counts == [7, 3] && abs(two.chiSquared - 1.6) < 1e-12)
        #expect(abs(two.pValue - 0.205903) < 1e-5)
    }

    @Test func secondRunReusesEveryRecord() throws {
        let dir = try Self.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let sbc = try Self.study(factor: nil, truths: 12, samples: 8, scales: [1])
        let first = try sbc.run(directory: dir)
        var skipped = 0
        let second = try sbc.run(directory: dir) { if $0.skipped { skipped += 1 } }
        #expect(skipped == 12)
        let same = first == second
        #expect(same)
        // A changed setting is a different fingerprint: nothing is reused.
        var other = 0
        _ = try Self.study(factor: 0.9, truths: 12, samples: 8, scales: [1]).run(directory: dir) { if $0.skipped { other += 1 } }
        #expect(other == 0)
    }
}
