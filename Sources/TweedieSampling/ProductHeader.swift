// The header an image made from another on a grid of the same field carries from it: the
// posterior products (mean, std, variance ratio, samples, residual) from the observation, a
// simulated observation from its truth. It holds the source's WCS mapped onto the product's grid
// and the source's identity keywords (OBJECT, FILTER, DATE-OBS, …).
//
// WCS (FITS WCS paper I §2.1, parsed by wcslib): the operator chain maps the whole prior field
// onto the whole observed field (resampling keeps the field), so with r = m/n per axis (source
// pixels per product pixel) the product pixel centre k (1-based) sits at source pixel
// (k − 0.5)·r + 0.5. The projection acts after the linear part, so this is exact for any
// projection: CRPIX' = (CRPIX − 0.5)/r + 0.5 and column j of the pixel → intermediate matrix
// scales by r_j. The matrix is written as CDi_j (wcslib's PCi_j·CDELTi, or CD, with CROTA folded
// in), so an anisotropic r stays correct with a rotated PC matrix. CTYPE, CUNIT, CRVAL, PVi_m,
// LONPOLE/LATPOLE, RADESYS/EQUINOX/EPOCH and the observation date carry over unchanged; axes beyond
// the first two (an input cube's third axis) are not carried — the writer adds the band axis — nor
// are SIP distortions (CTYPE loses its '-SIP'; a HISTORY card says so).
import Foundation
import TweedieCore

public enum ProductHeader {
    /// Observation keywords every product carries when the observation has them.
    public static let observationKeywords = ["OBJECT", "TELESCOP", "INSTRUME", "FILTER", "DATE-OBS", "MJD-OBS",
                                             "EXPTIME", "OBSERVER"]
    /// Frame and projection keywords carried unchanged with the WCS.
    static let frameKeywords = ["RADESYS", "RADECSYS", "EQUINOX", "EPOCH", "LONPOLE", "LATPOLE", "MJDREF", "DATEREF"]

    /// The header for a product of `productShape` made from a source image of `sourceShape` with
    /// `header`, both covering the same field; nil when there is nothing to carry.
    public static func carried(from header: FITSHeader, sourceShape: ImageShape, productShape: ImageShape) -> FITSHeader? {
        var h = FITSHeader()
        if let w = header.wcs, w.axisCount >= 2 {
            let r = [Double(sourceShape.width) / Double(productShape.width),
                     Double(sourceShape.height) / Double(productShape.height)]
            // SIP distortion polynomials act on pixel offsets and do not survive rescaling: not carried.
            let sip = w.ctype.prefix(2).contains { $0.hasSuffix("-SIP") }
            for i in 0..<2 {
                let n = i + 1
                let type = w.ctype[i].hasSuffix("-SIP") ? String(w.ctype[i].dropLast(4)) : w.ctype[i]
                h.cards.append(FITSCard(keyword: "CTYPE\(n)", value: .string(type)))
                if !w.cunit[i].isEmpty { h.cards.append(FITSCard(keyword: "CUNIT\(n)", value: .string(w.cunit[i]))) }
                h.cards.append(FITSCard(keyword: "CRPIX\(n)", value: .double((w.crpix[i] - 0.5) / r[i] + 0.5)))
                h.cards.append(FITSCard(keyword: "CRVAL\(n)", value: .double(w.crval[i])))
            }
            for i in 0..<2 {
                for j in 0..<2 {
                    h.cards.append(FITSCard(keyword: "CD\(i + 1)_\(j + 1)", value: .double(w.cd[i][j] * r[j])))
                }
            }
            for card in header.cards where card.keyword.hasPrefix("PV1_") || card.keyword.hasPrefix("PV2_")
                || frameKeywords.contains(card.keyword) {
                h.cards.append(card)
            }
            if sip { h.addHistory("SIP distortion of the source WCS not carried (linear part and projection only)") }
            if r != [1, 1] { h.addHistory("WCS mapped onto this grid by the operator's field mapping (\(r[0]), \(r[1]) source pixels per pixel)") }
        }
        for k in observationKeywords {
            if let card = header.card(k), h.card(k) == nil { h.cards.append(card) }
        }
        return h.cards.isEmpty ? nil : h
    }
}
