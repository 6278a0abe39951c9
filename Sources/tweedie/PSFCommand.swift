// `tweedie psf`: render an analytic PSF (Gaussian, Moffat, Airy) or estimate one
// from the stars of an image (elliptical Moffat fits, DESIGN §3) and write it as
// FITS with provenance keywords — a thin layer over AnalyticPSF (Operators/PSF)
// and StarPSFEstimation (Sources/TweedieAnalysis/StarPSF).
import ArgumentParser
import Foundation
import TweedieAnalysis
import TweedieCore
import TweedieOperators

struct PSFCommand: TweedieCommand {
    static let configuration = CommandConfiguration(
        commandName: "psf",
        abstract: "Render an analytic PSF, or estimate the PSF from the stars of an image.",
        discussion: """
        Analytic (one profile; FWHM and wavelength/diameter as given, pixel values integrated
        over each pixel, centred on pixel (N/2, N/2) 0-based, unit sum):
          tweedie psf --moffat-fwhm 0.6 --beta 3 --pixel-scale 0.168 --size 41 -o psf.fits
          tweedie psf --gaussian-fwhm 0.7 --pixel-scale 0.168 -o psf.fits
          tweedie psf --airy-wavelength 800e-9 --diameter 2.4 --pixel-scale 0.03 -o psf.fits
        From stars: isolated, unsaturated, compact peaks above sky + --threshold σ are fitted with
        a pixel-integrated elliptical Moffat (GSL nonlinear least squares); outliers in FWHM and β
        are clipped and the rest combined (median). Prints one row per fitted star (x, y 1-based as
        in ds9) and the result: FWHM = √(major × minor) in px, and in arcsec when the pixel scale is
        known (WCS, PIXSCALE / SECPIX keywords, or --pixel-scale). -o writes the combined PSF
        (odd size, unit sum).
          tweedie psf --from-stars ../shared/data/real/m51_kpno_B_devpix.fits -o psf.fits
        """
    )

    @Option(name: .customLong("gaussian-fwhm"), help: ArgumentHelp("Gaussian PSF FWHM, arcsec.", valueName: "ARCSEC"))
    var gaussianFWHM: Double?

    @Option(name: .customLong("moffat-fwhm"), help: ArgumentHelp("Moffat PSF FWHM, arcsec (needs --beta).", valueName: "ARCSEC"))
    var moffatFWHM: Double?

    @Option(help: "Moffat index β (> 1).")
    var beta: Double?

    @Option(name: .customLong("airy-wavelength"), help: ArgumentHelp("Airy PSF wavelength, metres (needs --diameter).", valueName: "M"))
    var airyWavelength: Double?

    @Option(help: ArgumentHelp("Aperture diameter for --airy-wavelength, metres.", valueName: "M"))
    var diameter: Double?

    @Option(name: .customLong("pixel-scale"), help: ArgumentHelp(
        "Pixel scale, arcsec/px (analytic PSFs: required; --from-stars: overrides the header's).", valueName: "ARCSEC"))
    var pixelScale: Double?

    @Option(help: ArgumentHelp("PSF stamp size in pixels (analytic: default 41; --from-stars: odd, default from the fit).",
                               valueName: "N"))
    var size: Int?

    @Option(name: .customLong("from-stars"), help: ArgumentHelp("Estimate the PSF from the stars of this FITS image.", valueName: "IMAGE.fits"))
    var fromStars: String?

    @Option(help: ArgumentHelp("HDU of --from-stars: a number or an EXTNAME.", valueName: "N|NAME"))
    var hdu: String?

    @Option(help: "Band of --from-stars to use (0-based).")
    var band: Int = 0

    @Option(help: "Star peaks must exceed sky + this many σ.")
    var threshold: Double = 10

    @Option(help: ArgumentHelp("Saturation level in image units (default: SATURATE / SATLEVEL from the header).", valueName: "ADU"))
    var saturation: Double?

    @Option(name: .customLong("fit-radius"), help: ArgumentHelp("Half-size of each star's fit stamp (default ≈ 3.5 × FWHM).", valueName: "PX"))
    var fitRadius: Int?

    @Flag(name: .customLong("fit-background"), help: "Fit a free local sky per star instead of holding the annulus median.")
    var fitBackground = false

    @Option(name: [.short, .long], help: ArgumentHelp("Output FITS file (written atomically).", valueName: "psf.fits"))
    var output: String?

