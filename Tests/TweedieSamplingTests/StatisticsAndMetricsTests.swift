// Welford statistics and the posterior scores against closed forms / two-pass formulas.
import Foundation
import Testing
import TweedieCore
@testable import TweedieSampling

@Suite struct StatisticsAndMetricsTests {
    @Test func welfordMatchesTwoPassAndMergeIsExactEnough() {
        let n = 500, per = 3
        let vals = testUniforms(n * per, seed: 1).map { Float(1e3 + $0) }  // large offset: catastrophic for naive sums
        var s = RunningStatistics(valueCount: per)
        var a = RunningStatistics(valueCount: per), b = RunningStatistics(valueCount: per)
        for k in 0..<n {
            let img = vals[(k * per)..<((k + 1) * per)]
            s.add(img)
            if k < 200 { a.add(img) } else { b.add(img) }
        }
        a.merge(b)
        for j in 0..<per {
            let col = (0..<n).map { Double(vals[$0 * per + j]) }
            let m = col.reduce(0, +) / Double(n)
            let v = col.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(n - 1)
            #expect(abs(s.mean[j] - m) < 1e-10)
            #expect(abs(s.variance[j] / v - 1) < 1e-9)
            #expect(abs(a.mean[j] - m) < 1e-10 && abs(a.variance[j] / v - 1) < 1e-9)
        }
    }

    @Test func normalQuantileKnownValues() {
        // Φ⁻¹ values from standard tables.
        #expect(abs(PosteriorMetrics.normalQuantile(0.975) - 1.959963984540054) < 1e-9)
        #expect(abs(PosteriorMetrics.normalQuantile(0.84134474606854293) - 1.0) < 1e-9)
        #expect(abs(PosteriorMetrics.normalQuantile(0.5)) < 1e-12)
        #expect(abs(PosteriorMetrics.normalQuantile(0.001) + 3.090232306167813) < 1e-8)
    }

    @Test func psnrSsimMseClosedForms() {
        let shape = ImageShape(channels: 1, height: 16, width: 16)
        let truth = (0..<256).map { Float($0 % 16) / 15 }  // ramp 0…1: peak 1
        let shifted = truth.map { $0 + 0.1 }
        #expect(abs(PosteriorMetrics.mse(shifted, truth) - 0.01) < 1e-7)
        #expect(abs(PosteriorMetrics.psnr(estimate: shifted, truth: truth) - 20) < 1e-4)
        #expect(abs(PosteriorMetrics.ssim(estimate: truth, truth: truth, shape: shape) - 1) < 1e-12)
        // A constant offset c leaves contrast/structure intact: SSIM = (2μxμy + C1)/(μx² + μy² + C1) per window,
        // averaged; it is < 1 and > 0.9 here.
        let v = PosteriorMetrics.ssim(estimate: shifted, truth: truth, shape: shape)
        #expect(v < 1 && v > 0.9)
    }

    @Test func apertureAndCoverage() {
        let shape = ImageShape(channels: 1, height: 9, width: 9)
        var map = [Float](repeating: 10, count: 81)
        for y in 0..<9 { for x in 0..<9 where (x - 4) * (x - 4) + (y - 4) * (y - 4) <= 4 { map[y * 9 + x] = 1 } }
        #expect(PosteriorMetrics.apertureMean(map, shape: shape, radius: 2, center: (4, 4)) == 1)
        // Gaussian coverage: truth = mean + k·std for k spread evenly → known fraction inside ±1.96.
        let truth = (0..<100).map { Float(-3 + 6 * Double($0) / 99) }
        let cov = PosteriorMetrics.gaussianCoverage(truth: truth, mean: .init(repeating: 0, count: 100),
                                                    variance: .init(repeating: 1, count: 100), level: 0.95)
        let expected = Double(truth.filter { abs($0) <= 1.959964 }.count) / 100
        #expect(abs(cov - expected) < 1e-12)
    }
}
