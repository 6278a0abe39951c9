// A second, independent rendering of improved-/guided-diffusion's UNetModel
// for the tests: (1) a generator of random state dicts with the repositories'
// parameter names and shapes for a config, and (2) a Float64 reference network
// that evaluates such a state dict with the reference layers of
// UNetReference.swift, in `[n][c][H][W]` like the public API.

import Foundation
import TweedieCore
@testable import TweediePriors

enum RefNet {
    /// A random state dict for `config`, weights scaled ~1/√fan-in so activations stay O(1).
    static func randomStateDict(_ config: UNetConfig, seed: UInt64) -> StateDict {
        var rng = TestRandom(seed: seed)
        var d = StateDict()
        func put(_ name: String, _ shape: [Int], std: Double, mean: Float = 0) {
            let n = shape.reduce(1, *)
            d[name] = ParameterTensor(shape: shape, values: rng.floats(n, std: std).map { $0 + mean })
        }
        func conv(_ p: String, _ o: Int, _ i: Int, _ k: Int) {
            put(p + ".weight", [o, i, k, k], std: 1 / Double(i * k * k).squareRoot())
            put(p + ".bias", [o], std: 0.1)
        }
        func conv1d(_ p: String, _ o: Int, _ i: Int) {
            put(p + ".weight", [o, i, 1], std: 1 / Double(i).squareRoot())
            put(p + ".bias", [o], std: 0.1)
        }
        func linear(_ p: String, _ o: Int, _ i: Int) {
            put(p + ".weight", [o, i], std: 1 / Double(i).squareRoot())
            put(p + ".bias", [o], std: 0.1)
        }
        func norm(_ p: String, _ c: Int) {
            put(p + ".weight", [c], std: 0.2, mean: 1)
            put(p + ".bias", [c], std: 0.2)
        }
        for (p, ci, co) in walk(config).res {
            norm(p + ".in_layers.0", ci); conv(p + ".in_layers.2", co, ci, 3)
            linear(p + ".emb_layers.1", config.useScaleShiftNorm ? 2 * co : co, 4 * config.numChannels)
            norm(p + ".out_layers.0", co); conv(p + ".out_layers.3", co, co, 3)
            if ci != co { conv(p + ".skip_connection", co, ci, 1) }
        }
        for (p, c, _) in walk(config).attention {
            norm(p + ".norm", c); conv1d(p + ".qkv", 3 * c, c); conv1d(p + ".proj_out", c, c)
        }
        for (p, ci, co, k) in walk(config).convs { conv(p, co, ci, k) }
        for (p, o, i) in walk(config).linears { linear(p, o, i) }
        for (p, c) in walk(config).norms { norm(p, c) }
        return d
    }

    /// The module list of a config, in forward order.
    enum Step {
        case conv(String, Int, Int, stride: Int)          // name, in, out
        case res(String, Int, Int, Ref.Resample)
        case attention(String, Int, heads: Int)
        case down(String, Int, useConv: Bool)
        case up(String, Int, useConv: Bool)
        case pushSkip
        case popSkip
    }

    struct Walk {
        var steps: [Step] = []
        var res: [(String, Int, Int)] = []
        var attention: [(String, Int, Int)] = []
        var convs: [(String, Int, Int, Int)] = []
        var linears: [(String, Int, Int)] = []
        var norms: [(String, Int)] = []
        var finalChannels = 0
    }

