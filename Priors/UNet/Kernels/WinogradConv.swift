// 3×3 stride-1 convolution (PyTorch Conv2d semantics, zero padding 1) by
// Winograd's minimal filtering F(2×2, 3×3) (Lavin & Gray 2016, "Fast
// Algorithms for Convolutional Neural Networks", §4):
//
//   Y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A   for each 2×2 output tile and 4×4 input tile d,
//   Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1],  G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1],
//   Aᵀ = [1 1 1 0; 0 1 −1 −1].
//
// Summed over input channels, the element-wise products become 16 GEMMs
// M_ξ[o][t] = Σ_i U_ξ[o][i] V_ξ[i][t] (ξ = the 16 positions of the 4×4
// transformed tile, t = tile), with 4 instead of 9 multiply-adds per output
// and 4× instead of 9× data expansion compared with im2col. F(2×2, 3×3) has
// only ±1 and ½ coefficients: its Float32 error is of the order of the
// direct method's (it is checked against the Float64 reference in the tests).
//
// Layout: x `[C][B][H][W]`; tiles are numbered row-major over (b, tile row
// ty, tile column tx) with ⌈H/2⌉ × ⌈W/2⌉ tiles per image (input tile rows
// 2ty−1 … 2ty+2, zero outside); work runs in chunks of whole tile rows so the
// transformed data stays in cache. U is `[16][Cout][Cin]`.

import Foundation

/// The transformed kernel U_ξ = (G g Gᵀ)_ξ of a 3×3 convolution, `[16][Cout][Cin]`.
final class WinogradKernel {
    let inChannels: Int
    let outChannels: Int
    let u: UnsafeMutablePointer<Float>

    /// From a row-major `[Cout][Cin][3][3]` kernel.
    init(weight: UnsafePointer<Float>, inChannels: Int, outChannels: Int) {
        self.inChannels = inChannels; self.outChannels = outChannels
        u = .allocate(capacity: 16 * outChannels * inChannels)
        let G: [(Double, Double, Double)] = [(1, 0, 0), (0.5, 0.5, 0.5), (0.5, -0.5, 0.5), (0, 0, 1)]
        let plane = outChannels * inChannels
        for o in 0..<outChannels {
            for i in 0..<inChannels {
                let g = weight + (o * inChannels + i) * 9
                for r in 0..<4 {
                    let (a, b, c) = G[r]
                    let h0 = a * Double(g[0]) + b * Double(g[3]) + c * Double(g[6])
                    let h1 = a * Double(g[1]) + b * Double(g[4]) + c * Double(g[7])
                    let h2 = a * Double(g[2]) + b * Double(g[5]) + c * Double(g[8])
                    for col in 0..<4 {
                        let (p, q, s) = G[col]
                        u[(r * 4 + col) * plane + o * inChannels + i] = Float(p * h0 + q * h1 + s * h2)
                    }
                }
            }
        }
    }

    deinit { u.deallocate() }
}

/// Workspace of the Winograd convolution (transformed input and products of one chunk, per-worker rows).
final class WinogradWorkspace {
    let v = FloatBuffer()
    let m = FloatBuffer()
    let rows = FloatBuffer()
    let clock = FloatBuffer()
    /// Upper bound on the floats of V + M for one chunk; chunks are whole tile rows.
    var budget = Int(ProcessInfo.processInfo.environment["TWEEDIE_WINOGRAD_BUDGET"] ?? "") ?? (1 << 20)
}

enum WinogradConvolution {
    /// Floats between consecutive ξ planes beyond their size: one cache line, so that the 16 planes a
    /// transform reads or writes together do not fall on the same cache sets (power-of-two strides would).
    static let planePad = 16

