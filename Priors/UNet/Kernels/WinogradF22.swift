// Winograd's minimal filtering F(2×2, 3×3) (Lavin & Gray 2016, "Fast Algorithms for
// Convolutional Neural Networks", §4): the input and output tile transforms of
// WinogradConvolution (WinogradConv.swift), for 2×2 output tiles from 4×4 input tiles:
//
//   Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1],  Aᵀ = [1 1 1 0; 0 1 −1 −1]
//   (G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1] is applied to the kernel by WinogradKernel).
//
// Only ±1 and ½ coefficients: its Float32 error is of the order of the direct method's.
// Tiles: ⌈H/2⌉ × ⌈W/2⌉ per image, input tile rows 2ty−1 … 2ty+2 (zero outside).

import Foundation

enum WinogradF22 {
    static let planePad = WinogradConvolution.planePad

    /// Scratch floats per worker: one even / odd half-row of L = tilesX + 1 entries, 16 rows.
    static func rowLength(tilesX: Int) -> Int { tilesX + 1 }
    static func scratchSize(tilesX: Int) -> Int { 16 * rowLength(tilesX: tilesX) }

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
