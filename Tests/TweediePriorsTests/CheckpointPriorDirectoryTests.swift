// Prior directories (DESIGN §4.4): import from a torch.save file, reading back,
// config validation, weights-vs-config checks (stem shapes and a hand-written
// full parameter list standing in for the U-Net's), variance-map recording,
// and SHA-256 against FIPS 180-4 test vectors and hashlib's digests.
import Foundation
import Testing
import TweedieCore
@testable import TweediePriors

@Suite struct CheckpointPriorDirectoryTests {
    /// Flags matching the stem of Fixtures/checkpoint/importable.pt (in 3, base 4, no learn_sigma).
    static func flags(_ edit: (inout [String: Any]) -> Void = { _ in }) -> Data {
        var o: [String: Any] = [
            "image_size": 8, "in_channels": 3, "num_channels": 4, "num_res_blocks": 1, "channel_mult": "1,2",
            "attention_resolutions": "4", "learn_sigma": false, "noise_schedule": "cosine", "diffusion_steps": 1000,
            "rescale_timesteps": true, "lr": 0.0001,
            "bands": ["g", "r", "i"], "pixel_scale": ["value": 0.4, "unit": "kpc/px"],
            "pixel_transform": ["type": "asinh", "softening": 0.02, "gain": 1.5, "offset": -0.5],
        ]
        edit(&o)
        return try! JSONSerialization.data(withJSONObject: o)
    }

    static func writeFlags(_ dir: URL, _ edit: (inout [String: Any]) -> Void = { _ in }) throws -> URL {
        let url = dir.appendingPathComponent("flags-\(UUID().uuidString).json")
        try flags(edit).write(to: url)
        return url
    }

