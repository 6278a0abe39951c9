// Every U-Net layer against the Float64 reference of UNetReference.swift:
// the Float32 forward pass must agree with the reference, and the Float32
// input VJP with central finite differences of the reference — element by
// element (the whole Jacobian) for the small linear / element-wise layers,
// along random directions for attention and the residual blocks.

import Foundation
import Testing
@testable import TweediePriors

/// max|a − b| / max|b|.
func maxRelativeError(_ a: [Double], _ b: [Double]) -> Double {
    precondition(a.count == b.count)
    var num = 0.0, den = 0.0
    for i in a.indices { num = max(num, abs(a[i] - b[i])); den = max(den, abs(b[i])) }
    return num / max(den, 1e-300)
}

func dotD(_ a: [Double], _ b: [Double]) -> Double { zip(a, b).reduce(0) { $0 + $1.0 * $1.1 } }

/// Central differences of ⟨v, f(x)⟩ in Float64 along every coordinate; returns the FD gradient.
func fdGradient(_ f: ([Double]) -> [Double], at x: [Double], cotangent v: [Double], step: Double = 1e-6) -> [Double] {
    var g = [Double](repeating: 0, count: x.count)
    var xp = x
    for i in x.indices {
        let h = step * max(1, abs(x[i]))
        xp[i] = x[i] + h; let fp = dotD(v, f(xp))
        xp[i] = x[i] - h; let fm = dotD(v, f(xp))
        xp[i] = x[i]
        g[i] = (fp - fm) / (2 * h)
    }
    return g
}

/// Largest error of ⟨vjp, u⟩ against the FD directional derivative of ⟨v, f⟩ over `directions` random u,
/// relative to ‖vjp‖‖u‖/√n (the size of a random projection).
func directionalError(_ f: ([Double]) -> [Double], at x: [Double], cotangent v: [Double], vjp: [Double],
                      directions: Int, rng: inout TestRandom, step: Double = 1e-6) -> Double {
    var worst = 0.0
    let norm = dotD(vjp, vjp).squareRoot()
    for _ in 0..<directions {
        let u = (0..<x.count).map { _ in rng.normal() }
        let xp = zip(x, u).map { $0 + step * $1 }, xm = zip(x, u).map { $0 - step * $1 }
        let fd = (dotD(v, f(xp)) - dotD(v, f(xm))) / (2 * step)
        let scale = norm * dotD(u, u).squareRoot() / Double(x.count).squareRoot()
        worst = max(worst, abs(dotD(vjp, u) - fd) / scale)
    }
    return worst
}

/// A Float32 buffer with a stable address (layers keep pointers to their inputs for the backward pass).
final class Buf {
    let p: UnsafeMutablePointer<Float>
    let count: Int
    init(_ a: [Float]) { count = a.count; p = .allocate(capacity: max(1, a.count)); p.initialize(from: a, count: a.count) }
    init(count: Int) { self.count = count; p = .allocate(capacity: max(1, count)); p.initialize(repeating: 0, count: count) }
    deinit { p.deallocate() }
    var array: [Float] { Array(UnsafeBufferPointer(start: p, count: count)) }
    var doubles: [Double] { array.doubles }
}

@Suite struct UNetLayerTests {
    // MARK: Convolutions

