// The per-band Fourier variance score (issue 22) against the closed-form
// posterior spectrum of a stationary Gaussian prior under a periodic PSF:
// - exact posterior draws score 1 in every radial band within Monte-Carlo error
//   (4·√(2/((K − 1)·modes·observations)), modes counted per band);
// - draws with extra variance in the constant (k = 0) mode only — a sampler
//   "right on average, wrong at large scales" — are flagged in the first band
//   while every other band stays at 1;
// (A band with no modes on a grid is nil, JSON null: the 8×8 rows of CalibrateCommandTests
// encode it.)
import Foundation
import Testing
import TweedieCore
import TweedieOperators
import TweediePriors
@testable import TweedieSampling
@testable import TweedieStudies

@Suite struct FourierBandVarianceTests {
    static func setup() throws -> CalibrationSetup {
        let prior = try AnalyticPriorSpec.parseAnalytic("gaussian:n=16,amplitude=1,slope=3,k0=0.1")
        let psf = try GaussianPSF(fwhm: 3).render(pixelScale: 1, height: 9, width: 9)
        let op = try PSFConvolution(psf: psf, imageShape: prior.imageShape, boundary: .periodic)
        return try CalibrationSetup(prior: prior, priorName: "g16", forwardOperator: op, operatorName: "psf",
                                    noise: .snr(20), observations: 12, seed: 4)
    }

    /// Modes (with multiplicity) per band of an h×w grid.
    static func modesPerBand(h: Int, w: Int) -> [Double] {
        var m = [Double](repeating: 0, count: FourierBandAccumulator.edges.count - 1)
        for ky in 0..<h { for kx in 0..<(w / 2 + 1) {
            let mult = (kx == 0 || (w % 2 == 0 && kx == w / 2)) ? 1.0 : 2.0
            let f = (pow(FourierBandAccumulator.frequency(ky, h), 2) + pow(FourierBandAccumulator.frequency(kx, w), 2)).squareRoot()
            m[FourierBandAccumulator.band(f)] += mult
        } }
        return m
    }

    @Test func exactDrawsScoreOneInEveryBand() throws {
        let s = try Self.setup()
        let k = 48
        let scores = try s.run(.exact(batch: k), samples: k, levels: [0.68, 0.95], samplerSeed: 9)
        let ratios = try #require(scores.fourierBandVarianceRatio)
        let modes = Self.modesPerBand(h: 16, w: 16)
        #expect(modes.reduce(0, +) == 256)
        for (b, ratio) in ratios.enumerated() where modes[b] > 0 {
            let r = try #require(ratio)
            let tol = 4 * (2 / (Double(k - 1) * modes[b] * 12)).squareRoot()
            #expect(abs(r - 1) <= tol, "band \(b): \(r) (tolerance \(tol), \(modes[b]) modes)")
        }
    }

    @Test func largeScaleExcessShowsInTheFirstBandOnly() throws {
        let s = try Self.setup()
        let k = 48, n = s.prior.imageShape.count
        var acc = FourierBandAccumulator()
        for o in 0..<s.observations.count {
            let v = try #require(s.oracles[o].modeVariance)
            var values = [Float]()
            for i in 0..<k {
                let stream = SampleStream(seed: 77, index: o * k + i)
                let x = s.oracles[o].sample(using: stream)
                // A constant offset with the posterior pixel std: inflates only the k = 0 mode.
                let offset = Float(s.oracles[o].variance[0].squareRoot()) * stream.normals(1)[0]
                values += x.map { Float($0) + offset }
            }
            acc.add(samples: values, count: k, shape: s.prior.imageShape, modeVariance: v)
            #expect(values.count == k * n)
        }
        let r = acc.ratios
        let first = try #require(r[0])
        #expect(first > 3, "first band \(first)")
        for b in 1..<r.count {
            if let v = r[b] { #expect(abs(v - 1) < 0.2, "band \(b): \(v)") }
        }
    }
}
