// The U-Net's composite blocks — attention in both head orderings, residual
// blocks (scale-shift or additive embedding, identity or 1×1 skip, guided-
// diffusion's up / down variants), Upsample / Downsample modules — against the
// Float64 reference: forward agreement, and the input VJP against central
// finite differences of the reference along random directions.

import Foundation
import Testing
@testable import TweediePriors

@Suite struct UNetBlockTests {
    func context(_ ws: UNetWorkspace, _ emb: Buf, _ e: Int) -> ModuleContext {
        ModuleContext(workspace: ws, embedding: emb.p, embeddingChannels: e)
    }

    func checkAttention(newOrder: Bool, heads: Int, seed: UInt64) {
        var rng = TestRandom(seed: seed)
        let c = 64, b = 2, h = 3, w = 2, t = h * w
        let wt = Ref.AttentionWeights(gamma: rng.floats(c, std: 0.3).map { $0 + 1 }.doubles, beta: rng.floats(c, std: 0.3).doubles,
                                      qkvW: rng.floats(3 * c * c, std: 0.3).doubles, qkvB: rng.floats(3 * c, std: 0.3).doubles,
                                      projW: rng.floats(c * c, std: 0.2).doubles, projB: rng.floats(c, std: 0.2).doubles)
        let f = { (a: [Double]) in a.map(Float.init) }
        let block = AttentionBlock(channels: c, heads: heads, newOrder: newOrder,
                                   norm: GroupNormActivation(channels: c, applySiLU: false, weight: f(wt.gamma), bias: f(wt.beta)),
                                   qkv: Conv2D(inChannels: c, outChannels: 3 * c, kernel: 1, weight: f(wt.qkvW), bias: f(wt.qkvB)),
                                   projOut: Conv2D(inChannels: c, outChannels: c, kernel: 1, weight: f(wt.projW), bias: f(wt.projB)))
        let ws = UNetWorkspace(), emb = Buf(count: 1)
        let x = Buf(rng.floats(c * b * t))
        let shape = ActivationShape(channels: c, batch: b, height: h, width: w)
        let y = block.forward(x.p, shape: shape, context: context(ws, emb, 1))
        let got = Array(UnsafeBufferPointer(start: y, count: x.count)).doubles
        let ref = { (xd: [Double]) in Ref.attention(xd, c: c, b: b, plane: t, heads: heads, newOrder: newOrder, weights: wt) }
        #expect(maxRelativeError(got, ref(x.doubles)) < 1e-5, "attention forward (new order \(newOrder))")
        let v = Buf(rng.floats(x.count))
        let dx = block.backward(v.p, context: context(ws, emb, 1))
        let vjp = Array(UnsafeBufferPointer(start: dx, count: x.count)).doubles
        let err = directionalError(ref, at: x.doubles, cotangent: v.doubles, vjp: vjp, directions: 4, rng: &rng)
        #expect(err < 1e-4, "attention VJP (new order \(newOrder)): \(err)")
    }

    @Test func attentionLegacyOrderMatchesReferenceAndFiniteDifferences() {
        checkAttention(newOrder: false, heads: 4, seed: 50)
    }

    @Test func attentionNewOrderMatchesReferenceAndFiniteDifferences() {
        checkAttention(newOrder: true, heads: 2, seed: 51)
    }

    @Test func headOrderingsDiffer() {
        // The two orderings read different qkv rows unless there is one head: a guard against a
        // reference and an implementation that share the same mistake.
        let block = { (order: Bool) in
            AttentionBlock(channels: 64, heads: 4, newOrder: order,
                           norm: GroupNormActivation(channels: 64, applySiLU: false, weight: .init(repeating: 1, count: 64), bias: .init(repeating: 0, count: 64)),
                           qkv: Conv2D(inChannels: 64, outChannels: 192, kernel: 1, weight: .init(repeating: 0, count: 64 * 192), bias: .init(repeating: 0, count: 192)),
                           projOut: Conv2D(inChannels: 64, outChannels: 64, kernel: 1, weight: .init(repeating: 0, count: 64 * 64), bias: .init(repeating: 0, count: 64)))
        }
        #expect(block(false).rows(head: 1) == (48, 64, 80))
        #expect(block(true).rows(head: 1) == (16, 80, 144))
    }

