// A PSF estimated from the stars of an image (issue 3): find isolated,
// unsaturated, compact point sources, fit each with a pixel-integrated
// elliptical Moffat (MoffatFitter.swift, GSL multifit_nlinear), drop outliers,
// combine the rest and render the result (EllipticalMoffatPSF.swift through the
// analytic renderer: odd size, unit sum, centred on pixel (h/2, w/2), DESIGN §2).
//
// Steps, on one band of one image (pixel coordinates 0-based, [y][x]); the
// function that implements each is named in brackets:
// 1. Sky level and σ: 3σ-clipped median and 1.4826·MAD of the finite pixels
//    (ImageStatistics.sigmaClipped) [StarField.skyLevelAndNoise].
// 2. Bad lines: a row (column) whose median departs from the median of the
//    rows (columns) within ±3 by more than 10 robust σ of those departures is
//    masked (dead or hot CCD lines) [StarField.badLines, badPixelMask].
// 3. Candidates: pixels above sky + k·σ (k = detectionSigma) that are the
//    maximum of their 5×5 box, brightest first [StarField.starCandidates]. A
//    round FWHM guess per candidate from its half-maximum area (FWHM ≈ 2√(N/π))
//    [StarField.halfMaximumFWHM]; the lower quartile f of those not too sharp
//    to be stars (stars are the most compact sources that are not cosmic rays;
//    galaxy knots inflate the rest) [StarField.seeingGuess] sets the fit radius
//    R = clamp(round(3.5 f), 4, 25) and the sky annulus
//    R + 2 … R + 2 + max(4, round(2 f)) [StarApertures]. When the fitted FWHM
//    differs from f by more than 25 %, everything is measured again with
//    f = that FWHM [estimate].
// 4. Rejected before fitting: closer than R to the edge; saturated (peak ≥ the
//    saturation level — the option, else the header's SATURATE / SATLEVEL —
//    or a flat top: the image maximum reached by ≥ 2 pixels of the 3×3 core);
//    non-finite or bad-line pixels in the core; another peak above
//    sky + neighbourSigma·σ (a 5×5 maximum) within the annulus' outer radius
//    [StarMeasurer.rejectionBeforeFit]; fewer than 10 usable annulus pixels
//    [StarMeasurer.annulusSky]; too sharp to be a star (mean of the 4
//    neighbours < 10 % of the peak above the sky: a cosmic ray or hot pixel)
//    [StarMeasurer.sharpnessRejection].
// 5. Fit: (2R+1)² stamp, bad pixels left out, local sky = clipped median of
//    the annulus, held fixed (default: a free constant trades off against the
//    Moffat wings — on M51 it moves β from ≈ 3.7 to ≈ 4.4 — so it is an
//    option); start at the peak pixel, amplitude peak − sky, β = 3
//    [StarMeasurer.fitMoffat]. Rejected after fitting: no convergence, β ≤ 1,
//    amplitude ≤ 0, centre moved > 2 px, FWHM_major > R (extended)
//    [StarMeasurer.rejectionAfterFit].
// 6. Outliers: repeated κσ clipping (κ = clipSigma) around the median of the
//    FWHM (√(major·minor)) and of β, with σ = max(1.4826·MAD, 3 % of the
//    median) for the FWHM and max(1.4826·MAD, 10 % of the median) for β —
//    the floors keep a tight set of stars from clipping its own noise
//    [clipOutliers].
// 7. Combined PSF: β = median β; the half-maximum ellipse of each star as the
//    matrix S = R(θ) diag(4/FWHM_maj², 4/FWHM_min²) R(θ)ᵀ (independent of β),
//    combined by the element-wise median (the mean if that is not positive
//    definite); its eigen-decomposition gives the combined axes and angle
//    [combinedProfile]. FWHM reported = √(FWHM_major · FWHM_minor), ellipticity
//    1 − minor/major. Rendered on a stamp holding 99.5 % of the flux
//    [renderedPSF]; provenance in StarPSFEstimate.provenanceCards.

import Foundation
import TweedieCore
import TweedieOperators

