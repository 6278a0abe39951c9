// The console report of a star-PSF estimate (what `tweedie psf --from-stars` prints): the sky
// and noise, the candidates and apertures, bad rows and columns, one table row per fitted star
// (1-based pixel positions, fitted profile, status), the rejection reasons with their counts, and
// the combined profile (FWHM in pixels and, with a pixel scale, arcseconds; β; ellipticity; PA).
import Foundation

extension StarPSFEstimate {
    /// The report's lines; `detectionSigma` is the threshold the candidates were found with,
    /// `pixelScale` (″/px) converts the FWHM when known.
    public func report(detectionSigma: Double, pixelScale scale: Double?) -> [String] {
        var lines = [String(format: "sky %.5g, σ %.4g (3σ-clipped median, 1.4826·MAD); ", sky, skySigma)
                     + "\(stars.count) candidates above sky + \(detectionSigma)σ; fit radius \(fitRadius) px, "
                     + "sky annulus \(annulus.inner)–\(annulus.outer) px"
                     + (badRows.isEmpty ? "" : "; bad rows (1-based) \(badRows.map { String($0 + 1) }.joined(separator: ", "))")
                     + (badColumns.isEmpty ? "" : "; bad columns (1-based) \(badColumns.map { String($0 + 1) }.joined(separator: ", "))"),
                     "   #        x        y      peak       sky  FWHMmaj  FWHMmin     FWHM      β      e      PA  status"]
        for (i, s) in stars.filter({ $0.fit != nil }).enumerated() {
            let f = s.fit!
            let cols = String(format: "%4d %8.2f %8.2f %9.5g %9.5g", i + 1, f.x + 1, f.y + 1, s.peak, f.background)
                + (f.profile.map { String(format: " %8.3f %8.3f %8.3f %6.3f %6.3f %6.1f°", $0.fwhmMajor, $0.fwhmMinor, $0.fwhm,
                                          $0.beta, $0.ellipticity, $0.positionAngle * 180 / .pi) }
                   ?? String(format: " %8s %8s %8s %6.3g %6s %7s", "-", "-", "-", f.beta, "-", "-"))
            lines.append(cols + "  \(s.status)")
        }
        var reasons: [String: Int] = [:]
        for s in stars where s.fit == nil { reasons[s.status.description, default: 0] += 1 }
        if !reasons.isEmpty {
            lines.append("not fitted: " + reasons.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
                .map { "\($0.value) \($0.key)" }.joined(separator: ", "))
        }
        let p = profile
        let arcsec = scale.map { String(format: " = %.4g″ at %.4g″/px", p.fwhm * $0, $0) } ?? " (pixel scale unknown: give the pixel scale for arcsec)"
        lines.append(String(format: "PSF from %d stars: FWHM %.4g px", usedStars.count, p.fwhm) + arcsec
                     + String(format: " (√(%.4g × %.4g)), β %.4g, ellipticity %.3f, PA %.1f° (major axis from +x towards +y)",
                              p.fwhmMajor, p.fwhmMinor, p.beta, p.ellipticity, p.positionAngle * 180 / .pi))
        return lines
    }
}
