// A PSF estimated from the stars of an image (issue 3): find isolated,
// unsaturated, compact point sources, fit each with a pixel-integrated
// elliptical Moffat (MoffatFitter.swift, GSL multifit_nlinear), drop outliers,
// combine the rest and render the result (EllipticalMoffatPSF.swift through the
// analytic renderer: odd size, unit sum, centred on pixel (h/2, w/2), DESIGN §2).
//
// Steps, on one band of one image (pixel coordinates 0-based, [y][x]):
// 1. Sky level and σ: 3σ-clipped median and 1.4826·MAD of the finite pixels
//    (ImageStatistics.sigmaClipped).
// 2. Bad lines: a row (column) whose median departs from the median of the
//    rows (columns) within ±3 by more than 10 robust σ of those departures is
//    masked (dead or hot CCD lines).
// 3. Candidates: pixels above sky + k·σ (k = detectionSigma) that are the
//    maximum of their 5×5 box, brightest first. A round FWHM guess per
//    candidate from its half-maximum area (FWHM ≈ 2√(N/π)); the lower quartile
//    f of those not too sharp to be stars (stars are the most compact sources
//    that are not cosmic rays; galaxy knots inflate the rest) sets the fit radius R = clamp(round(3.5 f), 4, 25) and the sky annulus
//    R + 2 … R + 2 + max(4, round(2 f)). When the fitted FWHM differs from f
//    by more than 25 %, everything is measured again with f = that FWHM.
// 4. Rejected before fitting: closer than R to the edge; saturated (peak ≥ the
//    saturation level — the option, else the header's SATURATE / SATLEVEL —
//    or a flat top: the image maximum reached by ≥ 2 pixels of the 3×3 core);
//    non-finite or bad-line pixels in the core; another peak above
//    sky + neighbourSigma·σ (a 5×5 maximum) within the annulus' outer radius;
//    too sharp to be a star (mean of the 4 neighbours < 10 % of the peak above
//    the sky: a cosmic ray or hot pixel); fewer than 10 usable annulus pixels.
// 5. Fit: (2R+1)² stamp, bad pixels left out, local sky = clipped median of
//    the annulus, held fixed (default: a free constant trades off against the
//    Moffat wings — on M51 it moves β from ≈ 3.7 to ≈ 4.4 — so it is an
//    option); start at the peak pixel, amplitude peak − sky, β = 3.
//    Rejected after fitting: no convergence, β ≤ 1, centre moved > 2 px,
//    amplitude ≤ 0, FWHM_major > R (extended).
// 6. Outliers: repeated κσ clipping (κ = clipSigma) around the median of the
//    FWHM (√(major·minor)) and of β, with σ = max(1.4826·MAD, 3 % of the
//    median) for the FWHM and max(1.4826·MAD, 10 % of the median) for β —
//    the floors keep a tight set of stars from clipping its own noise.
// 7. Combined PSF: β = median β; the half-maximum ellipse of each star as the
//    matrix S = R(θ) diag(4/FWHM_maj², 4/FWHM_min²) R(θ)ᵀ (independent of β),
//    combined by the element-wise median (the mean if that is not positive
//    definite); its eigen-decomposition gives the combined axes and angle.
//    FWHM reported = √(FWHM_major · FWHM_minor), ellipticity 1 − minor/major.

import Foundation
import TweedieCore

public struct StarPSFOptions: Sendable {
    /// A candidate's peak must exceed sky + detectionSigma · σ.
    public var detectionSigma: Double = 10
    /// Other peaks above sky + neighbourSigma · σ count as neighbours.
    public var neighbourSigma: Double = 5
    /// Saturation level in image units (nil: SATURATE / SATLEVEL from the header, else only flat tops).
    public var saturationLevel: Double? = nil
    /// Fit stamp half-size in pixels (nil: from the FWHM guess).
    public var fitRadius: Int? = nil
    /// At most this many candidates (the brightest) are examined.
    public var maxStars: Int = 200
    /// κ of the outlier clipping.
    public var clipSigma: Double = 3
    /// Fit a free constant sky instead of holding the annulus median.
    public var fitBackground: Bool = false
    /// Gauss–Legendre points per axis per pixel in the fitted model.
    public var subpixelOrder: Int = 4
    /// Size of the rendered PSF (odd; nil: the smallest odd size holding 99.5 % of the flux along the major axis, 9…255).
    public var psfSize: Int? = nil
    public init() {}
}

