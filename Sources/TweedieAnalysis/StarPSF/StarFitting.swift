// Steps 3–5 of the star-PSF estimate (StarPSFEstimation.swift) for one
// candidate: the apertures a seeing guess sets, the checks that reject a
// candidate before fitting (edge, saturation, bad core pixels, neighbours,
// local sky, sharpness), the cutout and its elliptical Moffat fit
// (MoffatFitter.swift), and the checks on the fit.
//
// Conventions: pixel coordinates 0-based, [y][x]; distances to neighbours are
// Chebyshev (max(|dx|, |dy|)), the sky annulus is circular (inner ≤ r ≤ outer);
// the fit stamp is the (2R+1)² box centred on the peak pixel. Every rejection
// is a short reason that `tweedie psf --from-stars` prints as it stands.

import Foundation
import TweedieCore
import TweedieOperators

/// The sizes a FWHM guess f sets: the fit radius R = clamp(round(3.5 f), 4, 25) (or the option),
/// and the sky annulus R + 2 … R + 2 + max(4, round(2 f)), in pixels.
struct StarApertures: Sendable {
    let fitRadius: Int
    let annulusInner: Int
    let annulusOuter: Int

    init(fwhmGuess: Double, fitRadius: Int?) throws {
        let radius = fitRadius ?? min(25, max(4, Int((3.5 * fwhmGuess).rounded())))
        guard radius >= 2 else {
            throw TweedieError.setting(name: "fit_radius", problem: "must be ≥ 2 pixels, got \(radius)")
        }
        self.fitRadius = radius
        annulusInner = radius + 2
        annulusOuter = annulusInner + max(4, Int((2 * fwhmGuess).rounded()))
    }
}

/// Measures candidates one at a time against one set of apertures (one pass of steps 4 and 5).
struct StarMeasurer {
    let field: StarField
    let apertures: StarApertures
    /// Peaks above sky + neighbourSigma · σ (any order).
    let neighbours: [ImagePeak]
    /// Saturation level in image units (nil: none known, only flat tops count).
    let saturation: Double?
    /// The largest finite pixel of the band: a peak at this value with a flat 3×3 core is clipped.
    let imageMax: Double
    let options: StarPSFOptions

    /// The saturation level: the option, else the header's SATURATE, else its SATLEVEL.
    static func saturationLevel(options: StarPSFOptions, header: FITSHeader?) -> Double? {
        options.saturationLevel ?? header?.double("SATURATE") ?? header?.double("SATLEVEL")
    }

    /// The largest finite pixel value (NaN when there is none).
    static func largestFinitePixel(_ v: [Float]) -> Double {
        v.lazy.filter { $0.isFinite }.max().map { Double($0) } ?? .nan
    }

    /// Steps 4 and 5 for candidate `c` with its half-maximum FWHM guess `fwhmGuess` (the fit's
    /// start): the first failed check gives the status; a candidate that passes them all is `.used`
    /// (the outlier clipping of step 6 may still reject it). Errors of the fitter other than
    /// `TweedieError` are thrown.
    func measure(_ c: ImagePeak, fwhmGuess: Double) throws -> StarMeasurement {
        var star = StarMeasurement(peakX: c.x, peakY: c.y, peak: c.value, localSky: nil, fit: nil, status: .used)
        if let why = rejectionBeforeFit(c) { star.status = .rejected(why); return star }
        guard let local = annulusSky(c) else {
            star.status = .rejected("sky annulus has < 10 usable pixels"); return star
        }
        star.localSky = local
        if let why = sharpnessRejection(c, localSky: local) { star.status = .rejected(why); return star }
        let fit: EllipticalMoffatFit
        do {
            fit = try fitMoffat(c, localSky: local, fwhmGuess: fwhmGuess)
        } catch let e as TweedieError {
            star.status = .rejected("fit failed (\(e.description))"); return star
        }
        star.fit = fit
        if let why = Self.rejectionAfterFit(fit, peak: c, fitRadius: apertures.fitRadius) { star.status = .rejected(why) }
        return star
    }

