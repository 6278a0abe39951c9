// PyTorch .pt reading (zip and legacy formats, pickle protocols 2 and 4,
// DEFLATE-repacked archives, wrapped training checkpoints) against the values
// torch 2.13 itself wrote (Fixtures/make_checkpoint_fixtures.py), and
// truncated / corrupt / foreign files.
import Foundation
import TweedieTestSupport
import Testing
import TweedieCore
@testable import TweediePriors

@Suite struct CheckpointTorchTests {
    static let torchToDType: [String: TensorDType] = ["float32": .float32, "float16": .float16, "bfloat16": .bfloat16,
                                                      "float64": .float64, "int64": .int64]

    static func expectMatchesTorch(_ loaded: LoadedCheckpoint, _ expected: [String: CheckpointFixtures.Tensor] = CheckpointFixtures.tensors()) {
        #expect(Set(loaded.tensors.keys) == Set(expected.keys))
        for (name, want) in expected {
            #expect(CheckpointFixtures.matches(loaded.tensors[name], want), "tensor \(name) in \(loaded.path)")
            #expect(loaded.storedDTypes[name] == torchToDType[want.dtype], "dtype of \(name)")
        }
    }

    @Test(arguments: [("plain.pt", CheckpointFormat.torchZip), ("plain_protocol4.pt", .torchZip),
                      ("legacy.pt", .torchLegacy), ("deflated.pt", .torchZip), ("big_endian.pt", .torchZip), ("zip64.pt", .torchZip),
                      ("plain.safetensors", .safetensors)])
    func everyFormatGivesTorchsValues(file: String, format: CheckpointFormat) throws {
        let loaded = try CheckpointLoader.load(CheckpointFixtures.url(file))
        #expect(loaded.format == format)
        Self.expectMatchesTorch(loaded)
        // The F16 / BF16 / F64 / I64 conversions are reported.
        #expect(loaded.notes.contains { $0.contains("F16") })
        #expect(loaded.notes.contains { $0.contains("I64") && $0.contains("not floating point") })
    }

    @Test func nonContiguousAndSharedStoragesAreGathered() throws {
        // Spelled out from the fixture's construction: base = arange(60).reshape(6,10)/7, view base[1:5, 2:9:3].
        let loaded = try CheckpointLoader.load(CheckpointFixtures.url("plain.pt"))
        let view = try #require(loaded.tensors["middle_block.1.proj_out.weight"])
        #expect(view.shape == [4, 3])
        var want: [Float] = []
        for r in 1..<5 { for c in stride(from: 2, to: 9, by: 3) { want.append(Float(r * 10 + c) / 7) } }
        #expect(view.values == want)
        #expect(loaded.tensors["middle_block.1.norm.weight"]?.values == (0..<10).map { Float($0) / 7 })
        #expect(loaded.tensors["middle_block.2.scale"] == ParameterTensor(shape: [], values: [2.5]))
        #expect(loaded.tensors["output_blocks.0.0.empty"] == ParameterTensor(shape: [0], values: []))
    }

    @Test func wrappedTrainingCheckpointUsesItsStateDict() throws {
        let loaded = try CheckpointLoader.load(CheckpointFixtures.url("wrapped.pt"))
        Self.expectMatchesTorch(loaded)
        #expect(loaded.notes.contains { $0.contains("'state_dict'") })
    }

    @Test func emaIsPreferredAndKeyChoosesAnother() throws {
        let url = CheckpointFixtures.url("model_and_ema.pt")
        let ema = try CheckpointLoader.load(url)
        let emaBias = (CheckpointFixtures.expected["ema_time_embed_0_bias"] as! [NSNumber]).map { $0.floatValue }
        #expect(ema.tensors["time_embed.0.bias"]?.values == emaBias)
        #expect(ema.notes.contains { $0.contains("'ema'") })
        let model = try CheckpointLoader.load(url, key: "model")
        Self.expectMatchesTorch(model)
        do {
            _ = try CheckpointLoader.load(url, key: "nope")
            Issue.record("unknown key accepted")
        } catch let e as TweedieError {
            #expect(e.description.contains("'nope'") && e.description.contains("'ema'") && e.description.contains("'model'"))
        }
    }

    @Test func parametersSavedWithKeepVars() throws {
        let loaded = try CheckpointLoader.load(CheckpointFixtures.url("parameters.pt"))
        Self.expectMatchesTorch(loaded, CheckpointFixtures.tensors("parameters_pt"))
        #expect(loaded.parameterCount == 54 + 3)
    }

