// Fuzzing the checkpoint readers: seeded mutations of a valid safetensors file (bit flips,
// truncation, bogus 8-byte header lengths, and header JSON rewritten with hostile shapes, dtypes
// and data_offsets: huge, negative, reversed, non-integer, overlapping, beyond the file) read
// through `SafeTensors.read`, and bit-flipped or truncated PyTorch .pt files through
// `CheckpointLoader.load`. Each must either read or fail with a `TweedieError` whose one-line
// message is non-empty, within a time limit; a trap ends the test process, which fails the run.
import Foundation
import Testing
import TweedieCore
import TweedieTestSupport
@testable import TweediePriors

@Suite struct CheckpointFuzzTests {
    static var hostileOffsets: [Any] { [[-1, 5], [0, Int.max], [Int.max, Int.max], [40, 8], [1e300, 2], ["a", 1], [0],
                                        [0, 1.5], [Int.min, 0], [0, 9_007_199_254_740_993], NSNull()] }
    static var hostileShapes: [Any] { [[Int.max, 2], [-1], [3_037_000_500, 3_037_000_500], [1e20], [], ["x"], [0],
                                       [4_611_686_018_427_387_904, 4], [2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2], 7] }
    static var hostileDTypes: [Any] { ["F128", 5, "BF16", "I64", "", "F16 ", "U8", NSNull(), "F64", "BOOL"] }
    static let hostileLengths: [UInt64] = [0, 1, 2, 7, UInt64(Int64.max), UInt64.max, 100_000_001, 1 << 32]

    @Test func mutatedSafeTensorsReadOrFailInOneLine() throws {
        let original = try [UInt8](Data(contentsOf: CheckpointFixtures.url("plain.safetensors")))
        var rng = SplitMix64Generator(seed: 24)
        let cases = 240
        var tally: [String: Int] = [:]
        for i in 0..<cases {
            let (bytes, what) = Self.mutate(original, using: &rng)
            let label = "case \(i) (\(what))"
            let name = "fuzz-\(i).safetensors"
            let outcome = TimeLimitedCall.run(limit: 10) {
                let contents = try SafeTensors.read(Data(bytes), path: name)
                return "read \(contents.tensors.count) tensors"
            }
            tally[Self.check(outcome, label: label, mentioning: name), default: 0] += 1
            if case .timedOut = outcome { return }
        }
        #expect(tally["refused", default: 0] > 150 && tally["error", default: 0] == 0, "\(tally)")
        #expect(tally.values.reduce(0, +) == cases)
    }

