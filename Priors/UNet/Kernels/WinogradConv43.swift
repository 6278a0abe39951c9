// 3×3 stride-1 convolution (PyTorch Conv2d semantics, zero padding 1) by
// Winograd's minimal filtering F(4×4, 3×3) (Lavin & Gray 2016, §4, with the
// interpolation points 0, ±1, ±2, ∞):
//
//   Y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A   for each 4×4 output tile and 6×6 input tile d,
//   Bᵀ = [4 0 −5 0 1 0; 0 −4 −4 1 1 0; 0 4 −4 −1 1 0; 0 −2 −1 2 1 0; 0 2 −1 −2 1 0; 0 4 0 −5 0 1],
//   G  = [¼ 0 0; −⅙ −⅙ −⅙; −⅙ ⅙ −⅙; 1/24 1/12 ⅙; 1/24 −1/12 ⅙; 0 0 1],
//   Aᵀ = [1 1 1 1 1 0; 0 1 −1 2 −2 0; 0 1 1 4 4 0; 0 1 −1 8 −8 1].
//
// Summed over input channels, the element-wise products are 36 GEMMs
// M_ξ = U_ξ · V_ξ (ξ = the 36 positions of the transformed tile): 2.25
// multiply-adds per output instead of 9 (direct) or 4 (F(2×2, 3×3)), and 2.25×
// instead of 9× data expansion. Its Float32 rounding error is larger than
// F(2×2, 3×3)'s (coefficients up to 8) but stays near 1e-6 relative on the
// U-Net (checked against the Float64 reference and PyTorch in the tests).
//
// Layout: x `[C][B][H][W]`; tiles numbered row-major over (b, tile row ty, tile
// column tx), ⌈H/4⌉ × ⌈W/4⌉ per image; input tile rows 4ty−1 … 4ty+4, zero
// outside. Chunks of whole tile rows keep the transformed data in cache. U is
// `[36][Cout][Cin]`; consecutive ξ planes of V and M are `planePad` floats apart
// beyond their size (no cache-set aliasing).

import Foundation

/// U_ξ = (G g Gᵀ)_ξ of a 3×3 convolution for F(4×4, 3×3), `[36][Cout][Cin]`.
final class Winograd43Kernel {
    let inChannels: Int
    let outChannels: Int
    let u: UnsafeMutablePointer<Float>

    /// From a row-major `[Cout][Cin][3][3]` kernel.
    init(weight: UnsafePointer<Float>, inChannels: Int, outChannels: Int) {
        self.inChannels = inChannels; self.outChannels = outChannels
        u = .allocate(capacity: 36 * outChannels * inChannels)
        // G's rows as (a, b, c) with (G g)_r = a·g0 + b·g1 + c·g2 (applied to the kernel's columns, then rows).
        let G: [(Double, Double, Double)] = [(1.0 / 4, 0, 0), (-1.0 / 6, -1.0 / 6, -1.0 / 6), (-1.0 / 6, 1.0 / 6, -1.0 / 6),
                                             (1.0 / 24, 1.0 / 12, 1.0 / 6), (1.0 / 24, -1.0 / 12, 1.0 / 6), (0, 0, 1)]
        let plane = outChannels * inChannels
        for o in 0..<outChannels {
            for i in 0..<inChannels {
                let g = weight + (o * inChannels + i) * 9
                for r in 0..<6 {
                    // Row r of G·g (3 values), in Float64.
                    let (a, b, c) = G[r]
                    let h0 = a * Double(g[0]) + b * Double(g[3]) + c * Double(g[6])
                    let h1 = a * Double(g[1]) + b * Double(g[4]) + c * Double(g[7])
                    let h2 = a * Double(g[2]) + b * Double(g[5]) + c * Double(g[8])
                    for col in 0..<6 {
                        let (p, q, s) = G[col]
                        u[(r * 6 + col) * plane + o * inChannels + i] = Float(p * h0 + q * h1 + s * h2)
                    }
                }
            }
        }
    }

