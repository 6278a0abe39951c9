// `tweedie sources`: source extraction on a FITS image (TweedieAnalysis
// SourceExtractor) — a thin layer: read, extract, print or write the catalogue.
//
//   tweedie sources IMAGE.fits [--hdu H] [--sigma S] [--threshold K] [--min-pixels N]
//                   [--aperture R] [--deblend-levels N] [--deblend-contrast C] [-o catalog.csv]
import ArgumentParser
import Foundation
import TweedieAnalysis
import TweedieCore

struct SourcesCommand: TweedieCommand {
    static let configuration = CommandConfiguration(
        commandName: "sources",
        abstract: "Detect and measure sources in a FITS image (k·σ segmentation, deblending, centroids, fluxes).",
        discussion: """
        Pixels more than --threshold·σ above the background form 8-connected segments
        of at least --min-pixels pixels; touching sources are deblended with
        SExtractor's multi-threshold scheme (--deblend-levels levels between the
        threshold and the peak; a branch holding at least --deblend-contrast of the
        segment's flux is a separate source). σ and the background are the sigma-
        clipped robust estimates (1.4826·MAD, median) unless given.
        Columns: 0-based pixel centroid (x, y; first moments over the source's
        pixels), isophotal flux and its white-noise error σ·√npix, aperture flux (with
        --aperture), peak, pixel count, rms semi-axes a ≥ b and angle θ (degrees from
        +x towards +y).
        Fluxes are sums in the image unit; for a Jy/beam image with BMAJ/BMIN (as
        `tweedie clean` writes) they are divided by the beam area and given in Jy.

        Example:
          tweedie sources clean.fits --threshold 5 -o catalog.csv
        """
    )

    @Argument(help: ArgumentHelp("FITS image (the first image HDU, or --hdu).", valueName: "IMAGE.fits"))
    var image: String

    @Option(help: ArgumentHelp("HDU: a 0-based index or an EXTNAME.", valueName: "H"))
    var hdu: String?

    @Option(help: ArgumentHelp("Noise σ in image units (default: robust estimate from the image).", valueName: "S"))
    var sigma: Double?

    @Option(help: ArgumentHelp("Background level (default: sigma-clipped median).", valueName: "B"))
    var background: Double?

    @Option(help: ArgumentHelp("Detection threshold k, in units of σ above the background.", valueName: "K"))
    var threshold: Double = 3

    @Option(name: .customLong("min-pixels"), help: ArgumentHelp("Minimum number of connected pixels.", valueName: "N"))
    var minPixels: Int = 5

    @Option(help: ArgumentHelp("Also measure the flux in a circular aperture of this radius (pixels).", valueName: "R"))
    var aperture: Double?

    @Option(name: .customLong("deblend-levels"), help: ArgumentHelp("Deblending levels (1 = no deblending).", valueName: "N"))
    var deblendLevels: Int = 32

    @Option(name: .customLong("deblend-contrast"), help: ArgumentHelp("Minimum flux fraction of a deblended branch.", valueName: "C"))
    var deblendContrast: Double = 0.005

    @Option(name: [.short, .long], help: ArgumentHelp("Write the catalogue as CSV (atomically) instead of a table on stdout.", valueName: "catalog.csv"))
    var output: String?

    func validate() throws {
        guard threshold > 0, threshold.isFinite else { throw ValidationError("--threshold must be > 0 (in units of σ), got \(threshold)") }
        if let sigma, !(sigma > 0 && sigma.isFinite) { throw ValidationError("--sigma must be > 0, got \(sigma)") }
        guard minPixels >= 1 else { throw ValidationError("--min-pixels must be ≥ 1, got \(minPixels)") }
        if let aperture, !(aperture > 0 && aperture.isFinite) { throw ValidationError("--aperture must be > 0 pixels, got \(aperture)") }
        guard deblendLevels >= 1 else { throw ValidationError("--deblend-levels must be ≥ 1, got \(deblendLevels)") }
        guard deblendContrast >= 0, deblendContrast <= 1 else {
            throw ValidationError("--deblend-contrast must be in [0, 1], got \(deblendContrast)")
        }
    }

    func execute() throws {
        let fits = try FITSReader.readImage(image, hdu: hdu.map(FITSHDUSelector.init(parsing:)) ?? .firstImage)
        let batch = fits.batch
        let (w, h) = (batch.shape.width, batch.shape.height)
        var plane = Array(batch.plane(0, 0))
        for i in plane.indices where fits.mask[i] { plane[i] = .nan }
        if batch.count > 1 || batch.shape.channels > 1 {
            printNote("note: \(image) has \(batch.count * batch.shape.channels) planes; using the first")
        }
        let settings = DetectionSettings(sigma: sigma, background: background, threshold: threshold, minimumPixels: minPixels,
                                         deblend: DeblendSettings(levels: deblendLevels, contrast: deblendContrast),
                                         apertureRadius: aperture)
        let catalogue = try SourceExtractor.extract(plane, width: w, height: h, settings: settings, name: image)
        let unit = batch.unit ?? fits.header.string("BUNIT")
        let beamArea = fits.header.beamAreaPixels(unit: unit)
        let fluxUnit = beamArea != nil ? "Jy (Jy/beam sums ÷ beam area \(String(format: "%.3f", beamArea!)) px)" : (unit.map { "\($0) × pixel" } ?? "image units × pixel")
        let summary = String(format: "%@: %d×%d, background %.6g%@, σ %.6g%@, threshold %.3g σ = %.6g, min %d px: %d sources; fluxes in %@",
                             image, w, h, catalogue.background, catalogue.backgroundEstimated ? " (estimated)" : "",
                             catalogue.sigma, catalogue.sigmaEstimated ? " (robust estimate)" : "", threshold,
                             threshold * catalogue.sigma, minPixels, catalogue.sources.count, fluxUnit)
        if let output {
            try AtomicFileWrite.write(to: output) { tmp in
                try catalogue.csv(fluxScale: beamArea ?? 1).write(toFile: tmp, atomically: false, encoding: .utf8)
            }
            print(summary)
            print("wrote \(output)")
        } else {
            printNote(summary)
            print(catalogue.table(fluxScale: beamArea ?? 1), terminator: "")
        }
    }
}
