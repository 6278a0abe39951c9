// Parsing 80-character FITS header records into `FITSCard`s and formatting
// values back (FITS Standard 4.0, §4.1–4.2; the long-string CONTINUE convention
// of §4.2.1.2; the ESO HIERARCH convention for keywords longer than 8 characters).
//
// Conventions:
// - cols 1–8 keyword, cols 9–10 "= " value indicator, value and "/ comment" after;
// - strings lose their quotes, doubled quotes ('') become one, trailing blanks
//   are dropped (leading blanks are significant), as astropy reads them;
// - COMMENT, HISTORY, blank-keyword and other value-less cards keep their text
//   in `comment` with `value == .none`;
// - a string ending in `&` followed by CONTINUE cards is joined into one value
//   (comments of the pieces joined with a space); END is dropped.

import Foundation

/// Reads header records as CFITSIO returns them (a run of 80-character records).
enum FITSCardCoding {
    /// Parses `count` 80-character records into cards, joining CONTINUE strings.
    static func cards(fromRecords records: UnsafePointer<CChar>, count: Int) -> [FITSCard] {
        var cards: [FITSCard] = []
        cards.reserveCapacity(count)
        var pendingContinue = false  // the last card is a string that ended in '&'
        for i in 0..<count {
            let bytes = UnsafeRawBufferPointer(start: records + 80 * i, count: 80)
            let record = String(decoding: bytes, as: UTF8.self)
            let parsed = parse(record)
            if parsed.keyword == "END" && parsed.valueField == nil { break }
            if parsed.keyword == "CONTINUE", pendingContinue, let last = cards.indices.last,
               case let .string(head) = cards[last].value,
               let field = parsed.continueField {
                let (piece, comment) = splitValueAndComment(field)
                if case let .string(tail) = typedValue(piece) {
                    cards[last].value = .string(String(head.dropLast()) + tail)
                    if !comment.isEmpty {
                        cards[last].comment = cards[last].comment.isEmpty ? comment : cards[last].comment + " " + comment
                    }
                    pendingContinue = tail.hasSuffix("&")
                    continue
                }
            }
            let card: FITSCard
            if let field = parsed.valueField {
                let (valueText, comment) = splitValueAndComment(field)
                card = FITSCard(keyword: parsed.keyword, value: typedValue(valueText), comment: comment)
            } else {
                card = FITSCard(keyword: parsed.keyword, value: .none, comment: parsed.commentary)
            }
            if case let .string(s) = card.value { pendingContinue = s.hasSuffix("&") } else { pendingContinue = false }
            cards.append(card)
        }
        return cards
    }

    /// One record split into keyword and either a value field (after "= ") or commentary text.
    struct Record {
        var keyword: String
        var valueField: String?
        var commentary: String
        var continueField: String?
    }

    static func parse(_ record: String) -> Record {
        let chars = Array(record)
        func text(_ from: Int, _ to: Int = 80) -> String {
            from >= chars.count ? "" : String(chars[from..<min(to, chars.count)])
        }
        let key8 = text(0, 8).trimmingTrailingSpaces()
        if key8 == "HIERARCH", let eq = chars.firstIndex(of: "=") {
            let name = text(8, eq).split(separator: " ").joined(separator: " ")
            return Record(keyword: name, valueField: text(eq + 1), commentary: "", continueField: nil)
        }
        let commentary = text(8).trimmingTrailingSpaces()
        if key8 == "CONTINUE" {
            return Record(keyword: key8, valueField: nil, commentary: commentary, continueField: text(8))
        }
        let hasValue = chars.count >= 10 && chars[8] == "=" && chars[9] == " "
            && key8 != "COMMENT" && key8 != "HISTORY" && !key8.isEmpty
        if hasValue {
            return Record(keyword: key8, valueField: text(10), commentary: "", continueField: nil)
        }
        return Record(keyword: key8, valueField: nil, commentary: commentary, continueField: nil)
    }

    /// Splits a value field into the raw value text (a quoted string keeps its quotes) and the comment.
    static func splitValueAndComment(_ field: String) -> (value: String, comment: String) {
        let chars = Array(field)
        var i = 0
        while i < chars.count && chars[i] == " " { i += 1 }
        var valueEnd = i
        if i < chars.count && chars[i] == "'" {
            var j = i + 1
            while j < chars.count {
                if chars[j] == "'" {
                    if j + 1 < chars.count && chars[j + 1] == "'" { j += 2; continue }
                    break
                }
                j += 1
            }
            valueEnd = min(j + 1, chars.count)
        } else {
            while valueEnd < chars.count && chars[valueEnd] != "/" { valueEnd += 1 }
        }
        let value = String(chars[i..<valueEnd]).trimmingCharacters(in: .whitespaces)
        var comment = ""
        if let slash = chars[valueEnd...].firstIndex(of: "/") {
            comment = String(chars[(slash + 1)...]).trimmingCharacters(in: .whitespaces)
        }
        return (value, comment)
    }