/// What happened to one candidate.
public enum StarStatus: Equatable, Sendable, CustomStringConvertible {
    case used
    case rejected(String)
    public var description: String {
        switch self {
        case .used: return "used"
        case let .rejected(why): return why
        }
    }
}

/// One candidate star: where it was found, its fit, and whether it was used.
public struct StarMeasurement: Sendable {
    /// Peak pixel (0-based) and its value.
    public var peakX: Int
    public var peakY: Int
    public var peak: Double
    /// Local sky (annulus median) used for the fit.
    public var localSky: Double?
    public var fit: EllipticalMoffatFit?
    public var status: StarStatus
}

public struct StarPSFEstimate: Sendable {
    /// Every candidate examined, brightest first.
    public let stars: [StarMeasurement]
    /// The combined profile (pixel units).
    public let profile: EllipticalMoffatPSF
    /// The rendered PSF (odd size, unit sum, centred on (h/2, w/2)).
    public let psf: PointSpreadFunction
    /// Global sky and σ (clipped median, 1.4826·MAD).
    public let sky: Double
    public let skySigma: Double
    public let fitRadius: Int
    public let annulus: (inner: Int, outer: Int)
    /// Rows and columns masked as bad lines (0-based).
    public let badRows: [Int]
    public let badColumns: [Int]
    public var usedStars: [StarMeasurement] { stars.filter { $0.status == .used } }

    /// FITS provenance of the combined PSF: where the stars came from, how many, the profile's FWHM
    /// (px; and arcsec with the pixel scale), axes, position angle (deg from +x to +y), ellipticity, β.
    public func provenanceCards(source: String, pixelScale scale: Double?) -> [FITSCard] {
        let p = profile
        var cards = [
            FITSCard(keyword: "PSFTYPE", value: .string("stars"), comment: "elliptical Moffat fitted to stars"),
            FITSCard(keyword: "PSFSRC", value: .string(source), comment: "image the stars came from"),
            FITSCard(keyword: "PSFDESC", value: .string(FITSCard.asciiText(p.summary)), comment: "combined profile, pixel units"),
            FITSCard(keyword: "NSTARS", value: .int(usedStars.count), comment: "stars combined"),
            FITSCard(keyword: "PSFFWHMP", value: .double(p.fwhm), comment: "FWHM sqrt(major*minor), px"),
            FITSCard(keyword: "PSFFWHM1", value: .double(p.fwhmMajor), comment: "FWHM along the major axis, px"),
            FITSCard(keyword: "PSFFWHM2", value: .double(p.fwhmMinor), comment: "FWHM along the minor axis, px"),
            FITSCard(keyword: "PSFPA", value: .double(p.positionAngle * 180 / .pi), comment: "major axis, deg from +x to +y"),
            FITSCard(keyword: "PSFELL", value: .double(p.ellipticity), comment: "ellipticity 1 - minor/major"),
            FITSCard(keyword: "PSFBETA", value: .double(p.beta), comment: "Moffat beta"),
        ]
        if let s = scale {
            cards.append(FITSCard(keyword: "PIXSCALE", value: .double(s), comment: "pixel scale, arcsec/px"))
            cards.append(FITSCard(keyword: "PSFFWHM", value: .double(p.fwhm * s), comment: "FWHM, arcsec"))
        }
        return cards
    }
}

