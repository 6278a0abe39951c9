// Row-major single-precision GEMM through OpenBLAS's cblas_sgemm:
// C ← α·op(A)·op(B) + β·C with op(X) = X or Xᵀ, all matrices row-major with
// the given leading dimensions (elements between consecutive rows).

import COpenBLAS
// cblas.h is also included by the CGSL shim (PLATFORM.md), and in some builds Clang attributes its
// declarations (CblasRowMajor, …) to that module: import it too so they are visible either way.
@preconcurrency import CGSL

@inline(__always)
func sgemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
           alpha: Float = 1, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
           beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int, category: String = "sgemm (other)") {
    if m == 0 || n == 0 { return }
    KernelProfile.measure(category.isEmpty ? nil : category) {
    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                blasint(m), blasint(n), blasint(k), alpha, a, blasint(lda), b, blasint(ldb), beta, c, blasint(ldc))
    }
}

/// The same product split into pieces that depend only on the shape (m, n, k) — never on the worker
/// count — each piece one single-threaded sgemm, the pieces taken by the U-Net's workers. OpenBLAS's
/// result for an element depends on the call's shape (its tile widths differ with n and m), so fixed
/// pieces make the result independent of the thread count. Column pieces of 256 (a multiple of the
/// kernels' 16) when n ≥ 512, else row pieces of 64; products under 2²¹ multiply-adds are one call.
func parallelSgemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
                   alpha: Float = 1, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                   beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int, category: String = "sgemm (other)") {
    if m * n * k < (1 << 21) {
        sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
              beta: beta, c: c, ldc: ldc, category: category)
        return
    }
    let workers = UNetThreading.threads
    KernelProfile.measure(category) {
        if n >= 512 {
            let per = 256, pieces = (n + per - 1) / per
            ParallelLoop.runDynamic(pieces, workers: workers) { p, _ in
                let j0 = p * per, j1 = min(n, j0 + per)
                sgemm(transA: transA, transB: transB, m: m, n: j1 - j0, k: k, alpha: alpha, a: a, lda: lda,
                      b: transB ? b + j0 * ldb : b + j0, ldb: ldb, beta: beta, c: c + j0, ldc: ldc, category: "")
            }
        } else {
            let per = 64, pieces = (m + per - 1) / per
            ParallelLoop.runDynamic(pieces, workers: workers) { p, _ in
                let i0 = p * per, i1 = min(m, i0 + per)
                sgemm(transA: transA, transB: transB, m: i1 - i0, n: n, k: k, alpha: alpha,
                      a: transA ? a + i0 : a + i0 * lda, lda: lda, b: b, ldb: ldb, beta: beta,
                      c: c + i0 * ldc, ldc: ldc, category: "")
            }
        }
    }
}

/// C ← α·op(A)·B + β·C where B `[k][batch·P]` and C `[m][batch·P]` hold `batch` images of P columns each
/// (the U-Net's `[C][B][H][W]` layout): one product per image, so an image's result is the same whatever
/// batch it is in (batch invariance, DESIGN §2). Small per-image products run the images in parallel,
/// large ones split each image's product by `parallelSgemm`'s fixed pieces.
func imageBlockedSgemm(transA: Bool = false, m: Int, columnsPerImage P: Int, batch: Int, k: Int,
                       alpha: Float = 1, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>,
                       beta: Float, c: UnsafeMutablePointer<Float>, category: String = "sgemm (other)") {
    let ld = batch * P
    if m * P * k < (1 << 21) {
        KernelProfile.measure(category) {
            ParallelLoop.runDynamic(batch, workers: UNetThreading.threads) { img, _ in
                sgemm(transA: transA, m: m, n: P, k: k, alpha: alpha, a: a, lda: lda, b: b + img * P, ldb: ld,
                      beta: beta, c: c + img * P, ldc: ld, category: "")
            }
        }
        return
    }
    for img in 0..<batch {
        parallelSgemm(transA: transA, m: m, n: P, k: k, alpha: alpha, a: a, lda: lda, b: b + img * P, ldb: ld,
                      beta: beta, c: c + img * P, ldc: ld, category: category)
    }
}