    /// y = addend + conv3×3(x) + bias, stride 1, padding 1 (`addend` nil: 0; it may be `y` itself,
    /// to accumulate). bias may be nil (zero).
    /// Chunks of whole tile rows run in parallel, taken by the workers as they become free, each
    /// worker with its own transform buffers and single-threaded GEMMs.
    static func forward(_ x: UnsafePointer<Float>, batch: Int, height H: Int, width W: Int, kernel: WinogradKernel,
                        bias: UnsafePointer<Float>?, into y: UnsafeMutablePointer<Float>, addend: UnsafePointer<Float>?,
                        workspace ws: WinogradWorkspace) {
        let cin = kernel.inChannels, cout = kernel.outChannels
        let tilesX = (W + 1) / 2, tilesY = (H + 1) / 2
        let perRow = 16 * (cin + cout) * tilesX
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
        let vSize = 16 * (cin * maxTiles + planePad), mSize = 16 * (cout * maxTiles + planePad)
        let L = tilesX + 1  // one even / odd half-row
        let sSize = 16 * L
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
                for xi in 0..<16 {
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

    /// V[ξ][c][t] = (Bᵀ d B)_ξ for the tiles t of `tileRows` (d the 4×4 input patch of tile t, channel c).
    ///
    /// Each input row is split into even and odd columns of the padded row — E[k] = x[2k−1], O[k] = x[2k] —
    /// so tile tx reads E[tx], O[tx], E[tx+1], O[tx+1] and every inner loop is contiguous (vectorises).
    @inline(never)
    static func inputTransform(_ x: UnsafePointer<Float>, channels: Int, batch: Int, height H: Int, width W: Int,
                               tileRows: Range<Int>, tilesX: Int, tilesY: Int, into V: UnsafeMutablePointer<Float>,
                               scratch: UnsafeMutablePointer<Float>, rowLength L: Int) {
        let tiles = tileRows.count * tilesX
        let plane = H * W
        let stride = channels * tiles + planePad  // between ξ planes of V
        let K = tilesX + 1             // entries of E and O
        do {
            // 8 rows of length L ≥ K: E_r, O_r for the 4 input rows, then reused for the vertical transform.
            let buf = scratch
            for c in 0..<channels {
                for (rowIndex, row) in tileRows.enumerated() {
                    let b = row / tilesY, ty = row % tilesY
                    for r in 0..<4 {
                        let e = buf + 2 * r * L, o = e + L
                        let yIn = 2 * ty - 1 + r
                        if yIn < 0 || yIn >= H {
                            e.update(repeating: 0, count: K); o.update(repeating: 0, count: K)
                            continue
                        }
                        let src = x + (c * batch + b) * plane + yIn * W
                        // E[k] = x[2k−1] (E[0] = x[−1] = 0), O[k] = x[2k]; zero beyond W.
                        e[0] = 0
                        let half = W / 2
                        for k in 0..<half { o[k] = src[2 * k]; e[k + 1] = src[2 * k + 1] }
                        // K = ⌈W/2⌉ + 1: for even W the last O is x[W] = 0; for odd W, O ends with x[W−1]
                        // and E with x[W] = 0, then one more zero O.
                        if W % 2 == 1 { o[half] = src[W - 1]; e[half + 1] = 0; o[half + 1] = 0 } else { o[half] = 0 }
                    }
                    let e0 = buf, o0 = buf + L, e1 = buf + 2 * L, o1 = buf + 3 * L
                    let e2 = buf + 4 * L, o2 = buf + 5 * L, e3 = buf + 6 * L, o3 = buf + 7 * L
                    // Bᵀ along y, in place: row i of Bᵀd for the even and odd columns.
                    for k in 0..<K {
                        let a0 = e0[k], a1 = e1[k], a2 = e2[k], a3 = e3[k]
                        e0[k] = a0 - a2; e1[k] = a1 + a2; e2[k] = a2 - a1; e3[k] = a1 - a3
                        let b0 = o0[k], b1 = o1[k], b2 = o2[k], b3 = o3[k]
                        o0[k] = b0 - b2; o1[k] = b1 + b2; o2[k] = b2 - b1; o3[k] = b1 - b3
                    }
                    // B along x: (a0, a1, a2, a3) = (E[tx], O[tx], E[tx+1], O[tx+1]).
                    let base = V + c * tiles + rowIndex * tilesX
                    for i in 0..<4 {
                        let e = buf + 2 * i * L, o = e + L
                        let v0 = base + (i * 4) * stride, v1 = v0 + stride, v2 = v1 + stride, v3 = v2 + stride
                        for tx in 0..<tilesX {
                            let a0 = e[tx], a1 = o[tx], a2 = e[tx + 1], a3 = o[tx + 1]
                            v0[tx] = a0 - a2; v1[tx] = a1 + a2; v2[tx] = a2 - a1; v3[tx] = a1 - a3
                        }
                    }
                }
            }
        }
    }

    /// y[o][b][2ty+p][2tx+q] = addend[…] + bias[o] + (Aᵀ M A)_{pq} for the tiles of `tileRows`, cropped to H×W.
    @inline(never)
    static func outputTransform(_ M: UnsafePointer<Float>, channels: Int, batch: Int, height H: Int, width W: Int,
                                tileRows: Range<Int>, tilesX: Int, tilesY: Int, bias: UnsafePointer<Float>?,
                                into y: UnsafeMutablePointer<Float>, addend: UnsafePointer<Float>?,
                                scratch: UnsafeMutablePointer<Float>, rowLength L: Int) {
        let tiles = tileRows.count * tilesX
        let plane = H * W
        let stride = channels * tiles + planePad
        do {
            // Scratch rows (length L ≥ tilesX): 0–3 the output rows' even / odd columns
            // (y0e, y0o, y1e, y1o), 4–11 s_pj = Σ_i Aᵀ[p][i] m_ij.
            let buf = scratch
            let y0e = buf, y0o = buf + L, y1e = buf + 2 * L, y1o = buf + 3 * L
            for o in 0..<channels {
                let bo = bias?[o] ?? 0
                for (rowIndex, row) in tileRows.enumerated() {
                    let b = row / tilesY, ty = row % tilesY
                    let m = M + o * tiles + rowIndex * tilesX
                    // Aᵀ along i (rows of the 4×4 tile), one column j at a time: contiguous over tx.
                    for j in 0..<4 {
                        let mi0 = m + j * stride, mi1 = m + (4 + j) * stride
                        let mi2 = m + (8 + j) * stride, mi3 = m + (12 + j) * stride
                        let s0 = buf + (4 + j) * L, s1 = buf + (8 + j) * L
                        for tx in 0..<tilesX {
                            let a1 = mi1[tx], a2 = mi2[tx]
                            s0[tx] = mi0[tx] + a1 + a2
                            s1[tx] = a1 - a2 - mi3[tx]
                        }
                    }
                    // A along j: y_p0 = s_p0 + s_p1 + s_p2, y_p1 = s_p1 − s_p2 − s_p3 (+ bias).
                    for p in 0..<2 {
                        let sp0 = buf + (4 + 4 * p) * L, sp1 = sp0 + L, sp2 = sp1 + L, sp3 = sp2 + L
                        let ye = buf + 2 * p * L, yo = ye + L
                        for tx in 0..<tilesX {
                            let a1 = sp1[tx], a2 = sp2[tx]
                            ye[tx] = sp0[tx] + a1 + a2 + bo
                            yo[tx] = a1 - a2 - sp3[tx] + bo
                        }
                    }
                    _ = (y0e, y0o, y1e, y1o)
                    let half = W / 2
                    for p in 0..<2 {
                        let yOut = 2 * ty + p
                        if yOut >= H { continue }
                        let ev = buf + 2 * p * L, od = ev + L
                        let offset = (o * batch + b) * plane + yOut * W
                        let dst = y + offset
                        if let addend {
                            let a = addend + offset
                            for k in 0..<half { dst[2 * k] = a[2 * k] + ev[k]; dst[2 * k + 1] = a[2 * k + 1] + od[k] }
                            if W % 2 == 1 { dst[W - 1] = a[W - 1] + ev[half] }
                        } else {
                            for k in 0..<half { dst[2 * k] = ev[k]; dst[2 * k + 1] = od[k] }
                            if W % 2 == 1 { dst[W - 1] = ev[half] }
                        }
                    }
                }
            }
        }
    }
}
