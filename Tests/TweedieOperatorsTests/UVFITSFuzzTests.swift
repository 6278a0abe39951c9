// Fuzzing the UVFITS reader: seeded mutations of the two small random-groups fixtures (bit flips,
// truncation, hostile NAXISn / GCOUNT / PCOUNT / NAXIS / BITPIX, non-numeric and huge axis
// values, random records, a lost END) read through `UVFITSReader.read`. Each must either read or
// fail with a `TweedieError` whose one-line message names the file, within a time limit; a trap
// ends the test process, which fails the run.
import Foundation
import Testing
import TweedieCore
import TweedieTestSupport
@testable import TweedieOperators

@Suite struct UVFITSFuzzTests {
    static let sizeKeys = ["NAXIS2", "NAXIS3", "NAXIS4", "NAXIS5", "NAXIS6", "NAXIS7", "GCOUNT", "PCOUNT"]
    static let cards = ["CRVAL3  =               1E300", "CDELT3  =                 NaN", "CRVAL4  =              -1E300",
                        "CTYPE2  = 'STOKES  '", "PTYPE1  = 'UU      '", "PSCAL1  =                   0", "GROUPS  =                    F",
                        "NAXIS   =                   17", "CRPIX4  =                 8.0j"]

    @Test func mutatedFilesReadOrFailInOneLine() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tweedie-uvfuzz-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let bases = ["uv_xxyy_2chan.uvfits", "uv_no_uv.uvfits"]
        let originals = try bases.map { try [UInt8](Data(contentsOf: URL(fileURLWithPath: RadioTestData.fixture($0)))) }
        var rng = SplitMix64Generator(seed: 3273)
        var tally: [String: Int] = [:]
        for i in 0..<120 {
            let (bytes, what) = FITSMutation.mutate(originals[i % 2], using: &rng, sizeKeys: Self.sizeKeys,
                                                    typeKeys: ["BITPIX", "NAXIS", "NAXIS1"], cards: Self.cards)
            let path = dir.appendingPathComponent("case\(i).uvfits").path
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            let label = "case \(i) (\(bases[i % 2]), \(what))"
            let outcome = TimeLimitedCall.run(limit: 10) { "read \(try UVFITSReader.read(path: path).samples.u.count) visibilities" }
            switch outcome {
            case .timedOut:
                Issue.record("\(label): no answer within 10 s")
                return
            case .value:
                tally["read", default: 0] += 1
            case let .failed(error):
                let text = (error as? TweedieError)?.description ?? ""
                #expect(error is TweedieError && !text.isEmpty && !text.contains("\n") && text.contains(path), "\(label): \(error)")
                tally["refused", default: 0] += 1
            }
        }
        #expect(tally["read", default: 0] > 5 && tally["refused", default: 0] > 40, "\(tally)")
    }
}