    func validate() throws {
        let analytic = [gaussianFWHM != nil, moffatFWHM != nil, airyWavelength != nil].filter { $0 }.count
        guard analytic + (fromStars != nil ? 1 : 0) == 1 else {
            throw ValidationError("give exactly one of --gaussian-fwhm, --moffat-fwhm (+ --beta), --airy-wavelength (+ --diameter), --from-stars IMAGE")
        }
        if fromStars == nil {
            guard output != nil else { throw ValidationError("an analytic PSF needs -o psf.fits") }
            guard pixelScale != nil else { throw ValidationError("an analytic PSF needs --pixel-scale (arcsec/px)") }
            if moffatFWHM != nil && beta == nil { throw ValidationError("--moffat-fwhm needs --beta") }
            if airyWavelength != nil && diameter == nil { throw ValidationError("--airy-wavelength needs --diameter (metres)") }
        }
        guard threshold > 0, threshold.isFinite else { throw ValidationError("--threshold must be > 0 (in units of σ), got \(threshold)") }
        if let saturation, !saturation.isFinite { throw ValidationError("--saturation must be a finite level, got \(saturation)") }
        if beta != nil && moffatFWHM == nil { throw ValidationError("--beta goes with --moffat-fwhm") }
        if diameter != nil && airyWavelength == nil { throw ValidationError("--diameter goes with --airy-wavelength") }
        if fromStars == nil && (fitRadius != nil || saturation != nil || fitBackground || hdu != nil) {
            throw ValidationError("--fit-radius, --saturation, --fit-background and --hdu go with --from-stars")
        }
    }

    func execute() throws {
        if let image = fromStars { try estimateFromStars(image) } else { try renderAnalytic() }
    }

    private func renderAnalytic() throws {
        let profile: any AnalyticPSFProfile
        let kind: String
        if let f = gaussianFWHM { profile = try GaussianPSF(fwhm: f); kind = "gaussian" }
        else if let f = moffatFWHM { profile = try MoffatPSF(fwhm: f, beta: beta!); kind = "moffat" }
        else { profile = try AiryPSF(wavelength: airyWavelength!, diameter: diameter!); kind = "airy" }
        let scale = pixelScale!, n = size ?? 41
        let psf = try profile.render(pixelScale: scale, height: n, width: n)
        for w in psf.warnings { printNote("warning: \(w)") }
        var cards = [FITSCard(keyword: "PSFTYPE", value: .string(kind), comment: "analytic PSF profile"),
                     FITSCard(keyword: "PSFDESC", value: .string(FITSCard.asciiText(profile.summary)), comment: "profile parameters"),
                     FITSCard(keyword: "PIXSCALE", value: .double(scale), comment: "pixel scale, arcsec/px")]
        if let f = gaussianFWHM ?? moffatFWHM {
            cards.append(FITSCard(keyword: "PSFFWHM", value: .double(f), comment: "FWHM, arcsec"))
        }
        if let b = beta { cards.append(FITSCard(keyword: "PSFBETA", value: .double(b), comment: "Moffat beta")) }
        cards += centreCards(psf)
        try write(psf, cards: cards)
        print("wrote \(output!): \(profile.summary) at \(scale)″/px, \(n)×\(n) px, unit sum, centre pixel (\(n / 2 + 1), \(n / 2 + 1)) 1-based")
    }

    private func estimateFromStars(_ path: String) throws {
        let image = try FITSReader.read(path, hdu: hdu.map(FITSHDUSelector.init(parsing:)) ?? .firstImage)
        var options = StarPSFOptions()
        options.detectionSigma = threshold
        options.saturationLevel = saturation
        options.fitRadius = fitRadius
        options.fitBackground = fitBackground
        options.psfSize = size
        let est = try StarPSFEstimation.estimate(image: image, band: band, source: path, options: options)
        let scale = pixelScale ?? image.header?.pixelScaleArcsec

        for line in est.report(detectionSigma: threshold, pixelScale: scale) { print(line) }
        guard let out = output else { return }
        var cards = est.provenanceCards(source: path, pixelScale: scale)
        cards += centreCards(est.psf)
        try write(est.psf, cards: cards)
        print("wrote \(out): \(est.psf.height)×\(est.psf.width) px, unit sum, centre pixel (\(est.psf.width / 2 + 1), \(est.psf.height / 2 + 1)) 1-based")
    }

    private func centreCards(_ psf: PointSpreadFunction) -> [FITSCard] {
        [FITSCard(keyword: "PSFCTR1", value: .int(psf.width / 2 + 1), comment: "PSF centre pixel along NAXIS1 (1-based)"),
         FITSCard(keyword: "PSFCTR2", value: .int(psf.height / 2 + 1), comment: "PSF centre pixel along NAXIS2 (1-based)")]
    }

    private func write(_ psf: PointSpreadFunction, cards: [FITSCard]) throws {
        var kernels = psf.kernels
        kernels.unit = ""  // a unit-sum kernel: dimensionless
        try FITSWriter.write(kernels, to: output!,
                             provenance: FITSProvenance(commandLine: commandLineForProvenance, extraCards: cards))
    }
}