    func checkConv(cin: Int, cout: Int, kernel: Int, stride: Int, batch: Int, h: Int, w: Int, seed: UInt64,
                   algorithm: ConvolutionAlgorithm = .im2col) {
        var rng = TestRandom(seed: seed)
        let wt = rng.floats(cout * cin * kernel * kernel, std: 0.3), bs = rng.floats(cout, std: 0.1)
        let conv = Conv2D(inChannels: cin, outChannels: cout, kernel: kernel, stride: stride, weight: wt, bias: bs)
        conv.algorithm = algorithm
        let ws = ConvWorkspace()
        ws.colBudget = 40  // forces several im2col chunks
        ws.winograd.budget = 36 * (cin + cout) * ((w + 1) / 2) * 2  // a few tile rows per chunk
        let x = Buf(rng.floats(cin * batch * h * w))
        let (ho, wo) = conv.outputSize(height: h, width: w)
        let y = Buf(count: cout * batch * ho * wo)
        conv.forward(x.p, batch: batch, height: h, width: w, into: y.p, workspace: ws)
        let ref = { (xd: [Double]) in
            Ref.conv(xd, c: cin, b: batch, h: h, w: w, weight: wt.doubles, bias: bs.doubles, out: cout, kernel: kernel, stride: stride)
        }
        #expect(maxRelativeError(y.doubles, ref(x.doubles)) < 1e-5, "conv \(kernel)x\(kernel)/\(stride) forward")
        let v = Buf(rng.floats(y.count))
        let dx = Buf(count: x.count)
        conv.backward(v.p, batch: batch, height: h, width: w, into: dx.p, workspace: ws)
        let fd = fdGradient(ref, at: x.doubles, cotangent: v.doubles)
        #expect(maxRelativeError(dx.doubles, fd) < 1e-5, "conv \(kernel)x\(kernel)/\(stride) VJP")
        // Accumulate mode adds to what is there.
        dx.p.update(repeating: 1, count: dx.count)
        conv.backward(v.p, batch: batch, height: h, width: w, into: dx.p, accumulate: true, workspace: ws)
        #expect(maxRelativeError(dx.doubles, fd.map { $0 + 1 }) < 1e-5)
        // Forward accumulate adds to what is there too.
        let y2 = Buf(Array(repeating: 2, count: y.count))
        conv.forward(x.p, batch: batch, height: h, width: w, into: y2.p, accumulate: true, workspace: ws)
        #expect(maxRelativeError(y2.doubles, ref(x.doubles).map { $0 + 2 }) < 1e-5)
        // A residual is added.
        let r = Buf(rng.floats(y.count))
        let y3 = Buf(count: y.count)
        conv.forward(x.p, batch: batch, height: h, width: w, into: y3.p, residual: r.p, workspace: ws)
        #expect(maxRelativeError(y3.doubles, zip(ref(x.doubles), r.doubles).map { $0 + $1 }) < 1e-5)
    }

    @Test func conv3x3MatchesReferenceAndFiniteDifferences() {
        checkConv(cin: 3, cout: 5, kernel: 3, stride: 1, batch: 2, h: 6, w: 5, seed: 1)
        checkConv(cin: 2, cout: 3, kernel: 3, stride: 1, batch: 1, h: 1, w: 4, seed: 2)
    }

    @Test(arguments: [ConvolutionAlgorithm.winograd2x2, .winograd4x4])
    func winogradConv3x3MatchesReferenceAndFiniteDifferences(_ algorithm: ConvolutionAlgorithm) {
        checkConv(cin: 3, cout: 5, kernel: 3, stride: 1, batch: 2, h: 6, w: 5, seed: 1, algorithm: algorithm)
        checkConv(cin: 2, cout: 3, kernel: 3, stride: 1, batch: 1, h: 1, w: 4, seed: 2, algorithm: algorithm)
        checkConv(cin: 4, cout: 2, kernel: 3, stride: 1, batch: 3, h: 7, w: 3, seed: 7, algorithm: algorithm)
        checkConv(cin: 1, cout: 1, kernel: 3, stride: 1, batch: 1, h: 1, w: 1, seed: 8, algorithm: algorithm)
        checkConv(cin: 4, cout: 3, kernel: 3, stride: 1, batch: 2, h: 9, w: 12, seed: 9, algorithm: algorithm)
        // Wide rows: the four-tiles-at-a-time transform paths plus a tail tile.
        checkConv(cin: 2, cout: 2, kernel: 3, stride: 1, batch: 1, h: 5, w: 20, seed: 10, algorithm: algorithm)
        checkConv(cin: 2, cout: 3, kernel: 3, stride: 1, batch: 2, h: 4, w: 33, seed: 11, algorithm: algorithm)
    }