    /// The typed value of a raw value text (quoted string, T/F, integer, real, complex, or empty).
    static func typedValue(_ raw: String) -> FITSValue {
        if raw.isEmpty { return .none }
        if raw.hasPrefix("'") {
            var inner = raw.dropFirst()
            if inner.hasSuffix("'") { inner = inner.dropLast() }
            return .string(inner.replacingOccurrences(of: "''", with: "'").trimmingTrailingSpaces())
        }
        if raw == "T" { return .bool(true) }
        if raw == "F" { return .bool(false) }
        if raw.hasPrefix("(") { return .string(raw) }  // complex: kept as its text
        if let i = Int(raw) { return .int(i) }
        let real = raw.replacingOccurrences(of: "D", with: "E").replacingOccurrences(of: "d", with: "e")
        if let d = Double(real) { return .double(d) }
        return .string(raw)
    }

    /// The first card whose keyword the FITS standard (§4.4, §8; WCS Papers I–II) defines as a
    /// number but whose value is not one (`CRPIX2 = 8.0j`), as (keyword, value text); nil when
    /// every such card holds a number. Other keywords may hold anything.
    static func firstUnparsableNumber(in cards: [FITSCard]) -> (keyword: String, value: String)? {
        for card in cards where isNumericKeyword(card.keyword) {
            if case let .string(text) = card.value,
               Double(text.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "D", with: "E")) == nil {
                return (card.keyword, text)
            }
            if case .bool = card.value { return (card.keyword, card.value == .bool(true) ? "T" : "F") }
        }
        return nil
    }

    /// Scaling, data-range, beam and WCS keywords whose values are numbers: BSCALE, BZERO, BLANK,
    /// DATAMIN/MAX, LONPOLE, LATPOLE, MJD-OBS, BMAJ, BMIN, BPA, RESTFRQ and the
    /// indexed CRPIXn, CRVALn, CDELTn, CROTAn, CDi_j, PCi_j, PVi_m (with an optional alternate letter).
    static func isNumericKeyword(_ keyword: String) -> Bool {
        // (EQUINOX and EPOCH are left out: old files write 'J2000', which WCS readers translate.)
        let plain: Set<String> = ["BSCALE", "BZERO", "BLANK", "DATAMIN", "DATAMAX", "LONPOLE", "LATPOLE", "MJD-OBS", "BMAJ", "BMIN", "BPA", "RESTFRQ", "RESTFREQ"]
        if plain.contains(keyword) { return true }
        var k = Substring(keyword)
        if let last = k.last, last.isLetter, k.count > 5 { k = k.dropLast() }  // alternate WCS letter
        for stem in ["CRPIX", "CRVAL", "CDELT", "CROTA"] where k.hasPrefix(stem) {
            let index = k.dropFirst(stem.count)
            return !index.isEmpty && index.allSatisfy(\.isNumber)
        }
        for stem in ["CD", "PC", "PV"] where k.hasPrefix(stem) {
            let parts = k.dropFirst(2).split(separator: "_", omittingEmptySubsequences: false)
            return parts.count == 2 && parts.allSatisfy { !$0.isEmpty && $0.allSatisfy(\.isNumber) }
        }
        return false
    }

    /// A real value as FITS text: the shortest decimal that reads back to the same
    /// Double, always with a decimal point and an upper-case exponent ("1.0E-05").
    static func formatReal(_ d: Double) -> String {
        var s = "\(d)"  // Swift prints the shortest round-trip representation
        if let e = s.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            var mantissa = String(s[..<e])
            let exponent = String(s[s.index(after: e)...])
            if !mantissa.contains(".") { mantissa += ".0" }
            s = mantissa + "E" + exponent
        } else if !s.contains(".") {
            s += ".0"
        }
        return s
    }
}

extension StringProtocol {
    /// The string without trailing spaces.
    func trimmingTrailingSpaces() -> String {
        var end = endIndex
        while end > startIndex && self[index(before: end)] == " " { end = index(before: end) }
        return String(self[startIndex..<end])
    }
}
