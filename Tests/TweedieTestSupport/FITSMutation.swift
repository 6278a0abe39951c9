// Seeded mutations of FITS files for the readers' fuzz tests: header cards located by keyword in
// the 80-byte records and rewritten in fixed format (value right-justified to column 30), cards
// written before END, truncation, bit flips and random bytes. Deterministic in the generator.
import Foundation

public enum FITSMutation {
    /// Values that break size arithmetic or the standard's ranges.
    public static let hostileIntegers = ["9223372036854775807", "-9223372036854775808", "-1", "0", "2147483648", "4294967296",
                                         "99999999999", "3037000500", "1E30", "-0", "7", "999"]

    /// One seeded mutation of a file, and what it was: bit flips in the headers, truncation, a
    /// hostile value (`hostileIntegers`) in one of `sizeKeys`, a bad value in one of `typeKeys`, one
    /// of `cards` written before END, a record of random bytes, END blanked, or garbage data.
    public static func mutate(_ original: [UInt8], using rng: inout SplitMix64Generator, sizeKeys: [String],
                              typeKeys: [String], cards: [String]) -> ([UInt8], String) {
        var bytes = original
        let headerEnd = min(bytes.count, endOfFirstHeaders(bytes))
        switch Int.random(in: 0..<9, using: &rng) {
        case 0:
            let flips = Int.random(in: 1...8, using: &rng)
            for _ in 0..<flips {
                let at = Int.random(in: 0..<headerEnd, using: &rng)
                bytes[at] ^= UInt8(1) << UInt8.random(in: 0..<8, using: &rng)
            }
            return (bytes, "\(flips) bit flips in the headers")
        case 1:
            let keep = Int.random(in: 0..<bytes.count, using: &rng)
            return (Array(bytes[0..<keep]), "truncated to \(keep) bytes")
        case 2, 3:
            let key = sizeKeys.randomElement(using: &rng)!, value = hostileIntegers.randomElement(using: &rng)!
            return setCard(&bytes, key, value) ? (bytes, "\(key) = \(value)") : (bytes, "unchanged (no \(key))")
        case 4:
            let key = typeKeys.randomElement(using: &rng)!
            let value = ["7", "0", "-16", "128", "-9223372036854775808", "9223372036854775807", "'abc'", "T", "24"].randomElement(using: &rng)!
            return setCard(&bytes, key, value) ? (bytes, "\(key) = \(value)") : (bytes, "unchanged (no \(key))")
        case 5:
            let card = cards.randomElement(using: &rng)!
            return insertCard(&bytes, card) ? (bytes, "card '\(card)' added") : (bytes, "unchanged (no room)")
        case 6:
            // A record of random bytes over a card after the first.
            let records = headerEnd / 80
            let r = Int.random(in: 1..<max(2, records), using: &rng)
            for k in 0..<80 where r * 80 + k < bytes.count { bytes[r * 80 + k] = UInt8.random(in: 0...255, using: &rng) }
            return (bytes, "random bytes over record \(r)")
        case 7:
            // The first END record blanked: the header runs into the data.
            if let r = records(bytes, upTo: headerEnd).first(where: { keyword(bytes, $0) == "END" }) {
                for k in 0..<3 { bytes[r * 80 + k] = 0x20 }
                return (bytes, "END removed")
            }
            return (bytes, "unchanged (no END)")
        default:
            // A data-range slice of garbage (the header intact): data mutations must not confuse the reader.
            let start = Int.random(in: 0..<bytes.count, using: &rng)
            for k in start..<min(bytes.count, start + 64) { bytes[k] = UInt8.random(in: 0...255, using: &rng) }
            return (bytes, "64 random bytes from byte \(start)")
        }
    }

    /// The byte where the data of the file's second HDU would end: enough to cover the headers the
    /// mutations aim at (the primary one and a first extension's).
    public static func endOfFirstHeaders(_ bytes: [UInt8]) -> Int {
        let ends = records(bytes, upTo: bytes.count).filter { keyword(bytes, $0) == "END" }.prefix(2)
        return ((ends.last ?? (bytes.count / 80 - 1)) + 1) * 80
    }

    public static func records(_ bytes: [UInt8], upTo end: Int) -> [Int] { Array(0..<(min(end, bytes.count) / 80)) }

    public static func keyword(_ bytes: [UInt8], _ record: Int) -> String {
        String(decoding: bytes[(record * 80)..<(record * 80 + 8)], as: UTF8.self).trimmingCharacters(in: .whitespaces)
    }

    /// Sets every `key` card in the headers to `value` (right-justified to column 30, as fixed format).
    public static func setCard(_ bytes: inout [UInt8], _ key: String, _ value: String) -> Bool {
        var found = false
        for r in records(bytes, upTo: endOfFirstHeaders(bytes)) where keyword(bytes, r) == key {
            let text = key.padding(toLength: 8, withPad: " ", startingAt: 0) + "= "
                + String(repeating: " ", count: max(0, 20 - value.count)) + value
            let card = Array(text.padding(toLength: 80, withPad: " ", startingAt: 0).utf8.prefix(80))
            bytes.replaceSubrange((r * 80)..<(r * 80 + 80), with: card)
            found = true
        }
        return found
    }

    /// Writes `card` over the first blank record before the primary header's END (the fixtures'
    /// headers have room), nil-free: false when there is no blank record.
    public static func insertCard(_ bytes: inout [UInt8], _ card: String) -> Bool {
        guard let end = records(bytes, upTo: bytes.count).first(where: { keyword(bytes, $0) == "END" }) else { return false }
        let text = Array(card.padding(toLength: 80, withPad: " ", startingAt: 0).utf8.prefix(80))
        // Move END down one record into the padding when it is blank, and put the card in its place.
        let next = end + 1
        guard next * 80 + 80 <= bytes.count, bytes[(next * 80)..<(next * 80 + 80)].allSatisfy({ $0 == 0x20 }),
              next % 36 != 0 else { return false }
        bytes.replaceSubrange((next * 80)..<(next * 80 + 80), with: bytes[(end * 80)..<(end * 80 + 80)])
        bytes.replaceSubrange((end * 80)..<(end * 80 + 80), with: text)
        return true
    }
}
