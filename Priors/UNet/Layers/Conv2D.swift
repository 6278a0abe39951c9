// 2-D convolution layer of the U-Net (PyTorch `nn.Conv2d` semantics, i.e.
// cross-correlation: y[o][p] = b[o] + Σ_{i,k} W[o][i][k] x[i][p + k − pad]) and
// its exact input vector–Jacobian product. Kernel 1×1 (pad 0) or 3×3 (pad 1),
// stride 1 or 2 (output size ⌊(H + 2·pad − k)/stride⌋ + 1). Also used for
// PyTorch Conv1d with kernel 1 (attention's qkv / proj_out) on flattened pixels.
//
// Layout: activations are channel-major over the whole batch, `[C][B][H][W]`
// (so a channel's values for all images are one row of length N = B·H·W);
// weights are PyTorch's `[Cout][Cin][kh][kw]`, i.e. a row-major
// `[Cout][Cin·k²]` matrix.
//
// Forward: im2col into `col[(i, ky, kx)][pixel]`, then one cblas_sgemm
// `Y = W · col` per chunk of output rows (chunks bound the col workspace).
// Batch invariance (DESIGN §2): every GEMM covers the columns of one image only,
// cut the same way in every image, so an image's result does not depend on the
// batch it is in (OpenBLAS's rounding depends on a call's shape).
// VJP: 1×1 → `dX = Wᵀ · dY`; 3×3 stride 1 → a 3×3 convolution of dY with the
// flipped, transposed kernel `W'[i][o][2−ky][2−kx]` (precomputed); stride 2 →
// `dcol = Wᵀ · dY` then col2im (scatter-add; each input channel's rows go to
// that channel's plane only, so channels run in parallel without races).

import Foundation
import TweedieCore

/// How the U-Net computes its 3×3 stride-1 convolutions (strided and 1×1 ones always use GEMM directly).
public enum ConvolutionAlgorithm: String, Sendable, CaseIterable {
    /// Winograd F(4×4, 3×3) for networks up to 50 M parameters, F(2×2, 3×3) above (memory: see Conv2D).
    case automatic
    /// im2col + GEMM (9 multiply-adds per output and input channel; least memory).
    case im2col
    /// Winograd F(2×2, 3×3) (4 multiply-adds; kernels 16/9× the weights per direction).
    case winograd2x2 = "winograd2"
    /// Winograd F(4×4, 3×3) (2.25 multiply-adds; kernels 4× the weights per direction; fastest).
    case winograd4x4 = "winograd4"
}

/// Scratch memory shared by the layers of one network: the im2col matrix and Winograd's buffers.
final class ConvWorkspace {
    let col = FloatBuffer()
    let winograd = WinogradWorkspace()
    /// Upper bound on the floats of one im2col chunk (≈ 16 MiB); bigger layers are chunked by output rows.
    var colBudget = EngineSettings.process.im2colBudgetFloats
}

final class Conv2D {
    let inChannels: Int
    let outChannels: Int
    let kernel: Int
    let stride: Int
    var padding: Int { kernel / 2 }
    /// Row-major `[Cout][Cin·k²]`.
    let weight: UnsafeMutablePointer<Float>
    /// `[Cout]`.
    let bias: UnsafeMutablePointer<Float>
    /// How this layer computes a 3×3 stride-1 convolution and its VJP (all exact up to rounding; the tests
    /// run each). Transformed kernels are built on first use, so only the chosen algorithm costs memory:
    /// im2col 1× the weights for the VJP's flipped kernel, F(2×2, 3×3) 16/9× per direction, F(4×4, 3×3) 4×.
    var algorithm = ConvolutionAlgorithm.winograd4x4

    // Built on first use (3×3 stride 1 only): the flipped, transposed kernel `[Cin][Cout·9]` of the
    // input-gradient convolution, and the Winograd transforms of the kernel and of the flipped kernel.
    private var flippedStorage: UnsafeMutablePointer<Float>?
    private var winograd: (forward: WinogradKernel?, backward: WinogradKernel?) = (nil, nil)