public enum StarPSFEstimation {
    /// Estimates the PSF of band `band` of `image` (one image) from its stars (steps 1–7 above).
    public static func estimate(image: ImageBatch, band: Int = 0, source: String = "image",
                                options: StarPSFOptions = StarPSFOptions()) throws -> StarPSFEstimate {
        try validate(image: image, band: band, source: source, options: options)
        let field = try StarField(image: image, band: band, source: source)
        let candidates = try field.starCandidates(detectionSigma: options.detectionSigma, maxStars: options.maxStars,
                                                  source: source)
        let neighbours = field.localMaxima(above: field.sky + options.neighbourSigma * field.sigma)
        let guesses = candidates.map { field.halfMaximumFWHM($0) }
        let seeing = field.seeingGuess(candidates: candidates, guesses: guesses)
        let saturation = StarMeasurer.saturationLevel(options: options, header: image.header)
        let imageMax = StarMeasurer.largestFinitePixel(field.pixels)
        func pass(_ fwhmGuess: Double) throws -> StarPSFPass {
            try measurePass(field: field, candidates: candidates, guesses: guesses, neighbours: neighbours,
                            fwhmGuess: fwhmGuess, saturation: saturation, imageMax: imageMax,
                            options: options, source: source)
        }
        // One more pass when the stars' FWHM is far from the guess (the guess set the sizes).
        var result = try pass(seeing)
        if options.fitRadius == nil, abs(result.profile.fwhm - seeing) > 0.25 * result.profile.fwhm {
            result = try pass(result.profile.fwhm)
        }
        let psf = try renderedPSF(result.profile, size: options.psfSize, imageHeight: field.height,
                                  imageWidth: field.width, source: source)
        return StarPSFEstimate(stars: result.stars, profile: result.profile, psf: psf,
                               sky: field.sky, skySigma: field.sigma, fitRadius: result.apertures.fitRadius,
                               annulus: (result.apertures.annulusInner, result.apertures.annulusOuter),
                               badRows: field.badRows, badColumns: field.badColumns)
    }

    /// The input checks: one image, an existing band (0-based), positive thresholds, and an odd
    /// PSF size ≥ 1 when one is given.
    static func validate(image: ImageBatch, band: Int, source: String, options: StarPSFOptions) throws {
        guard image.count == 1 else {
            throw TweedieError.invalidInput(what: source, problem: "expected one image, got \(image.count)")
        }
        guard band >= 0, band < image.shape.channels else {
            throw TweedieError.setting(name: "band", problem: "band \(band) does not exist in \(source) (\(image.shape.channels) band(s), 0-based)")
        }
        guard options.detectionSigma > 0, options.neighbourSigma > 0, options.clipSigma > 0 else {
            throw TweedieError.invalidInput(what: "star detection thresholds", problem: "must be > 0, got detection \(options.detectionSigma)σ, neighbour \(options.neighbourSigma)σ, clip \(options.clipSigma)σ")
        }
        if let s = options.psfSize, s < 1 || s % 2 == 0 {
            throw TweedieError.setting(name: "size", problem: "the PSF size must be an odd number ≥ 1, got \(s)")
        }
    }

    /// Steps 4–7 with the apertures the seeing guess `fwhmGuess` sets: every candidate measured
    /// (`guesses[k]` is the fit's starting FWHM for `candidates[k]`), the outliers clipped and the
    /// rest combined. Throws when no candidate survives.
    static func measurePass(field: StarField, candidates: [ImagePeak], guesses: [Double], neighbours: [ImagePeak],
                            fwhmGuess: Double, saturation: Double?, imageMax: Double,
                            options: StarPSFOptions, source: String) throws -> StarPSFPass {
        let apertures = try StarApertures(fwhmGuess: fwhmGuess, fitRadius: options.fitRadius)
        let measurer = StarMeasurer(field: field, apertures: apertures, neighbours: neighbours, saturation: saturation,
                                    imageMax: imageMax, options: options)
        var stars: [StarMeasurement] = []
        for (k, c) in candidates.enumerated() { stars.append(try measurer.measure(c, fwhmGuess: guesses[k])) }
        clipOutliers(&stars, kappa: options.clipSigma)
        let used = stars.filter { $0.status == .used }
        guard !used.isEmpty else { throw noUsableStarError(stars, source: source) }
        return StarPSFPass(stars: stars, profile: try combinedProfile(of: used), apertures: apertures)
    }

    /// The combined profile rendered as the PSF: `size` × `size` pixels when given, else the
    /// smallest odd size holding 99.5 % of the flux along the major axis, 9…255 and at most the
    /// image's smaller side (made odd); pixel-integrated, unit sum, centred on (size/2, size/2).
    static func renderedPSF(_ profile: EllipticalMoffatPSF, size psfSize: Int?, imageHeight h: Int, imageWidth w: Int,
                            source: String) throws -> PointSpreadFunction {
        var size = psfSize ?? {
            let r = profile.radiusEnclosing(fraction: 0.995)
            return min(255, max(9, 2 * Int(r.rounded(.up)) + 1))
        }()
        if psfSize == nil {
            let limit = min(h, w) % 2 == 1 ? min(h, w) : min(h, w) - 1
            size = min(size, limit)
        }
        let psf = try profile.render(pixelScale: 1, height: size, width: size)
        return try PointSpreadFunction(image: psf.kernels, source: "stars of \(source): \(profile.summary)",
                                       normalize: true, extraWarnings: psf.warnings, reportNormalisation: false)
    }
}

/// The outcome of one measuring pass: every candidate with its status, the combined profile of
/// the used ones, and the apertures the pass used.
struct StarPSFPass {
    let stars: [StarMeasurement]
    let profile: EllipticalMoffatPSF
    let apertures: StarApertures
}