    static func entries(_ dir: URL) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).sorted()
    }

    @Test func importWritesAPriorThatReadsBackAsTorchWroteIt() throws {
        let dir = try CheckpointFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let flags = try Self.writeFlags(dir)
        let out = dir.appendingPathComponent("priors/tiny")
        let report = try PriorImport.run(checkpoint: CheckpointFixtures.url("importable.pt"), flags: flags, output: out)
        #expect(Self.entries(out) == ["README.md", "config.json", "weights.safetensors"])
        #expect(Self.entries(dir.appendingPathComponent("priors")) == ["tiny"])  // no staging left
        #expect(report.sourceSHA256 == CheckpointFixtures.sha256["importable.pt"])

        let prior = try PriorDirectory.open(out)
        let c = prior.config
        #expect(c.name == "tiny")
        #expect(c.bands == ["g", "r", "i"])
        #expect(c.pixelScale == PixelScale(value: 0.4, unit: .kiloparsecPerPixel))
        #expect(c.pixelTransform == .asinh(softening: 0.02, gain: 1.5, offset: -0.5))
        #expect(c.predictionType == .epsilon)
        #expect(c.unet.channelMult == [1, 2] && c.unet.attentionResolutions == [4] && c.unet.noiseSchedule == .cosine)
        #expect(c.otherKeys["rescale_timesteps"] == .bool(true))
        #expect(c.otherKeys["lr"] == .number(0.0001))
        #expect(try c.schedule().count == 1000)

        let expected = CheckpointFixtures.tensors("importable_pt")
        #expect(prior.parameterCount == expected.values.reduce(0) { $0 + $1.values.count })
        #expect(prior.tensorCount == expected.count)
        #expect(prior.storedDTypeCounts == [.float32: expected.count])
        let weights = try prior.loadWeights()
        for (name, want) in expected { #expect(CheckpointFixtures.matches(weights[name], want), "tensor \(name)") }

        let (sha, verified) = try prior.verifyWeightsChecksum()
        #expect(verified && sha == report.weightsSHA256)
        #expect(sha == SHA256.hex(try Data(contentsOf: prior.weightsURL)))
        let card = try #require(try prior.modelCard())
        #expect(card.contains(report.sourceSHA256) && card.contains("importable.pt") && card.contains(sha))
    }

    @Test func configWhoseChannelCountsDisagreeIsRejectedAndLeavesNothing() throws {
        let dir = try CheckpointFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let cases: [((inout [String: Any]) -> Void, String)] = [
            ({ $0["num_channels"] = 8 }, "'input_blocks.0.0.weight' is [4, 3, 3, 3] but the config implies [8, 3, 3, 3]"),
            ({ $0["in_channels"] = 1; $0["bands"] = ["r"] }, "'input_blocks.0.0.weight' is [4, 3, 3, 3] but the config implies [4, 1, 3, 3]"),
            ({ $0["learn_sigma"] = true }, "'out.2.weight' is [3, 4, 3, 3] but the config implies [6, 4, 3, 3]"),
        ]
        for (edit, phrase) in cases {
            let flags = try Self.writeFlags(dir, edit)
            let out = dir.appendingPathComponent("out")
            do {
                _ = try PriorImport.run(checkpoint: CheckpointFixtures.url("importable.pt"), flags: flags, output: out)
                Issue.record("mismatched config accepted")
            } catch let e as TweedieError {
                #expect(e.description.contains(phrase), "\(e.description)")
            }
            #expect(!Self.entries(dir).contains { $0.hasPrefix(".out") || $0 == "out" })
        }
    }

    @Test func nonFiniteWeightsAreRefusedNamingTheTensor() throws {
        let dir = try CheckpointFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        // plain.pt holds float16 infinities on purpose.
        do {
            _ = try PriorImport.run(checkpoint: CheckpointFixtures.url("plain.pt"), flags: try Self.writeFlags(dir),
                                    output: dir.appendingPathComponent("p"))
            Issue.record("non-finite weights accepted")
        } catch let e as TweedieError {
            #expect(e.description.contains("'input_blocks.1.0.out_layers.0.bias'") && e.description.contains("non-finite"))
        }
    }

    /// A hand-written full parameter list stands in for the U-Net's (the hook `layout`).
    @Test func fullParameterListNamesMissingUnexpectedAndMisshapedTensors() throws {
        let actual: ParameterShapes = CheckpointFixtures.tensors("importable_pt").mapValues(\.shape)
        try ParameterValidation.validate(actual, against: actual, source: "w")
        var expected = actual
        expected["input_blocks.1.0.skip_connection.weight"] = [4, 4, 1, 1]   // the file lacks it
        expected.removeValue(forKey: "middle_block.2.scale")                   // the file has it extra
        expected["middle_block.1.qkv.weight"] = [12, 4, 1]                    // wrong shape
        do {
            try ParameterValidation.validate(actual, against: expected, source: "w.safetensors")
            Issue.record("mismatch accepted")
        } catch let e as TweedieError {
            let m = e.description
            #expect(m.hasPrefix("w.safetensors: "))
            #expect(m.contains("missing: 'input_blocks.1.0.skip_connection.weight' [4, 4, 1, 1]"))
            #expect(m.contains("unexpected: 'middle_block.2.scale' []"))
            #expect(m.contains("'middle_block.1.qkv.weight' is [6, 5] but the config implies [12, 4, 1]"))
        }
        // Through the import hook.
        let dir = try CheckpointFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let flags = try Self.writeFlags(dir)
        let wrong = expected
        let good: ParameterLayout = { _ in actual }
        let bad: ParameterLayout = { _ in wrong }
        _ = try PriorImport.run(checkpoint: CheckpointFixtures.url("importable.pt"), flags: flags,
                                output: dir.appendingPathComponent("ok"), layout: good)
        #expect(throws: TweedieError.self) {
            _ = try PriorImport.run(checkpoint: CheckpointFixtures.url("importable.pt"), flags: flags,
                                    output: dir.appendingPathComponent("bad"), layout: bad)
        }
        let prior = try PriorDirectory.open(dir.appendingPathComponent("ok"))
        try prior.validateWeights(layout: good)
        #expect(throws: TweedieError.self) { try prior.validateWeights(layout: bad) }
    }

    @Test func stemShapesFollowImprovedAndGuidedDiffusion() {
        // improved-diffusion: input conv to num_channels, out conv from num_channels; guided: × channel_mult[0].
        var u = UNetConfig(imageSize: 64, inChannels: 1, numChannels: 64, numResBlocks: 2, channelMult: [1, 2, 2], learnSigma: true)
        var s = ParameterValidation.stemShapes(for: u)
        #expect(s["time_embed.0.weight"] == [256, 64] && s["time_embed.2.weight"] == [256, 256])
        #expect(s["input_blocks.0.0.weight"] == [64, 1, 3, 3] && s["out.2.weight"] == [2, 64, 3, 3])
        u.architecture = .guidedDiffusion
        u.channelMult = [2, 4]
        s = ParameterValidation.stemShapes(for: u)
        #expect(s["input_blocks.0.0.weight"] == [128, 1, 3, 3] && s["out.0.weight"] == [128] && s["out.2.weight"] == [2, 128, 3, 3])
    }

    @Test(arguments: [
        ("pixel_scale", "missing key 'pixel_scale'"),
        ("pixel_unit", "pixel_scale unit 'parsec' is not known"),
        ("pixel_transform", "missing key 'pixel_transform'"),
        ("transform_type", "pixel_transform type 'log' is not known"),
        ("softening", "softening must be positive"),
        ("bands", "names 2 band(s) but in_channels is 3"),
        ("prediction", "'prediction_type' is 'x0' but predict_xstart is false"),
        ("class_cond", "class-conditional networks are not supported"),
        ("schedule", "'noise_schedule' must be one of linear, cosine"),
        ("image_size", "missing U-Net flag 'image_size'"),
        ("variance", "variance_map needs 'samples'"),
    ])
    func badConfigsNameTheKey(caseName: String, phrase: String) throws {
        let data = Self.flags { o in
            switch caseName {
            case "pixel_scale": o.removeValue(forKey: "pixel_scale")
            case "pixel_unit": o["pixel_scale"] = ["value": 1, "unit": "parsec"]
            case "pixel_transform": o.removeValue(forKey: "pixel_transform")
            case "transform_type": o["pixel_transform"] = ["type": "log"]
            case "softening": o["pixel_transform"] = ["type": "asinh", "softening": 0]
            case "bands": o["bands"] = ["g", "r"]
            case "prediction": o["prediction_type"] = "x0"
            case "class_cond": o["class_cond"] = true
            case "schedule": o["noise_schedule"] = "sigmoid"
            case "image_size": o.removeValue(forKey: "image_size")
            case "variance": o["variance_map"] = ["file": "variance.fits", "space": "network"]
            default: break
            }
        }
        do {
            _ = try PriorConfig.parse(data, path: "flags.json", defaultName: "x")
            Issue.record("\(caseName) accepted")
        } catch let e as TweedieError {
            #expect(e.description.hasPrefix("flags.json: "))
            #expect(e.description.contains(phrase), "\(e.description)")
        }
    }

    @Test func configRoundTripsThroughJSON() throws {
        let data = Self.flags { o in
            o["pixel_scale"] = ["value": 0.168, "unit": "arcsec/px"]
            o["pixel_transform"] = ["type": "gamma-root", "gamma": 2.5, "max": 3.0]
            o["predict_xstart"] = true
            o["variance_map"] = ["file": "variance.fits", "samples": 512, "space": "physical"]
        }
        let a = try PriorConfig.parse(data, path: "a", defaultName: "n")
        #expect(a.predictionType == .x0)
        let b = try PriorConfig.parse(try a.jsonData(), path: "b", defaultName: "other")
        #expect(b.unet == a.unet && b.name == "n" && b.bands == a.bands && b.pixelScale == a.pixelScale)
        #expect(b.pixelTransform == .gammaRoot(gamma: 2.5, maxValue: 3.0) && b.predictionType == .x0)
        #expect(b.varianceMap == VarianceMapInfo(file: "variance.fits", samples: 512, space: .physical))
        #expect(b.otherKeys == a.otherKeys)
        // The transform object is the core's.
        let t = b.pixelTransform.makeTransform()
        #expect(abs(t.toPhysical(t.toNetwork(0.7)) - 0.7) < 1e-6)
    }

    /// The layout Priors/training/train.py writes: metadata nested under "prior", the pixel scale as a
    /// number with "pixel_scale_unit", extra keys ("flux_unit", "generator", "training") to keep.
    @Test func readsTheTrainingPipelinesLayoutAndKeepsItsExtraKeys() throws {
        let text = """
        {"architecture": "improved-diffusion", "image_size": 64, "in_channels": 3, "num_channels": 64,
         "num_res_blocks": 2, "channel_mult": [1, 2, 2], "attention_resolutions": [16], "num_heads": 4,
         "num_head_channels": -1, "num_heads_upsample": -1, "use_scale_shift_norm": true,
         "resblock_updown": false, "use_new_attention_order": false, "learn_sigma": false, "dropout": 0.0,
         "diffusion_steps": 1000, "noise_schedule": "cosine", "predict_xstart": false,
         "prediction_type": "epsilon",
         "prior": {"name": "galaxy-gri-64", "bands": ["g", "r", "i"], "image_size": 64,
                   "pixel_scale": 0.25, "pixel_scale_unit": "kpc/pixel",
                   "flux_unit": "normalised", "pixel_transform": {"type": "asinh", "softening": 0.01, "gain": 1.0, "offset": 0.0},
                   "generator": {"module": "galaxies.py", "version": 2}},
         "training": {"steps": 1000, "loss": "mse"}}
        """
        let a = try PriorConfig.parse(Data(text.utf8), path: "config.json", defaultName: "dir")
        #expect(a.name == "galaxy-gri-64" && a.bands == ["g", "r", "i"])
        #expect(a.pixelScale == PixelScale(value: 0.25, unit: .kiloparsecPerPixel))
        #expect(a.pixelTransform == .asinh(softening: 0.01, gain: 1, offset: 0))
        #expect(a.otherKeys["training"] == .object(["steps": .number(1000), "loss": .string("mse")]))
        #expect(a.otherPriorKeys["flux_unit"] == .string("normalised"))
        let b = try PriorConfig.parse(try a.jsonData(), path: "b", defaultName: "x")
        #expect(b.name == a.name && b.pixelScale == a.pixelScale && b.unet == a.unet)
        #expect(b.otherKeys == a.otherKeys && b.otherPriorKeys == a.otherPriorKeys)
        // The prior's image size must agree with the network's.
        let wrong = text.replacingOccurrences(of: "\"i\"], \"image_size\": 64", with: "\"i\"], \"image_size\": 32")
        #expect(wrong != text)
        #expect(throws: TweedieError.self) { _ = try PriorConfig.parse(Data(wrong.utf8), path: "c", defaultName: "x") }
    }

    @Test func varianceMapIsRecordedAndMustExist() throws {
        let dir = try CheckpointFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("p")
        _ = try PriorImport.run(checkpoint: CheckpointFixtures.url("importable.pt"), flags: try Self.writeFlags(dir), output: out)
        var prior = try PriorDirectory.open(out)
        #expect(prior.varianceMapURL == nil)
        #expect(throws: TweedieError.self) { _ = try prior.recordingVarianceMap(VarianceMapInfo(samples: 256, space: .network)) }
        try Data("SIMPLE  =                    T".utf8).write(to: out.appendingPathComponent("variance.fits"))
        prior = try prior.recordingVarianceMap(VarianceMapInfo(samples: 256, space: .network))
        #expect(prior.config.varianceMap?.samples == 256)
        #expect(prior.varianceMapURL?.lastPathComponent == "variance.fits")
        // The weights checksum still holds after the config was rewritten.
        #expect(try prior.verifyWeightsChecksum().verified)
        try FileManager.default.removeItem(at: out.appendingPathComponent("variance.fits"))
        do {
            _ = try PriorDirectory.open(out)
            Issue.record("missing variance map accepted")
        } catch let e as TweedieError {
            #expect(e.description.contains("variance map 'variance.fits'"))
        }
    }

    @Test func existingDirectoryNeedsOverwriteAndDamagedWeightsAreCaught() throws {
        let dir = try CheckpointFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let flags = try Self.writeFlags(dir)
        let out = dir.appendingPathComponent("p")
        _ = try PriorImport.run(checkpoint: CheckpointFixtures.url("importable.pt"), flags: flags, output: out)
        #expect(throws: TweedieError.self) {
            _ = try PriorImport.run(checkpoint: CheckpointFixtures.url("importable.pt"), flags: flags, output: out)
        }
        _ = try PriorImport.run(checkpoint: CheckpointFixtures.url("importable.pt"), flags: flags, output: out,
                                name: "renamed", overwrite: true)
        #expect(try PriorDirectory.open(out).config.name == "renamed")
        #expect(Self.entries(dir).filter { $0.hasPrefix(".") }.isEmpty)
        // Flip one byte of a weight value: the header stays valid, the checksum does not.
        let w = out.appendingPathComponent("weights.safetensors")
        var bytes = try Data(contentsOf: w)
        bytes[bytes.count - 3] ^= 0x01
        try bytes.write(to: w)
        do {
            _ = try PriorDirectory.open(out).verifyWeightsChecksum()
            Issue.record("damaged weights accepted")
        } catch let e as TweedieError {
            #expect(e.description.contains("recorded in config.json"))
        }
    }

    // MARK: - SHA-256

    @Test func sha256MatchesFIPSVectors() {
        #expect(SHA256.hex(Data()) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex(Data("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hex(Data("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(SHA256.hex(Data(repeating: UInt8(ascii: "a"), count: 1_000_000))
                == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test func sha256OfFilesMatchesHashlibAndStreamingIsChunkInvariant() throws {
        for (name, digest) in CheckpointFixtures.sha256 {
            #expect(try SHA256.hex(fileAt: CheckpointFixtures.url(name)) == digest, "\(name)")
        }
        let data = try Data(contentsOf: CheckpointFixtures.url("plain.pt"))
        for chunk in [1, 7, 63, 64, 65, 1000] {
            var s = SHA256()
            var i = 0
            while i < data.count { s.update(data[i..<min(i + chunk, data.count)]); i += chunk }
            #expect(s.hexDigest() == CheckpointFixtures.sha256["plain.pt"])
        }
    }
}