    deinit { u.deallocate() }
}

@inline(__always)
func load4(_ p: UnsafePointer<Float>) -> SIMD4<Float> { UnsafeRawPointer(p).loadUnaligned(as: SIMD4<Float>.self) }

@inline(__always)
func store4(_ v: SIMD4<Float>, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD4<Float>.self)
}

enum Winograd43Convolution {
    static let planePad = 16

    /// y = addend + conv3×3(x) + bias, stride 1, padding 1 (`addend` nil: 0; it may be `y` itself,
    /// to accumulate). bias may be nil (zero).
    /// Chunks of whole tile rows run in parallel, taken by the workers as they become free, each
    /// worker with its own transform buffers and single-threaded GEMMs.
    static func forward(_ x: UnsafePointer<Float>, batch: Int, height H: Int, width W: Int, kernel: Winograd43Kernel,
                        bias: UnsafePointer<Float>?, into y: UnsafeMutablePointer<Float>, addend: UnsafePointer<Float>?,
                        workspace ws: WinogradWorkspace) {
        let cin = kernel.inChannels, cout = kernel.outChannels
        let tilesX = (W + 3) / 4, tilesY = (H + 3) / 4
        let perRow = 36 * (cin + cout) * tilesX
        let workers = UNetThreading.threads
        // Batch invariance (DESIGN §2): a chunk holds tile rows of one image only, and every image is cut
        // the same way, independently of the batch and the worker count — OpenBLAS's rounding depends on a
        // GEMM's shape, so an image's GEMMs must not depend on its neighbours. An image is split in two
        // when it is large enough (≥ 2·128 tiles) so that a single image still uses two workers.
        let budgetRows = max(1, ws.budget / max(1, perRow))
        let minRows = max(1, 128 / tilesX)
        let rowsPerChunk = max(1, min(tilesY, budgetRows, max(minRows, (tilesY + 1) / 2)))
        let piecesPerImage = (tilesY + rowsPerChunk - 1) / rowsPerChunk
        let chunks = batch * piecesPerImage
        let active = min(workers, chunks)
        let maxTiles = rowsPerChunk * tilesX
        let vSize = 36 * (cin * maxTiles + planePad), mSize = 36 * (cout * maxTiles + planePad)
        let L = 4 * tilesX + 8  // a padded row: columns −1 … 4·tilesX + 4, rounded up (a multiple of 4)
        let sSize = 16 * L + 24 * tilesX
        let V = ws.v.reserve(active * vSize), M = ws.m.reserve(active * mSize), S = ws.rows.reserve(active * sSize)
        let clock = ws.clock.reserve(3 * active)  // per-worker ns in the three phases (profiling)
        let profiling = KernelProfile.enabled
        if profiling { clock.update(repeating: 0, count: 3 * active) }
        ParallelLoop.runDynamic(chunks, workers: active) { chunk, w in
            let Vw = V + w * vSize, Mw = M + w * mSize, Sw = S + w * sSize
            do {
                let image = chunk / piecesPerImage, piece = chunk % piecesPerImage
                let r0 = image * tilesY + piece * rowsPerChunk, r1 = min((image + 1) * tilesY, r0 + rowsPerChunk)
                let tiles = (r1 - r0) * tilesX
                let t0 = profiling ? KernelProfile.now : 0
                inputTransform(x, channels: cin, batch: batch, height: H, width: W, tileRows: r0..<r1, tilesX: tilesX,
                               tilesY: tilesY, into: Vw, scratch: Sw, rowLength: L)
                let t1 = profiling ? KernelProfile.now : 0
                for xi in 0..<36 {
                    sgemm(m: cout, n: tiles, k: cin, a: kernel.u + xi * cout * cin, lda: cin,
                          b: Vw + xi * (cin * tiles + planePad), ldb: tiles, beta: 0,
                          c: Mw + xi * (cout * tiles + planePad), ldc: tiles, category: "")
                }
                let t2 = profiling ? KernelProfile.now : 0
                outputTransform(Mw, channels: cout, batch: batch, height: H, width: W, tileRows: r0..<r1,
                                tilesX: tilesX, tilesY: tilesY, bias: bias, into: y, addend: addend,
                                scratch: Sw, rowLength: L)
                if profiling {
                    let t3 = KernelProfile.now
                    clock[3 * w] += Float(t1 - t0); clock[3 * w + 1] += Float(t2 - t1); clock[3 * w + 2] += Float(t3 - t2)
                }
            }
        }
        if profiling {
            var sums: (Float, Float, Float) = (0, 0, 0)
            for w in 0..<active { sums.0 += clock[3 * w]; sums.1 += clock[3 * w + 1]; sums.2 += clock[3 * w + 2] }
            let n = Float(active)
            KernelProfile.add("winograd input", nanoseconds: UInt64(sums.0 / n))
            KernelProfile.add("sgemm (winograd)", nanoseconds: UInt64(sums.1 / n))
            KernelProfile.add("winograd output", nanoseconds: UInt64(sums.2 / n))
        }
    }

