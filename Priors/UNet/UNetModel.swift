// The U-Net of openai improved-diffusion / guided-diffusion (`UNetModel`,
// without class conditioning), assembled from a UNetConfig and a StateDict
// with the repositories' parameter names, with a forward pass and the exact
// vector–Jacobian product with respect to the input image (DESIGN §4.3).
//
// Structure (ds = downsample factor, attention where ds ∈ attention set):
//   input_blocks.0    conv3×3 in → ch0 = mult[0]·C
//   per level l, num_res_blocks × ResBlock(→ mult[l]·C) [+ Attention], then
//   (except the last level) Downsample (conv `op` / avg pool) or a down ResBlock
//   middle_block      ResBlock, Attention, ResBlock
//   output_blocks     per level in reverse, num_res_blocks+1 × ResBlock fed with
//                     concat(h, skip) [+ Attention], then (except level 0)
//                     Upsample or an up ResBlock
//   out               GN, SiLU, conv3×3 → out channels (2× in with learn_sigma)
// Skips are the outputs of every input block, consumed last-in first-out.
//
// Public layout: images `[n][c][y][x]` (ImageBatch); inside, `[C][B][H][W]`.
// The VJP reuses the forward pass's stored activations: `inputGradient` must
// follow the `forward` it differentiates (the model counts forward calls so a
// caller can tell). Not thread-safe: one caller at a time (UNetDenoiser locks).

import Foundation
import TweedieCore

public final class UNetModel {
    public let config: UNetConfig
    /// Number of parameters read from the state dict.
    public let parameterCount: Int
    /// Incremented by every forward pass (a VJP is valid only for the latest one).
    public private(set) var forwardCount = 0

    let modelChannels: Int
    let embeddingChannels: Int
    private let timeEmbed0: Linear
    private let timeEmbed2: Linear
    private let inputBlocks: [[UNetModule]]
    private let middleBlock: [UNetModule]
    private let outputBlocks: [[UNetModule]]
    private let outNorm: GroupNormActivation
    private let outConv: Conv2D

    let workspace = UNetWorkspace()
    private let inputBuffer = FloatBuffer(), outputBuffer = FloatBuffer()
    private let embedding = FloatBuffer(), embeddingHidden = FloatBuffer(), embeddingSiLU = FloatBuffer()
    private let concatBuffers: [FloatBuffer]
    private let gradTop = FloatBuffer(), gradOut = FloatBuffer()
    private var last: (batch: Int, height: Int, width: Int, top: ActivationShape)?
    /// Of the latest forward: each input block's output shape, and each output block's h channels
    /// (where its concat input splits into h and the skip).
    private var lastSkipShapes: [ActivationShape] = [], lastConcatSplit: [Int] = []

    /// How the 3×3 convolutions are computed (resolved from `.automatic`).
    public let convolution: ConvolutionAlgorithm

