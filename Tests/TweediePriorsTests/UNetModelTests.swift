// The assembled U-Net on tiny configurations of both architectures: forward
// pass against the independent Float64 reference network, the input VJP
// against central finite differences of that reference, the denoiser's x̂0
// and pullback, and the loader's errors for mismatched weights and configs.

import Foundation
import Testing
import TweedieCore
@testable import TweediePriors

enum TinyConfigs {
    /// improved-diffusion style: legacy attention order, scale-shift norm, conv resampling.
    static let improved = UNetConfig(architecture: .improvedDiffusion, imageSize: 4, inChannels: 2, numChannels: 32,
                                     numResBlocks: 1, channelMult: [1, 2], attentionResolutions: [2], numHeads: 2,
                                     useScaleShiftNorm: true)
    /// guided-diffusion style: new attention order, num_head_channels, up/down ResBlocks, additive
    /// embedding, learn_sigma, attention at two resolutions.
    static let guided = UNetConfig(architecture: .guidedDiffusion, imageSize: 4, inChannels: 1, numChannels: 32,
                                   numResBlocks: 1, channelMult: [1, 2], attentionResolutions: [4, 2], numHeads: 4,
                                   numHeadChannels: 16, useScaleShiftNorm: false, resblockUpdown: true,
                                   useNewAttentionOrder: true, learnSigma: true)
}

@Suite struct UNetModelTests {
    func checkNetwork(_ config: UNetConfig, seed: UInt64) throws {
        let dict = RefNet.randomStateDict(config, seed: seed)
        let model = try UNetModel(config: config, stateDict: dict, source: "test")
        #expect(model.parameterCount == dict.values.reduce(0) { $0 + $1.count })
        var rng = TestRandom(seed: seed + 1)
        let b = 2, s = config.imageSize
        let x = rng.floats(b * config.inChannels * s * s)
        let t = [3, 871]
        let y = try model.forward(x, batch: b, height: s, width: s, timesteps: t)
        let ref = { (xd: [Double]) in RefNet.forward(dict, config, x: xd, batch: b, timesteps: t) }
        let yRef = ref(x.doubles)
        let fwdErr = maxRelativeError(y.doubles, yRef)
        #expect(fwdErr < 1e-4, "\(config.architecture) forward: \(fwdErr)")
        let v = rng.floats(y.count)
        let dx = try model.inputGradient(v)
        let err = directionalError(ref, at: x.doubles, cotangent: v.doubles, vjp: dx.doubles, directions: 3, rng: &rng)
        #expect(err < 1e-4, "\(config.architecture) VJP: \(err)")
        // A second VJP of the same forward pass gives the same result (the backward keeps the tape intact).
        #expect(try model.inputGradient(v) == dx)
    }

    @Test func improvedDiffusionNetworkMatchesReferenceAndFiniteDifferences() throws {
        try checkNetwork(TinyConfigs.improved, seed: 100)
    }

    @Test func guidedDiffusionNetworkMatchesReferenceAndFiniteDifferences() throws {
        try checkNetwork(TinyConfigs.guided, seed: 200)
    }