    /// V[ξ][c][t] = (Bᵀ d B)_ξ for the tiles t of `tileRows`.
    @inline(never)
    static func inputTransform(_ x: UnsafePointer<Float>, channels: Int, batch: Int, height H: Int, width W: Int,
                               tileRows: Range<Int>, tilesX: Int, tilesY: Int, into V: UnsafeMutablePointer<Float>,
                               scratch: UnsafeMutablePointer<Float>, rowLength L: Int) {
        let tiles = tileRows.count * tilesX
        let plane = H * W
        let stride = channels * tiles + planePad
        do {
            // Rows 0–5: the padded input rows (index k holds column k − 1); rows 6–11: Bᵀ applied along y.
            let buf = scratch
            for c in 0..<channels {
                for (rowIndex, row) in tileRows.enumerated() {
                    let b = row / tilesY, ty = row % tilesY
                    for r in 0..<6 {
                        let d = buf + r * L
                        let yIn = 4 * ty - 1 + r
                        if yIn < 0 || yIn >= H {
                            d.update(repeating: 0, count: L)
                        } else {
                            d[0] = 0
                            (d + 1).update(from: x + (c * batch + b) * plane + yIn * W, count: W)
                            (d + W + 1).update(repeating: 0, count: L - W - 1)
                        }
                    }
                    let d0 = buf, d1 = buf + L, d2 = buf + 2 * L, d3 = buf + 3 * L, d4 = buf + 4 * L, d5 = buf + 5 * L
                    let t0 = buf + 6 * L, t1 = buf + 7 * L, t2 = buf + 8 * L, t3 = buf + 9 * L, t4 = buf + 10 * L, t5 = buf + 11 * L
                    var k = 0
                    while k < L {  // L is a multiple of 4
                        let a0 = load4(d0 + k), a1 = load4(d1 + k), a2 = load4(d2 + k)
                        let a3 = load4(d3 + k), a4 = load4(d4 + k), a5 = load4(d5 + k)
                        store4(4 * a0 - 5 * a2 + a4, t0 + k)
                        store4(-4 * (a1 + a2) + a3 + a4, t1 + k)
                        store4(4 * (a1 - a2) - a3 + a4, t2 + k)
                        store4(2 * (a3 - a1) - a2 + a4, t3 + k)
                        store4(2 * (a1 - a3) - a2 + a4, t4 + k)
                        store4(4 * a1 - 5 * a3 + a5, t5 + k)
                        k += 4
                    }
                    // B along x: tile tx reads t_i[4tx … 4tx+5]. Four tiles at a time: five SIMD4 loads
                    // transposed so that lane l holds tile tx+l, then the transform on whole vectors.
                    let base = V + c * tiles + rowIndex * tilesX
                    let vectorTiles = tilesX & ~3
                    for i in 0..<6 {
                        let t = buf + (6 + i) * L
                        let v0 = base + (6 * i) * stride, v1 = v0 + stride, v2 = v1 + stride
                        let v3 = v2 + stride, v4 = v3 + stride, v5 = v4 + stride
                        var tx = 0
                        while tx < vectorTiles {
                            let p = t + 4 * tx
                            let r0 = load4(p), r1 = load4(p + 4), r2 = load4(p + 8), r3 = load4(p + 12), r4 = load4(p + 16)
                            let a0 = SIMD4(r0[0], r1[0], r2[0], r3[0]), a1 = SIMD4(r0[1], r1[1], r2[1], r3[1])
                            let a2 = SIMD4(r0[2], r1[2], r2[2], r3[2]), a3 = SIMD4(r0[3], r1[3], r2[3], r3[3])
                            let a4 = SIMD4(r1[0], r2[0], r3[0], r4[0]), a5 = SIMD4(r1[1], r2[1], r3[1], r4[1])
                            store4(4 * a0 - 5 * a2 + a4, v0 + tx)
                            store4(-4 * (a1 + a2) + a3 + a4, v1 + tx)
                            store4(4 * (a1 - a2) - a3 + a4, v2 + tx)
                            store4(2 * (a3 - a1) - a2 + a4, v3 + tx)
                            store4(2 * (a1 - a3) - a2 + a4, v4 + tx)
                            store4(4 * a1 - 5 * a3 + a5, v5 + tx)
                            tx += 4
                        }
                        for tx in vectorTiles..<tilesX {
                            let p = t + 4 * tx
                            let a0 = p[0], a1 = p[1], a2 = p[2], a3 = p[3], a4 = p[4], a5 = p[5]
                            v0[tx] = 4 * a0 - 5 * a2 + a4
                            v1[tx] = -4 * (a1 + a2) + a3 + a4
                            v2[tx] = 4 * (a1 - a2) - a3 + a4
                            v3[tx] = 2 * (a3 - a1) - a2 + a4
                            v4[tx] = 2 * (a1 - a3) - a2 + a4
                            v5[tx] = 4 * a1 - 5 * a3 + a5
                        }
                    }
                }
            }
        }
    }

