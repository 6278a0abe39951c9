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
// VJP: 1×1 → `dX = Wᵀ · dY`; 3×3 stride 1 → a 3×3 convolution of dY with the
// flipped, transposed kernel `W'[i][o][2−ky][2−kx]` (precomputed); stride 2 →
// `dcol = Wᵀ · dY` then col2im (scatter-add; each input channel's rows go to
// that channel's plane only, so channels run in parallel without races).

import Foundation

/// Scratch memory shared by the layers of one network: the im2col matrix and Winograd's buffers.
final class ConvWorkspace {
    let col = FloatBuffer()
    let winograd = WinogradWorkspace()
    /// Upper bound on the floats of one im2col chunk (≈ 16 MiB); bigger layers are chunked by output rows.
    var colBudget = Int(ProcessInfo.processInfo.environment["TWEEDIE_COL_BUDGET"] ?? "") ?? (1 << 22)
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
    /// For 3×3 stride 1: `[Cin][Cout·9]`, the kernel of the transposed (input-gradient) convolution.
    private let weightFlipped: UnsafeMutablePointer<Float>?
    /// For 3×3 stride 1: Winograd transforms of the kernel and of the flipped kernel, F(2×2, 3×3) and F(4×4, 3×3).
    private let winograd: WinogradKernel?, winogradFlipped: WinogradKernel?
    private let winograd43: Winograd43Kernel?, winograd43Flipped: Winograd43Kernel?
    /// How this layer computes a 3×3 stride-1 convolution (all exact up to rounding; the tests run each).
    enum Algorithm { case im2col, winograd2x2, winograd4x4 }
    var algorithm = Algorithm.winograd4x4

    /// A layer from PyTorch-layout weights (`weight.count == Cout·Cin·k²`, `bias.count == Cout`).
    init(inChannels: Int, outChannels: Int, kernel: Int, stride: Int = 1, weight w: [Float], bias b: [Float]) {
        precondition(kernel == 1 || kernel == 3, "kernel must be 1 or 3")
        precondition(stride == 1 || stride == 2, "stride must be 1 or 2")
        precondition(w.count == outChannels * inChannels * kernel * kernel && b.count == outChannels)
        self.inChannels = inChannels; self.outChannels = outChannels; self.kernel = kernel; self.stride = stride
        weight = .allocate(capacity: w.count); weight.initialize(from: w, count: w.count)
        bias = .allocate(capacity: b.count); bias.initialize(from: b, count: b.count)
        if kernel == 3 && stride == 1 {
            let f = UnsafeMutablePointer<Float>.allocate(capacity: w.count)
            for o in 0..<outChannels {
                for i in 0..<inChannels {
                    for k in 0..<9 {
                        f[(i * outChannels + o) * 9 + (8 - k)] = w[(o * inChannels + i) * 9 + k]
                    }
                }
            }
            weightFlipped = f
            winograd = WinogradKernel(weight: weight, inChannels: inChannels, outChannels: outChannels)
            winogradFlipped = WinogradKernel(weight: f, inChannels: outChannels, outChannels: inChannels)
            winograd43 = Winograd43Kernel(weight: weight, inChannels: inChannels, outChannels: outChannels)
            winograd43Flipped = Winograd43Kernel(weight: f, inChannels: outChannels, outChannels: inChannels)
        } else {
            weightFlipped = nil; winograd = nil; winogradFlipped = nil; winograd43 = nil; winograd43Flipped = nil
        }
    }

    deinit {
        weight.deallocate(); bias.deallocate(); weightFlipped?.deallocate()
    }

    func outputSize(height: Int, width: Int) -> (height: Int, width: Int) {
        ((height + 2 * padding - kernel) / stride + 1, (width + 2 * padding - kernel) / stride + 1)
    }

    /// Multiply-adds of the forward pass for one image of the given input size.
    func macs(height: Int, width: Int) -> Int {
        let (ho, wo) = outputSize(height: height, width: width)
        return outChannels * inChannels * kernel * kernel * ho * wo
    }