    @Test func denoiserConvertsAndPullsBackExactly() throws {
        let config = TinyConfigs.guided  // learn_sigma: the variance half must be ignored
        let dict = RefNet.randomStateDict(config, seed: 300)
        let schedule = try NoiseSchedule(kind: .cosine, steps: 1000)
        var rng = TestRandom(seed: 301)
        let shape = ImageShape(channels: 1, height: 4, width: 4)
        let xt = try ImageBatch(count: 3, shape: shape, data: rng.floats(3 * shape.count))
        let t = [5, 400, 999]
        let v = try ImageBatch(count: 3, shape: shape, data: rng.floats(3 * shape.count))
        // x̂0 of the Float64 reference network, ε-prediction.
        let refX0 = { (xd: [Double]) -> [Double] in
            let out = RefNet.forward(dict, config, x: xd, batch: 3, timesteps: t)
            var x0 = [Double](repeating: 0, count: xd.count)
            for n in 0..<3 {
                let ab = schedule.alphasCumprod[t[n]]
                for i in 0..<shape.count {
                    x0[n * shape.count + i] = (xd[n * shape.count + i] - (1 - ab).squareRoot() * out[n * 2 * shape.count + i]) / ab.squareRoot()
                }
            }
            return x0
        }
        var reference: ImageBatch?
        for maxBatch in [16, 2] {  // one chunk, and chunks with recomputation
            let model = try UNetModel(config: config, stateDict: dict, source: "test")
            let denoiser = UNetDenoiser(model: model, schedule: schedule, maxBatch: maxBatch)
            let (pred, pullback) = try denoiser.predictWithPullback(xt, timesteps: t)
            #expect(maxRelativeError(pred.x0.data.doubles, refX0(xt.data.doubles)) < 1e-4)
            // ε̂ is the first half of the channels.
            let out = RefNet.forward(dict, config, x: xt.data.doubles, batch: 3, timesteps: t)
            let epsRef = (0..<3).flatMap { n in out[(n * 2 * shape.count)..<(n * 2 * shape.count + shape.count)] }
            #expect(maxRelativeError(pred.eps.data.doubles, Array(epsRef)) < 1e-4)
            // An unrelated call in between: the pullback must recompute, not use a stale tape.
            _ = try denoiser.predict(try ImageBatch(count: 1, shape: shape, data: rng.floats(shape.count)), timesteps: [7])
            let g = try pullback(v)
            if let reference {
                // Chunked and recomputed: the same as the single-chunk pullback checked below.
                #expect(maxRelativeError(g.data.doubles, reference.data.doubles) < 1e-5)
            } else {
                var r = TestRandom(seed: 302)
                let err = directionalError(refX0, at: xt.data.doubles, cotangent: v.data.doubles, vjp: g.data.doubles,
                                           directions: 3, rng: &r)
                #expect(err < 1e-4, "denoiser pullback: \(err)")
                reference = g
            }
            let plain = try denoiser.predict(xt, timesteps: t)
            #expect(plain.x0.data == pred.x0.data)
        }
    }

    @Test func denoiserRejectsBadInput() throws {
        let config = TinyConfigs.improved
        let model = try UNetModel(config: config, stateDict: RefNet.randomStateDict(config, seed: 1), source: "test")
        let denoiser = UNetDenoiser(model: model, schedule: try NoiseSchedule(kind: .linear, steps: 100))
        let good = ImageBatch(count: 1, shape: ImageShape(channels: 2, height: 4, width: 4))
        #expect(throws: TweedieError.self) { try denoiser.predict(good, timesteps: [100]) }
        #expect(throws: TweedieError.self) { try denoiser.predict(good, timesteps: [1, 2]) }
        let wrong = ImageBatch(count: 1, shape: ImageShape(channels: 1, height: 4, width: 4))
        #expect(throws: TweedieError.self) { try denoiser.predict(wrong, timesteps: [1]) }
    }

    // MARK: Loading errors

    func loadError(_ config: UNetConfig, _ dict: StateDict) -> String? {
        do {
            _ = try UNetModel(config: config, stateDict: dict, source: "ckpt.safetensors")
            return nil
        } catch let e as TweedieError {
            return e.description
        } catch {
            return "unexpected error type \(error)"
        }
    }

    @Test func missingUnexpectedAndMisshapedTensorsAreNamed() throws {
        let config = TinyConfigs.improved
        let dict = RefNet.randomStateDict(config, seed: 7)
        #expect(loadError(config, dict) == nil)

        var missing = dict
        missing["input_blocks.1.0.in_layers.2.weight"] = nil
        let m = try #require(loadError(config, missing))
        #expect(m.hasPrefix("ckpt.safetensors: missing tensor 'input_blocks.1.0.in_layers.2.weight'"), "\(m)")

        var extra = dict
        extra["label_emb.weight"] = ParameterTensor(shape: [10, 128], values: .init(repeating: 0, count: 1280))
        let u = try #require(loadError(config, extra))
        #expect(u.contains("unexpected tensor 'label_emb.weight'"), "\(u)")

        var bad = dict
        bad["middle_block.1.qkv.weight"] = ParameterTensor(shape: [192, 64], values: .init(repeating: 0, count: 192 * 64))
        let s = try #require(loadError(config, bad))
        #expect(s.contains("tensor 'middle_block.1.qkv.weight' has shape [192, 64] in the checkpoint but the config needs [192, 64, 1]"), "\(s)")
    }