    /// A layer from PyTorch-layout weights (`weight.count == Cout·Cin·k²`, `bias.count == Cout`).
    init(inChannels: Int, outChannels: Int, kernel: Int, stride: Int = 1, weight w: [Float], bias b: [Float],
         algorithm: ConvolutionAlgorithm = .winograd4x4) {
        precondition(kernel == 1 || kernel == 3, "kernel must be 1 or 3")
        precondition(stride == 1 || stride == 2, "stride must be 1 or 2")
        precondition(w.count == outChannels * inChannels * kernel * kernel && b.count == outChannels)
        self.inChannels = inChannels; self.outChannels = outChannels; self.kernel = kernel; self.stride = stride
        weight = .allocate(capacity: w.count); weight.initialize(from: w, count: w.count)
        bias = .allocate(capacity: b.count); bias.initialize(from: b, count: b.count)
        self.algorithm = algorithm == .automatic ? .winograd4x4 : algorithm
    }

    /// The kernel of the input-gradient convolution: W'[i][o][2−ky][2−kx] = W[o][i][ky][kx].
    private var weightFlipped: UnsafeMutablePointer<Float> {
        if let f = flippedStorage { return f }
        let f = UnsafeMutablePointer<Float>.allocate(capacity: outChannels * inChannels * 9)
        for o in 0..<outChannels {
            for i in 0..<inChannels {
                for k in 0..<9 { f[(i * outChannels + o) * 9 + (8 - k)] = weight[(o * inChannels + i) * 9 + k] }
            }
        }
        flippedStorage = f
        return f
    }

    private var isWinogradCandidate: Bool { kernel == 3 && stride == 1 }

    /// The Winograd tile of this layer's 3×3 stride-1 convolutions, or nil (im2col).
    private var winogradTile: WinogradTile? {
        guard kernel == 3 && stride == 1 else { return nil }
        switch algorithm {
        case .winograd4x4: return .f4x4
        case .winograd2x2: return .f2x2
        case .im2col, .automatic: return nil
        }
    }

    /// The transformed kernel for `tile` (the forward one, or the flipped one of the input VJP), built on
    /// first use and rebuilt if the algorithm changed since.
    private func winogradKernel(_ tile: WinogradTile, backward: Bool) -> WinogradKernel {
        if let k = backward ? winograd.backward : winograd.forward, k.tile == tile { return k }
        let k = backward
            ? WinogradKernel(weight: weightFlipped, inChannels: outChannels, outChannels: inChannels, tile: tile)
            : WinogradKernel(weight: weight, inChannels: inChannels, outChannels: outChannels, tile: tile)
        if backward { winograd.backward = k } else { winograd.forward = k }
        return k
    }

    deinit {
        weight.deallocate(); bias.deallocate(); flippedStorage?.deallocate()
    }

    func outputSize(height: Int, width: Int) -> (height: Int, width: Int) {
        ((height + 2 * padding - kernel) / stride + 1, (width + 2 * padding - kernel) / stride + 1)
    }

    /// Multiply-adds of the forward pass for one image of the given input size.
    func macs(height: Int, width: Int) -> Int {
        let (ho, wo) = outputSize(height: height, width: width)
        return outChannels * inChannels * kernel * kernel * ho * wo
    }

    /// y = conv(x) + bias, or y += conv(x) + bias when `accumulate`, or y = residual + conv(x) + bias.
    /// x: `[Cin][B][H][W]`, y and residual: `[Cout][B][Ho][Wo]`.
    func forward(_ x: UnsafePointer<Float>, batch: Int, height: Int, width: Int,
                 into y: UnsafeMutablePointer<Float>, accumulate: Bool = false, residual: UnsafePointer<Float>? = nil,
                 workspace: ConvWorkspace) {
        precondition(!(accumulate && residual != nil))
        let (ho, wo) = outputSize(height: height, width: width)
        let n = batch * ho * wo
        let addend = residual ?? (accumulate ? UnsafePointer(y) : nil)
        if let tile = winogradTile {
            WinogradConvolution.forward(x, batch: batch, height: height, width: width,
                                        kernel: winogradKernel(tile, backward: false), bias: bias,
                                        into: y, addend: addend, workspace: workspace.winograd)
            return
        }
        // Bias first, then GEMMs accumulate on top (β = 1).
        let bias = self.bias
        KernelProfile.measure("conv bias") { ParallelLoop.run(outChannels, minimumChunk: 4) { r in
            for o in r {
                let row = y + o * n, b = bias[o]
                if let addend {
                    let a = addend + o * n
                    for j in 0..<n { row[j] = a[j] + b }
                } else {
                    for j in 0..<n { row[j] = b }
                }
            }
        } }
        if kernel == 1 && stride == 1 {
            imageBlockedSgemm(m: outChannels, columnsPerImage: ho * wo, batch: batch, k: inChannels, a: weight,
                              lda: inChannels, b: x, beta: 1, c: y, category: "sgemm (1x1)")
            return
        }
        Conv2D.convolveIm2col(x, channels: inChannels, batch: batch, height: height, width: width,
                              kernel: kernel, stride: stride, padding: padding,
                              weight: weight, outChannels: outChannels, into: y, workspace: workspace)
    }