    /// Builds the network of `config` from `stateDict` (PyTorch names and layouts). `source` names the
    /// checkpoint in errors. Throws `TweedieError.model` for any missing, unexpected or mis-shaped tensor,
    /// `TweedieError.invalidInput` for a config the architecture cannot have. `convolution` picks the
    /// 3×3 algorithm: `.automatic` is Winograd F(4×4, 3×3) up to 50 M parameters (its kernels take 4× the
    /// weights per direction), F(2×2, 3×3) above (16/9×).
    public init(config: UNetConfig, stateDict: StateDict, source: String,
                convolution: ConvolutionAlgorithm = .automatic) throws {
        let plan = try UNetPlan(config)
        UNetThreading.configureBLAS()
        self.config = config
        if convolution == .automatic {
            let count = plan.parameterShapes.values.reduce(0) { $0 + $1.reduce(1, *) }
            self.convolution = count <= 50_000_000 ? .winograd4x4 : .winograd2x2
        } else {
            self.convolution = convolution
        }
        modelChannels = plan.modelChannels; embeddingChannels = plan.embeddingChannels
        let E = plan.embeddingChannels, scaleShift = config.useScaleShiftNorm
        let r = UNetWeightReader(stateDict, source: source, configSummary: config.summary)
        r.convolution = self.convolution
        func module(_ m: UNetPlan.Module) -> UNetModule {
            switch m {
            case let .conv(p, cin, cout):
                return ConvModule(r.conv(p, in: cin, out: cout, kernel: 3))
            case let .res(p, cin, cout, resampling):
                return ResBlock(channels: cin, outChannels: cout, useScaleShiftNorm: scaleShift, resampling: resampling,
                                inNorm: r.groupNorm(p + ".in_layers.0", channels: cin, silu: true),
                                inConv: r.conv(p + ".in_layers.2", in: cin, out: cout, kernel: 3),
                                embLayer: r.linear(p + ".emb_layers.1", in: E, out: scaleShift ? 2 * cout : cout),
                                outNorm: r.groupNorm(p + ".out_layers.0", channels: cout, silu: true),
                                outConv: r.conv(p + ".out_layers.3", in: cout, out: cout, kernel: 3),
                                skip: cin == cout ? nil : r.conv(p + ".skip_connection", in: cin, out: cout, kernel: 1))
            case let .attention(p, ch, heads):
                return AttentionBlock(channels: ch, heads: heads, newOrder: config.useNewAttentionOrder,
                                      norm: r.groupNorm(p + ".norm", channels: ch, silu: false),
                                      qkv: r.conv1d(p + ".qkv", in: ch, out: 3 * ch),
                                      projOut: r.conv1d(p + ".proj_out", in: ch, out: ch))
            case let .downsample(p, ch):
                return Downsample(channels: ch, conv: r.conv(p, in: ch, out: ch, kernel: 3, stride: 2))
            case let .upsample(p, ch):
                return Upsample(channels: ch, conv: r.conv(p, in: ch, out: ch, kernel: 3))
            }
        }
        timeEmbed0 = r.linear("time_embed.0", in: plan.modelChannels, out: E)
        timeEmbed2 = r.linear("time_embed.2", in: E, out: E)
        inputBlocks = plan.inputBlocks.map { $0.map(module) }
        middleBlock = plan.middleBlock.map(module)
        outputBlocks = plan.outputBlocks.map { $0.map(module) }
        concatBuffers = plan.outputBlocks.map { _ in FloatBuffer() }
        outNorm = r.groupNorm("out.0", channels: plan.finalChannels, silu: true)
        outConv = r.conv("out.2", in: plan.finalChannels, out: config.outChannels, kernel: 3)
        try r.finish()
        parameterCount = r.parameterCount
    }

    /// Multiply-adds of one forward pass for one image of the config's size (convolutions, linear
    /// layers and attention products; element-wise work not counted). FLOPs ≈ 2 × this.
    public var forwardMACsPerImage: Int {
        var s = ActivationShape(channels: config.inChannels, batch: 1, height: config.imageSize, width: config.imageSize)
        var total = timeEmbed0.inFeatures * timeEmbed0.outFeatures + timeEmbed2.inFeatures * timeEmbed2.outFeatures
        var skips: [Int] = []
        for block in inputBlocks {
            for m in block { total += m.macs(s); s = m.outputShape(s) }
            skips.append(s.channels)
        }
        for m in middleBlock { total += m.macs(s); s = m.outputShape(s) }
        for block in outputBlocks {
            s.channels += skips.removeLast()
            for m in block { total += m.macs(s); s = m.outputShape(s) }
        }
        return total + outConv.macs(height: s.height, width: s.width)
    }

    /// Approximate memory one image of the config's size takes in a forward + VJP (activations kept
    /// for the VJP, cotangents, shared scratch), in bytes. Weights not included.
    public var activationBytesPerImage: Int {
        var s = ActivationShape(channels: config.inChannels, batch: 1, height: config.imageSize, width: config.imageSize)
        var floats = 2 * s.count
        var skips: [Int] = []
        var largest = 0
        for block in inputBlocks {
            for m in block { floats += m.storedFloats(s); s = m.outputShape(s); largest = max(largest, s.count) }
            skips.append(s.channels)
        }
        for m in middleBlock { floats += m.storedFloats(s); s = m.outputShape(s) }
        for block in outputBlocks {
            s.channels += skips.removeLast()
            floats += s.count  // the concatenation
            largest = max(largest, s.count)
            for m in block { floats += m.storedFloats(s); s = m.outputShape(s) }
        }
        // Scratch a–d and the convolution workspace: a few of the largest activations.
        return 4 * (floats + 8 * largest)
    }