    @Test func configThatDoesNotMatchTheWeightsIsAClearError() throws {
        let dict = RefNet.randomStateDict(TinyConfigs.improved, seed: 8)
        var wider = TinyConfigs.improved
        wider.numChannels = 64
        let w = try #require(loadError(wider, dict))
        #expect(w.contains("the config does not match the weights") && w.contains("num_channels 64"), "\(w)")
        var sigma = TinyConfigs.improved
        sigma.learnSigma = true
        let l = try #require(loadError(sigma, dict))
        #expect(l.contains("'out.2.weight'") && l.contains("[4, 32, 3, 3]"), "\(l)")
        var arch = TinyConfigs.improved
        arch.useNewAttentionOrder = true
        #expect(throws: TweedieError.self) { _ = try UNetModel(config: arch, stateDict: dict, source: "x") }
    }

    @Test func invalidConfigsAreRejected() {
        var c = TinyConfigs.improved
        c.numChannels = 48
        #expect(throws: TweedieError.self) { try c.validate() }
        c = TinyConfigs.improved
        c.imageSize = 6
        c.channelMult = [1, 2, 2]
        #expect(throws: TweedieError.self) { try c.validate() }
        c = TinyConfigs.improved
        c.numHeads = 3
        #expect(throws: TweedieError.self) { try c.validate() }
        c = TinyConfigs.guided
        c.numHeadChannels = 24
        #expect(throws: TweedieError.self) { try c.validate() }
    }

    @Test func forwardRejectsBadShapes() throws {
        let config = TinyConfigs.improved
        let model = try UNetModel(config: config, stateDict: RefNet.randomStateDict(config, seed: 9), source: "test")
        #expect(throws: TweedieError.self) { _ = try model.inputGradient([0]) }
        #expect(throws: TweedieError.self) { _ = try model.forward([Float](repeating: 0, count: 10), batch: 1, height: 4, width: 4, timesteps: [0]) }
        #expect(throws: TweedieError.self) { _ = try model.forward([Float](repeating: 0, count: 2 * 9), batch: 1, height: 3, width: 3, timesteps: [0]) }
        #expect(throws: TweedieError.self) { _ = try model.forward([Float](repeating: 0, count: 32), batch: 1, height: 4, width: 4, timesteps: [0, 1]) }
        _ = try model.forward([Float](repeating: 0, count: 32), batch: 1, height: 4, width: 4, timesteps: [0])
        #expect(throws: TweedieError.self) { _ = try model.inputGradient([0]) }
    }
}

@Suite struct UNetThreadingTests {
    /// One worker and several give the same network (the parallel paths only partition the work):
    /// 16×16 images, a Winograd budget small enough for several chunks per convolution.
    @Test func workerCountDoesNotChangeTheResult() throws {
        var config = TinyConfigs.guided
        config.imageSize = 16
        let dict = RefNet.randomStateDict(config, seed: 500)
        var rng = TestRandom(seed: 501)
        let x = rng.floats(3 * 256), v = rng.floats(3 * 2 * 256)
        let saved = UNetThreading.threads
        defer { UNetThreading.setThreads(saved) }
        var results: [([Float], [Float])] = []
        for workers in [1, 3, 3] {
            UNetThreading.setThreads(workers)
            let model = try UNetModel(config: config, stateDict: dict, source: "test")
            model.workspace.conv.winograd.budget = 36 * 64 * 4  // one tile row per chunk
            let y = try model.forward(x, batch: 3, height: 16, width: 16, timesteps: [1, 50, 900])
            results.append((y, try model.inputGradient(v)))
        }
        // Not bitwise: OpenBLAS rounds a column slice of a product slightly differently from the whole
        // (different tail kernels); a wrong partition would be off by O(1).
        #expect(maxRelativeError(results[0].0.doubles, results[1].0.doubles) < 3e-5)
        #expect(maxRelativeError(results[0].1.doubles, results[1].1.doubles) < 3e-5)
        // Deterministic: the same worker count twice gives the same bits (no races between workers).
        #expect(results[1].0 == results[2].0 && results[1].1 == results[2].1)
    }
}