    static func walk(_ c: UNetConfig) -> Walk {
        var w = Walk()
        let C = c.numChannels, mult = c.resolvedChannelMult
        let attn = Set(c.attentionResolutions.map { c.imageSize / $0 })
        func heads(_ ch: Int, _ n: Int) -> Int { c.numHeadChannels == -1 ? n : ch / c.numHeadChannels }
        w.linears = [("time_embed.0", 4 * C, C), ("time_embed.2", 4 * C, 4 * C)]
        var ch = mult[0] * C
        w.convs.append(("input_blocks.0.0", c.inChannels, ch, 3))
        w.steps += [.conv("input_blocks.0.0", c.inChannels, ch, stride: 1), .pushSkip]
        var skips = [ch], ds = 1, index = 1
        for (level, m) in mult.enumerated() {
            for _ in 0..<c.numResBlocks {
                let p = "input_blocks.\(index)"
                w.res.append((p + ".0", ch, m * C)); w.steps.append(.res(p + ".0", ch, m * C, .none))
                ch = m * C
                if attn.contains(ds) {
                    w.attention.append((p + ".1", ch, heads(ch, c.numHeads)))
                    w.steps.append(.attention(p + ".1", ch, heads: heads(ch, c.numHeads)))
                }
                w.steps.append(.pushSkip); skips.append(ch); index += 1
            }
            if level < mult.count - 1 {
                let p = "input_blocks.\(index).0"
                if c.resblockUpdown {
                    w.res.append((p, ch, ch)); w.steps.append(.res(p, ch, ch, .down))
                } else {
                    w.convs.append((p + ".op", ch, ch, 3)); w.steps.append(.down(p + ".op", ch, useConv: true))
                }
                w.steps.append(.pushSkip); skips.append(ch); index += 1; ds *= 2
            }
        }
        w.res += [("middle_block.0", ch, ch), ("middle_block.2", ch, ch)]
        w.attention.append(("middle_block.1", ch, heads(ch, c.numHeads)))
        w.steps += [.res("middle_block.0", ch, ch, .none), .attention("middle_block.1", ch, heads: heads(ch, c.numHeads)),
                    .res("middle_block.2", ch, ch, .none)]
        index = 0
        let hu = c.numHeadsUpsample == -1 ? c.numHeads : c.numHeadsUpsample
        for (level, m) in mult.enumerated().reversed() {
            for i in 0...c.numResBlocks {
                let p = "output_blocks.\(index)"
                let cin = ch + skips.removeLast()
                w.steps.append(.popSkip)
                w.res.append((p + ".0", cin, m * C)); w.steps.append(.res(p + ".0", cin, m * C, .none))
                ch = m * C
                var sub = 1
                if attn.contains(ds) {
                    w.attention.append((p + ".1", ch, heads(ch, hu)))
                    w.steps.append(.attention(p + ".1", ch, heads: heads(ch, hu))); sub = 2
                }
                if level > 0 && i == c.numResBlocks {
                    if c.resblockUpdown {
                        w.res.append((p + ".\(sub)", ch, ch)); w.steps.append(.res(p + ".\(sub)", ch, ch, .up))
                    } else {
                        w.convs.append((p + ".\(sub).conv", ch, ch, 3)); w.steps.append(.up(p + ".\(sub).conv", ch, useConv: true))
                    }
                    ds /= 2
                }
                index += 1
            }
        }
        w.norms.append(("out.0", ch))
        w.convs.append(("out.2", ch, c.outChannels, 3))
        w.finalChannels = ch
        return w
    }

