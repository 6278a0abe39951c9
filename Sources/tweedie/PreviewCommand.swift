// `tweedie preview FILE -o OUT.png [--stretch asinh|linear|zscale] [--hdu N|NAME] [--figure]`:
// an 8-bit greyscale PNG of a FITS image, one panel per band side by side, pixel for pixel;
// with --figure a labelled figure (band names, colour bars, a scale bar).
// A thin layer over FITSReader, PNGPreview and PanelFigure (stretches: DisplayStretch).
import ArgumentParser
import Foundation
import TweedieCore

extension DisplayStretch: ExpressibleByArgument {}

struct PreviewCommand: TweedieCommand {
    static let configuration = CommandConfiguration(
        commandName: "preview",
        abstract: "Write a greyscale PNG preview of a FITS image (one panel per band).",
        discussion: """
        Stretches (each band gets its own, from its own pixels):
          asinh   from sky − σ to the maximum with softening σ, where sky and σ are
                  the 3σ-clipped median and 1.4826·MAD: linear near the sky,
                  logarithmic beyond (the default);
          linear  from the minimum to the maximum;
          zscale  linear between IRAF's zscale limits (sky noise, faint structure).
        FITS row 1 is drawn at the bottom, as ds9 shows it. NaN and BLANK pixels
        are black. Bands are separated by a 1-pixel white gap.
        --figure draws a labelled figure instead: each band titled, with a colour
        bar and its values, and a scale bar in arcsec when the header gives the
        pixel scale (PIXSCALE, CD or CDELT2), else in pixels.

        Example:
          tweedie preview image.fits -o image.png --stretch zscale
        """
    )

    @Argument(help: "The FITS file.")
    var file: String

    @Option(name: [.short, .long], help: ArgumentHelp("Output PNG file (written atomically).", valueName: "OUT.png"))
    var output: String

    @Option(name: .long, help: "Display stretch.")
    var stretch: DisplayStretch = .asinh

    @Option(name: .long, help: ArgumentHelp(
        "HDU to read: a number (0 = primary, 1 = first extension) or an EXTNAME.",
        discussion: "Default: the first HDU that holds an image.", valueName: "N|NAME"))
    var hdu: String?

    @Flag(help: "Draw a labelled figure (band names, colour bars, a scale bar) instead of bare pixels.")
    var figure = false

    func validate() throws {
        guard output.lowercased().hasSuffix(".png") else {
            throw ValidationError("--output must name a .png file (got '\(output)').")
        }
    }

    func execute() throws {
        let selector = hdu.map(FITSHDUSelector.init(parsing:)) ?? .firstImage
        let batch = try FITSReader.read(file, hdu: selector)
        guard batch.data.contains(where: { $0.isFinite }) else {
            throw TweedieError.invalidInput(what: file, problem: "has no finite pixel (empty, all NaN or BLANK); there is nothing to show")
        }
        if figure {
            let fig = try PanelFigure.bands(of: batch, stretch: stretch, header: batch.header)
            let layout = try fig.write(to: output)
            print("wrote \(output): \(layout.width) × \(layout.height) pixels, a labelled figure of \(fig.panels.count) panel\(fig.panels.count == 1 ? "" : "s")")
            for p in fig.panels { if case .grey(let m) = p.scale { print("  \(p.title): \(m)") } }
            return
        }
        var panels: [PreviewPanel] = []
        for n in 0..<batch.count {
            for c in 0..<batch.shape.channels {
                panels.append(try PreviewPanel(batch: batch, image: n, channel: c, stretch: stretch))
            }
        }
        let mappings = try PNGPreview.write(panels, to: output)
        let width = batch.shape.width * panels.count + PNGPreview.gap * (panels.count - 1)
        print("wrote \(output): \(width) × \(batch.shape.height) pixels, \(panels.count) panel\(panels.count == 1 ? "" : "s")")
        for (i, m) in mappings.enumerated() {
            let label = i < batch.bands.count ? batch.bands[i] : "panel \(i + 1)"
            print("  \(label): \(m)")
        }
    }
}
