// PosteriorPreview: panel order and titles, pixel scales from a FITS header and the grid
// widths (one sky scale), the stretch set by the observation's noise σ (seeded Gaussian
// noise of known σ; flux-conserving unit change by the pixel-area ratio), the variance
// ratio's log scale.
import Foundation
import Testing
import TweedieCore
@testable import TweedieSampling
import TweedieTestSupport

@Suite struct PosteriorPreviewTests {
    /// The scale bar's pixel scale is the header's: a celestial WCS (through wcslib, any rotation), else
    /// PIXSCALE; a linear WCS (blank CTYPE, CDELT = 1 pixel unit, as on some NTT frames) has none.
    @Test func arcsecPerPixelFromHeaders() {
        #expect(PanelFigure.arcsecPerPixel(FITSHeader()) == nil)
        var linear = FITSHeader()
        for k in ["CRPIX1", "CRPIX2", "CRVAL1", "CRVAL2", "CDELT1", "CDELT2"] { linear.set(k, .double(1)) }
        #expect(PanelFigure.arcsecPerPixel(linear) == nil)
        // A CD matrix rotated by 30° with 0.2″ pixels on a TAN projection.
        var h = FITSHeader()
        h.set("CTYPE1", .string("RA---TAN")); h.set("CTYPE2", .string("DEC--TAN"))
        h.set("CRVAL1", .double(202.47)); h.set("CRVAL2", .double(47.2)); h.set("CRPIX1", .double(32)); h.set("CRPIX2", .double(32))
        let c = 0.2 / 3600 * cos(Double.pi / 6), s = 0.2 / 3600 * sin(Double.pi / 6)
        h.set("CD1_1", .double(-c)); h.set("CD1_2", .double(s)); h.set("CD2_1", .double(s)); h.set("CD2_2", .double(c))
        #expect(abs(PanelFigure.arcsecPerPixel(h)! - 0.2) < 1e-9)
        var pixscale = FITSHeader()
        pixscale.set("PIXSCALE", .double(0.168))
        #expect(PanelFigure.arcsecPerPixel(pixscale) == 0.168)
    }

    @Test func panelsShareTheSkyScaleAndTheObservationsNoise() throws {
        // Observation: 128 × 128 px of 0.766″ (PIXSCALE), sky 10 + Gaussian noise σ = 2 (seeded);
        // prior grid 64 × 64 (pixels of 1.532″, four observation pixels each).
        var rng = SplitMix64Generator(seed: 24)
        let os = ImageShape(channels: 1, height: 128, width: 128), ps = ImageShape(channels: 1, height: 64, width: 64)
        let obs = try ImageBatch(count: 1, shape: os, data: (0..<os.count).map { _ in Float(10 + 2 * rng.normal()) }, bands: ["g"])
        var mean = ImageBatch(count: 1, shape: ps, repeating: 0, bands: ["g"])
        mean.data[32 * 64 + 32] = 400
        let std = ImageBatch(count: 1, shape: ps, repeating: 1, bands: ["g"])
        let vr = try ImageBatch(count: 1, shape: ps, data: (0..<ps.count).map { Float(pow(10, -3 + 4 * Double($0) / Double(ps.count))) },
                                bands: ["g"])
        let residual = ImageBatch(count: 1, shape: os, repeating: 0, bands: ["g"])
        var header = FITSHeader()
        header.set("PIXSCALE", .double(0.766))
        let fig = try PosteriorPreview.figure(mean: mean, std: std, varianceRatio: vr, residual: residual, observation: obs,
                                              priorHeader: nil, observationHeader: header, truth: mean)
        #expect(fig.panels.map(\.title) == ["observation (g)", "truth", "posterior mean", "posterior std", "variance ratio", "residual"])
        #expect(fig.unit == "″")
        #expect(fig.panels.map(\.pixelScale) == [0.766, 1.532, 1.532, 1.532, 1.532, 0.766])
        guard case .grey(let o) = fig.panels[0].scale, case .grey(let m) = fig.panels[2].scale else {
            Issue.record("observation and mean are not grey"); return
        }
        // Softening: the observation's robust σ (2 within the 4 % a 16,384-pixel MAD allows), sky − σ at the low end.
        #expect(o.stretch == .asinh && abs(o.softening - 2) < 0.08)
        #expect(abs(o.low - (10 - o.softening)) < 0.1)
        // The mean (prior pixels of 4 observation pixels, flux conserved): every parameter × 4, and the
        // truth drawn on the same mapping.
        #expect(abs(m.softening - 4 * o.softening) < 1e-9 && abs(m.low - 4 * o.low) < 1e-9 && abs(m.high - 4 * o.high) < 1e-9)
        #expect(m.high >= 400)
        if case .grey(let t) = fig.panels[1].scale { #expect(t == m) } else { Issue.record("truth is not grey") }
        if case .logRatio(let lo, let hi) = fig.panels[4].scale { #expect(lo == 1e-3 && hi == 10) } else { Issue.record("VR not log") }
        // Without a header, the observation's arcsec per pixel from the caller (an operator spec) gives the
        // same scales; with neither, prior-grid pixels.
        let spec = try PosteriorPreview.figure(mean: mean, std: std, varianceRatio: vr, residual: residual, observation: obs,
                                               priorHeader: nil, observationHeader: nil, observationPixelArcsec: 0.766)
        #expect(spec.unit == "″" && spec.panels.map(\.pixelScale) == [0.766, 1.532, 1.532, 1.532, 0.766])
        let bare = try PosteriorPreview.figure(mean: mean, std: std, varianceRatio: nil, residual: residual, observation: obs,
                                               priorHeader: nil, observationHeader: nil)
        #expect(bare.unit == "px" && bare.panels.map(\.pixelScale) == [0.5, 1, 1, 0.5])
        // One sky scale: the observation and the prior-grid panels span the same figure width.
        let l = try fig.layout()
        #expect(l.images.allSatisfy { abs($0.width - l.images[0].width) < 1e-9 })
    }
}
