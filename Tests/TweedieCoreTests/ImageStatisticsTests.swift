// ImageStatistics and sigma clipping against closed forms, an independent
// sort-based median, and astropy's sigma_clip on the real KPNO image.
import Foundation
import Testing
@testable import TweedieCore

@Suite struct ImageStatisticsTests {
    /// Independent median: full sort, numpy's convention for even counts.
    static func sortedMedian(_ v: [Double]) -> Double {
        let s = v.sorted()
        return s.count % 2 == 1 ? s[s.count / 2] : 0.5 * (s[s.count / 2 - 1] + s[s.count / 2])
    }

    @Test(arguments: [1, 2, 101, 1000, 1001])
    func integerRampClosedForms(_ n: Int) {
        // Values 1…n in a scrambled order: min 1, max n, mean = median = (n+1)/2;
        // MAD: deviations |i − (n+1)/2| sorted, middle one(s) — n = 2k+1: ⌈k/2⌉; n = 2k: k/2.
        let values = (0..<n).map { Float((($0 * 7919) % n) + 1) }
        #expect(Set(values).count == n || n % 7919 == 0)
        let st = ImageStatistics(values)
        #expect(st.count == n && st.nanCount == 0 && st.finiteCount == n)
        #expect(st.min == 1 && st.max == Double(n))
        #expect(st.median == Double(n + 1) / 2 && abs(st.mean - Double(n + 1) / 2) < 1e-9)
        let k = n / 2
        let mad = n % 2 == 1 ? Double((k + 1) / 2) : Double(k) / 2
        #expect(st.mad == mad, "n = \(n)")
        #expect(abs(st.robustSigma - 1.4826 * mad) < 1e-12)
    }

    @Test func nanAndInfinityAreCountedAndSkipped() {
        var values: [Float] = (1...9).map(Float.init)
        values.insert(.nan, at: 0); values.insert(.nan, at: 5); values.append(.infinity); values.append(-.infinity)
        let st = ImageStatistics(values)
        #expect(st.count == 13 && st.nanCount == 2 && st.infiniteCount == 2 && st.finiteCount == 9)
        #expect(st.min == 1 && st.max == 9 && st.median == 5 && st.mean == 5 && st.mad == 2)
        let none = ImageStatistics([Float.nan, .nan])
        #expect(none.finiteCount == 0 && none.median.isNaN && none.min.isNaN && none.nanCount == 2)
        #expect(ImageStatistics.sigmaClipped([Float.nan]) == nil)
    }

    @Test func medianWithManyDuplicatesMatchesSorting() {
        // Integer-valued data (like int16 images) have long runs of equal values.
        let stream = SampleStream(seed: 3, index: 0)
        for n in [2, 3, 10, 999, 4096] {
            let values = (0..<n).map { _ in Float(stream.uniformInt(13)) }
            let d = values.map(Double.init)
            let st = ImageStatistics(values)
            let m = Self.sortedMedian(d)
            #expect(st.median == m)
            #expect(st.mad == Self.sortedMedian(d.map { abs($0 - m) }))
        }
    }

    @Test func sigmaClippingRemovesOutliersOnly() throws {
        // 1…1000 (median 500.5, MAD 250, σ = 370.65: 3σ spans the whole ramp) plus 10 values at 1e6.
        let values = (1...1000).map(Float.init) + Array(repeating: 1e6, count: 10)
        let c = try #require(ImageStatistics.sigmaClipped(values))
        #expect(c.finiteCount == 1010 && c.keptCount == 1000 && c.converged && c.iterations == 2)
        #expect(c.median == 500.5 && c.mad == 250)
        #expect(ImageStatistics(values).median == 505.5)  // unclipped, for contrast
    }

    @Test func sigmaClippedNoiseOfGaussianWithSources() throws {
        // Unit Gaussian noise + 5 % bright "sources": the clipped σ recovers 1 (MAD of a
        // 3σ-truncated Gaussian is 0.675·(1 − small)), the plain one does not.
        let stream = SampleStream(seed: 17, index: 0)
        var values = stream.normals(100_000).map { $0 + 10 }
        for i in stride(from: 0, to: values.count, by: 20) { values[i] += Float(50 + i % 1000) }
        let c = try #require(ImageStatistics.sigmaClipped(values))
        #expect(abs(c.median - 10) < 0.02)
        #expect(abs(c.robustSigma - 1) < 0.03, "\(c.robustSigma)")
        #expect(ImageStatistics(values).robustSigma > 1.05)
    }

    @Test func sigmaClippingMatchesAstropyOnTheKPNOImage() throws {
        // astropy sigma_clip(sigma=3, maxiters=10, cenfunc='median', stdfunc='mad_std') → reference_values.json.
        let ref = try Fixtures.json("reference_values.json")["m51"] as! [String: Any]
        let image = try FITSReader.read(Fixtures.realData("m51_kpno_B_devpix.fits"))
        let c = try #require(ImageStatistics.sigmaClipped(image.data))
        #expect(c.median == ref["clipped_median"] as! Double)
        #expect(c.keptCount == ref["clipped_kept"] as! Int)
        // astropy's mad_std uses 1/Φ⁻¹(3/4) = 1.482602…; Tweedie 1.4826.
        #expect(abs(c.robustSigma - (ref["clipped_mad_std"] as! Double)) < 1e-4)
    }
}
