// `tweedie info FILE [--hdu N|NAME]`: what a FITS image holds — size, BITPIX,
// scaling, bands, unit, WCS summary and NaN-aware statistics (min, median,
// max, robust σ = 1.4826·MAD, NaN count), per band for cubes. A thin layer
// over FITSReader and FITSImage.report (TweedieCore).
import ArgumentParser
import Foundation
import TweedieCore

struct InfoCommand: TweedieCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Describe a FITS image: size, BITPIX, bands, BUNIT, WCS and pixel statistics.",
        discussion: """
        Statistics use the finite pixels only (BLANK and NaN are counted, not
        used): min, median, max, mean and the robust σ = 1.4826 × MAD (median
        absolute deviation from the median); one line per band for a cube.

        Examples:
          tweedie info image.fits
          tweedie info cube.fits --hdu SCI
        """
    )

    @Argument(help: "The FITS file.")
    var file: String

    @Option(name: .long, help: ArgumentHelp(
        "HDU to read: a number (0 = primary, 1 = first extension) or an EXTNAME.",
        discussion: "Default: the first HDU that holds an image.", valueName: "N|NAME"))
    var hdu: String?

    func execute() throws {
        let selector = hdu.map(FITSHDUSelector.init(parsing:)) ?? .firstImage
        let image = try FITSReader.readImage(file, hdu: selector)
        print(image.report, terminator: "")
    }
}