    /// Input VJP: dx = (∂y/∂x)ᵀ dy (or dx += … when `accumulate`). dy: `[Cout][B][Ho][Wo]`, dx: `[Cin][B][H][W]`.
    func backward(_ dy: UnsafePointer<Float>, batch: Int, height: Int, width: Int,
                  into dx: UnsafeMutablePointer<Float>, accumulate: Bool = false, workspace: ConvWorkspace) {
        let (ho, wo) = outputSize(height: height, width: width)
        let nOut = batch * ho * wo, nIn = batch * height * width
        if kernel == 1 && stride == 1 {
            imageBlockedSgemm(transA: true, m: inChannels, columnsPerImage: height * width, batch: batch, k: outChannels,
                              a: weight, lda: inChannels, b: dy, beta: accumulate ? 1 : 0, c: dx, category: "sgemm (1x1)")
            return
        }
        if let tile = winogradTile {
            WinogradConvolution.forward(dy, batch: batch, height: height, width: width,
                                        kernel: winogradKernel(tile, backward: true), bias: nil,
                                        into: dx, addend: accumulate ? UnsafePointer(dx) : nil,
                                        workspace: workspace.winograd)
            return
        }
        if isWinogradCandidate {
            let wf = weightFlipped
            if !accumulate { KernelProfile.measure("zero fill") { dx.update(repeating: 0, count: inChannels * nIn) } }
            Conv2D.convolveIm2col(dy, channels: outChannels, batch: batch, height: height, width: width,
                                  kernel: 3, stride: 1, padding: 1, weight: wf, outChannels: inChannels,
                                  into: dx, workspace: workspace)
            return
        }
        // Strided: dcol = Wᵀ · dy by chunks of output rows, then col2im.
        if !accumulate { dx.update(repeating: 0, count: inChannels * nIn) }
        let kk = kernel * kernel, kRows = inChannels * kk
        // Chunks of output rows never cross images and are cut the same way in every image (batch invariance).
        let rowsPerChunk = max(1, min(ho, workspace.colBudget / max(1, kRows * wo)))
        let col = workspace.col.reserve(kRows * rowsPerChunk * wo)
        for (r0, r1) in Conv2D.imageRowChunks(batch: batch, rowsPerImage: ho, rowsPerChunk: rowsPerChunk) {
            let cols = (r1 - r0) * wo
            parallelSgemm(transA: true, m: kRows, n: cols, k: outChannels, a: weight, lda: kRows,
                  b: dy + r0 * wo, ldb: nOut, beta: 0, c: col, ldc: cols)
            KernelProfile.measure("col2im") { Conv2D.col2im(col, channels: inChannels, batch: batch, height: height, width: width,
                          outHeight: ho, outWidth: wo, kernel: kernel, stride: stride, padding: padding,
                          rows: r0..<r1, into: dx) }
        }
    }

    /// y += W · im2col(x) for a k×k kernel (weight `[Cout][C·k²]`), chunked by output rows (b, yo).
    static func convolveIm2col(_ x: UnsafePointer<Float>, channels: Int, batch: Int, height: Int, width: Int,
                               kernel: Int, stride: Int, padding: Int, weight: UnsafePointer<Float>,
                               outChannels: Int, into y: UnsafeMutablePointer<Float>, workspace: ConvWorkspace) {
        let ho = (height + 2 * padding - kernel) / stride + 1, wo = (width + 2 * padding - kernel) / stride + 1
        let nOut = batch * ho * wo
        let kRows = channels * kernel * kernel
        // Chunks of output rows never cross images and are cut the same way in every image (batch invariance).
        let rowsPerChunk = max(1, min(ho, workspace.colBudget / max(1, kRows * wo)))
        let col = workspace.col.reserve(kRows * rowsPerChunk * wo)
        for (r0, r1) in imageRowChunks(batch: batch, rowsPerImage: ho, rowsPerChunk: rowsPerChunk) {
            KernelProfile.measure("im2col") {
                im2col(x, channels: channels, batch: batch, height: height, width: width, outHeight: ho, outWidth: wo,
                       kernel: kernel, stride: stride, padding: padding, rows: r0..<r1, into: col)
            }
            let cols = (r1 - r0) * wo
            parallelSgemm(m: outChannels, n: cols, k: kRows, a: weight, lda: kRows, b: col, ldb: cols,
                  beta: 1, c: y + r0 * wo, ldc: nOut)
        }
    }