    @Test func mutatedTorchCheckpointsReadOrFailInOneLine() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tweedie-ptfuzz-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        var rng = SplitMix64Generator(seed: 25)
        var tally: [String: Int] = [:]
        for (b, base) in ["plain.pt", "legacy.pt", "plain_protocol4.pt"].enumerated() {
            let original = try [UInt8](Data(contentsOf: CheckpointFixtures.url(base)))
            for i in 0..<30 {
                var bytes = original
                let what: String
                if i % 3 == 0 {
                    let keep = Int.random(in: 0..<bytes.count, using: &rng)
                    bytes = Array(bytes[0..<keep]); what = "truncated to \(keep)"
                } else {
                    let flips = Int.random(in: 1...6, using: &rng)
                    for _ in 0..<flips { bytes[Int.random(in: 0..<bytes.count, using: &rng)] ^= 1 << UInt8.random(in: 0..<8, using: &rng) }
                    what = "\(flips) bit flips"
                }
                let url = dir.appendingPathComponent("case\(b)-\(i).pt")
                try Data(bytes).write(to: url)
                let outcome = TimeLimitedCall.run(limit: 10) { "read \(try CheckpointLoader.load(url).tensors.count) tensors" }
                tally[Self.check(outcome, label: "\(base) case \(i) (\(what))", mentioning: url.lastPathComponent), default: 0] += 1
                if case .timedOut = outcome { return }
            }
        }
        #expect(tally["error", default: 0] == 0 && tally["refused", default: 0] > 20, "\(tally)")
    }

    /// A config.json whose sizes would overflow the channel and parameter products (or the
    /// downsampling factor 2^(levels − 1)) is refused by name, not trapped on.
    @Test func damagedUNetConfigSizesAreRefused() {
        let cases: [(UNetConfig, String)] = [
            (UNetConfig(imageSize: 64, inChannels: 1, numChannels: 1 << 40, numResBlocks: 2, channelMult: [1, 2]), "num_channels"),
            (UNetConfig(imageSize: 64, inChannels: 1, numChannels: 64, numResBlocks: 2, channelMult: Array(repeating: 1, count: 70)), "channel_mult length"),
            (UNetConfig(imageSize: Int.max, inChannels: 1, numChannels: 64, numResBlocks: 2, channelMult: [1, 2]), "image_size"),
            (UNetConfig(imageSize: 64, inChannels: 1, numChannels: 64, numResBlocks: 2, channelMult: [1, Int.max]), "channel_mult entry"),
        ]
        for (config, word) in cases {
            #expect(throws: TweedieError.self) { try config.validate() }
            do { try config.validate() } catch { #expect("\(error)".contains(word) && "\(error)".contains("damaged"), "\(error)") }
        }
    }

    /// "read", "refused" (a TweedieError of one non-empty line naming the file) or "error" (recorded).
    static func check(_ outcome: TimeLimitedCall.Outcome, label: String, mentioning name: String) -> String {
        switch outcome {
        case .timedOut:
            Issue.record("\(label): no answer within 10 s")
            return "error"
        case .value:
            return "read"
        case let .failed(error):
            guard let e = error as? TweedieError else {
                Issue.record("\(label): threw \(type(of: error)), not a TweedieError: \(error)")
                return "error"
            }
            let text = e.description
            guard !text.isEmpty, !text.contains("\n"), text.contains(name) else {
                Issue.record("\(label): message '\(text)'")
                return "error"
            }
            return "refused"
        }
    }

    /// One seeded mutation of a safetensors file, and what it was.
    static func mutate(_ original: [UInt8], using rng: inout SplitMix64Generator) -> ([UInt8], String) {
        var bytes = original
        let n = Int(UInt64(littleEndian: bytes.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }))
        switch Int.random(in: 0..<6, using: &rng) {
        case 0:
            let flips = Int.random(in: 1...8, using: &rng)
            for _ in 0..<flips { bytes[Int.random(in: 0..<(8 + n), using: &rng)] ^= 1 << UInt8.random(in: 0..<8, using: &rng) }
            return (bytes, "\(flips) bit flips in length and header")
        case 1:
            let keep = Int.random(in: 0..<bytes.count, using: &rng)
            return (Array(bytes[0..<keep]), "truncated to \(keep) bytes")
        case 2:
            let length = hostileLengths.randomElement(using: &rng)!
            withUnsafeBytes(of: length.littleEndian) { bytes.replaceSubrange(0..<8, with: $0) }
            return (bytes, "header length \(length)")
        default:
            // Rewrite the header JSON with one hostile field, keep the data, fix the length prefix.
            guard var header = try? JSONSerialization.jsonObject(with: Data(bytes[8..<(8 + n)])) as? [String: Any] else {
                return (bytes, "unchanged")
            }
            let names = header.keys.filter { $0 != "__metadata__" }.sorted()
            let name = names.randomElement(using: &rng)!
            var entry = header[name] as? [String: Any] ?? [:]
            let what: String
            switch Int.random(in: 0..<6, using: &rng) {
            case 0: let v = hostileOffsets.randomElement(using: &rng)!; entry["data_offsets"] = v; what = "\(name).data_offsets = \(v)"
            case 1: let v = hostileShapes.randomElement(using: &rng)!; entry["shape"] = v; what = "\(name).shape = \(v)"
            case 2: let v = hostileDTypes.randomElement(using: &rng)!; entry["dtype"] = v; what = "\(name).dtype = \(v)"
            case 3: let k = ["dtype", "shape", "data_offsets"].randomElement(using: &rng)!; entry[k] = nil; what = "\(name) without \(k)"
            case 4:
                let other = names.randomElement(using: &rng)!
                entry["data_offsets"] = (header[other] as? [String: Any])?["data_offsets"]; what = "\(name) takes \(other)'s offsets"
            default: header["__metadata__"] = ["a": 1]; what = "__metadata__ with a number"
            }
            header[name] = entry
            guard let json = try? JSONSerialization.data(withJSONObject: header) else { return (bytes, "unchanged") }
            var out: [UInt8] = []
            withUnsafeBytes(of: UInt64(json.count).littleEndian) { out.append(contentsOf: $0) }
            out.append(contentsOf: json)
            out.append(contentsOf: bytes[(8 + n)...])
            return (out, what)
        }
    }
}
