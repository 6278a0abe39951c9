// A FITS image described for a reader (`tweedie info`): size, BITPIX, scaling, masked values,
// compression, bands, BUNIT, a WCS summary and NaN-aware statistics per band (min, median, max,
// robust σ = 1.4826·MAD, mean, NaN count), one "label  value" line per fact.
import Foundation

extension FITSImage {
    /// The report, one "label  value" line per fact.
    public var report: String {
        let image = self
        let batch = image.batch
        let s = batch.shape
        var lines: [(String, String)] = []
        lines.append(("file", image.path))
        lines.append(("HDU", image.hdu.description))
        if image.allHDUs.count > 1 {
            lines.append(("all HDUs", image.allHDUs.map(\.description).joined(separator: "; ")))
        }
        var size = "\(s.width) × \(s.height) pixels (NAXIS1 × NAXIS2)"
        if image.hdu.naxes.count >= 3 { size += ", \(s.channels) plane\(s.channels == 1 ? "" : "s") (NAXIS3)" }
        if batch.count > 1 { size += ", \(batch.count) images (NAXIS4)" }
        lines.append(("size", size))
        lines.append(("BITPIX", "\(image.bitpix) (\(Self.bitpixText(image.bitpix)))"))
        var scaling: [String] = []
        if image.bscale != 1 || image.bzero != 0 { scaling.append("BSCALE \(Self.g(image.bscale)), BZERO \(Self.g(image.bzero))") }
        if let blank = image.blank { scaling.append("BLANK \(blank)") }
        if !scaling.isEmpty { lines.append(("scaling", scaling.joined(separator: "; "))) }
        lines.append(("masked", "\(image.maskedCount) of \(image.mask.count) values (BLANK, NaN or ±inf)"))
        if let c = image.compression { lines.append(("compressed", "tiled, \(c)")) }
        lines.append(("bands", batch.bands.isEmpty ? "\(s.channels) (unnamed)" : "\(s.channels): \(batch.bands.joined(separator: ", "))"))
        lines.append(("BUNIT", batch.unit ?? "(none)"))
        lines.append(("WCS", Self.wcsText(image.header)))
        for n in 0..<batch.count {
            for c in 0..<s.channels {
                var label = "statistics"
                if s.channels > 1 || batch.count > 1 {
                    let band = c < batch.bands.count ? batch.bands[c] : "plane \(c + 1)"
                    label = batch.count > 1 ? "stats \(n + 1)/\(band)" : "stats \(band)"
                }
                lines.append((label, Self.statsText(ImageStatistics(batch.plane(n, c)))))
            }
        }
        let width = lines.map(\.0.count).max()! + 2
        return lines.map { $0.0.padding(toLength: width, withPad: " ", startingAt: 0) + $0.1 + "\n" }.joined()
    }

    private static func g(_ x: Double) -> String { String(format: "%.6g", x) }

    private static func bitpixText(_ bitpix: Int) -> String {
        switch bitpix {
        case 8: return "8-bit unsigned integer"
        case 16, 32, 64: return "\(bitpix)-bit integer"
        case -32: return "32-bit float"
        case -64: return "64-bit float"
        default: return "non-standard"
        }
    }

    private static func statsText(_ st: ImageStatistics) -> String {
        let nan = "NaN \(st.nanCount) of \(st.count)" + (st.infiniteCount > 0 ? ", ±inf \(st.infiniteCount)" : "")
        guard st.finiteCount > 0 else { return "no finite pixels; \(nan)" }
        return "min \(g(st.min)), median \(g(st.median)), max \(g(st.max)), "
            + "robust σ \(g(st.robustSigma)) (1.4826·MAD), mean \(g(st.mean)), \(nan)"
    }

    private static func wcsText(_ header: FITSHeader) -> String {
        let w: WCS
        do {
            guard let parsed = try WCS.parse(header) else { return "none (no WCS keywords)" }
            w = parsed
        } catch {
            return "unreadable: \(error)"
        }
        let deg = { (d: Double) in String(format: "%.10g", d) }
        let types = w.ctype.allSatisfy(\.isEmpty) ? "" : w.ctype.map { $0.isEmpty ? "(blank)" : $0 }.joined(separator: " / ") + ", "
        let reference = "\(types)CRVAL \(w.crval.map(deg).joined(separator: ", ")) at CRPIX \(w.crpix.map(g).joined(separator: ", "))"
        guard let scale = w.pixelScaleArcsec else {
            return reference + "; linear (no celestial axes): no sky scale"
        }
        let frame = w.radesys.isEmpty ? "" : "; " + w.radesys + (w.equinox.map { " equinox \(g($0))" } ?? "")
        return reference + frame + "; pixel scale \(String(format: "%.4g", scale.x))″ × \(String(format: "%.4g", scale.y))″"
    }
}
