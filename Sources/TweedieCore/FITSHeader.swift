// A FITS header kept whole: every card in file order, with typed accessors,
// and the celestial WCS summary derived from it (FITS WCS paper I/II keywords).
//
// Conventions: keywords are upper case; CRPIX stays 1-based as in the file.

/// A header value as FITS types it.
public enum FITSValue: Equatable, Sendable, CustomStringConvertible {
    case string(String)
    case int(Int)
    case double(Double)
    case bool(Bool)
    case none

    public var description: String {
        switch self {
        case let .string(s): return s
        case let .int(i): return String(i)
        case let .double(d): return String(d)
        case let .bool(b): return b ? "T" : "F"
        case .none: return ""
        }
    }
}

/// One header card: keyword, value and comment (COMMENT / HISTORY cards carry their text in `comment`).
public struct FITSCard: Equatable, Sendable {
    public var keyword: String
    public var value: FITSValue
    public var comment: String
    public init(keyword: String, value: FITSValue, comment: String = "") {
        self.keyword = keyword.uppercased(); self.value = value; self.comment = comment
    }
}

/// All cards of one HDU header, in order.
public struct FITSHeader: Equatable, Sendable {
    public var cards: [FITSCard]
    public init(cards: [FITSCard] = []) { self.cards = cards }

    /// Keywords that describe the data layout; a writer regenerates them and never copies them over.
    public static let structuralKeywords: Set<String> = [
        "SIMPLE", "XTENSION", "BITPIX", "NAXIS", "NAXIS1", "NAXIS2", "NAXIS3", "NAXIS4", "EXTEND",
        "PCOUNT", "GCOUNT", "BSCALE", "BZERO", "BLANK", "END", "CHECKSUM", "DATASUM",
        "ZIMAGE", "ZBITPIX", "ZNAXIS", "ZNAXIS1", "ZNAXIS2", "ZNAXIS3", "ZTILE1", "ZTILE2", "ZTILE3",
        "ZCMPTYPE", "ZNAME1", "ZVAL1", "ZNAME2", "ZVAL2", "ZQUANTIZ", "ZDITHER0", "ZSIMPLE", "ZEXTEND",
        "ZBLANK", "ZSCALE", "ZZERO", "TFIELDS", "TTYPE1", "TFORM1", "TTYPE2", "TFORM2", "TTYPE3", "TFORM3",
    ]

    /// The first card with this keyword.
    public func card(_ keyword: String) -> FITSCard? {
        let k = keyword.uppercased()
        return cards.first { $0.keyword == k }
    }
    public subscript(_ keyword: String) -> FITSValue? { card(keyword)?.value }

    public func double(_ keyword: String) -> Double? {
        switch self[keyword] {
        case let .double(d)?: return d
        case let .int(i)?: return Double(i)
        case let .string(s)?: return Double(s.trimmingCharacters(in: .whitespaces))
        default: return nil
        }
    }
    public func int(_ keyword: String) -> Int? {
        switch self[keyword] {
        case let .int(i)?: return i
        case let .double(d)?: return Int(exactly: d)  // nil for a fraction or beyond Int (BLANK = 1E300)
        default: return nil
        }
    }
    public func string(_ keyword: String) -> String? {
        if case let .string(s)? = self[keyword] { return s }
        return nil
    }

    /// Sets (replaces the first, or appends) a card.
    public mutating func set(_ keyword: String, _ value: FITSValue, comment: String = "") {
        let k = keyword.uppercased()
        if let i = cards.firstIndex(where: { $0.keyword == k }) {
            cards[i].value = value
            if !comment.isEmpty { cards[i].comment = comment }
        } else {
            cards.append(FITSCard(keyword: k, value: value, comment: comment))
        }
    }
    public mutating func remove(_ keyword: String) {
        let k = keyword.uppercased()
        cards.removeAll { $0.keyword == k }
    }
    /// Appends a HISTORY card.
    public mutating func addHistory(_ text: String) {
        cards.append(FITSCard(keyword: "HISTORY", value: .none, comment: text))
    }

    /// The celestial WCS described by this header, if it has one (CRVAL/CRPIX and CDELT or CD).
    public var wcs: WCS? { WCS(header: self) }