    /// The raw network output for images `x` (`[n][inChannels][H][W]`, H and W multiples of
    /// 2^(levels−1)) at timesteps `t` (one per image), as `[n][outChannels][H][W]`.
    public func forward(_ x: [Float], batch: Int, height: Int, width: Int, timesteps t: [Int]) throws -> [Float] {
        try checkInput(count: x.count, batch: batch, height: height, width: width, timesteps: t)
        let cin = config.inChannels, plane = height * width
        let xin = inputBuffer.reserve(cin * batch * plane)
        x.withUnsafeBufferPointer { NCHWLayout.toChannelMajor($0.baseAddress!, channels: cin, batch: batch, plane: plane, into: xin) }
        let context = computeEmbedding(t)
        var h = UnsafePointer(xin)
        var s = ActivationShape(channels: cin, batch: batch, height: height, width: width)
        var skips: [(UnsafePointer<Float>, Int)] = []
        lastSkipShapes.removeAll(keepingCapacity: true); lastConcatSplit.removeAll(keepingCapacity: true)
        for block in inputBlocks {
            for m in block { h = UnsafePointer(m.forward(h, shape: s, context: context)); s = m.outputShape(s) }
            skips.append((h, s.channels))
            lastSkipShapes.append(s)
        }
        for m in middleBlock { h = UnsafePointer(m.forward(h, shape: s, context: context)); s = m.outputShape(s) }
        for (i, block) in outputBlocks.enumerated() {
            let (skip, skipChannels) = skips.removeLast()
            let n = s.columns
            lastConcatSplit.append(s.channels)
            let cat = concatBuffers[i].reserve((s.channels + skipChannels) * n)
            cat.update(from: h, count: s.channels * n)
            (cat + s.channels * n).update(from: skip, count: skipChannels * n)
            s.channels += skipChannels
            h = UnsafePointer(cat)
            for m in block { h = UnsafePointer(m.forward(h, shape: s, context: context)); s = m.outputShape(s) }
        }
        let cout = config.outChannels, n = s.columns
        let act = workspace.a.reserve(s.count)
        outNorm.forward(h, batch: batch, plane: plane, into: act)
        let y = outputBuffer.reserve(cout * n)
        outConv.forward(act, batch: batch, height: height, width: width, into: y, workspace: workspace.conv)
        last = (batch, height, width, s)
        forwardCount += 1
        var out = [Float](repeating: 0, count: cout * n)
        out.withUnsafeMutableBufferPointer {
            NCHWLayout.toImageMajor(y, channels: cout, batch: batch, plane: plane, into: $0.baseAddress!)
        }
        return out
    }

