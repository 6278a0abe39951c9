// Text forms of a source catalogue: CSV (one header line, one row per source)
// and an aligned table for a terminal. Positions are 0-based pixels of the
// `[y][x]` image (add 1 for FITS / DS9 pixel coordinates); fluxes are in the
// image unit × pixels, divided by `fluxScale` (e.g. the beam area in pixels to
// turn a Jy/beam map's sums into Jy). Numbers use "%.6g" (round-trips Float32
// data to its precision).

import Foundation

extension SourceCatalogue {
    static let columns = ["id", "x", "y", "flux", "flux_err", "aperture_flux", "peak", "peak_x", "peak_y",
                          "npix", "a", "b", "theta_deg", "deblended"]

    private func row(_ s: DetectedSource, fluxScale: Double) -> [String] {
        func g(_ v: Double) -> String { String(format: "%.6g", v) }
        return [String(s.id), String(format: "%.4f", s.x), String(format: "%.4f", s.y), g(s.flux / fluxScale),
                g(s.fluxError / fluxScale), s.apertureFlux.map { g($0 / fluxScale) } ?? "", g(s.peak),
                String(s.peakX), String(s.peakY), String(s.pixelCount), String(format: "%.4f", s.semiMajor),
                String(format: "%.4f", s.semiMinor), String(format: "%.2f", s.theta), s.deblended ? "1" : "0"]
    }

    /// The catalogue as CSV text.
    public func csv(fluxScale: Double = 1) -> String {
        var out = Self.columns.joined(separator: ",") + "\n"
        for s in sources { out += row(s, fluxScale: fluxScale).joined(separator: ",") + "\n" }
        return out
    }

    /// The catalogue as a whitespace-aligned table.
    public func table(fluxScale: Double = 1) -> String {
        let rows = [Self.columns] + sources.map { row($0, fluxScale: fluxScale) }
        var widths = [Int](repeating: 0, count: Self.columns.count)
        for r in rows { for (i, c) in r.enumerated() { widths[i] = max(widths[i], c.count) } }
        return rows.map { r in
            r.enumerated().map { i, c in String(repeating: " ", count: widths[i] - c.count) + c }.joined(separator: "  ")
        }.joined(separator: "\n") + "\n"
    }
}
