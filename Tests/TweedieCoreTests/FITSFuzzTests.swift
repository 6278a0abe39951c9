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

    static let sizeKeys = ["NAXIS1", "NAXIS2", "NAXIS3", "ZNAXIS1", "ZNAXIS2", "PCOUNT", "THEAP", "ZTILE1", "ZTILE2", "GCOUNT"]
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
            let (bytes, what) = FITSMutation.mutate(originals[b], using: &rng, sizeKeys: Self.sizeKeys,
                                                    typeKeys: ["BITPIX", "ZBITPIX", "NAXIS", "ZNAXIS"], cards: Self.hostileCards)
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
            for key in ["ZNAXIS1", "ZNAXIS2"] { #expect(FITSMutation.setCard(&bytes, key, "\(side)")) }
            for key in ["ZTILE1", "ZTILE2"] { #expect(FITSMutation.setCard(&bytes, key, "\(side / 3)")) }
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
        #expect(FITSMutation.insertCard(&bytes, "CRPIX2  =                 8.0j"))
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
}