public enum StarPSFEstimation {
    /// Estimates the PSF of band `band` of `image` (one image) from its stars.
    public static func estimate(image: ImageBatch, band: Int = 0, source: String = "image",
                                options: StarPSFOptions = StarPSFOptions()) throws -> StarPSFEstimate {
        guard image.count == 1 else {
            throw TweedieError.invalidInput(what: source, problem: "expected one image, got \(image.count)")
        }
        guard band >= 0, band < image.shape.channels else {
            throw TweedieError.invalidInput(what: "--band", problem: "band \(band) does not exist in \(source) (\(image.shape.channels) band(s), 0-based)")
        }
        guard options.detectionSigma > 0, options.neighbourSigma > 0, options.clipSigma > 0 else {
            throw TweedieError.invalidInput(what: "star detection thresholds", problem: "must be > 0")
        }
        if let s = options.psfSize, s < 1 || s % 2 == 0 {
            throw TweedieError.invalidInput(what: "--size", problem: "the PSF size must be an odd number ≥ 1, got \(s)")
        }
        let h = image.shape.height, w = image.shape.width
        let v = Array(image.plane(0, band))
        guard let clipped = ImageStatistics.sigmaClipped(v) else {
            throw TweedieError.invalidInput(what: source, problem: "has no finite pixels (all NaN or BLANK); nothing to find stars in")
        }
        let sky = clipped.median, sigma = clipped.robustSigma
        guard sigma > 0 else {
            throw TweedieError.invalidInput(what: source, problem: "the sky's MAD is 0 (a constant or quantised background), so stars cannot be told from noise")
        }
        let badRows = badLines(v, count: h, length: w, stride: (w, 1))
        let badColumns = badLines(v, count: w, length: h, stride: (1, w))
        var bad = [Bool](repeating: false, count: h * w)
        for y in badRows { for x in 0..<w { bad[y * w + x] = true } }
        for x in badColumns { for y in 0..<h { bad[y * w + x] = true } }
        for i in v.indices where !v[i].isFinite { bad[i] = true }

        // Peaks: maxima of their 5×5 box above a threshold (ties go to the first pixel in storage order).
        func peaks(above t: Double) -> [(x: Int, y: Int, v: Double)] {
            var out: [(Int, Int, Double)] = []
            for y in 0..<h {
                for x in 0..<w {
                    let c = v[y * w + x]
                    guard c.isFinite, Double(c) > t else { continue }
                    var isMax = true
                    scan: for yy in max(0, y - 2)...min(h - 1, y + 2) {
                        for xx in max(0, x - 2)...min(w - 1, x + 2) where yy != y || xx != x {
                            let o = v[yy * w + xx]
                            if o > c || (o == c && yy * w + xx < y * w + x) { isMax = false; break scan }
                        }
                    }
                    if isMax { out.append((x, y, Double(c))) }
                }
            }
            return out
        }
        var candidates = peaks(above: sky + options.detectionSigma * sigma).sorted { $0.v > $1.v }
        if candidates.count > options.maxStars { candidates = Array(candidates[0..<options.maxStars]) }
        guard !candidates.isEmpty else {
            throw TweedieError.invalidInput(
                what: source,
                problem: "no peak rises above sky + \(options.detectionSigma)σ (sky \(fmt(sky)), σ \(fmt(sigma))); lower --threshold")
        }
        let neighbours = peaks(above: sky + options.neighbourSigma * sigma)

        // Half-maximum FWHM guesses, and the sizes they set.
        func halfMaxFWHM(_ x: Int, _ y: Int, _ peak: Double) -> Double {
            let half = sky + 0.5 * (peak - sky)
            var n = 0
            for yy in max(0, y - 6)...min(h - 1, y + 6) {
                for xx in max(0, x - 6)...min(w - 1, x + 6) where Double(v[yy * w + xx]) > half { n += 1 }
            }
            return 2 * (Double(n) / .pi).squareRoot()
        }
        let guesses = candidates.map { halfMaxFWHM($0.x, $0.y, $0.v) }
        // Stars are the most compact sources that are not cosmic rays: the lower quartile of
        // the guesses of candidates that pass the sharpness test (galaxy knots inflate the rest).
        let g = candidates.indices.filter { k in
            let c = candidates[k]
            guard c.x > 0, c.y > 0, c.x < w - 1, c.y < h - 1 else { return false }
            let side = (Double(v[c.y * w + c.x - 1]) + Double(v[c.y * w + c.x + 1])
                        + Double(v[(c.y - 1) * w + c.x]) + Double(v[(c.y + 1) * w + c.x])) / 4 - sky
            return side >= 0.1 * (c.v - sky)
        }.map { guesses[$0] }.filter(\.isFinite).sorted()
        let fGuess = g.isEmpty ? 2.5 : min(20, max(1, g[(g.count - 1) / 4]))
        // Stars, fits and the combined profile for a FWHM guess (sets the fit radius and annulus).
        func measure(_ fGuess: Double) throws -> (stars: [StarMeasurement], profile: EllipticalMoffatPSF,
                                                   radius: Int, inner: Int, outer: Int) {
            let radius = options.fitRadius ?? min(25, max(4, Int((3.5 * fGuess).rounded())))
            guard radius >= 2 else {
                throw TweedieError.invalidInput(what: "--fit-radius", problem: "must be ≥ 2 pixels, got \(radius)")
            }
            let inner = radius + 2, outer = inner + max(4, Int((2 * fGuess).rounded()))
            let saturation = options.saturationLevel ?? image.header?.double("SATURATE") ?? image.header?.double("SATLEVEL")
            let imageMax = v.lazy.filter(\.isFinite).max().map(Double.init) ?? .nan

            var stars: [StarMeasurement] = []
            for (k, c) in candidates.enumerated() {
                var star = StarMeasurement(peakX: c.x, peakY: c.y, peak: c.v, localSky: nil, fit: nil, status: .used)
                defer { stars.append(star) }
                func reject(_ why: String) { star.status = .rejected(why) }
                if c.x < radius || c.y < radius || c.x >= w - radius || c.y >= h - radius {
                    reject("near the edge"); continue
                }
                var core: [Double] = []
                var coreBad = false
                for yy in (c.y - 1)...(c.y + 1) {
                    for xx in (c.x - 1)...(c.x + 1) {
                        if bad[yy * w + xx] { coreBad = true } else { core.append(Double(v[yy * w + xx])) }
                    }
                }
                if let s = saturation, c.v >= s { reject("saturated (peak ≥ \(fmt(s)))"); continue }
                if c.v == imageMax && core.filter({ $0 == c.v }).count >= 2 { reject("saturated (flat top)"); continue }
                if coreBad { reject("bad pixels in the core"); continue }
                if neighbours.contains(where: { n in
                    let d = max(abs(n.x - c.x), abs(n.y - c.y))
                    return d >= 2 && d <= outer
                }) { reject("neighbour within \(outer) px"); continue }
                // Local sky from the annulus.
                var ring: [Float] = []
                for yy in max(0, c.y - outer)...min(h - 1, c.y + outer) {
                    for xx in max(0, c.x - outer)...min(w - 1, c.x + outer) {
                        let d2 = (yy - c.y) * (yy - c.y) + (xx - c.x) * (xx - c.x)
                        if d2 >= inner * inner && d2 <= outer * outer && !bad[yy * w + xx] { ring.append(v[yy * w + xx]) }
                    }
                }
                guard ring.count >= 10, let ringStats = ImageStatistics.sigmaClipped(ring) else {
                    reject("sky annulus has < 10 usable pixels"); continue
                }
                let local = ringStats.median
                star.localSky = local
                let amp = c.v - local
                let side = (Double(v[c.y * w + c.x - 1]) + Double(v[c.y * w + c.x + 1])
                            + Double(v[(c.y - 1) * w + c.x]) + Double(v[(c.y + 1) * w + c.x])) / 4 - local
                guard amp > 0 else { reject("peak below the local sky"); continue }
                if side < 0.1 * amp { reject("too sharp for a star (cosmic ray or hot pixel)"); continue }
                // Fit.
                let n = 2 * radius + 1
                var stamp = [Float](repeating: 0, count: n * n), usable = [Bool](repeating: true, count: n * n)
                for yy in 0..<n {
                    for xx in 0..<n {
                        let i = (c.y - radius + yy) * w + (c.x - radius + xx)
                        stamp[yy * n + xx] = v[i]; usable[yy * n + xx] = !bad[i]
                    }
                }
                let fit: EllipticalMoffatFit
                do {
                    fit = try EllipticalMoffatFitter.fit(
                        values: stamp, width: n, height: n, originX: c.x - radius, originY: c.y - radius, usable: usable,
                        start: MoffatFitStart(amplitude: amp, x: Double(c.x), y: Double(c.y), fwhm: max(1, guesses[k]), beta: 3,
                                              background: local),
                        fixedBackground: options.fitBackground ? nil : local, subpixelOrder: options.subpixelOrder)
                } catch let e as TweedieError {
                    reject("fit failed (\(e.description))"); continue
                }
                star.fit = fit
                if !fit.converged { reject("fit did not converge"); continue }
                guard let p = fit.profile else { reject(String(format: "not a Moffat (β = %.3g)", fit.beta)); continue }
                if fit.amplitude <= 0 { reject("fitted amplitude ≤ 0"); continue }
                if abs(fit.x - Double(c.x)) > 2 || abs(fit.y - Double(c.y)) > 2 { reject("centre moved > 2 px"); continue }
                if p.fwhmMajor > Double(radius) { reject("extended (FWHM > fit radius)"); continue }
            }

            // Outlier clipping on FWHM and β.
            var iterations = 0
            while iterations < 20 {
                iterations += 1
                let good = stars.indices.filter { stars[$0].status == .used }
                guard good.count >= 3 else { break }
                var f = good.map { stars[$0].fit!.profile!.fwhm }, b = good.map { stars[$0].fit!.profile!.beta }
                let (mf, sf) = medianAndSigma(&f, floor: 0.03), (mb, sb) = medianAndSigma(&b, floor: 0.10)
                var changed = false
                for i in good {
                    let p = stars[i].fit!.profile!
                    if abs(p.fwhm - mf) > options.clipSigma * sf {
                        stars[i].status = .rejected(String(format: "FWHM outlier (median %.3g, σ %.2g)", mf, sf)); changed = true
                    } else if abs(p.beta - mb) > options.clipSigma * sb {
                        stars[i].status = .rejected(String(format: "β outlier (median %.3g, σ %.2g)", mb, sb)); changed = true
                    }
                }
                if !changed { break }
            }
            let used = stars.filter { $0.status == .used }
            guard !used.isEmpty else {
                var reasons: [String: Int] = [:]
                for s in stars { reasons[s.status.description, default: 0] += 1 }
                let list = reasons.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
                throw TweedieError.invalidInput(
                    what: source,
                    problem: "no usable star among \(stars.count) candidates (\(list)); lower --threshold or give --saturation")
            }

            // Combine: median β, median half-maximum ellipse.
            var betas = used.map { $0.fit!.profile!.beta }
            let beta = median(&betas)
            var s11: [Double] = [], s12: [Double] = [], s22: [Double] = []
            for s in used {
                let p = s.fit!.profile!
                let a = 4 / (p.fwhmMajor * p.fwhmMajor), b = 4 / (p.fwhmMinor * p.fwhmMinor)
                let c = cos(p.positionAngle), sn = sin(p.positionAngle)
                s11.append(a * c * c + b * sn * sn); s12.append((a - b) * c * sn); s22.append(a * sn * sn + b * c * c)
            }
            let means = (s11.reduce(0, +) / Double(s11.count), s12.reduce(0, +) / Double(s12.count), s22.reduce(0, +) / Double(s22.count))
            var m = (median(&s11), median(&s12), median(&s22))
            if !(m.0 > 0 && m.0 * m.2 - m.1 * m.1 > 0) { m = means }
            let mean = 0.5 * (m.0 + m.2), half = (0.25 * (m.0 - m.2) * (m.0 - m.2) + m.1 * m.1).squareRoot()
            // S's smaller eigenvalue belongs to the major axis (S = 4/FWHM² along each axis).
            let lMinus = mean - half, lPlus = mean + half
            let phiPlus = 0.5 * atan2(2 * m.1, m.0 - m.2)
            let profile = try EllipticalMoffatPSF(fwhm1: 2 / lMinus.squareRoot(), fwhm2: 2 / lPlus.squareRoot(),
                                                  angle: phiPlus + .pi / 2, beta: beta, unit: "px")
            return (stars, profile, radius, inner, outer)
        }
        // One more pass when the stars' FWHM is far from the guess (the guess set the sizes).
        var result = try measure(fGuess)
        if options.fitRadius == nil, abs(result.profile.fwhm - fGuess) > 0.25 * result.profile.fwhm {
            result = try measure(result.profile.fwhm)
        }
        let (stars, profile, radius, inner, outer) = result
        var size = options.psfSize ?? {
            let r = profile.radiusEnclosing(fraction: 0.995)
            return min(255, max(9, 2 * Int(r.rounded(.up)) + 1))
        }()
        if options.psfSize == nil {
            let limit = min(h, w) % 2 == 1 ? min(h, w) : min(h, w) - 1
            size = min(size, limit)
        }
        let psf = try profile.render(pixelScale: 1, height: size, width: size)
        return StarPSFEstimate(stars: stars, profile: profile,
                               psf: try PointSpreadFunction(image: psf.kernels, source: "stars of \(source): \(profile.summary)",
                                                            normalize: true, extraWarnings: psf.warnings,
                                                            reportNormalisation: false),
                               sky: sky, skySigma: sigma, fitRadius: radius, annulus: (inner, outer),
                               badRows: badRows, badColumns: badColumns)
    }

