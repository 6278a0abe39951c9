// A Float64 reference implementation of the U-Net's layers, written as naive
// loops straight from the formulas (PyTorch semantics, DESIGN §4.3), used as
// the oracle of the layer tests: the Float32 layers must agree with it, and
// their VJPs with central finite differences of it.
//
// Layout as in the library: `[C][B][H][W]` flattened; weights PyTorch's.

import Foundation

enum Ref {
    /// Cross-correlation with zero padding k/2 and the given stride (nn.Conv2d).
    static func conv(_ x: [Double], c: Int, b: Int, h: Int, w: Int, weight: [Double], bias: [Double],
                     out co: Int, kernel k: Int, stride s: Int) -> [Double] {
        let p = k / 2
        let ho = (h + 2 * p - k) / s + 1, wo = (w + 2 * p - k) / s + 1
        var y = [Double](repeating: 0, count: co * b * ho * wo)
        // Plain loops over buffer pointers (the tests run in debug builds).
        x.withUnsafeBufferPointer { xp in
            weight.withUnsafeBufferPointer { wp in
                y.withUnsafeMutableBufferPointer { yp in
                    for o in 0..<co {
                        for n in 0..<b {
                            for yo in 0..<ho {
                                for xo in 0..<wo {
                                    var acc = bias[o]
                                    for i in 0..<c {
                                        for ky in 0..<k {
                                            let yi = yo * s + ky - p
                                            if yi < 0 || yi >= h { continue }
                                            for kx in 0..<k {
                                                let xi = xo * s + kx - p
                                                if xi < 0 || xi >= w { continue }
                                                acc += wp[((o * c + i) * k + ky) * k + kx] * xp[((i * b + n) * h + yi) * w + xi]
                                            }
                                        }
                                    }
                                    yp[((o * b + n) * ho + yo) * wo + xo] = acc
                                }
                            }
                        }
                    }
                }
            }
        }
        return y
    }

    static func silu(_ a: Double) -> Double { a / (1 + Foundation.exp(-a)) }

    /// GroupNorm(32, eps 1e-5) with affine, then ·(1+scale)+shift (modulation `[B][2C]`), then SiLU.
    static func groupNorm(_ x: [Double], c: Int, b: Int, plane: Int, gamma: [Double], beta: [Double],
                          modulation: [Double]? = nil, silu applySiLU: Bool) -> [Double] {
        let g = 32, cpg = c / g
        var y = [Double](repeating: 0, count: x.count)
        for n in 0..<b {
            for gi in 0..<g {
                var vals: [Double] = []
                for ch in (gi * cpg)..<((gi + 1) * cpg) {
                    for i in 0..<plane { vals.append(x[(ch * b + n) * plane + i]) }
                }
                let mean = vals.reduce(0, +) / Double(vals.count)
                let variance = vals.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(vals.count)
                let inv = 1 / (variance + 1e-5).squareRoot()
                for ch in (gi * cpg)..<((gi + 1) * cpg) {
                    for i in 0..<plane {
                        let idx = (ch * b + n) * plane + i
                        var a = (x[idx] - mean) * inv * gamma[ch] + beta[ch]
                        if let m = modulation { a = a * (1 + m[n * 2 * c + ch]) + m[n * 2 * c + c + ch] }
                        y[idx] = applySiLU ? silu(a) : a
                    }
                }
            }
        }
        return y
    }

    /// y = x·Wᵀ + b, x `[B][in]`.
    static func linear(_ x: [Double], batch: Int, weight: [Double], bias: [Double], in nin: Int, out nout: Int) -> [Double] {
        var y = [Double](repeating: 0, count: batch * nout)
        for r in 0..<batch {
            for o in 0..<nout {
                var acc = bias[o]
                for i in 0..<nin { acc += x[r * nin + i] * weight[o * nin + i] }
                y[r * nout + o] = acc
            }
        }
        return y
    }

    static func nearestUp(_ x: [Double], planes: Int, h: Int, w: Int) -> [Double] {
        var y = [Double](repeating: 0, count: planes * 4 * h * w)
        for p in 0..<planes {
            for i in 0..<(2 * h) {
                for j in 0..<(2 * w) { y[(p * 2 * h + i) * 2 * w + j] = x[(p * h + i / 2) * w + j / 2] }
            }
        }
        return y
    }

    static func avgPool(_ x: [Double], planes: Int, h: Int, w: Int) -> [Double] {
        let ho = h / 2, wo = w / 2
        var y = [Double](repeating: 0, count: planes * ho * wo)
        for p in 0..<planes {
            for i in 0..<ho {
                for j in 0..<wo {
                    var s = 0.0
                    for a in 0..<2 { for c in 0..<2 { s += x[(p * h + 2 * i + a) * w + 2 * j + c] } }
                    y[(p * ho + i) * wo + j] = s / 4
                }
            }
        }
        return y
    }

    struct AttentionWeights {
        var gamma: [Double], beta: [Double], qkvW: [Double], qkvB: [Double], projW: [Double], projB: [Double]
    }

