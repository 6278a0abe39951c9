// Parity of the Swift U-Net with the PyTorch UNetModel (Priors/training/unet.py,
// the improved-/guided-diffusion architecture and names): random-weight
// networks of both architectures, written by
// Fixtures/make_unet_fixtures.py as `.pt` and safetensors together with inputs,
// timesteps, the network output and the input VJP for a random cotangent
// (computed by PyTorch autograd in float64). Outputs and VJPs must agree to
// 1e-4 relative (max |Δ| / max |reference|).

import Foundation
import Testing
import TweedieCore
@testable import TweediePriors

enum UNetFixtures {
    static var directory: URL { Bundle.module.resourceURL!.appendingPathComponent("Fixtures/unet") }

    static func config(_ name: String) throws -> UNetConfig {
        let data = try Data(contentsOf: directory.appendingPathComponent("\(name).json"))
        let json = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let cfg = try JSONSerialization.data(withJSONObject: try #require(json["config"]))
        return try JSONDecoder().decode(UNetConfig.self, from: cfg)
    }

    struct IO {
        var x: ParameterTensor, timesteps: [Int], out: ParameterTensor, cotangent: ParameterTensor, vjp: ParameterTensor
    }

    static func io(_ name: String) throws -> IO {
        let t = try SafeTensors.read(contentsOf: directory.appendingPathComponent("\(name)_io.safetensors")).tensors
        return IO(x: try #require(t["x"]), timesteps: try #require(t["timesteps"]).values.map { Int($0) },
                  out: try #require(t["out"]), cotangent: try #require(t["cotangent"]), vjp: try #require(t["vjp"]))
    }
}

@Suite struct UNetParityTests {
    func checkParity(_ name: String, stateDict: StateDict, source: String,
                     convolution: ConvolutionAlgorithm = .automatic) throws {
        let config = try UNetFixtures.config(name)
        let io = try UNetFixtures.io(name)
        let model = try UNetModel(config: config, stateDict: stateDict, source: source, convolution: convolution)
        let b = io.x.shape[0], h = io.x.shape[2], w = io.x.shape[3]
        #expect(io.out.shape == [b, config.outChannels, h, w])
        let out = try model.forward(io.x.values, batch: b, height: h, width: w, timesteps: io.timesteps)
        let outErr = maxRelativeError(out.doubles, io.out.values.doubles)
        #expect(outErr < 1e-4, "\(name) (\(source)) output: relative error \(outErr)")
        let vjp = try model.inputGradient(io.cotangent.values)
        let vjpErr = maxRelativeError(vjp.doubles, io.vjp.values.doubles)
        #expect(vjpErr < 1e-4, "\(name) (\(source)) VJP: relative error \(vjpErr)")
    }

    @Test(arguments: ["improved", "guided"], [ConvolutionAlgorithm.im2col, .winograd2x2, .winograd4x4])
    func safetensorsParity(_ name: String, _ convolution: ConvolutionAlgorithm) throws {
        let url = UNetFixtures.directory.appendingPathComponent("\(name).safetensors")
        try checkParity(name, stateDict: try SafeTensors.read(contentsOf: url).tensors,
                        source: "\(url.lastPathComponent), \(convolution)", convolution: convolution)
    }

    @Test func fixtureParameterCountsMatchPyTorch() throws {
        for name in ["improved", "guided"] {
            let data = try Data(contentsOf: UNetFixtures.directory.appendingPathComponent("\(name).json"))
            let json = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
            let url = UNetFixtures.directory.appendingPathComponent("\(name).safetensors")
            let model = try UNetModel(config: try UNetFixtures.config(name),
                                      stateDict: try SafeTensors.read(contentsOf: url).tensors, source: name)
            #expect(model.parameterCount == (json["parameters"] as? Int), "\(name)")
        }
    }
}

@Suite struct UNetLayoutTests {
    /// The seed paper's prior (DESIGN §4.3): 369,547,779 parameters — Priors/training/unet.py gives the
    /// same count for learn_sigma false, and 369,552,966 with learn_sigma (python3 Priors/training/unet.py).
    @Test func seedPaperParameterCount() throws {
        var c = UNetConfig(architecture: .improvedDiffusion, imageSize: 256, inChannels: 3, numChannels: 192,
                           numResBlocks: 3, channelMult: [1, 1, 2, 2, 4, 4], attentionResolutions: [16, 8], numHeads: 4,
                           useScaleShiftNorm: true, learnSigma: false)
        #expect(try UNetModel.parameterCount(for: c) == 369_547_779)
        c.learnSigma = true
        #expect(try UNetModel.parameterCount(for: c) == 369_552_966)
        let shapes = try UNetModel.parameterShapes(for: c)
        #expect(shapes["input_blocks.1.0.in_layers.0.weight"] == [192])
        // Names and shapes as PyTorch lists them for this config (Priors/training/unet.py, meta device).
        #expect(shapes["input_blocks.16.0.op.weight"] == [384, 384, 3, 3])
        #expect(shapes["input_blocks.13.1.qkv.weight"] == nil)  // attention only at 16 and 8 px
        #expect(shapes["input_blocks.17.1.qkv.weight"] == [2304, 768, 1])
        #expect(shapes["output_blocks.7.2.conv.weight"] == [768, 768, 3, 3])
        #expect(shapes["output_blocks.11.1.conv.weight"] == [384, 384, 3, 3])
        #expect(shapes["out.2.weight"] == [6, 192, 3, 3])
    }

    /// The plan's names and shapes are exactly those of the PyTorch state dicts.
    @Test(arguments: ["improved", "guided"])
    func layoutMatchesPyTorchStateDict(_ name: String) throws {
        let url = UNetFixtures.directory.appendingPathComponent("\(name).safetensors")
        let dict = try SafeTensors.read(contentsOf: url).tensors
        #expect(try UNetModel.parameterShapes(for: try UNetFixtures.config(name)) == dict.mapValues(\.shape))
    }
}
@Suite struct UNetTorchCheckpointParityTests {
    /// The same networks read from `torch.save` files (improved: float32 storages; guided: float16).
    @Test(arguments: ["improved", "guided"])
    func ptParity(_ name: String) throws {
        let url = UNetFixtures.directory.appendingPathComponent("\(name).pt")
        let pt = try CheckpointLoader.load(url).tensors
        let st = try SafeTensors.read(contentsOf: UNetFixtures.directory.appendingPathComponent("\(name).safetensors")).tensors
        #expect(pt == st)  // the two formats hold the same values
        try UNetParityTests().checkParity(name, stateDict: pt, source: url.lastPathComponent)
    }
}

@Suite struct UNetPriorDirectoryTests {
    /// `tweedie prior import`'s library path with the U-Net's full layout, then the network and the
    /// denoiser read back from the directory reproduce PyTorch's output.
    @Test func importedPriorReproducesPyTorch() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("unet-prior-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let meta = try #require(try JSONSerialization.jsonObject(
            with: Data(contentsOf: UNetFixtures.directory.appendingPathComponent("improved.json"))) as? [String: Any])
        var flags = try #require(meta["config"] as? [String: Any])
        flags["bands"] = ["g", "r", "i"]
        flags["pixel_scale"] = ["value": 0.4, "unit": "kpc/px"]
        flags["pixel_transform"] = ["type": "affine", "scale": 1.0, "offset": 0.0]
        let flagsURL = dir.appendingPathComponent("flags.json")
        try JSONSerialization.data(withJSONObject: flags).write(to: flagsURL)
        let out = dir.appendingPathComponent("improved-prior")
        _ = try PriorImport.run(checkpoint: UNetFixtures.directory.appendingPathComponent("improved.pt"), flags: flagsURL,
                                output: out, layout: UNetModel.parameterLayout)
        let prior = try PriorDirectory.open(out)

        let io = try UNetFixtures.io("improved")
        let model = try UNetModel(prior: prior)
        let y = try model.forward(io.x.values, batch: 2, height: 32, width: 32, timesteps: io.timesteps)
        #expect(maxRelativeError(y.doubles, io.out.values.doubles) < 1e-4)

        let denoiser = try UNetDenoiser(prior: prior)
        #expect(denoiser.bands == ["g", "r", "i"] && denoiser.schedule.kind == .cosine && denoiser.predictionType == .epsilon)
        let xt = try ImageBatch(count: 2, shape: ImageShape(channels: 3, height: 32, width: 32), data: io.x.values)
        let pred = try denoiser.predict(xt, timesteps: io.timesteps)
        #expect(maxRelativeError(pred.eps.data.doubles, io.out.values.doubles) < 1e-4)

        // A config whose widths do not match the weights is refused by name at import.
        flags["num_channels"] = 64
        try JSONSerialization.data(withJSONObject: flags).write(to: flagsURL)
        #expect(throws: TweedieError.self) {
            _ = try PriorImport.run(checkpoint: UNetFixtures.directory.appendingPathComponent("improved.pt"), flags: flagsURL,
                                    output: dir.appendingPathComponent("wide"), layout: UNetModel.parameterLayout)
        }
    }
}
