// Figures of FITS images: one labelled panel per (image, band) of a batch,
// each with its own `DisplayStretch` mapping, colour bar and the band's name,
// and a scale bar in arcsec when the header gives the pixel scale.
//
// Pixel scale from a header: its celestial WCS (wcslib) or PIXSCALE; nil if
// none (a linear WCS has no sky scale).
import Foundation

extension PanelFigure {
    /// Arcsec per pixel from `header` (FITSHeader.pixelScaleArcsec: a celestial WCS through wcslib, or
    /// PIXSCALE), nil if it gives none — a linear WCS (blank CTYPE, CDELT in pixels) has no sky scale.
    public static func arcsecPerPixel(_ header: FITSHeader?) -> Double? {
        header?.pixelScaleArcsec
    }

    /// One panel per image and band of `batch`, titled with the band name (and the image index for
    /// several images), each band stretched by `stretch` from its own pixels.
    public static func bands(of batch: ImageBatch, stretch: DisplayStretch, header: FITSHeader?) throws -> PanelFigure {
        let scale = arcsecPerPixel(header)
        let s = batch.shape
        var panels: [FigurePanel] = []
        for n in 0..<batch.count {
            for c in 0..<s.channels {
                let values = Array(batch.plane(n, c))
                let mapping = stretch.mapping(for: values)
                var title = c < batch.bands.count ? "band \(batch.bands[c])" : "plane \(c + 1)"
                if batch.count > 1 { title = "image \(n + 1), " + title }
                panels.append(try FigurePanel(title: title, values: values, width: s.width, height: s.height,
                                              scale: .grey(mapping), pixelScale: scale ?? 1,
                                              caption: "\(stretch.rawValue)\(batch.unit.map { ", \($0)" } ?? "")"))
            }
        }
        return PanelFigure(panels: panels, unit: scale == nil ? "px" : "″")
    }
}
