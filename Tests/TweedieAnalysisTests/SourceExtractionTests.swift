// Source extraction against analytically rendered Gaussian sources with noise:
// positions (the true centres), fluxes (the rendered totals; the isophotal flux
// against the closed form F·(1 − t/P) of a Gaussian above the isophote t),
// second moments (σ² of the Gaussian, reduced by the isophote cut), deblending
// of touching pairs, and the errors for bad input.
import Foundation
import Testing
import TweedieCore
@testable import TweedieAnalysis

@Suite struct SourceExtractionTests {
    let sources = [
        GaussianSource(x: 20.3, y: 25.7, flux: 6000, fwhm: 3.5),
        GaussianSource(x: 70.55, y: 18.2, flux: 9000, fwhm: 4.0),
        GaussianSource(x: 45.0, y: 60.35, flux: 12000, fwhm: 5.0),
        GaussianSource(x: 80.8, y: 75.1, flux: 5000, fwhm: 3.0),
    ]

    @Test func gaussianSourcesPositionsAndFluxes() throws {
        let (w, h) = (96, 96)
        let image = Render.image(sources, width: w, height: h, noise: 1, seed: 7)
        let cat = try SourceExtractor.extract(image, width: w, height: h,
                                              settings: DetectionSettings(threshold: 3, minimumPixels: 5, apertureRadius: 12))
        // σ estimated from the image: the noise is 1.
        #expect(cat.sigmaEstimated && abs(cat.sigma - 1) < 0.05, "σ \(cat.sigma)")
        #expect(cat.sources.count == sources.count, "\(cat.sources.map { ($0.x, $0.y, $0.flux) })")
        let t = cat.settings.threshold * cat.sigma
        for s in sources {
            let d = try #require(cat.sources.min { hypot($0.x - s.x, $0.y - s.y) < hypot($1.x - s.x, $1.y - s.y) })
            #expect(abs(d.x - s.x) < 0.2 && abs(d.y - s.y) < 0.2, "centroid (\(d.x), \(d.y)) vs (\(s.x), \(s.y))")
            // Aperture of radius 12 px ≥ 3 FWHM holds > 99.99 % of the flux.
            let ap = try #require(d.apertureFlux)
            #expect(abs(ap / s.flux - 1) < 0.01, "aperture flux \(ap) vs \(s.flux)")
            // Isophotal flux: a Gaussian holds F·(1 − t/P) above the isophote at level t.
            let iso = s.flux * (1 - t / s.peak)
            #expect(abs(d.flux / iso - 1) < 0.01, "isophotal flux \(d.flux) vs \(iso) (F = \(s.flux))")
            #expect(abs(d.flux / s.flux - 1) < 0.02)
            // Peak pixel is the one holding the centre.
            #expect(d.peakX == Int(s.x.rounded()) && d.peakY == Int(s.y.rounded()))
            // Second moments of a circular Gaussian truncated at r₀² = 2σ² ln(P/t):
            // E[x²] = σ² (1 − (1 + a) e^{−a}) / (1 − e^{−a}), a = ln(P/t), plus 1/12 for the pixel.
            let a = log(s.peak / t), ea = exp(-a)
            let m2 = s.sigma * s.sigma * (1 - (1 + a) * ea) / (1 - ea) + 1.0 / 12
            #expect(abs(d.x2 / m2 - 1) < 0.1 && abs(d.y2 / m2 - 1) < 0.1, "x2 \(d.x2), y2 \(d.y2) vs \(m2)")
            #expect(abs(d.xy) < 0.1 * m2 && d.semiMajor >= d.semiMinor)
            #expect(!d.deblended)
        }
        // The segmentation map labels each source's pixels with its id.
        for s in cat.sources { #expect(cat.segmentation[s.peakY * w + s.peakX] == Int32(s.id)) }
    }

    @Test func givenSigmaAndBackgroundAreUsed() throws {
        var image = Render.image([sources[1]], width: 96, height: 96, noise: 1, seed: 3)
        for i in image.indices { image[i] += 10 }   // a constant background
        let cat = try SourceExtractor.extract(image, width: 96, height: 96,
                                              settings: DetectionSettings(sigma: 1, background: 10, threshold: 5))
        #expect(!cat.sigmaEstimated && cat.sigma == 1 && cat.background == 10)
        #expect(cat.sources.count == 1)
        let d = cat.sources[0]
        #expect(abs(d.x - 70.55) < 0.2 && abs(d.y - 18.2) < 0.2)
        // Isophote at 5σ.
        #expect(abs(d.flux / (9000 * (1 - 5 / sources[1].peak)) - 1) < 0.01)
        #expect(abs(d.fluxError - Double(d.pixelCount).squareRoot()) < 1e-9)
    }

    @Test func touchingPairTwoFWHMApartIsDeblended() throws {
        // Equal pair and a 3:1 pair, each 2 FWHM apart: one 8-connected segment each at 3σ
        // (the saddle is at P/8 ≫ 3σ), which deblending must split.
        let fwhm = 4.0
        let pair = [GaussianSource(x: 30.2, y: 32.4, flux: 8000, fwhm: fwhm),
                    GaussianSource(x: 30.2 + 2 * fwhm, y: 32.4, flux: 8000, fwhm: fwhm),
                    GaussianSource(x: 25.6, y: 80.3, flux: 9000, fwhm: fwhm),
                    GaussianSource(x: 25.6 + 2 * fwhm * 0.6, y: 80.3 + 2 * fwhm * 0.8, flux: 3000, fwhm: fwhm)]
        let image = Render.image(pair, width: 64, height: 112, noise: 1, seed: 11)
        let settings = DetectionSettings(sigma: 1, threshold: 3)
        // Without deblending each pair is one source (the test can fail).
        let merged = try SourceExtractor.extract(image, width: 64, height: 112,
                                                 settings: DetectionSettings(sigma: 1, threshold: 3, deblend: .off))
        #expect(merged.sources.count == 2)
        let cat = try SourceExtractor.extract(image, width: 64, height: 112, settings: settings)
        #expect(cat.sources.count == 4, "\(cat.sources.map { ($0.x, $0.y, $0.flux) })")
        for s in pair {
            let d = try #require(cat.sources.min { hypot($0.x - s.x, $0.y - s.y) < hypot($1.x - s.x, $1.y - s.y) })
            #expect(d.deblended)
            // Each deblended source keeps its own half of the segment: centroid within 0.3 px
            // (the neighbour's wing pulls it a little), flux within 5 %.
            #expect(hypot(d.x - s.x, d.y - s.y) < 0.3, "(\(d.x), \(d.y)) vs (\(s.x), \(s.y))")
            #expect(abs(d.flux / s.flux - 1) < 0.05, "flux \(d.flux) vs \(s.flux)")
        }
        // The two halves of the equal pair share the segment's flux.
        let merged0 = merged.sources.min { $0.y < $1.y }!
        let halves = cat.sources.filter { $0.y < 56 }
        #expect(abs(halves.reduce(0) { $0 + $1.flux } - merged0.flux) < 1e-6 * merged0.flux)
    }

    @Test func minimumPixelsDropsSmallSegments() throws {
        // A single bright pixel is 1 pixel: dropped at min-pixels 2, kept at 1.
        var image = Render.image([], width: 32, height: 32, noise: 1, seed: 5)
        image[16 * 32 + 16] = 50
        let strict = try SourceExtractor.extract(image, width: 32, height: 32,
                                                 settings: DetectionSettings(sigma: 1, background: 0, threshold: 10, minimumPixels: 2))
        #expect(strict.sources.isEmpty)
        let loose = try SourceExtractor.extract(image, width: 32, height: 32,
                                                settings: DetectionSettings(sigma: 1, background: 0, threshold: 10, minimumPixels: 1))
        #expect(loose.sources.count == 1 && loose.sources[0].x == 16 && loose.sources[0].flux == 50)
        // 8-connectivity: two pixels touching at a corner are one source.
        image[17 * 32 + 17] = 50
        let corner = try SourceExtractor.extract(image, width: 32, height: 32,
                                                 settings: DetectionSettings(sigma: 1, background: 0, threshold: 10, minimumPixels: 2))
        #expect(corner.sources.count == 1 && corner.sources[0].pixelCount == 2 && corner.sources[0].x == 16.5)
    }

    @Test func badInputIsReported() {
        func message(_ body: () throws -> Void) -> String {
            do { try body(); return "" } catch { return "\(error)" }
        }
        let nan = [Float](repeating: .nan, count: 100)
        #expect(message { _ = try SourceExtractor.extract(nan, width: 10, height: 10) }.contains("no finite pixel"))
        #expect(message { _ = try SourceExtractor.extract(nan, width: 10, height: 10, settings: DetectionSettings(sigma: 1, background: 0)) }
            .contains("no finite pixel"))
        let flat = [Float](repeating: 1, count: 100)
        // Settings are named by their keys (the CLI names them as its options, SettingErrorLineTests).
        #expect(message { _ = try SourceExtractor.extract(flat, width: 10, height: 10) }.contains("give the noise level σ"))
        #expect(message { _ = try SourceExtractor.extract(flat, width: 10, height: 10, settings: DetectionSettings(threshold: 0)) }
            .contains("setting threshold"))
        #expect(message { _ = try SourceExtractor.extract(flat, width: 10, height: 10, settings: DetectionSettings(sigma: -1)) }
            .contains("setting sigma"))
        #expect(message { _ = try SourceExtractor.extract(flat, width: 9, height: 10) }.contains("expected"))
    }
}