    /// x + proj(attention(qkv(GN(x)))), heads split as in the legacy or the new order.
    static func attention(_ x: [Double], c: Int, b: Int, plane t: Int, heads: Int, newOrder: Bool,
                          weights wt: AttentionWeights) -> [Double] {
        let nrm = groupNorm(x, c: c, b: b, plane: t, gamma: wt.gamma, beta: wt.beta, silu: false)
        let qkv = conv(nrm, c: c, b: b, h: 1, w: t, weight: wt.qkvW, bias: wt.qkvB, out: 3 * c, kernel: 1, stride: 1)
        let ch = c / heads
        let scale = 1 / Foundation.pow(Double(ch), 0.25)
        var o = [Double](repeating: 0, count: c * b * t)
        for n in 0..<b {
            for hd in 0..<heads {
                let rq = newOrder ? hd * ch : hd * 3 * ch
                let rk = newOrder ? c + hd * ch : hd * 3 * ch + ch
                let rv = newOrder ? 2 * c + hd * ch : hd * 3 * ch + 2 * ch
                func at(_ row: Int, _ i: Int) -> Double { qkv[(row * b + n) * t + i] }
                for ti in 0..<t {
                    var logits = [Double](repeating: 0, count: t)
                    for s in 0..<t {
                        var acc = 0.0
                        for cc in 0..<ch { acc += (at(rq + cc, ti) * scale) * (at(rk + cc, s) * scale) }
                        logits[s] = acc
                    }
                    let mx = logits.max()!
                    let e = logits.map { Foundation.exp($0 - mx) }
                    let z = e.reduce(0, +)
                    for cc in 0..<ch {
                        var acc = 0.0
                        for s in 0..<t { acc += e[s] / z * at(rv + cc, s) }
                        o[((hd * ch + cc) * b + n) * t + ti] = acc
                    }
                }
            }
        }
        let proj = conv(o, c: c, b: b, h: 1, w: t, weight: wt.projW, bias: wt.projB, out: c, kernel: 1, stride: 1)
        return zip(x, proj).map { $0 + $1 }
    }

    struct ResBlockWeights {
        var inGamma: [Double], inBeta: [Double], inW: [Double], inB: [Double]
        var embW: [Double], embB: [Double]
        var outGamma: [Double], outBeta: [Double], outW: [Double], outB: [Double]
        var skipW: [Double]?, skipB: [Double]?
    }

    enum Resample { case none, up, down }

    /// improved-/guided-diffusion ResBlock; `embSiLU` = SiLU(emb) `[B][E]`.
    static func resBlock(_ x: [Double], c: Int, co: Int, b: Int, h: Int, w: Int, embSiLU: [Double], embChannels: Int,
                         scaleShift: Bool, resample: Resample, weights wt: ResBlockWeights) -> [Double] {
        var s1 = groupNorm(x, c: c, b: b, plane: h * w, gamma: wt.inGamma, beta: wt.inBeta, silu: true)
        var xs = x, hh = h, ww = w
        switch resample {
        case .none: break
        case .up: s1 = nearestUp(s1, planes: c * b, h: h, w: w); xs = nearestUp(x, planes: c * b, h: h, w: w); hh *= 2; ww *= 2
        case .down: s1 = avgPool(s1, planes: c * b, h: h, w: w); xs = avgPool(x, planes: c * b, h: h, w: w); hh /= 2; ww /= 2
        }
        var hid = conv(s1, c: c, b: b, h: hh, w: ww, weight: wt.inW, bias: wt.inB, out: co, kernel: 3, stride: 1)
        let e = linear(embSiLU, batch: b, weight: wt.embW, bias: wt.embB, in: embChannels, out: scaleShift ? 2 * co : co)
        let plane = hh * ww
        var s2: [Double]
        if scaleShift {
            s2 = groupNorm(hid, c: co, b: b, plane: plane, gamma: wt.outGamma, beta: wt.outBeta, modulation: e, silu: true)
        } else {
            for o in 0..<co { for n in 0..<b { for i in 0..<plane { hid[(o * b + n) * plane + i] += e[n * co + o] } } }
            s2 = groupNorm(hid, c: co, b: b, plane: plane, gamma: wt.outGamma, beta: wt.outBeta, silu: true)
        }
        let out = conv(s2, c: co, b: b, h: hh, w: ww, weight: wt.outW, bias: wt.outB, out: co, kernel: 3, stride: 1)
        let skip = wt.skipW.map { conv(xs, c: c, b: b, h: hh, w: ww, weight: $0, bias: wt.skipB!, out: co, kernel: 1, stride: 1) } ?? xs
        return zip(skip, out).map { $0 + $1 }
    }

    /// Closed-form sinusoidal embedding in Float64: [cos(t f_i), sin(t f_i)], f_i = exp(−ln(1e4)·i/half).
    static func timestepEmbedding(_ t: Int, dimension: Int) -> [Double] {
        let half = dimension / 2
        var e = [Double](repeating: 0, count: dimension)
        for i in 0..<half {
            let f = Foundation.exp(-Foundation.log(10000.0) * Double(i) / Double(half))
            e[i] = Foundation.cos(Double(t) * f)
            e[half + i] = Foundation.sin(Double(t) * f)
        }
        return e
    }
}

/// Deterministic pseudo-random numbers for the tests (SplitMix64 → uniform / normal).
struct TestRandom {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func uniform() -> Double { Double(next() >> 11) / Double(1 << 53) }
    mutating func normal() -> Double {
        let u1 = max(uniform(), 1e-300), u2 = uniform()
        return (-2 * Foundation.log(u1)).squareRoot() * Foundation.cos(2 * Double.pi * u2)
    }
    /// `n` Float32 values, normal with standard deviation `std`.
    mutating func floats(_ n: Int, std: Double = 1) -> [Float] { (0..<n).map { _ in Float(normal() * std) } }
}

extension Array where Element == Float {
    var doubles: [Double] { map(Double.init) }
}
