// Fuzzing the FITS reader: seeded mutations of the valid fixture files (bit flips, truncation,
// huge, zero and negative NAXIS / NAXISn / BITPIX, the compressed image's ZNAXISn / ZBITPIX /
// table sizes, garbage and non-numeric cards, a lost END) read through `FITSReader.readImage`
// and, when a file still reads, through the report `tweedie info` prints. Each file must either
// read or fail with a `TweedieError` whose one-line message is non-empty, within a time limit;
// a trap anywhere ends the test process, which fails the run. The mutations are deterministic in
// the seed, so a failing case is reproduced by its number.
import Foundation
import Testing
import TweedieTestSupport
@testable import TweedieCore

@Suite struct FITSFuzzTests {
    /// The fixtures mutated (valid files of every BITPIX, a cube, extensions, a compressed image).
    static let bases = ["bitpix8.fits", "bitpix16.fits", "bitpix32.fits", "bitpix64.fits", "bitpix_m32.fits", "bitpix_m64.fits",
                        "cube3.fits", "extensions.fits", "compressed.fits", "int32_blank.fits", "scaled16_blank.fits", "uint16.fits"]

    /// Values that break size arithmetic or the standard's ranges.
    static let hostileIntegers = ["9223372036854775807", "-9223372036854775808", "-1", "0", "2147483648", "4294967296",
                                  "99999999999", "3037000500", "1E30", "-0", "7", "999"]
    static let hostileCards = ["CRPIX2  =                 8.0j", "BLANK   =               1E300", "BSCALE  =                   0",
                               "BZERO   =                 NaN", "BSCALE  =              1E400", "BLANK   = 9223372036854775807",
                               "CDELT1  = 'degrees'", "BAND1   = '", "CONTINUE  '&'", "HIERARCH = 3", "NAXIS   =  -3",
                               "END     =                    1", "SIMPLE  =                    F", "XTENSION= 'BINTABLE'"]

    @Test func mutatedFilesReadOrFailInOneLine() throws {
        let dir = try Fixtures.temporaryDirectory(); defer { Fixtures.removeDirectory(dir) }
        var rng = SplitMix64Generator(seed: 20261207)
        let originals = try Self.bases.map { try [UInt8](Data(contentsOf: URL(fileURLWithPath: Fixtures.path($0)))) }
        let cases = 360
        var outcomes: [String: Int] = [:]
        let started = Date()
        for i in 0..<cases {
            let b = i % originals.count
            let (bytes, what) = Self.mutate(originals[b], using: &rng)
            let path = dir.appendingPathComponent("case\(i).fits").path
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            let label = "case \(i) (\(Self.bases[b]), \(what))"
            let outcome = TimeLimitedCall.run(limit: 10) { () -> String in
                let image = try FITSReader.readImage(path)
                return image.report.isEmpty ? "empty report" : "read"
            }
            switch outcome {
            case .timedOut:
                Issue.record("\(label): no answer within 10 s")
                return  // the reader is still running on its thread; stop here
            case let .value(v):
                #expect(v == "read", "\(label): \(v)")
                outcomes["read", default: 0] += 1
            case let .failed(error):
                guard let e = error as? TweedieError else {
                    Issue.record("\(label): threw \(type(of: error)), not a TweedieError: \(error)")
                    continue
                }
                let text = e.description
                #expect(!text.isEmpty && !text.contains("\n") && text.contains(path), "\(label): '\(text)'")
                outcomes["refused", default: 0] += 1
            }
            try? FileManager.default.removeItem(atPath: path)
        }
        // Both answers occur: the mutations neither all break the files nor all leave them readable.
        #expect(outcomes["read", default: 0] > 10 && outcomes["refused", default: 0] > 100, "\(outcomes)")
        #expect(outcomes.values.reduce(0, +) == cases)
        #expect(Date().timeIntervalSince(started) < 60)
    }

