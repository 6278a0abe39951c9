// safetensors reading and writing against files written by huggingface
// safetensors 0.8 from torch tensors (Fixtures/make_checkpoint_fixtures.py),
// half-precision widening against Swift's own Float16, and headers that lie.
import Foundation
import Testing
import TweedieCore
@testable import TweediePriors

@Suite struct CheckpointSafeTensorsTests {
    static let torchToSafeTensors = ["float32": "F32", "float16": "F16", "bfloat16": "BF16",
                                     "float64": "F64", "int64": "I64"]

    @Test func readsEveryTensorWrittenBySafetensors() throws {
        let contents = try SafeTensors.read(contentsOf: CheckpointFixtures.url("plain.safetensors"))
        let expected = CheckpointFixtures.tensors()
        #expect(Set(contents.tensors.keys) == Set(expected.keys))
        for (name, want) in expected {
            #expect(CheckpointFixtures.matches(contents.tensors[name], want), "tensor \(name)")
            #expect(contents.storedDTypes[name]?.rawValue == Self.torchToSafeTensors[want.dtype], "dtype of \(name)")
        }
        #expect(contents.metadata == ["source": "make_checkpoint_fixtures.py", "format": "pt"])
    }

    @Test func float16WideningAgreesWithSwiftFloat16ForAllBitPatterns() {
        for bits in 0...UInt16.max {
            let mine = float16BitsToFloat(bits)
            let reference = Float(Float16(bitPattern: bits))
            if reference.isNaN {
                #expect(mine.isNaN)
            } else {
                #expect(mine.bitPattern == reference.bitPattern, "bits 0x\(String(bits, radix: 16))")
            }
        }
    }

    @Test func bfloat16IsTheHighHalfOfFloat32() {
        #expect(bfloat16BitsToFloat(0x3F80) == 1)
        #expect(bfloat16BitsToFloat(0xC040) == -3)
        #expect(bfloat16BitsToFloat(0x7F80) == .infinity)
        #expect(bfloat16BitsToFloat(0x0001) == Float(bitPattern: 0x0001_0000))
    }

    @Test func writerRoundTripsAndAlignsTheBuffer() throws {
        var sd = StateDict()
        sd["b.weight"] = ParameterTensor(shape: [2, 3], values: [1, -2, 3.5, .infinity, 0, -0.0])
        sd["a \"quoted\"\\name"] = ParameterTensor(shape: [], values: [42])
        sd["empty"] = ParameterTensor(shape: [0, 4], values: [])
        let dir = try CheckpointFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("w.safetensors")
        let digest = try SafeTensors.write(sd, metadata: ["k": "v\n"], to: url)
        #expect(digest == SHA256.hex(try Data(contentsOf: url)))
        let header = try SafeTensors.readHeader(contentsOf: url)
        #expect(header.dataStart % 8 == 0)
        let back = try SafeTensors.read(contentsOf: url)
        #expect(back.tensors == sd)
        #expect(back.metadata == ["k": "v\n"])
        #expect(back.storedDTypes.values.allSatisfy { $0 == .float32 })
        // No temporary left beside the file.
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["w.safetensors"])
        // The in-memory encoder gives the same bytes.
        #expect(SafeTensors.encode(sd, metadata: ["k": "v\n"]) == (try Data(contentsOf: url)))
    }

    /// Each broken file must fail with a model error naming the file and, where one is at fault, the tensor.
    @Test(arguments: [
        ("bad_shape_lies.safetensors", ["time_embed.0.weight", "lies about sizes"]),
        ("bad_offsets_beyond_file.safetensors", ["beyond the end"]),
        ("bad_overlap.safetensors", ["overlap"]),
        ("bad_header_length.safetensors", ["header length", "past the end of the file"]),
        ("bad_truncated_data.safetensors", ["beyond the end"]),
    ])
    func lyingHeadersAreRejectedWithTheTensorNamed(file: String, phrases: [String]) throws {
        let url = CheckpointFixtures.url(file)
        do {
            _ = try SafeTensors.read(contentsOf: url)
            Issue.record("\(file) was accepted")
        } catch let error as TweedieError {
            guard case .model(let path, _) = error else { Issue.record("not a model error: \(error)"); return }
            #expect(path == url.path)
            for phrase in phrases { #expect(error.description.contains(phrase), "\(error.description)") }
        }
    }

    @Test func everyTruncationOfAGoodFileIsRejected() throws {
        let data = try Data(contentsOf: CheckpointFixtures.url("plain.safetensors"))
        for cut in 0..<data.count {
            #expect(throws: TweedieError.self) { _ = try SafeTensors.read(data.prefix(cut), path: "cut") }
        }
        #expect(throws: Never.self) { _ = try SafeTensors.read(data, path: "whole") }
    }

    @Test func headerThatIsNotJSONIsRejected() {
        var bytes = Data()
        var n = UInt64(8).littleEndian
        bytes.append(Data(bytes: &n, count: 8))
        bytes.append(Data("not json".utf8))
        #expect(throws: TweedieError.self) { _ = try SafeTensors.read(bytes, path: "x") }
        let text = Data(String(repeating: "plain text file ", count: 8).utf8)
        #expect(throws: TweedieError.self) { _ = try SafeTensors.read(text, path: "x") }
    }
}