    /// The network output for `x` (`[n][c][H][W]`, Float64) at timesteps `t`.
    static func forward(_ d: StateDict, _ c: UNetConfig, x: [Double], batch b: Int, timesteps t: [Int]) -> [Double] {
        func v(_ name: String) -> [Double] { d[name]!.values.doubles }
        let C = c.numChannels, E = 4 * C
        let size = c.imageSize
        // Timestep MLP; the blocks receive SiLU(emb).
        var emb: [Double] = []
        for tb in t { emb += Ref.timestepEmbedding(tb, dimension: C) }
        var e = Ref.linear(emb, batch: b, weight: v("time_embed.0.weight"), bias: v("time_embed.0.bias"), in: C, out: E).map(Ref.silu)
        e = Ref.linear(e, batch: b, weight: v("time_embed.2.weight"), bias: v("time_embed.2.bias"), in: E, out: E).map(Ref.silu)
        // NCHW → CBHW
        func toCB(_ a: [Double], _ ch: Int, _ plane: Int) -> [Double] {
            var o = [Double](repeating: 0, count: a.count)
            for n in 0..<b { for k in 0..<ch { for i in 0..<plane { o[(k * b + n) * plane + i] = a[(n * ch + k) * plane + i] } } }
            return o
        }
        func toNC(_ a: [Double], _ ch: Int, _ plane: Int) -> [Double] {
            var o = [Double](repeating: 0, count: a.count)
            for n in 0..<b { for k in 0..<ch { for i in 0..<plane { o[(n * ch + k) * plane + i] = a[(k * b + n) * plane + i] } } }
            return o
        }
        var h = toCB(x, c.inChannels, size * size), hs = size, ch = c.inChannels
        var skips: [([Double], Int)] = []
        for step in walk(c).steps {
            switch step {
            case let .conv(p, i, o, stride):
                h = Ref.conv(h, c: i, b: b, h: hs, w: hs, weight: v(p + ".weight"), bias: v(p + ".bias"), out: o, kernel: 3, stride: stride)
                ch = o
            case let .res(p, i, o, r):
                let wt = Ref.ResBlockWeights(
                    inGamma: v(p + ".in_layers.0.weight"), inBeta: v(p + ".in_layers.0.bias"),
                    inW: v(p + ".in_layers.2.weight"), inB: v(p + ".in_layers.2.bias"),
                    embW: v(p + ".emb_layers.1.weight"), embB: v(p + ".emb_layers.1.bias"),
                    outGamma: v(p + ".out_layers.0.weight"), outBeta: v(p + ".out_layers.0.bias"),
                    outW: v(p + ".out_layers.3.weight"), outB: v(p + ".out_layers.3.bias"),
                    skipW: i == o ? nil : v(p + ".skip_connection.weight"), skipB: i == o ? nil : v(p + ".skip_connection.bias"))
                h = Ref.resBlock(h, c: i, co: o, b: b, h: hs, w: hs, embSiLU: e, embChannels: E,
                                 scaleShift: c.useScaleShiftNorm, resample: r, weights: wt)
                if r == .up { hs *= 2 } else if r == .down { hs /= 2 }
                ch = o
            case let .attention(p, k, heads):
                let wt = Ref.AttentionWeights(gamma: v(p + ".norm.weight"), beta: v(p + ".norm.bias"),
                                              qkvW: v(p + ".qkv.weight"), qkvB: v(p + ".qkv.bias"),
                                              projW: v(p + ".proj_out.weight"), projB: v(p + ".proj_out.bias"))
                h = Ref.attention(h, c: k, b: b, plane: hs * hs, heads: heads, newOrder: c.useNewAttentionOrder, weights: wt)
            case let .down(p, k, _):
                h = Ref.conv(h, c: k, b: b, h: hs, w: hs, weight: v(p + ".weight"), bias: v(p + ".bias"), out: k, kernel: 3, stride: 2)
                hs /= 2
            case let .up(p, k, _):
                h = Ref.nearestUp(h, planes: k * b, h: hs, w: hs); hs *= 2
                h = Ref.conv(h, c: k, b: b, h: hs, w: hs, weight: v(p + ".weight"), bias: v(p + ".bias"), out: k, kernel: 3, stride: 1)
            case .pushSkip:
                skips.append((h, ch))
            case .popSkip:
                let (s, sc) = skips.removeLast()
                h += s  // channel-major: concatenation along channels is appending
                ch += sc
            }
        }
        let plane = hs * hs
        h = Ref.groupNorm(h, c: ch, b: b, plane: plane, gamma: v("out.0.weight"), beta: v("out.0.bias"), silu: true)
        h = Ref.conv(h, c: ch, b: b, h: hs, w: hs, weight: v("out.2.weight"), bias: v("out.2.bias"), out: c.outChannels, kernel: 3, stride: 1)
        return toNC(h, c.outChannels, plane)
    }
}