    /// Output-row ranges (b·Ho + yo) in chunks of at most `rowsPerChunk` rows of one image each,
    /// cut identically in every image.
    static func imageRowChunks(batch: Int, rowsPerImage ho: Int, rowsPerChunk: Int) -> [(Int, Int)] {
        var out: [(Int, Int)] = []
        for b in 0..<batch {
            var r0 = b * ho
            while r0 < (b + 1) * ho {
                let r1 = min((b + 1) * ho, r0 + rowsPerChunk)
                out.append((r0, r1))
                r0 = r1
            }
        }
        return out
    }

    /// col[(c, ky, kx)][(row − r0)·Wo + xo] = x[c][b][yo·s + ky − pad][xo·s + kx − pad] (0 outside),
    /// for output rows row = b·Ho + yo in `rows`. x: `[C][B][H][W]`.
    static func im2col(_ x: UnsafePointer<Float>, channels: Int, batch: Int, height: Int, width: Int,
                       outHeight ho: Int, outWidth wo: Int, kernel: Int, stride: Int, padding: Int,
                       rows: Range<Int>, into col: UnsafeMutablePointer<Float>) {
        let kk = kernel * kernel
        let cols = rows.count * wo
        let plane = height * width
        ParallelLoop.run(channels * kk, minimumChunk: 2) { range in
            for rIdx in range {
                let c = rIdx / kk, k = rIdx % kk
                let ky = k / kernel, kx = k % kernel
                // Valid output columns: 0 ≤ xo·s + kx − pad < W.
                let xoLo = max(0, (padding - kx + stride - 1) / stride)
                let xoHi = Conv2D.validEnd(width: width, kx: kx, padding: padding, stride: stride, outWidth: wo)
                var out = col + rIdx * cols
                for row in rows {
                    let b = row / ho, yo = row % ho
                    let yi = yo * stride + ky - padding
                    if yi < 0 || yi >= height || xoHi <= xoLo {
                        out.update(repeating: 0, count: wo)
                    } else {
                        let src = x + (c * batch + b) * plane + yi * width + (kx - padding)
                        for xo in 0..<xoLo { out[xo] = 0 }
                        if stride == 1 {
                            (out + xoLo).update(from: src + xoLo, count: xoHi - xoLo)
                        } else {
                            for xo in xoLo..<xoHi { out[xo] = src[xo * stride] }
                        }
                        for xo in xoHi..<wo { out[xo] = 0 }
                    }
                    out += wo
                }
            }
        }
    }

    /// The adjoint of `im2col`: dx[c][b][yo·s + ky − pad][xo·s + kx − pad] += col[(c, ky, kx)][…].
    static func col2im(_ col: UnsafePointer<Float>, channels: Int, batch: Int, height: Int, width: Int,
                       outHeight ho: Int, outWidth wo: Int, kernel: Int, stride: Int, padding: Int,
                       rows: Range<Int>, into dx: UnsafeMutablePointer<Float>) {
        let kk = kernel * kernel
        let cols = rows.count * wo
        let plane = height * width
        ParallelLoop.run(channels, minimumChunk: 1) { range in
            for c in range {
                for k in 0..<kk {
                    let ky = k / kernel, kx = k % kernel
                    let xoLo = max(0, (padding - kx + stride - 1) / stride)
                    let xoHi = Conv2D.validEnd(width: width, kx: kx, padding: padding, stride: stride, outWidth: wo)
                    if xoHi <= xoLo { continue }
                    var src = col + (c * kk + k) * cols
                    for row in rows {
                        let b = row / ho, yo = row % ho
                        let yi = yo * stride + ky - padding
                        if yi >= 0 && yi < height {
                            let dst = dx + (c * batch + b) * plane + yi * width + (kx - padding)
                            for xo in xoLo..<xoHi { dst[xo * stride] += src[xo] }
                        }
                        src += wo
                    }
                }
            }
        }
    }

    /// One past the last output column xo with xo·s + kx − pad ≤ W − 1 (floor division), capped at Wo.
    @inline(__always)
    static func validEnd(width: Int, kx: Int, padding: Int, stride: Int, outWidth wo: Int) -> Int {
        let num = width - 1 - kx + padding
        return num < 0 ? 0 : min(wo, num / stride + 1)
    }
}