    @Test func stridedConvMatchesReferenceAndFiniteDifferences() {
        checkConv(cin: 3, cout: 4, kernel: 3, stride: 2, batch: 2, h: 6, w: 6, seed: 3)
        checkConv(cin: 2, cout: 3, kernel: 3, stride: 2, batch: 2, h: 7, w: 5, seed: 4)
        checkConv(cin: 2, cout: 2, kernel: 3, stride: 2, batch: 1, h: 1, w: 1, seed: 5)
    }

    @Test func conv1x1MatchesReferenceAndFiniteDifferences() {
        checkConv(cin: 4, cout: 6, kernel: 1, stride: 1, batch: 2, h: 3, w: 4, seed: 6)
    }

    // MARK: GroupNorm (+ modulation, + SiLU)

    func checkGroupNorm(silu: Bool, modulated: Bool, seed: UInt64) {
        var rng = TestRandom(seed: seed)
        let c = 64, b = 2, plane = 5
        let gamma = rng.floats(c, std: 0.5).map { $0 + 1 }, beta = rng.floats(c, std: 0.5)
        let gn = GroupNormActivation(channels: c, applySiLU: silu, weight: gamma, bias: beta)
        let mod: Buf? = modulated ? Buf(rng.floats(b * 2 * c, std: 0.5)) : nil
        // An offset mean and a non-unit spread, so centring matters.
        let x = Buf(rng.floats(c * b * plane, std: 2).map { $0 + 3 })
        let y = Buf(count: x.count)
        gn.forward(x.p, batch: b, plane: plane, into: y.p, modulation: mod.map { UnsafePointer($0.p) })
        let ref = { (xd: [Double]) in
            Ref.groupNorm(xd, c: c, b: b, plane: plane, gamma: gamma.doubles, beta: beta.doubles,
                          modulation: mod?.doubles, silu: silu)
        }
        #expect(maxRelativeError(y.doubles, ref(x.doubles)) < 2e-5, "GroupNorm forward")
        let v = Buf(rng.floats(y.count))
        let dx = Buf(count: x.count)
        gn.backward(v.p, into: dx.p)
        let fd = fdGradient(ref, at: x.doubles, cotangent: v.doubles)
        #expect(maxRelativeError(dx.doubles, fd) < 1e-4, "GroupNorm VJP (silu \(silu), modulated \(modulated))")
        dx.p.update(repeating: -1, count: dx.count)
        gn.backward(v.p, into: dx.p, accumulate: true)
        #expect(maxRelativeError(dx.doubles, fd.map { $0 - 1 }) < 1e-4)
    }

    @Test func groupNormMatchesReferenceAndFiniteDifferences() {
        checkGroupNorm(silu: false, modulated: false, seed: 10)
        checkGroupNorm(silu: true, modulated: false, seed: 11)
        checkGroupNorm(silu: true, modulated: true, seed: 12)
    }

    // MARK: SiLU and the fast exp

    @Test func fastExpIsAccurate() {
        var worst: Float = 0
        var x: Float = -87
        while x < 88 {
            let e = Float(Foundation.exp(Double(x)))
            worst = max(worst, abs(fastExp(x) - e) / e)
            x += 0.0137
        }
        #expect(worst < 4 * Float.ulpOfOne, "fastExp relative error \(worst)")
        #expect(fastExp(-1000) >= 0 && fastExp(-1000) < 1e-37)
        #expect(fastExp(1000).isFinite)
    }

    @Test func siluMatchesReferenceAndFiniteDifferences() {
        var rng = TestRandom(seed: 20)
        let x = Buf(rng.floats(300, std: 4))
        let y = Buf(count: x.count)
        SiLUKernel.forward(x.p, y.p, count: x.count)
        let ref = { (xd: [Double]) in xd.map(Ref.silu) }
        #expect(maxRelativeError(y.doubles, ref(x.doubles)) < 1e-6)
        let v = Buf(rng.floats(x.count))
        let dx = Buf(count: x.count)
        SiLUKernel.backward(x.p, v.p, dx.p, count: x.count)
        #expect(maxRelativeError(dx.doubles, fdGradient(ref, at: x.doubles, cotangent: v.doubles)) < 1e-6)
    }