    /// Lines (rows with stride (w, 1), columns with (1, w)) whose median departs from their
    /// neighbours' (±3 lines) by more than 10 robust σ of all such departures.
    static func badLines(_ v: [Float], count: Int, length: Int, stride: (line: Int, step: Int)) -> [Int] {
        guard count >= 7 else { return [] }
        let medians: [Double] = (0..<count).map { l in
            let vals = (0..<length).map { v[l * stride.line + $0 * stride.step] }
            return ImageStatistics(vals).median
        }
        var departures: [Double] = []
        for l in 0..<count {
            var around = ((l - 3)...(l + 3)).filter { $0 != l && $0 >= 0 && $0 < count }.map { medians[$0] }.filter(\.isFinite)
            guard !around.isEmpty, medians[l].isFinite else { departures.append(.nan); continue }
            departures.append(medians[l] - median(&around))
        }
        let st = ImageStatistics(departures.map(Float.init))
        let s = st.robustSigma
        guard s > 0 else { return [] }
        return (0..<count).filter { departures[$0].isFinite && abs(departures[$0] - st.median) > 10 * s }
    }

    /// Median (sorts `a`).
    static func median(_ a: inout [Double]) -> Double {
        a.sort()
        let n = a.count
        return n % 2 == 1 ? a[n / 2] : 0.5 * (a[n / 2 - 1] + a[n / 2])
    }

    /// Median and σ = max(1.4826·MAD, floor·|median|).
    static func medianAndSigma(_ a: inout [Double], floor: Double) -> (Double, Double) {
        let m = median(&a)
        var dev = a.map { abs($0 - m) }
        return (m, max(ImageStatistics.madToSigma * median(&dev), floor * abs(m)))
    }
}