    /// The input VJP of the latest forward pass: dx = (∂output/∂x)ᵀ · cotangent, both `[n][c][H][W]`
    /// (cotangent with outChannels channels, dx with inChannels).
    public func inputGradient(_ cotangent: [Float]) throws -> [Float] {
        guard let (batch, height, width, top) = last else {
            throw TweedieError.invalidInput(what: "U-Net VJP", problem: "no forward pass to differentiate; call forward first")
        }
        let cout = config.outChannels, plane = height * width, n = batch * plane
        guard cotangent.count == cout * n else {
            throw TweedieError.shapeMismatch(what: "U-Net VJP cotangent", expected: "\(batch)×\(cout)×\(height)×\(width) values",
                                             got: "\(cotangent.count) values")
        }
        let context = ModuleContext(workspace: workspace, embedding: embeddingSiLU.pointer, embeddingChannels: embeddingChannels)
        let dyTop = gradOut.reserve(cout * n)
        cotangent.withUnsafeBufferPointer { NCHWLayout.toChannelMajor($0.baseAddress!, channels: cout, batch: batch, plane: plane, into: dyTop) }
        let dAct = workspace.a.reserve(top.count)
        outConv.backward(dyTop, batch: batch, height: height, width: width, into: dAct, workspace: workspace.conv)
        let dh = gradTop.reserve(top.count)
        outNorm.backward(dAct, into: dh)
        var d = dh
        // Output blocks in reverse; each returns d(concat) = [d h_prev ; d skip]: the first part continues
        // down the decoder, the second is the cotangent of input block j's output (its skip).
        var skipGrads = [UnsafeMutablePointer<Float>?](repeating: nil, count: inputBlocks.count)
        for (i, block) in outputBlocks.enumerated().reversed() {
            for m in block.reversed() { d = m.backward(d, context: context) }
            let j = inputBlocks.count - 1 - i
            skipGrads[j] = d + lastConcatSplit[i] * lastSkipShapes[j].columns
        }
        for m in middleBlock.reversed() { d = m.backward(d, context: context) }
        for j in stride(from: inputBlocks.count - 1, through: 0, by: -1) {
            let src = skipGrads[j]!, dst = d
            ParallelLoop.run(lastSkipShapes[j].count, minimumChunk: 1 << 14) { r in for i in r { dst[i] += src[i] } }
            for m in inputBlocks[j].reversed() { d = m.backward(d, context: context) }
        }
        var dx = [Float](repeating: 0, count: config.inChannels * n)
        dx.withUnsafeMutableBufferPointer {
            NCHWLayout.toImageMajor(d, channels: config.inChannels, batch: batch, plane: plane, into: $0.baseAddress!)
        }
        return dx
    }

    private func checkInput(count: Int, batch: Int, height: Int, width: Int, timesteps t: [Int]) throws {
        let levels = config.resolvedChannelMult.count
        let factor = 1 << (levels - 1)
        guard batch >= 1 else { throw TweedieError.invalidInput(what: "U-Net input", problem: "empty batch") }
        guard height > 0, width > 0, height % factor == 0, width % factor == 0 else {
            throw TweedieError.invalidInput(what: "U-Net input",
                                            problem: "image size \(height)×\(width) must be a multiple of \(factor) (\(levels) levels)")
        }
        guard count == batch * config.inChannels * height * width else {
            throw TweedieError.shapeMismatch(what: "U-Net input", expected: "\(batch)×\(config.inChannels)×\(height)×\(width) values",
                                             got: "\(count) values")
        }
        guard t.count == batch else {
            throw TweedieError.shapeMismatch(what: "U-Net timesteps", expected: "\(batch) (one per image)", got: "\(t.count)")
        }
    }

    /// emb = time_embed(embedding(t)); modules receive SiLU(emb) (each ResBlock's emb_layers start with SiLU).
    private func computeEmbedding(_ t: [Int]) -> ModuleContext {
        let B = t.count, C = modelChannels, E = embeddingChannels
        let e0 = embedding.reserve(B * C)
        TimestepEmbedding.embed(t, dimension: C, into: e0)
        let e1 = embeddingHidden.reserve(B * E)
        timeEmbed0.forward(e0, batch: B, into: e1)
        for i in 0..<(B * E) { e1[i] = silu(e1[i]) }
        let e2 = embeddingSiLU.reserve(B * E)
        timeEmbed2.forward(e1, batch: B, into: e2)
        for i in 0..<(B * E) { e2[i] = silu(e2[i]) }
        return ModuleContext(workspace: workspace, embedding: e2, embeddingChannels: E)
    }
}

/// Conversions between `[n][c][plane]` (ImageBatch) and `[c][n][plane]` (inside the network).
enum NCHWLayout {
    static func toChannelMajor(_ x: UnsafePointer<Float>, channels: Int, batch: Int, plane: Int,
                               into y: UnsafeMutablePointer<Float>) {
        for b in 0..<batch {
            for c in 0..<channels { (y + (c * batch + b) * plane).update(from: x + (b * channels + c) * plane, count: plane) }
        }
    }

    static func toImageMajor(_ x: UnsafePointer<Float>, channels: Int, batch: Int, plane: Int,
                             into y: UnsafeMutablePointer<Float>) {
        for b in 0..<batch {
            for c in 0..<channels { (y + (b * channels + c) * plane).update(from: x + (c * batch + b) * plane, count: plane) }
        }
    }
}