    /// y[o][b][4ty+p][4tx+q] = addend[…] + bias[o] + (Aᵀ M A)_{pq} for the tiles of `tileRows`, cropped to H×W.
    @inline(never)
    static func outputTransform(_ M: UnsafePointer<Float>, channels: Int, batch: Int, height H: Int, width W: Int,
                                tileRows: Range<Int>, tilesX: Int, tilesY: Int, bias: UnsafePointer<Float>?,
                                into y: UnsafeMutablePointer<Float>, addend: UnsafePointer<Float>?,
                                scratch: UnsafeMutablePointer<Float>, rowLength L: Int) {
        let tiles = tileRows.count * tilesX
        let plane = H * W
        let stride = channels * tiles + planePad
        do {
            // Rows 0–3 (length L ≥ 4·tilesX): the 4 output rows of a tile row; then 24 arrays s_pj (tilesX each).
            let buf = scratch
            let sBase = buf + 16 * L
            for o in 0..<channels {
                let bo = bias?[o] ?? 0
                for (rowIndex, row) in tileRows.enumerated() {
                    let b = row / tilesY, ty = row % tilesY
                    let m = M + o * tiles + rowIndex * tilesX
                    // Aᵀ along i for each column j: s_pj = Σ_i Aᵀ[p][i] m_ij.
                    for j in 0..<6 {
                        let m0 = m + j * stride, m1 = m + (6 + j) * stride, m2 = m + (12 + j) * stride
                        let m3 = m + (18 + j) * stride, m4 = m + (24 + j) * stride, m5 = m + (30 + j) * stride
                        let s0 = sBase + j * tilesX, s1 = s0 + 6 * tilesX, s2 = s1 + 6 * tilesX, s3 = s2 + 6 * tilesX
                        let vectorTiles = tilesX & ~3
                        var tv = 0
                        while tv < vectorTiles {
                            let a1 = load4(m1 + tv), a2 = load4(m2 + tv), a3 = load4(m3 + tv), a4 = load4(m4 + tv)
                            let p12 = a1 + a2, m12 = a1 - a2, p34 = a3 + a4, m34 = a3 - a4
                            store4(load4(m0 + tv) + p12 + p34, s0 + tv)
                            store4(m12 + 2 * m34, s1 + tv)
                            store4(p12 + 4 * p34, s2 + tv)
                            store4(m12 + 8 * m34 + load4(m5 + tv), s3 + tv)
                            tv += 4
                        }
                        for tx in vectorTiles..<tilesX {
                            let a1 = m1[tx], a2 = m2[tx], a3 = m3[tx], a4 = m4[tx]
                            let p12 = a1 + a2, m12 = a1 - a2, p34 = a3 + a4, m34 = a3 - a4
                            s0[tx] = m0[tx] + p12 + p34
                            s1[tx] = m12 + 2 * m34
                            s2[tx] = p12 + 4 * p34
                            s3[tx] = m12 + 8 * m34 + m5[tx]
                        }
                    }
                    // A along j: y_pq = Σ_j s_pj A[j][q], written into output row p at columns 4tx + q.
                    for p in 0..<4 {
                        let s0 = sBase + (6 * p) * tilesX, s1 = s0 + tilesX, s2 = s1 + tilesX
                        let s3 = s2 + tilesX, s4 = s3 + tilesX, s5 = s4 + tilesX
                        let out = buf + p * L
                        let vectorTiles = tilesX & ~3
                        var tv = 0
                        while tv < vectorTiles {
                            // Four tiles: y_q in lane l for tile tv+l, transposed to one SIMD4 (q0…q3) per tile.
                            let a1 = load4(s1 + tv), a2 = load4(s2 + tv), a3 = load4(s3 + tv), a4 = load4(s4 + tv)
                            let p12 = a1 + a2, m12 = a1 - a2, p34 = a3 + a4, m34 = a3 - a4
                            let bv = SIMD4<Float>(repeating: bo)
                            let q0 = load4(s0 + tv) + p12 + p34 + bv
                            let q1 = m12 + 2 * m34 + bv
                            let q2 = p12 + 4 * p34 + bv
                            let q3 = m12 + 8 * m34 + load4(s5 + tv) + bv
                            let q = out + 4 * tv
                            store4(SIMD4(q0[0], q1[0], q2[0], q3[0]), q)
                            store4(SIMD4(q0[1], q1[1], q2[1], q3[1]), q + 4)
                            store4(SIMD4(q0[2], q1[2], q2[2], q3[2]), q + 8)
                            store4(SIMD4(q0[3], q1[3], q2[3], q3[3]), q + 12)
                            tv += 4
                        }
                        for tx in vectorTiles..<tilesX {
                            let a1 = s1[tx], a2 = s2[tx], a3 = s3[tx], a4 = s4[tx]
                            let p12 = a1 + a2, m12 = a1 - a2, p34 = a3 + a4, m34 = a3 - a4
                            let q = out + 4 * tx
                            q[0] = s0[tx] + p12 + p34 + bo
                            q[1] = m12 + 2 * m34 + bo
                            q[2] = p12 + 4 * p34 + bo
                            q[3] = m12 + 8 * m34 + s5[tx] + bo
                        }
                        let yOut = 4 * ty + p
                        if yOut >= H { continue }
                        let offset = (o * batch + b) * plane + yOut * W
                        let dst = y + offset
                        if let addend {
                            let a = addend + offset
                            var k = 0
                            while k + 4 <= W { store4(load4(a + k) + load4(out + k), dst + k); k += 4 }
                            while k < W { dst[k] = a[k] + out[k]; k += 1 }
                        } else {
                            dst.update(from: out, count: W)
                        }
                    }
                }
            }
        }
    }
}