    /// Beam area in pixels, π/(4 ln 2)·BMAJ·BMIN/|CDELT1·CDELT2|, for an image in `unit` Jy/beam that
    /// carries its beam (BMAJ, BMIN, CDELT1, CDELT2); nil otherwise.
    public func beamAreaPixels(unit: String?) -> Double? {
        guard let unit, unit.lowercased().contains("/beam"),
              let bmaj = double("BMAJ"), let bmin = double("BMIN"),
              let c1 = double("CDELT1"), let c2 = double("CDELT2"), c1 != 0, c2 != 0, bmaj > 0, bmin > 0 else { return nil }
        return Double.pi / (4 * log(2.0)) * bmaj * bmin / abs(c1 * c2)
    }

    /// Pixel scale in arcsec/px from the WCS (mean of the axes) or PIXSCALE / SECPIX / PIXSCAL1; nil if none.
    public var pixelScaleArcsec: Double? {
        if let w = wcs {
            let s = w.pixelScaleArcsec
            if s.x > 0, s.y > 0 { return 0.5 * (s.x + s.y) }
        }
        for k in ["PIXSCALE", "SECPIX", "PIXSCAL1"] { if let v = double(k), v > 0 { return v } }
        return nil
    }
}

import Foundation

/// A linear celestial WCS summary (FITS WCS paper II, TAN and friends): the
/// reference pixel (1-based, as in FITS), reference world coordinates, and
/// the pixel → intermediate-world matrix in degrees per pixel, from CD or PC × CDELT or CDELT.
public struct WCS: Equatable, Sendable {
    public var ctype: [String]
    public var crpix: [Double]
    public var crval: [Double]
    /// 2×2 matrix [[CD1_1, CD1_2], [CD2_1, CD2_2]] in degrees per pixel.
    public var cd: [[Double]]

    public init?(header h: FITSHeader) {
        guard let crval1 = h.double("CRVAL1"), let crval2 = h.double("CRVAL2") else { return nil }
        crval = [crval1, crval2]
        crpix = [h.double("CRPIX1") ?? 0, h.double("CRPIX2") ?? 0]
        ctype = [h.string("CTYPE1") ?? "", h.string("CTYPE2") ?? ""]
        if h.double("CD1_1") != nil || h.double("CD2_2") != nil {
            cd = [[h.double("CD1_1") ?? 0, h.double("CD1_2") ?? 0],
                  [h.double("CD2_1") ?? 0, h.double("CD2_2") ?? 0]]
        } else if let c1 = h.double("CDELT1"), let c2 = h.double("CDELT2") {
            let pc = [[h.double("PC1_1") ?? 1, h.double("PC1_2") ?? 0],
                      [h.double("PC2_1") ?? 0, h.double("PC2_2") ?? 1]]
            cd = [[pc[0][0] * c1, pc[0][1] * c1], [pc[1][0] * c2, pc[1][1] * c2]]
        } else {
            return nil
        }
    }

    /// Pixel scale along x and y in arcseconds per pixel (column norms of CD).
    public var pixelScaleArcsec: (x: Double, y: Double) {
        let sx = (cd[0][0] * cd[0][0] + cd[1][0] * cd[1][0]).squareRoot() * 3600
        let sy = (cd[0][1] * cd[0][1] + cd[1][1] * cd[1][1]).squareRoot() * 3600
        return (sx, sy)
    }
}

extension FITSCard {
    /// A FITS header string (printable ASCII only): the symbols Tweedie's summaries use
    /// spelled out, anything else non-ASCII replaced by '?'.
    public static func asciiText(_ s: String) -> String {
        let words: [Character: String] = ["×": "x", "″": "arcsec", "°": "deg", "β": "beta", "λ": "lambda", "→": "->",
                                          "ᵀ": "T", "≈": "~", "σ": "sigma", "²": "^2", "∘": "o", "θ": "theta", "−": "-"]
        var out = ""
        for ch in s {
            if let w = words[ch] { out += w } else if ch.isASCII, let a = ch.asciiValue, a >= 32, a < 127 { out.append(ch) } else { out += "?" }
        }
        return out
    }
}
