// Matching, purity / completeness / F1 and flux accuracy on hand-made
// catalogues whose answers are worked out by hand (paper 000 Eqs. 14–16), and
// detect-aggregate on hand-made per-sample catalogues and on rendered samples.
import Foundation
import TweedieTestSupport
import Testing
import TweedieCore
@testable import TweedieAnalysis

@Suite struct CatalogueMetricsTests {
    @Test func purityCompletenessF1ByHand() throws {
        let truth = [CatalogueEntry(x: 0, y: 0, flux: 10), CatalogueEntry(x: 10, y: 0, flux: 20),
                     CatalogueEntry(x: 20, y: 0, flux: 30), CatalogueEntry(x: 30, y: 0, flux: 40)]
        let predicted = [CatalogueEntry(x: 0.5, y: 0, flux: 10.5),   // → truth 0 (d 0.5), flux error 0.5
                         CatalogueEntry(x: 9.5, y: 0, flux: 19),      // second claimant of truth 1: FP
                         CatalogueEntry(x: 10.2, y: 0.1, flux: 23),   // → truth 1 (d 0.224), flux error 3
                         CatalogueEntry(x: 50, y: 50, flux: 5),       // nothing near: FP
                         CatalogueEntry(x: 21.5, y: 0, flux: 30)]     // 1.5 from truth 2 > r: FP
        let m = try CatalogueMatching.match(predicted: predicted, truth: truth, radius: 1)
        #expect(m.truePositives == 2 && m.falsePositives == 3 && m.falseNegatives == 2)
        #expect(Set(m.pairs.map { "\($0.predicted)-\($0.truth)" }) == ["0-0", "2-1"])
        #expect(m.purity == 2.0 / 5 && m.completeness == 0.5)
        #expect(abs(m.f1 - 2 * 0.4 * 0.5 / 0.9) < 1e-15)
        #expect(m.unmatchedTruth == [2, 3] && m.unmatchedPredicted == [1, 3, 4])
        // Flux accuracy at noise 1: pair 0 (|Δ| = 0.5) accurate, pair 1 (|Δ| = 3) not.
        let fa = try CatalogueMatching.fluxAccuracy(m, predicted: predicted, truth: truth, noise: 1)
        #expect(fa.accurate == 1 && fa.fluxAccuracy == 0.5 && fa.fluxAccuracyOfTrue == 0.25)
        // With r = 2 the 21.5 prediction finds truth 2 too.
        let wide = try CatalogueMatching.match(predicted: predicted, truth: truth, radius: 2)
        #expect(wide.truePositives == 3 && wide.purity == 0.6 && wide.completeness == 0.75)
    }

    @Test func nearestFirstIsOneToOne() throws {
        // P (0.9) is nearer B (d 0.6) than A (d 0.9); Q (−0.5) is near A only. Greedy by truth
        // order would give A→P and leave B unmatched; nearest first matches both.
        let truth = [CatalogueEntry(x: 0, y: 0), CatalogueEntry(x: 1.5, y: 0)]
        let predicted = [CatalogueEntry(x: 0.9, y: 0), CatalogueEntry(x: -0.5, y: 0)]
        let m = try CatalogueMatching.match(predicted: predicted, truth: truth, radius: 1)
        #expect(m.truePositives == 2 && m.f1 == 1)
        #expect(m.pairs.map(\.predicted) == [1, 0] && m.pairs.map(\.truth) == [0, 1])
        // No predictions: purity undefined, completeness 0.
        let none = try CatalogueMatching.match(predicted: [], truth: truth, radius: 1)
        #expect(none.purity.isNaN && none.completeness == 0 && none.falseNegatives == 2)
        #expect(throws: TweedieError.self) { try CatalogueMatching.match(predicted: predicted, truth: truth, radius: 0) }
    }