    /// y = conv(x) + bias, or y += conv(x) + bias when `accumulate`.
    /// x: `[Cin][B][H][W]`, y: `[Cout][B][Ho][Wo]`.
    func forward(_ x: UnsafePointer<Float>, batch: Int, height: Int, width: Int,
                 into y: UnsafeMutablePointer<Float>, accumulate: Bool = false, workspace: ConvWorkspace) {
        let (ho, wo) = outputSize(height: height, width: width)
        let n = batch * ho * wo
        if let winograd43, algorithm == .winograd4x4 {
            Winograd43Convolution.forward(x, batch: batch, height: height, width: width, kernel: winograd43, bias: bias,
                                          into: y, accumulate: accumulate, workspace: workspace.winograd)
            return
        }
        if let winograd, algorithm == .winograd2x2 {
            WinogradConvolution.forward(x, batch: batch, height: height, width: width, kernel: winograd, bias: bias,
                                        into: y, accumulate: accumulate, workspace: workspace.winograd)
            return
        }
        // Bias first, then GEMMs accumulate on top (β = 1).
        let bias = self.bias
        KernelProfile.measure("conv bias") { ParallelLoop.run(outChannels, minimumChunk: 4) { r in
            for o in r {
                let row = y + o * n, b = bias[o]
                if accumulate { for j in 0..<n { row[j] += b } } else { for j in 0..<n { row[j] = b } }
            }
        } }
        if kernel == 1 && stride == 1 {
            parallelSgemm(m: outChannels, n: n, k: inChannels, a: weight, lda: inChannels, b: x, ldb: n,
                  beta: 1, c: y, ldc: n, category: "sgemm (1x1)")
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
            parallelSgemm(transA: true, m: inChannels, n: nIn, k: outChannels, a: weight, lda: inChannels, b: dy, ldb: nOut,
                  beta: accumulate ? 1 : 0, c: dx, ldc: nIn, category: "sgemm (1x1)")
            return
        }
        if let wk = winograd43Flipped, algorithm == .winograd4x4 {
            Winograd43Convolution.forward(dy, batch: batch, height: height, width: width, kernel: wk, bias: nil,
                                          into: dx, accumulate: accumulate, workspace: workspace.winograd)
            return
        }
        if let wk = winogradFlipped, algorithm == .winograd2x2 {
            WinogradConvolution.forward(dy, batch: batch, height: height, width: width, kernel: wk, bias: nil,
                                        into: dx, accumulate: accumulate, workspace: workspace.winograd)
            return
        }
        if let wf = weightFlipped {
            if !accumulate { KernelProfile.measure("zero fill") { dx.update(repeating: 0, count: inChannels * nIn) } }
            Conv2D.convolveIm2col(dy, channels: outChannels, batch: batch, height: height, width: width,
                                  kernel: 3, stride: 1, padding: 1, weight: wf, outChannels: inChannels,
                                  into: dx, workspace: workspace)
            return
        }
        // Strided: dcol = Wᵀ · dy by chunks of output rows, then col2im.
        if !accumulate { dx.update(repeating: 0, count: inChannels * nIn) }
        let kk = kernel * kernel, kRows = inChannels * kk
        let rows = batch * ho
        let rowsPerChunk = max(1, min(rows, workspace.colBudget / max(1, kRows * wo)))
        let col = workspace.col.reserve(kRows * rowsPerChunk * wo)
        var r0 = 0
        while r0 < rows {
            let r1 = min(rows, r0 + rowsPerChunk)
            let cols = (r1 - r0) * wo
            parallelSgemm(transA: true, m: kRows, n: cols, k: outChannels, a: weight, lda: kRows,
                  b: dy + r0 * wo, ldb: nOut, beta: 0, c: col, ldc: cols)
            KernelProfile.measure("col2im") { Conv2D.col2im(col, channels: inChannels, batch: batch, height: height, width: width,
                          outHeight: ho, outWidth: wo, kernel: kernel, stride: stride, padding: padding,
                          rows: r0..<r1, into: dx) }
            r0 = r1
        }
    }

    /// y += W · im2col(x) for a k×k kernel (weight `[Cout][C·k²]`), chunked by output rows (b, yo).
    static func convolveIm2col(_ x: UnsafePointer<Float>, channels: Int, batch: Int, height: Int, width: Int,
                               kernel: Int, stride: Int, padding: Int, weight: UnsafePointer<Float>,
                               outChannels: Int, into y: UnsafeMutablePointer<Float>, workspace: ConvWorkspace) {
        let ho = (height + 2 * padding - kernel) / stride + 1, wo = (width + 2 * padding - kernel) / stride + 1
        let nOut = batch * ho * wo
        let kRows = channels * kernel * kernel
        let rows = batch * ho
        let rowsPerChunk = max(1, min(rows, workspace.colBudget / max(1, kRows * wo)))
        let col = workspace.col.reserve(kRows * rowsPerChunk * wo)
        var r0 = 0
        while r0 < rows {
            let r1 = min(rows, r0 + rowsPerChunk)
            KernelProfile.measure("im2col") {
                im2col(x, channels: channels, batch: batch, height: height, width: width, outHeight: ho, outWidth: wo,
                       kernel: kernel, stride: stride, padding: padding, rows: r0..<r1, into: col)
            }
            let cols = (r1 - r0) * wo
            parallelSgemm(m: outChannels, n: cols, k: kRows, a: weight, lda: kRows, b: col, ldb: cols,
                  beta: 1, c: y + r0 * wo, ldc: nOut)
            r0 = r1
        }
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