    func checkResBlock(cin: Int, cout: Int, scaleShift: Bool, resampling: Resampling, seed: UInt64) {
        var rng = TestRandom(seed: seed)
        let b = 2, h = 4, w = 4, e = 8
        let eo = scaleShift ? 2 * cout : cout
        let wt = Ref.ResBlockWeights(
            inGamma: rng.floats(cin, std: 0.3).map { $0 + 1 }.doubles, inBeta: rng.floats(cin, std: 0.3).doubles,
            inW: rng.floats(cout * cin * 9, std: 0.1).doubles, inB: rng.floats(cout, std: 0.1).doubles,
            embW: rng.floats(eo * e, std: 0.3).doubles, embB: rng.floats(eo, std: 0.3).doubles,
            outGamma: rng.floats(cout, std: 0.3).map { $0 + 1 }.doubles, outBeta: rng.floats(cout, std: 0.3).doubles,
            outW: rng.floats(cout * cout * 9, std: 0.1).doubles, outB: rng.floats(cout, std: 0.1).doubles,
            skipW: cin == cout ? nil : rng.floats(cout * cin, std: 0.2).doubles,
            skipB: cin == cout ? nil : rng.floats(cout, std: 0.2).doubles)
        let f = { (a: [Double]) in a.map(Float.init) }
        let block = ResBlock(
            channels: cin, outChannels: cout, useScaleShiftNorm: scaleShift, resampling: resampling,
            inNorm: GroupNormActivation(channels: cin, applySiLU: true, weight: f(wt.inGamma), bias: f(wt.inBeta)),
            inConv: Conv2D(inChannels: cin, outChannels: cout, kernel: 3, weight: f(wt.inW), bias: f(wt.inB)),
            embLayer: Linear(inFeatures: e, outFeatures: eo, weight: f(wt.embW), bias: f(wt.embB)),
            outNorm: GroupNormActivation(channels: cout, applySiLU: true, weight: f(wt.outGamma), bias: f(wt.outBeta)),
            outConv: Conv2D(inChannels: cout, outChannels: cout, kernel: 3, weight: f(wt.outW), bias: f(wt.outB)),
            skip: wt.skipW.map { Conv2D(inChannels: cin, outChannels: cout, kernel: 1, weight: f($0), bias: f(wt.skipB!)) })
        let embSiLU = Buf(rng.floats(b * e).map { Float(Ref.silu(Double($0))) })
        let ws = UNetWorkspace()
        let x = Buf(rng.floats(cin * b * h * w))
        let shape = ActivationShape(channels: cin, batch: b, height: h, width: w)
        let os = block.outputShape(shape)
        let y = block.forward(x.p, shape: shape, context: context(ws, embSiLU, e))
        let got = Array(UnsafeBufferPointer(start: y, count: os.count)).doubles
        let refResample: Ref.Resample = resampling == .none ? .none : (resampling == .up ? .up : .down)
        let ref = { (xd: [Double]) in
            Ref.resBlock(xd, c: cin, co: cout, b: b, h: h, w: w, embSiLU: embSiLU.doubles, embChannels: e,
                         scaleShift: scaleShift, resample: refResample, weights: wt)
        }
        let label = "ResBlock \(cin)→\(cout) scale-shift \(scaleShift) \(resampling)"
        #expect(maxRelativeError(got, ref(x.doubles)) < 2e-5, "\(label) forward")
        let v = Buf(rng.floats(os.count))
        let dx = block.backward(v.p, context: context(ws, embSiLU, e))
        let vjp = Array(UnsafeBufferPointer(start: dx, count: x.count)).doubles
        let err = directionalError(ref, at: x.doubles, cotangent: v.doubles, vjp: vjp, directions: 4, rng: &rng)
        #expect(err < 1e-4, "\(label) VJP: \(err)")
    }

    @Test func resBlockWithScaleShiftAndSkipConv() {
        checkResBlock(cin: 32, cout: 64, scaleShift: true, resampling: .none, seed: 60)
    }

    @Test func resBlockWithAdditiveEmbeddingAndIdentitySkip() {
        checkResBlock(cin: 32, cout: 32, scaleShift: false, resampling: .none, seed: 61)
    }

    @Test func resBlockUpAndDown() {
        checkResBlock(cin: 32, cout: 32, scaleShift: true, resampling: .up, seed: 62)
        checkResBlock(cin: 32, cout: 32, scaleShift: false, resampling: .down, seed: 63)
    }

    @Test func upsampleAndDownsampleModules() {
        var rng = TestRandom(seed: 70)
        let c = 3, b = 2, h = 4, w = 6
        let ws = UNetWorkspace(), emb = Buf(count: 1)
        let x = Buf(rng.floats(c * b * h * w))
        let shape = ActivationShape(channels: c, batch: b, height: h, width: w)
        let wUp = rng.floats(c * c * 9, std: 0.3), bUp = rng.floats(c)
        let wDown = rng.floats(c * c * 9, std: 0.3), bDown = rng.floats(c)
        let modules: [(UNetModule, ([Double]) -> [Double], String)] = [
            (Upsample(channels: c, conv: Conv2D(inChannels: c, outChannels: c, kernel: 3, weight: wUp, bias: bUp)),
             { Ref.conv(Ref.nearestUp($0, planes: c * b, h: h, w: w), c: c, b: b, h: 2 * h, w: 2 * w,
                        weight: wUp.doubles, bias: bUp.doubles, out: c, kernel: 3, stride: 1) }, "Upsample conv"),
            (Upsample(channels: c, conv: nil), { Ref.nearestUp($0, planes: c * b, h: h, w: w) }, "Upsample"),
            (Downsample(channels: c, conv: Conv2D(inChannels: c, outChannels: c, kernel: 3, stride: 2, weight: wDown, bias: bDown)),
             { Ref.conv($0, c: c, b: b, h: h, w: w, weight: wDown.doubles, bias: bDown.doubles, out: c, kernel: 3, stride: 2) },
             "Downsample conv"),
            (Downsample(channels: c, conv: nil), { Ref.avgPool($0, planes: c * b, h: h, w: w) }, "Downsample pool"),
        ]
        for (m, ref, label) in modules {
            let os = m.outputShape(shape)
            let y = m.forward(x.p, shape: shape, context: context(ws, emb, 1))
            #expect(maxRelativeError(Array(UnsafeBufferPointer(start: y, count: os.count)).doubles, ref(x.doubles)) < 1e-5, "\(label)")
            let v = Buf(rng.floats(os.count))
            let dx = m.backward(v.p, context: context(ws, emb, 1))
            let fd = fdGradient(ref, at: x.doubles, cotangent: v.doubles)
            #expect(maxRelativeError(Array(UnsafeBufferPointer(start: dx, count: x.count)).doubles, fd) < 1e-5, "\(label) VJP")
        }
    }
}
