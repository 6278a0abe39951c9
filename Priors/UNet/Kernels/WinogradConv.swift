// 3×3 stride-1 convolution (PyTorch Conv2d semantics, zero padding 1) by Winograd's minimal
// filtering F(m×m, 3×3) (Lavin & Gray 2016, "Fast Algorithms for Convolutional Neural
// Networks", §4):
//
//   Y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A   for each m×m output tile and (m+2)×(m+2) input tile d.
//
// Summed over input channels, the element-wise products become (m+2)² GEMMs
// M_ξ[o][t] = Σ_i U_ξ[o][i] V_ξ[i][t] (ξ = the positions of the transformed tile, t = tile).
// Two tile sizes: F(2×2, 3×3) (16 GEMMs, 4 instead of 9 multiply-adds per output;
// WinogradF22.swift) and F(4×4, 3×3) (36 GEMMs, 2.25 multiply-adds; WinogradF43.swift). This
// file holds what they share: the transformed kernel U = G g Gᵀ, the workspace, and the driver
// that cuts the tiles into chunks, transforms, multiplies and transforms back.
//
// Layout: x `[C][B][H][W]`; tiles are numbered row-major over (b, tile row ty, tile column tx)
// with ⌈H/m⌉ × ⌈W/m⌉ tiles per image; work runs in chunks of whole tile rows so the transformed
// data stays in cache. U is `[(m+2)²][Cout][Cin]`; consecutive ξ planes of V and M are
// `planePad` floats apart beyond their size (no cache-set aliasing).

import Foundation
import TweedieCore

/// The two Winograd tile sizes.
enum WinogradTile: Sendable {
    /// F(2×2, 3×3): 2×2 output tiles from 4×4 input tiles.
    case f2x2
    /// F(4×4, 3×3): 4×4 output tiles from 6×6 input tiles.
    case f4x4

    /// m, the output tile's side.
    var outputSize: Int { self == .f2x2 ? 2 : 4 }
    /// (m+2)², the transformed tile's positions ξ (one GEMM each).
    var points: Int { (outputSize + 2) * (outputSize + 2) }
    /// The rows of G as (a, b, c): (G g)_r = a·g0 + b·g1 + c·g2.
    var kernelTransform: [(Double, Double, Double)] {
        switch self {
        case .f2x2: return [(1, 0, 0), (0.5, 0.5, 0.5), (0.5, -0.5, 0.5), (0, 0, 1)]
        case .f4x4: return [(1.0 / 4, 0, 0), (-1.0 / 6, -1.0 / 6, -1.0 / 6), (-1.0 / 6, 1.0 / 6, -1.0 / 6),
                            (1.0 / 24, 1.0 / 12, 1.0 / 6), (1.0 / 24, -1.0 / 12, 1.0 / 6), (0, 0, 1)]
        }
    }
}

/// The transformed kernel U_ξ = (G g Gᵀ)_ξ of a 3×3 convolution, `[(m+2)²][Cout][Cin]`.
final class WinogradKernel {
    let tile: WinogradTile
    let inChannels: Int
    let outChannels: Int
    let u: UnsafeMutablePointer<Float>

    /// From a row-major `[Cout][Cin][3][3]` kernel; G g Gᵀ in Float64, rounded once.
    init(weight: UnsafePointer<Float>, inChannels: Int, outChannels: Int, tile: WinogradTile) {
        self.tile = tile; self.inChannels = inChannels; self.outChannels = outChannels
        let G = tile.kernelTransform, n = G.count
        u = .allocate(capacity: n * n * outChannels * inChannels)
        let plane = outChannels * inChannels
        for o in 0..<outChannels {
            for i in 0..<inChannels {
                let g = weight + (o * inChannels + i) * 9
                for r in 0..<n {
                    // Row r of G·g (3 values).
                    let (a, b, c) = G[r]
                    let h0 = a * Double(g[0]) + b * Double(g[3]) + c * Double(g[6])
                    let h1 = a * Double(g[1]) + b * Double(g[4]) + c * Double(g[7])
                    let h2 = a * Double(g[2]) + b * Double(g[5]) + c * Double(g[8])
                    for col in 0..<n {
                        let (p, q, s) = G[col]
                        u[(r * n + col) * plane + o * inChannels + i] = Float(p * h0 + q * h1 + s * h2)
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
    var budget = EngineSettings.process.winogradBudgetFloats
}

enum WinogradConvolution {
    /// Floats between consecutive ξ planes beyond their size: one cache line, so that the planes a
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
        let m = kernel.tile.outputSize, points = kernel.tile.points
        let tilesX = (W + m - 1) / m, tilesY = (H + m - 1) / m
        let perRow = points * (cin + cout) * tilesX
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
        let vSize = points * (cin * maxTiles + planePad), mSize = points * (cout * maxTiles + planePad)
        let L: Int, sSize: Int
        switch kernel.tile {
        case .f2x2: (L, sSize) = (WinogradF22.rowLength(tilesX: tilesX), WinogradF22.scratchSize(tilesX: tilesX))
        case .f4x4: (L, sSize) = (WinogradF43.rowLength(tilesX: tilesX), WinogradF43.scratchSize(tilesX: tilesX))
        }
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
                switch kernel.tile {
                case .f2x2:
                    WinogradF22.inputTransform(x, channels: cin, batch: batch, height: H, width: W, tileRows: r0..<r1,
                                               tilesX: tilesX, tilesY: tilesY, into: Vw, scratch: Sw, rowLength: L)
                case .f4x4:
                    WinogradF43.inputTransform(x, channels: cin, batch: batch, height: H, width: W, tileRows: r0..<r1,
                                               tilesX: tilesX, tilesY: tilesY, into: Vw, scratch: Sw, rowLength: L)
                }
                let t1 = profiling ? KernelProfile.now : 0
                for xi in 0..<points {
                    sgemm(m: cout, n: tiles, k: cin, a: kernel.u + xi * cout * cin, lda: cin,
                          b: Vw + xi * (cin * tiles + planePad), ldb: tiles, beta: 0,
                          c: Mw + xi * (cout * tiles + planePad), ldc: tiles, category: "")
                }
                let t2 = profiling ? KernelProfile.now : 0
                switch kernel.tile {
                case .f2x2:
                    WinogradF22.outputTransform(Mw, channels: cout, batch: batch, height: H, width: W, tileRows: r0..<r1,
                                                tilesX: tilesX, tilesY: tilesY, bias: bias, into: y, addend: addend,
                                                scratch: Sw, rowLength: L)
                case .f4x4:
                    WinogradF43.outputTransform(Mw, channels: cout, batch: batch, height: H, width: W, tileRows: r0..<r1,
                                                tilesX: tilesX, tilesY: tilesY, bias: bias, into: y, addend: addend,
                                                scratch: Sw, rowLength: L)
                }
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
}