    /// Step 4, the checks on the image around the peak, in this order: closer than R to the edge;
    /// saturated (peak ≥ the saturation level, or a flat top: the peak equals the image maximum
    /// and ≥ 2 usable pixels of the 3×3 core reach it); a bad pixel in the 3×3 core; another peak
    /// above the neighbour threshold 2 … outer annulus radius away. Nil when all pass.
    func rejectionBeforeFit(_ c: ImagePeak) -> String? {
        let w = field.width, h = field.height, radius = apertures.fitRadius, outer = apertures.annulusOuter
        if c.x < radius || c.y < radius || c.x >= w - radius || c.y >= h - radius { return "near the edge" }
        var core: [Double] = []
        var coreBad = false
        for yy in (c.y - 1)...(c.y + 1) {
            for xx in (c.x - 1)...(c.x + 1) {
                if field.bad[yy * w + xx] { coreBad = true } else { core.append(Double(field.pixels[yy * w + xx])) }
            }
        }
        if let s = saturation, c.value >= s { return "saturated (peak ≥ \(formatNumber(s)))" }
        if c.value == imageMax && core.filter({ $0 == c.value }).count >= 2 { return "saturated (flat top)" }
        if coreBad { return "bad pixels in the core" }
        if neighbours.contains(where: { n in
            let d = max(abs(n.x - c.x), abs(n.y - c.y))
            return d >= 2 && d <= outer
        }) { return "neighbour within \(outer) px" }
        return nil
    }

    /// The local sky of the star: the 3σ-clipped median of the usable pixels of the annulus
    /// inner ≤ r ≤ outer around the peak; nil with fewer than 10 usable pixels.
    func annulusSky(_ c: ImagePeak) -> Double? {
        let v = field.pixels, w = field.width, h = field.height
        let inner = apertures.annulusInner, outer = apertures.annulusOuter
        var ring: [Float] = []
        for yy in max(0, c.y - outer)...min(h - 1, c.y + outer) {
            for xx in max(0, c.x - outer)...min(w - 1, c.x + outer) {
                let d2 = (yy - c.y) * (yy - c.y) + (xx - c.x) * (xx - c.x)
                if d2 >= inner * inner && d2 <= outer * outer && !field.bad[yy * w + xx] { ring.append(v[yy * w + xx]) }
            }
        }
        guard ring.count >= 10, let ringStats = ImageStatistics.sigmaClipped(ring) else { return nil }
        return ringStats.median
    }

    /// Step 4, what a star's profile must look like above its local sky: a positive peak, and
    /// its four edge neighbours at ≥ 10 % of the peak on average (else a cosmic ray or hot pixel).
    func sharpnessRejection(_ c: ImagePeak, localSky local: Double) -> String? {
        let amp = c.value - local
        let side = field.crossMean(x: c.x, y: c.y) - local
        guard amp > 0 else { return "peak below the local sky" }
        if side < 0.1 * amp { return "too sharp for a star (cosmic ray or hot pixel)" }
        return nil
    }

    /// Step 5, the fit: the (2R+1)² cutout centred on the peak, bad pixels left out, fitted with a
    /// pixel-integrated elliptical Moffat started at the peak pixel with amplitude peak − local
    /// sky, a round FWHM max(1, fwhmGuess) and β = 3; the sky is held at the annulus median unless
    /// the options fit it as a free constant.
    func fitMoffat(_ c: ImagePeak, localSky local: Double, fwhmGuess: Double) throws -> EllipticalMoffatFit {
        let v = field.pixels, w = field.width, radius = apertures.fitRadius
        let n = 2 * radius + 1
        var stamp = [Float](repeating: 0, count: n * n), usable = [Bool](repeating: true, count: n * n)
        for yy in 0..<n {
            for xx in 0..<n {
                let i = (c.y - radius + yy) * w + (c.x - radius + xx)
                stamp[yy * n + xx] = v[i]; usable[yy * n + xx] = !field.bad[i]
            }
        }
        return try EllipticalMoffatFitter.fit(
            values: stamp, width: n, height: n, originX: c.x - radius, originY: c.y - radius, usable: usable,
            start: MoffatFitStart(amplitude: c.value - local, x: Double(c.x), y: Double(c.y), fwhm: max(1, fwhmGuess),
                                  beta: 3, background: local),
            fixedBackground: options.fitBackground ? nil : local, subpixelOrder: options.subpixelOrder)
    }

    /// Step 5, the checks on a fit, in this order: the solver converged; the solution is a Moffat
    /// (β > 1, a non-degenerate shape); positive amplitude; centre within 2 px of the peak pixel
    /// along each axis; FWHM along the major axis ≤ R (else an extended source). Nil when all pass.
    static func rejectionAfterFit(_ fit: EllipticalMoffatFit, peak c: ImagePeak, fitRadius radius: Int) -> String? {
        if !fit.converged { return "fit did not converge" }
        guard let p = fit.profile else { return String(format: "not a Moffat (β = %.3g)", fit.beta) }
        if fit.amplitude <= 0 { return "fitted amplitude ≤ 0" }
        if abs(fit.x - Double(c.x)) > 2 || abs(fit.y - Double(c.y)) > 2 { return "centre moved > 2 px" }
        if p.fwhmMajor > Double(radius) { return "extended (FWHM > fit radius)" }
        return nil
    }
}
