// A FITS header kept whole: every card in file order, with typed accessors,
// and its world coordinate system as wcslib parses it (WorldCoordinateSystem.swift).
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

    /// The primary WCS described by this header as wcslib parses it; nil when it has no WCS keywords
    /// or wcslib rejects them (`WCS.parse` says why).
    public var wcs: WCS? { try? WCS.parse(self) }

    /// Beam area in pixels, π/(4 ln 2)·BMAJ·BMIN/|det CD| (the pixel's solid angle from the celestial
    /// block of the WCS, wcslib), for an image in `unit` Jy/beam that carries its beam (BMAJ, BMIN)
    /// and a celestial WCS; nil otherwise.
    public func beamAreaPixels(unit: String?) -> Double? {
        guard let unit, unit.lowercased().contains("/beam"),
              let bmaj = double("BMAJ"), let bmin = double("BMIN"), bmaj > 0, bmin > 0,
              let w = wcs, let lng = w.longitudeAxis, let lat = w.latitudeAxis else { return nil }
        let pixelArea = abs(w.cd[lng][0] * w.cd[lat][1] - w.cd[lng][1] * w.cd[lat][0])
        guard pixelArea > 0 else { return nil }
        return Double.pi / (4 * log(2.0)) * bmaj * bmin / pixelArea
    }

    /// Pixel scale in arcsec/px from a celestial WCS (mean of the axes) or PIXSCALE / SECPIX / PIXSCAL1;
    /// nil if none. A linear WCS (blank or non-celestial CTYPE, e.g. CDELT = 1 pixel units) has no sky scale.
    public var pixelScaleArcsec: Double? {
        if let s = wcs?.pixelScaleArcsec, s.x > 0, s.y > 0 { return 0.5 * (s.x + s.y) }
        for k in ["PIXSCALE", "SECPIX", "PIXSCAL1"] { if let v = double(k), v > 0 { return v } }
        return nil
    }
}

import Foundation

extension FITSCard {
    /// A FITS header string (printable ASCII only, FITS Standard §4.2.1): Greek letters spelled
    /// out (σ → "sigma", ζ → "zeta"), the symbols Tweedie's summaries use written in ASCII
    /// (× → "x", ″ → "arcsec", ≤ → "<=", ² → "^2", ₜ → "_t"), accents on Latin letters dropped
    /// (é → e), a tilde / hat / bar / dot over a symbol spelled as a suffix (β̃ → "beta-tilde"),
    /// control characters as blanks, anything else as '?'.
    public static func asciiText(_ s: String) -> String {
        var out = ""
        var lastWasWord = false  // the previous scalar became a spelled-out word (a mark may follow)
        for scalar in s.decomposedStringWithCanonicalMapping.unicodeScalars {
            if scalar.isASCII {
                out.append(scalar.value >= 32 && scalar.value < 127 ? Character(scalar) : " ")
                lastWasWord = false
            } else if let w = asciiWords[scalar] {
                out += w
                lastWasWord = true
            } else if (0x300...0x36F).contains(scalar.value) {
                // A combining mark: dropped on a Latin letter (é → e), spelled on a symbol (β̃ → beta-tilde).
                if lastWasWord, let mark = combiningMarks[scalar.value] { out += "-" + mark }
            } else {
                out += "?"
                lastWasWord = false
            }
        }
        return out
    }

    static let combiningMarks: [UInt32: String] = [0x303: "tilde", 0x302: "hat", 0x304: "bar", 0x305: "bar", 0x307: "dot"]

    /// ASCII spellings of the non-ASCII characters header strings meet: the Greek alphabet, super- and
    /// subscripts, and the mathematical and typographic symbols of Tweedie's summaries.
    static let asciiWords: [Unicode.Scalar: String] = {
        var w: [Unicode.Scalar: String] = [
            "×": "x", "·": "*", "″": "arcsec", "′": "arcmin", "°": "deg", "→": "->", "←": "<-", "ᵀ": "T", "≈": "~",
            "≤": "<=", "≥": ">=", "≠": "!=", "±": "+/-", "½": "1/2", "∘": "o", "−": "-", "–": "-", "—": "-",
            "‘": "'", "’": "'", "“": "\"", "”": "\"", "…": "...", "√": "sqrt", "∞": "inf", "∑": "sum", "∫": "int",
            "∇": "grad", "∂": "d", "⊙": "sun", "☉": "sun", "µ": "mu", "ℓ": "l", "\u{00A0}": " ", "⋅": "*", "∈": " in ",
            "⁺": "^+", "⁻": "^-", "ₜ": "_t", "ᵢ": "_i", "ⱼ": "_j", "ₖ": "_k", "ₙ": "_n", "ₓ": "_x", "ᵧ": "_y",
        ]
        for (i, d) in ["⁰", "¹", "²", "³", "⁴", "⁵", "⁶", "⁷", "⁸", "⁹"].enumerated() { w[d.unicodeScalars.first!] = "^\(i)" }
        for (i, d) in ["₀", "₁", "₂", "₃", "₄", "₅", "₆", "₇", "₈", "₉"].enumerated() { w[d.unicodeScalars.first!] = "_\(i)" }
        let greek = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa", "lambda", "mu",
                     "nu", "xi", "omicron", "pi", "rho", "sigma", "tau", "upsilon", "phi", "chi", "psi", "omega"]
        let lower = Array("αβγδεζηθικλμνξοπρστυφχψω".unicodeScalars), upper = Array("ΑΒΓΔΕΖΗΘΙΚΛΜΝΞΟΠΡΣΤΥΦΧΨΩ".unicodeScalars)
        for (i, name) in greek.enumerated() {
            w[lower[i]] = name
            w[upper[i]] = name.prefix(1).uppercased() + name.dropFirst()
        }
        w["ς"] = "sigma"; w["ϵ"] = "epsilon"; w["ϑ"] = "theta"; w["ϕ"] = "phi"; w["Å"] = "Angstrom"; w["Å"] = "Angstrom"
        return w
    }()
}
