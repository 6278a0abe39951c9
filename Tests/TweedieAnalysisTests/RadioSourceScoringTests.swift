// RadioSourceScoring against hand-built oracles: paper 000's SNR formula in its
// limits, the beam smoothing of a point source, nearest-source flux sharing,
// counts and flux accuracy on hand-made catalogues, and a Gaussian source measured
// on its own sky (flux within the aperture's analytic fraction).
import Foundation
import Testing
import TweedieCore
@testable import TweedieAnalysis

@Suite struct RadioSourceScoringTests {
    let settings = RadioScoringSettings(noiseRMS: 5e-5, pixelScaleArcsec: 0.1, matchRadius: 2, fluxAperture: 10)

    @Test func snrFormulaLimits() {
        // A point source: its peak through the beam is its flux (Jy/beam), so SNR = S/σ.
        let p = TrueRadioSource(x: 0, y: 0, flux: 2e-4, fwhmMajor: 0, fwhmMinor: 0)
        #expect(abs(RadioSourceScoring.snr(p, beamMajor: 0.9, beamMinor: 0.8, sigma: 5e-5) - 4) < 1e-12)
        // A source as large as a round beam: the peak halves, as for the convolution of two equal Gaussians.
        let e = TrueRadioSource(x: 0, y: 0, flux: 2e-4, fwhmMajor: 0.8, fwhmMinor: 0.8)
        #expect(abs(RadioSourceScoring.snr(e, beamMajor: 0.8, beamMinor: 0.8, sigma: 5e-5) - 2) < 1e-12)
    }

    @Test func smoothingAPointSourceGivesItsFluxAsPeak() throws {
        let n = 32
        var sky = [Float](repeating: 0, count: n * n); sky[16 * n + 15] = 3e-4
        let beam = RestoringBeam(majorFWHM: 8, minorFWHM: 6, positionAngle: 30)
        let s = try RadioSourceScoring.smooth(sky, size: n, beam: beam)
        #expect(abs(Double(s[16 * n + 15]) - 3e-4) < 1e-9)
        // Σ smoothed = S × beam area (pixels).
        let total = s.reduce(0.0) { $0 + Double($1) }
        #expect(abs(total / (3e-4 * beam.areaPixels) - 1) < 1e-3)
    }

    @Test func nearestFluxesSplitAtTheBisector() {
        let n = 20
        var sky = [Float](repeating: 0, count: n * n)
        sky[10 * n + 4] = 1; sky[10 * n + 9] = 2; sky[10 * n + 12] = 4; sky[2 * n + 2] = 8
        // Sources at x = 5 and x = 11 (y = 10): pixel 9 is nearer 11, pixel 4 nearer 5; (2, 2) is beyond radius 4.
        let f = RadioSourceScoring.nearestFluxes(sky, size: n, at: [(5, 10), (11, 10)], radius: 4)
        #expect(f == [1, 6])
    }

    @Test func countsAndFluxAccuracyOnHandMadeCatalogues() throws {
        let truth = [TrueRadioSource(x: 10, y: 10, flux: 1e-4, fwhmMajor: 0.5, fwhmMinor: 0.5),
                     TrueRadioSource(x: 30, y: 30, flux: 2e-4, fwhmMajor: 0.5, fwhmMinor: 0.5),
                     TrueRadioSource(x: 50, y: 10, flux: 3e-4, fwhmMajor: 0.5, fwhmMinor: 0.5)]
        let d = [RadioDetection(x: 10.5, y: 10, flux: 1.3e-4, snr: 3, reliability: 1),   // matched, |ΔS| = 30 µJy: accurate
                 RadioDetection(x: 31, y: 31, flux: 2.7e-4, snr: 5, reliability: 1),     // matched (1.41 px), 70 µJy off
                 RadioDetection(x: 40, y: 40, flux: 1e-4, snr: 2, reliability: 1)]       // false positive
        let s = try RadioSourceScoring.score("x", d, truth: truth, settings: settings)
        #expect(s.match.truePositives == 2 && s.match.falsePositives == 1 && s.match.falseNegatives == 1)
        #expect(abs(s.match.purity - 2.0 / 3) < 1e-12 && abs(s.match.completeness - 2.0 / 3) < 1e-12)
        #expect(s.flux.accurate == 1 && abs(s.flux.fluxAccuracy - 0.5) < 1e-12 && abs(s.flux.fluxAccuracyOfTrue - 1.0 / 3) < 1e-12)
        #expect(s.matchOfTruth == [0, 1, nil])
    }

    @Test func aGaussianSourceOnItsOwnSkyIsFoundWithItsFlux() throws {
        // 0.6″ FWHM round source (6 px), flux 0.3 mJy; the 1″ (10 px) aperture holds
        // 1 − exp(−r²/2σ²) = 1 − 2^(−(2r/FWHM)²) of it (point-sampled pixels: ≤ 0.5 % off).
        let n = 48, fwhm = 6.0, sig = fwhm / 2.3548, flux = 3e-4
        var sky = [Float](repeating: 0, count: n * n)
        for y in 0..<n { for x in 0..<n {
            let r2 = pow(Double(x) - 20.3, 2) + pow(Double(y) - 25.6, 2)
            sky[y * n + x] = Float(flux * exp(-r2 / (2 * sig * sig)) / (2 * .pi * sig * sig))
        } }
        let beam = RestoringBeam(majorFWHM: 8.5, minorFWHM: 7.5, positionAngle: 0)
        let truth = [TrueRadioSource(x: 20.3, y: 25.6, flux: flux, fwhmMajor: 0.6, fwhmMinor: 0.6)]
        let s = try RadioSourceScoring.truthScore(sky: sky, size: n, beam: beam, truth: truth, settings: settings)
        #expect(s.detections.count == 1 && s.match.truePositives == 1)
        let d = s.detections[0]
        // Isophotal centroid: the pixel-grid truncation of the isophote biases it by a fraction of a pixel.
        #expect(abs(d.x - 20.3) < 0.25 && abs(d.y - 25.6) < 0.25, "centroid \(d.x), \(d.y)")
        let inside = 1 - pow(2, -pow(2 * 10 / fwhm, 2))
        #expect(abs(d.flux / (flux * inside) - 1) < 0.01)
        // Its measured SNR is the smoothed peak over σ, i.e. paper 000's SNR for this beam (within the pixel sampling).
        let snr = RadioSourceScoring.snr(truth[0], beamMajor: 0.85, beamMinor: 0.75, sigma: 5e-5)
        #expect(abs(d.snr / snr - 1) < 0.02, "\(d.snr) vs \(snr)")
    }
}
