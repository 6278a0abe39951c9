// Parity of the Swift U-Net with PyTorch on the weights the repository ships (issue 6: "Tweedie's
// network output on the shipped weights matches PyTorch's to 1e-4 relative on a fixed input").
// Every prior directory under Priors/Models/ carries parity.safetensors, written by
// Priors/training/parity_fixture.py: a seeded N(0, 1) input of 4 images at timesteps
// (0, 250, 500, 999) and the output of PyTorch's UNetModel on the same weights computed in float64,
// with the SHA-256 of the weights file it was made from. The Swift float32 network must agree to
// 1e-4 relative (max |Δ| / max |reference|), for each 3×3 convolution algorithm.

import Foundation
import Testing
import TweedieCore
@testable import TweediePriors

enum ShippedPriors {
    /// Priors/Models of this checkout (the test file lives in Tests/TweediePriorsTests/).
    static var models: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Priors/Models")
    }

    /// Names of the directories under Priors/Models that hold a prior (config.json).
    static var names: [String] {
        let fm = FileManager.default
        let entries = (try? fm.contentsOfDirectory(atPath: models.path)) ?? []
        return entries.sorted().filter {
            fm.fileExists(atPath: models.appendingPathComponent($0).appendingPathComponent("config.json").path)
        }
    }
}

@Suite struct ShippedPriorParityTests {
    @Test func repositoryShipsTheGalaxyAndRadioPriors() {
        #expect(ShippedPriors.names.contains("galaxy-gri-64"), "Priors/Models/galaxy-gri-64 is missing from the checkout")
        #expect(ShippedPriors.names.contains("radio-sky-64"), "Priors/Models/radio-sky-64 is missing from the checkout")
    }

    @Test(arguments: ShippedPriors.names, [ConvolutionAlgorithm.im2col, .winograd4x4])
    func networkMatchesPyTorchOnShippedWeights(_ name: String, _ convolution: ConvolutionAlgorithm) throws {
        let dirURL = ShippedPriors.models.appendingPathComponent(name)
        let fixtureURL = dirURL.appendingPathComponent("parity.safetensors")
        try #require(FileManager.default.fileExists(atPath: fixtureURL.path),
                     "\(name): parity.safetensors is missing; make it with python3 Priors/training/parity_fixture.py \(dirURL.path)")
        let dir = try PriorDirectory.open(dirURL)
        let fixture = try SafeTensors.read(contentsOf: fixtureURL)
        let sha = try dir.weightsChecksum()
        try #require(fixture.metadata["weights_sha256"] == sha,
                     "\(name): parity.safetensors was made from other weights (fixture \(fixture.metadata["weights_sha256"] ?? "none"), shipped \(sha)); rerun python3 Priors/training/parity_fixture.py \(dirURL.path)")
        let x = try #require(fixture.tensors["input"]), ref = try #require(fixture.tensors["output"])
        let t = try #require(fixture.tensors["timesteps"]).values.map { Int($0) }
        #expect(t == [0, 250, 500, 999])
        let model = try UNetModel(config: dir.config.unet, stateDict: try dir.loadWeights(),
                                  source: "\(name)/\(dir.config.weightsFile)", convolution: convolution)
        let b = x.shape[0], h = x.shape[2], w = x.shape[3]
        #expect(ref.shape == [b, dir.config.unet.outChannels, h, w])
        let out = try model.forward(x.values, batch: b, height: h, width: w, timesteps: t)
        let err = maxRelativeError(out.doubles, ref.values.doubles)
        #expect(err < 1e-4, "\(name) (\(convolution)): relative error \(err) against PyTorch")
    }
}