    /// The compressed image's uncompressed size comes from ZNAXISn, which no file size bounds: a
    /// header declaring more values than an Int holds, or more than half the machine's memory can
    /// read, is refused before any allocation. (The fixture's 3 × 3 tiles are kept: ZTILEn = ZNAXISn / 3.)
    @Test func compressedImageSizesAreChecked() throws {
        let dir = try Fixtures.temporaryDirectory(); defer { Fixtures.removeDirectory(dir) }
        let original = try [UInt8](Data(contentsOf: URL(fileURLWithPath: Fixtures.path("compressed.fits"))))
        var sizes = [(3 * 3_037_000_500, "more than any image")]
        // 90000² = 8.1e9 values (48.6 GB to read) exceeds half the memory of machines below 90 GiB.
        if ProcessInfo.processInfo.physicalMemory < 90 << 30 { sizes.append((90_000, "GiB")) }
        for (side, expected) in sizes {
            var bytes = original
            for key in ["ZNAXIS1", "ZNAXIS2"] { #expect(Self.setCard(&bytes, key, "\(side)")) }
            for key in ["ZTILE1", "ZTILE2"] { #expect(Self.setCard(&bytes, key, "\(side / 3)")) }
            let path = dir.appendingPathComponent("z.fits").path
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            do {
                _ = try FITSReader.readImage(path)
                Issue.record("a \(side)² compressed image was read")
            } catch {
                #expect("\(error)".contains(expected), "\(error)")
            }
        }
    }

    /// A card the standard defines as a number but holding something else is refused by name.
    @Test func unparsableNumberIsRefused() throws {
        let dir = try Fixtures.temporaryDirectory(); defer { Fixtures.removeDirectory(dir) }
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: Fixtures.path("bitpix_m32.fits"))))
        #expect(Self.insertCard(&bytes, "CRPIX2  =                 8.0j"))
        let path = dir.appendingPathComponent("crpix.fits").path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        do {
            _ = try FITSReader.readImage(path)
            Issue.record("CRPIX2 = 8.0j was read")
        } catch {
            #expect("\(error)".contains("CRPIX2 = '8.0j' is not a number"), "\(error)")
        }
        #expect(FITSCardCoding.isNumericKeyword("CRPIX2") && FITSCardCoding.isNumericKeyword("CD1_2")
                && FITSCardCoding.isNumericKeyword("CRVAL1A") && !FITSCardCoding.isNumericKeyword("PCOUNT")
                && !FITSCardCoding.isNumericKeyword("OBJECT") && !FITSCardCoding.isNumericKeyword("CTYPE1"))
    }

    // MARK: - Mutations

    /// One seeded mutation of a file, and what it was.
    static func mutate(_ original: [UInt8], using rng: inout SplitMix64Generator) -> ([UInt8], String) {
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
            let keys = ["NAXIS1", "NAXIS2", "NAXIS3", "ZNAXIS1", "ZNAXIS2", "PCOUNT", "THEAP", "ZTILE1", "ZTILE2", "GCOUNT"]
            let key = keys.randomElement(using: &rng)!, value = hostileIntegers.randomElement(using: &rng)!
            return setCard(&bytes, key, value) ? (bytes, "\(key) = \(value)") : (bytes, "unchanged (no \(key))")
        case 4:
            let key = ["BITPIX", "ZBITPIX", "NAXIS", "ZNAXIS"].randomElement(using: &rng)!
            let value = ["7", "0", "-16", "128", "-9223372036854775808", "9223372036854775807", "'abc'", "T", "24"].randomElement(using: &rng)!
            return setCard(&bytes, key, value) ? (bytes, "\(key) = \(value)") : (bytes, "unchanged (no \(key))")
        case 5:
            let card = hostileCards.randomElement(using: &rng)!
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
    static func endOfFirstHeaders(_ bytes: [UInt8]) -> Int {
        let ends = records(bytes, upTo: bytes.count).filter { keyword(bytes, $0) == "END" }.prefix(2)
        return ((ends.last ?? (bytes.count / 80 - 1)) + 1) * 80
    }

    static func records(_ bytes: [UInt8], upTo end: Int) -> [Int] { Array(0..<(min(end, bytes.count) / 80)) }

    static func keyword(_ bytes: [UInt8], _ record: Int) -> String {
        String(decoding: bytes[(record * 80)..<(record * 80 + 8)], as: UTF8.self).trimmingCharacters(in: .whitespaces)
    }

    /// Sets every `key` card in the headers to `value` (right-justified to column 30, as fixed format).
    static func setCard(_ bytes: inout [UInt8], _ key: String, _ value: String) -> Bool {
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
    static func insertCard(_ bytes: inout [UInt8], _ card: String) -> Bool {
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