    // MARK: Linear

    @Test func linearMatchesReferenceAndFiniteDifferences() {
        var rng = TestRandom(seed: 30)
        let nin = 7, nout = 5, batch = 3
        let w = rng.floats(nin * nout), b = rng.floats(nout)
        let layer = Linear(inFeatures: nin, outFeatures: nout, weight: w, bias: b)
        let x = Buf(rng.floats(batch * nin))
        let y = Buf(count: batch * nout)
        layer.forward(x.p, batch: batch, into: y.p)
        let ref = { (xd: [Double]) in Ref.linear(xd, batch: batch, weight: w.doubles, bias: b.doubles, in: nin, out: nout) }
        #expect(maxRelativeError(y.doubles, ref(x.doubles)) < 1e-6)
        let v = Buf(rng.floats(y.count))
        let dx = Buf(count: x.count)
        layer.backward(v.p, batch: batch, into: dx.p)
        #expect(maxRelativeError(dx.doubles, fdGradient(ref, at: x.doubles, cotangent: v.doubles)) < 1e-6)
    }

    // MARK: Resampling

    @Test func nearestUpAndAveragePoolMatchReferenceAndFiniteDifferences() {
        var rng = TestRandom(seed: 40)
        let planes = 3, h = 4, w = 6
        let x = Buf(rng.floats(planes * h * w))
        let up = Buf(count: planes * 4 * h * w)
        ResampleKernel.nearestUp(x.p, planes: planes, height: h, width: w, into: up.p)
        let refUp = { (xd: [Double]) in Ref.nearestUp(xd, planes: planes, h: h, w: w) }
        #expect(maxRelativeError(up.doubles, refUp(x.doubles)) == 0)
        let vUp = Buf(rng.floats(up.count))
        let dx = Buf(count: x.count)
        ResampleKernel.nearestUpBackward(vUp.p, planes: planes, height: h, width: w, into: dx.p)
        #expect(maxRelativeError(dx.doubles, fdGradient(refUp, at: x.doubles, cotangent: vUp.doubles)) < 1e-6)

        let pool = Buf(count: planes * (h / 2) * (w / 2))
        ResampleKernel.averagePool(x.p, planes: planes, height: h, width: w, into: pool.p)
        let refPool = { (xd: [Double]) in Ref.avgPool(xd, planes: planes, h: h, w: w) }
        #expect(maxRelativeError(pool.doubles, refPool(x.doubles)) < 1e-6)
        let vPool = Buf(rng.floats(pool.count))
        ResampleKernel.averagePoolBackward(vPool.p, planes: planes, height: h, width: w, into: dx.p)
        #expect(maxRelativeError(dx.doubles, fdGradient(refPool, at: x.doubles, cotangent: vPool.doubles)) < 1e-6)
    }

    // MARK: Timestep embedding

    @Test func timestepEmbeddingMatchesClosedForm() {
        let t = [0, 1, 17, 500, 999], dim = 64
        let e = Buf(count: t.count * dim)
        TimestepEmbedding.embed(t, dimension: dim, into: e.p)
        for (b, tb) in t.enumerated() {
            let ref = Ref.timestepEmbedding(tb, dimension: dim)
            // Float32 argument t·f_i (as PyTorch computes it) is within ½ulp(999) ≈ 3e-5 of the exact one.
            let got = Array(e.doubles[(b * dim)..<((b + 1) * dim)])
            #expect(zip(got, ref).allSatisfy { abs($0 - $1) < 1e-4 }, "t = \(tb)")
        }
        // cos first: at t = 0 the first half is 1 and the second half 0.
        #expect(e.array[0..<32].allSatisfy { $0 == 1 } && e.array[32..<64].allSatisfy { $0 == 0 })
        // Odd width: a zero column is appended.
        let odd = Buf(count: 7)
        TimestepEmbedding.embed([5], dimension: 7, into: odd.p)
        #expect(odd.array[6] == 0 && abs(Double(odd.array[0]) - Foundation.cos(5.0)) < 1e-6)
    }
}
