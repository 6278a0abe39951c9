// Winograd's minimal filtering F(4×4, 3×3) (Lavin & Gray 2016, §4, with the interpolation
// points 0, ±1, ±2, ∞): the input and output tile transforms of WinogradConvolution
// (WinogradConv.swift), for 4×4 output tiles from 6×6 input tiles:
//
//   Bᵀ = [4 0 −5 0 1 0; 0 −4 −4 1 1 0; 0 4 −4 −1 1 0; 0 −2 −1 2 1 0; 0 2 −1 −2 1 0; 0 4 0 −5 0 1],
//   Aᵀ = [1 1 1 1 1 0; 0 1 −1 2 −2 0; 0 1 1 4 4 0; 0 1 −1 8 −8 1]
//   (G = [¼ 0 0; −⅙ −⅙ −⅙; −⅙ ⅙ −⅙; 1/24 1/12 ⅙; 1/24 −1/12 ⅙; 0 0 1] is applied to the kernel
//   by WinogradKernel).
//
// 2.25 multiply-adds per output instead of 9 (direct) or 4 (F(2×2, 3×3)). Its Float32 rounding
// error is larger than F(2×2, 3×3)'s (coefficients up to 8) but stays near 1e-6 relative on the
// U-Net (checked against the Float64 reference and PyTorch in the tests). Tiles: ⌈H/4⌉ × ⌈W/4⌉
// per image, input tile rows 4ty−1 … 4ty+4 (zero outside).

import Foundation

@inline(__always)
func load4(_ p: UnsafePointer<Float>) -> SIMD4<Float> { UnsafeRawPointer(p).loadUnaligned(as: SIMD4<Float>.self) }

@inline(__always)
func store4(_ v: SIMD4<Float>, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD4<Float>.self)
}

enum WinogradF43 {
    static let planePad = WinogradConvolution.planePad

    /// A padded row: columns −1 … 4·tilesX + 4, rounded up to a multiple of 4.
    static func rowLength(tilesX: Int) -> Int { 4 * tilesX + 8 }
    /// Scratch floats per worker: 16 padded rows and 24 floats per tile.
    static func scratchSize(tilesX: Int) -> Int { 16 * rowLength(tilesX: tilesX) + 24 * tilesX }

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
