// RadioSourceScoring against hand-built oracles: paper 000's SNR formula in its
// limits, the beam smoothing of a point source, nearest-source flux sharing,
// counts and flux accuracy on hand-made catalogues, a Gaussian source measured
// on its own sky (flux within the aperture's analytic fraction), and the sky-model
// detection level: a source below 1σ through the beam is still found on a noise-free
// sky, two sources 1″ apart stay two, and a source below k·σ/Ω_beam everywhere is not found;
// detect-aggregate's merge radius against samples that scatter a source by ~3 px; nearest
// distances between catalogues by hand.
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

    /// A round Gaussian of `flux` (Jy) and FWHM `fwhm` px at (x0, y0), point-sampled, added to `sky`.
    func addGaussian(_ sky: inout [Float], n: Int, x0: Double, y0: Double, flux: Double, fwhm: Double) {
        let sig = fwhm / 2.3548
        for y in 0..<n { for x in 0..<n {
            let r2 = pow(Double(x) - x0, 2) + pow(Double(y) - y0, 2)
            sky[y * n + x] += Float(flux * exp(-r2 / (2 * sig * sig)) / (2 * .pi * sig * sig))
        } }
    }

    @Test func faintSourcesAreFoundOnTheNoiseFreeSkyModel() throws {
        // Paper 000's faintest source (0.05 mJy) at 0.8″ FWHM through a 0.89″ × 0.74″ beam at σ = 50 µJy/beam:
        // SNR ≈ 0.6 — below any k·σ cut on the beam-smoothed sky — yet the noise-free model holds it.
        let n = 64
        let beam = RestoringBeam(majorFWHM: 8.9, minorFWHM: 7.4, positionAngle: 0)
        var sky = [Float](repeating: 0, count: n * n)
        addGaussian(&sky, n: n, x0: 31.2, y0: 30.7, flux: 5e-5, fwhm: 8)
        let truth = [TrueRadioSource(x: 31.2, y: 30.7, flux: 5e-5, fwhmMajor: 0.8, fwhmMinor: 0.8)]
        let snr = RadioSourceScoring.snr(truth[0], beamMajor: 0.89, beamMinor: 0.74, sigma: 5e-5)
        #expect(snr < 0.7)
        let s = try RadioSourceScoring.truthScore(sky: sky, size: n, beam: beam, truth: truth, settings: settings)
        #expect(s.match.truePositives == 1 && s.detections.count == 1)
        #expect(abs(s.detections[0].snr / snr - 1) < 0.02, "\(s.detections[0].snr) vs \(snr)")
        // Its peak is ≈ 1.0 σ/Ω_beam; at k = 1.2 the level lies above the whole source: nothing is found.
        var strict = settings; strict.skyDetectThreshold = 1.2
        let none = try RadioSourceScoring.truthScore(sky: sky, size: n, beam: beam, truth: truth, settings: strict)
        #expect(none.detections.isEmpty && none.match.falseNegatives == 1)
    }

    @Test func sourcesOneArcsecondApartStayTwo() throws {
        // Two 0.8″ sources 1.0″ apart (the generator's closest pair): on the model the profile dips by
        // 2·exp(−(5 px)²/(2·(3.4 px)²)) ≈ 0.68 of a peak between them; smoothed by a 0.89″ beam whose major
        // axis lies along the pair (PA 90°: major along x), each is 5.1 px wide in σ, 1.97σ apart: no dip.
        let n = 64
        let beam = RestoringBeam(majorFWHM: 8.9, minorFWHM: 7.4, positionAngle: 90)
        var sky = [Float](repeating: 0, count: n * n)
        addGaussian(&sky, n: n, x0: 27, y0: 32, flux: 2e-4, fwhm: 8)
        addGaussian(&sky, n: n, x0: 37, y0: 32, flux: 2e-4, fwhm: 8)
        let truth = [TrueRadioSource(x: 27, y: 32, flux: 2e-4, fwhmMajor: 0.8, fwhmMinor: 0.8),
                     TrueRadioSource(x: 37, y: 32, flux: 2e-4, fwhmMajor: 0.8, fwhmMinor: 0.8)]
        let s = try RadioSourceScoring.truthScore(sky: sky, size: n, beam: beam, truth: truth, settings: settings)
        #expect(s.detections.count == 2 && s.match.truePositives == 2)
        // Each keeps its own half of the pair's flux in the bisector-split 1″ aperture, to within the other's spill.
        for d in s.detections { #expect(abs(d.flux / 2e-4 - 1) < 0.1, "\(d.flux)") }
        let smoothed = try RadioSourceScoring.smooth(sky, size: n, beam: beam)
        #expect(smoothed[32 * n + 32] > smoothed[32 * n + 27], "beam smoothing merges the pair into one peak")
    }

    @Test func mergeRadiusDecidesWhetherScatteredDetectionsAreOneSource() throws {
        // Ten samples each hold one 0.8″ source whose position scatters by 3 px around (32, 32)
        // (the positional error of an SNR ≈ 3 source through a 0.8″ beam), so two samples' detections
        // lie up to 6 px apart. With merge radius 7 px (under the beam's FWHM) every detection joins one
        // cluster (reliability 1, position the mean: (32, 32)); with 1.8 px (paper 000's 0.18″) the
        // cluster splits, no part reaching 30 % of the samples.
        let n = 64
        let beam = RestoringBeam(majorFWHM: 8.9, minorFWHM: 7.4, positionAngle: 0)
        let offsets: [(Double, Double)] = [(3, 0), (-3, 0), (0, 3), (0, -3), (2.1, 2.1), (-2.1, -2.1), (2.1, -2.1), (-2.1, 2.1),
                                           (3, 0), (-3, 0)]
        let samples = offsets.map { o -> [Float] in
            var sky = [Float](repeating: 0, count: n * n)
            addGaussian(&sky, n: n, x0: 32 + o.0, y0: 32 + o.1, flux: 3e-4, fwhm: 8)
            return sky
        }
        let truth = [TrueRadioSource(x: 32, y: 32, flux: 3e-4, fwhmMajor: 0.8, fwhmMinor: 0.8)]
        var wide = settings; wide.mergeRadius = 7
        let merged = try RadioSourceScoring.posteriorScores(samples: samples, size: n, beam: beam, truth: truth, settings: wide)
        let da = try #require(merged.first { $0.method == "detect_aggregate" })
        #expect(da.detections.count == 1 && da.match.truePositives == 1)
        #expect(abs(da.detections[0].reliability - 1) < 1e-12)
        #expect(abs(da.detections[0].x - 32) < 0.3 && abs(da.detections[0].y - 32) < 0.3, "\(da.detections[0])")
        var tight = settings; tight.matchRadius = 1.8   // merge radius defaults to the match radius
        let split = try RadioSourceScoring.posteriorScores(samples: samples, size: n, beam: beam, truth: truth, settings: tight)
        #expect(try #require(split.first { $0.method == "detect_aggregate" }).detections.isEmpty)
    }

    @Test func nearestDistancesByHand() {
        let a = [CatalogueEntry(x: 0, y: 0, flux: 1), CatalogueEntry(x: 10, y: 0, flux: 1)]
        let b = [CatalogueEntry(x: 3, y: 4, flux: 1), CatalogueEntry(x: 10, y: 1, flux: 1)]
        #expect(CatalogueMatching.nearestDistances(from: a, to: b) == [5, 1])
        #expect(CatalogueMatching.nearestDistances(from: a, to: []).allSatisfy { $0 == .infinity })
    }

    @Test func posteriorDetectSNRCutsFaintPosteriorDetections() throws {
        // Samples holding a bright source (0.3 mJy point-like at 0.4″: SNR ≈ 4.5 through the beam) and a
        // faint one (0.05 mJy at 0.8″: SNR ≈ 0.6): with no cut both are posterior detections; with a cut
        // at 2 only the bright one is, in the mean, the median and detect-aggregate alike.
        let n = 64
        let beam = RestoringBeam(majorFWHM: 8.9, minorFWHM: 7.4, positionAngle: 0)
        var sky = [Float](repeating: 0, count: n * n)
        addGaussian(&sky, n: n, x0: 20, y0: 20, flux: 3e-4, fwhm: 4)
        addGaussian(&sky, n: n, x0: 44, y0: 40, flux: 5e-5, fwhm: 8)
        let truth = [TrueRadioSource(x: 20, y: 20, flux: 3e-4, fwhmMajor: 0.4, fwhmMinor: 0.4),
                     TrueRadioSource(x: 44, y: 40, flux: 5e-5, fwhmMajor: 0.8, fwhmMinor: 0.8)]
        #expect(RadioSourceScoring.snr(truth[0], beamMajor: 0.89, beamMinor: 0.74, sigma: 5e-5) > 4)
        #expect(RadioSourceScoring.snr(truth[1], beamMajor: 0.89, beamMinor: 0.74, sigma: 5e-5) < 0.7)
        let all = try RadioSourceScoring.posteriorScores(samples: [sky, sky, sky], size: n, beam: beam, truth: truth, settings: settings)
        for s in all { #expect(s.match.truePositives == 2 && s.detections.count == 2, "\(s.method)") }
        var cut = settings; cut.posteriorDetectSNR = 2
        let bright = try RadioSourceScoring.posteriorScores(samples: [sky, sky, sky], size: n, beam: beam, truth: truth, settings: cut)
        for s in bright { #expect(s.matchOfTruth[0] != nil && s.detections.count == 1, "\(s.method)") }
        cut.posteriorDetectSNR = -1
        #expect(throws: TweedieError.self) { try RadioSourceScoring.posteriorScores(samples: [sky], size: n, beam: beam, truth: truth, settings: cut) }
    }
}