    @Test func foreignFileIsRejectedClearly() throws {
        let url = CheckpointFixtures.url("not_a_checkpoint.pt")
        do {
            _ = try CheckpointLoader.load(url)
            Issue.record("text file accepted")
        } catch let e as TweedieError {
            #expect(e.description.hasPrefix(url.path))
            #expect(e.description.contains("not a PyTorch"))
        }
        #expect(throws: TweedieError.self) { _ = try CheckpointLoader.load(CheckpointFixtures.url("missing.pt")) }
    }

    /// Writes `data` to a temporary file and loads it.
    static func load(_ data: Data, in dir: URL, name: String = "x.pt") throws -> LoadedCheckpoint {
        let url = dir.appendingPathComponent(name)
        try data.write(to: url)
        return try CheckpointLoader.load(url)
    }

    @Test(arguments: ["plain.pt", "legacy.pt", "deflated.pt", "zip64.pt"])
    func everyTruncationIsAnErrorNamingTheFile(file: String) throws {
        let data = try Data(contentsOf: CheckpointFixtures.url(file))
        let dir = try CheckpointFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("cut.pt")
        // Every cut in the first and last 64 bytes (headers, end records), ~256 spread over the rest.
        let step = max(1, data.count / 256)
        let cuts = Set(Array(0..<min(64, data.count)) + Array(stride(from: 64, to: data.count, by: step))
                       + Array(max(0, data.count - 64)..<data.count)).sorted()
        for cut in cuts {
            try data.prefix(cut).write(to: url)
            do {
                _ = try CheckpointLoader.load(url)
                Issue.record("\(file) cut to \(cut) bytes was accepted")
            } catch let e as TweedieError {
                #expect(e.description.hasPrefix(url.path), "\(e.description)")
            }
        }
    }

    @Test func damagedZipEntriesFailTheirCRC() throws {
        var data = try Data(contentsOf: CheckpointFixtures.url("plain.pt"))
        let zip = try ZipArchive(data: data, path: "plain.pt")
        let storage = try #require(zip.entries.first { $0.name.hasSuffix("data/0") })
        // Flip one byte inside the first storage record.
        let start = storage.localHeaderOffset + 30 + Int(ZipArchive.u16(data, storage.localHeaderOffset + 26))
            + Int(ZipArchive.u16(data, storage.localHeaderOffset + 28))
        data[start + 5] ^= 0x40
        let dir = try CheckpointFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        do {
            _ = try Self.load(data, in: dir)
            Issue.record("damaged storage accepted")
        } catch let e as TweedieError {
            #expect(e.description.contains("CRC-32"))
        }
    }

    /// Random byte damage to the pickle itself (run through the unpickler directly, as the zip CRC would stop it first):
    /// every outcome is a value or a TweedieError — no crash, no hang.
    @Test func corruptPicklesNeverCrash() throws {
        let zip = try ZipArchive(data: try Data(contentsOf: CheckpointFixtures.url("plain.pt")), path: "plain.pt")
        let pkl = try zip.contents(of: try #require(zip.entries.first { $0.name.hasSuffix("data.pkl") }))
        var rng = SplitMix64Generator(seed: 42)
        var failures = 0
        for trial in 0..<1000 {
            var bytes = Array(pkl)
            for _ in 0..<(1 + trial % 4) {
                let i = Int(rng.next() % UInt64(bytes.count))
                bytes[i] = UInt8(truncatingIfNeeded: rng.next())
            }
            let table = TorchCheckpoint.StorageTable()
            var u = Unpickler(Data(bytes), path: "fuzz", source: "data.pkl",
                              persistentLoad: TorchCheckpoint.persistentLoader(path: "fuzz", source: "data.pkl", table: table))
            do {
                let root = try u.load().value
                _ = try TorchCheckpoint.selectStateDict(root, key: nil, path: "fuzz")
            } catch is TweedieError {
                failures += 1
            }
        }
        #expect(failures > 50)  // most damage is detected; none crashes
    }

    @Test func legacyFileWithDamagedBytesNeverCrashes() throws {
        let good = try Data(contentsOf: CheckpointFixtures.url("legacy.pt"))
        let dir = try CheckpointFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var rng = SplitMix64Generator(seed: 7)
        let path = dir.appendingPathComponent("x.pt").path
        var rejected = 0
        for _ in 0..<300 {
            var bytes = good
            let i = Int(rng.next() % UInt64(bytes.count))
            bytes[i] = UInt8(truncatingIfNeeded: rng.next())
            // A damaged byte either loads (it fell in tensor data, which carries no checksum in the
            // legacy format, or changed nothing) or fails with an error that names the file.
            do { _ = try Self.load(bytes, in: dir) } catch let e as TweedieError {
                rejected += 1
                #expect(e.description.hasPrefix(path), "\(e.description)")
            }
        }
        // The pickle and header bytes are a sizeable part of this small file: some damage must be caught.
        #expect(rejected > 0, "no damaged byte was detected in 300 tries")
    }
}