    @Test func aggregateHandMadeCatalogues() throws {
        // Source A in all 4 samples at x = 1, 2, 3, 2 (mean 2, sample std √(2/3)), flux 10, 12, 14, 12;
        // B in 2 of 4 (50 %), C in 1 of 4 (25 % < 30 %: dropped).
        let samples: [[CatalogueEntry]] = [
            [CatalogueEntry(x: 1, y: 5, flux: 10), CatalogueEntry(x: 40, y: 40, flux: 3)],
            [CatalogueEntry(x: 2, y: 5, flux: 12), CatalogueEntry(x: 80, y: 10, flux: 1)],
            [CatalogueEntry(x: 40.5, y: 40, flux: 5), CatalogueEntry(x: 3, y: 5, flux: 14)],
            [CatalogueEntry(x: 2, y: 5, flux: 12)],
        ]
        let r = try DetectAggregate.aggregate(samples, radius: 2)
        #expect(r.kept.count == 2 && r.dropped.count == 1)
        let a = r.kept[0], b = r.kept[1], c = r.dropped[0]
        #expect(a.detections == 4 && a.reliability == 1 && a.x == 2 && a.y == 5)
        #expect(abs(a.xStd - (2.0 / 3).squareRoot()) < 1e-12 && a.yStd == 0)
        #expect(a.flux == 12 && abs(a.fluxStd - (8.0 / 3).squareRoot()) < 1e-12)
        #expect(b.detections == 2 && b.reliability == 0.5 && b.x == 40.25 && b.flux == 4)
        #expect(c.detections == 1 && c.reliability == 0.25 && c.x == 80 && c.fluxStd == 0)
        #expect(a.members.map(\.sample) == [0, 1, 2, 3] && a.members[2].source == 1)
        // 30 % of 10 samples keeps a source found 3 times, drops one found twice.
        let ten = (0..<10).map { k in k < 3 ? [CatalogueEntry(x: 0, y: 0)] : [] }
        #expect(try DetectAggregate.aggregate(ten, radius: 1).kept.count == 1)
        let two = (0..<10).map { k in k < 2 ? [CatalogueEntry(x: 0, y: 0)] : [] }
        #expect(try DetectAggregate.aggregate(two, radius: 1).kept.isEmpty)
    }

    @Test func detectAggregateOnRenderedSamples() throws {
        // Ten "posterior samples": A in all of them (jittered by ±0.25 px), B in 4 (40 %: kept),
        // C in 2 (20 %: dropped), independent noise per sample.
        let n = 10
        var images: [[Float]] = []
        var jitter = SplitMix64Generator(seed: 99)
        for k in 0..<n {
            var s = [GaussianSource(x: 16 + 0.25 * jitter.normal(), y: 20 + 0.25 * jitter.normal(), flux: 3000, fwhm: 3)]
            if k % 5 < 2 { s.append(GaussianSource(x: 44, y: 40, flux: 2000, fwhm: 3)) }   // k = 0, 1, 5, 6
            if k == 3 || k == 8 { s.append(GaussianSource(x: 20, y: 50, flux: 2000, fwhm: 3)) }
            images.append(Render.image(s, width: 64, height: 64, noise: 1, seed: UInt64(k + 1)))
        }
        let r = try DetectAggregate.detectAndAggregate(samples: images, width: 64, height: 64,
                                                       settings: DetectionSettings(sigma: 1, threshold: 5), radius: 3)
        #expect(r.kept.count == 2 && r.dropped.count == 1, "kept \(r.kept), dropped \(r.dropped)")
        let a = try #require(r.kept.first), b = try #require(r.kept.last), c = try #require(r.dropped.first)
        #expect(a.reliability == 1 && abs(a.x - 16) < 0.3 && abs(a.y - 20) < 0.3)
        #expect(a.xStd > 0.1 && a.xStd < 0.5, "jitter 0.25 px seen as \(a.xStd)")
        #expect(b.reliability == 0.4 && abs(b.x - 44) < 0.1 && abs(b.y - 40) < 0.1)
        #expect(abs(b.flux / 2000 - 1) < 0.03 && b.fluxStd < 0.02 * b.flux)
        #expect(c.reliability == 0.2 && abs(c.x - 20) < 0.1 && abs(c.y - 50) < 0.1)
    }
}
