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

/// The same product split across the U-Net's workers by slices of columns of C (or of rows when C
/// has few columns), each slice one single-threaded sgemm. For the large products of 1×1 and
/// im2col convolutions.
func parallelSgemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
                   alpha: Float = 1, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                   beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int, category: String = "sgemm (other)") {
    let workers = UNetThreading.threads
    if workers <= 1 || m * n * k < (1 << 21) {
        sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
              beta: beta, c: c, ldc: ldc, category: category)
        return
    }
    KernelProfile.measure(category) {
        if n >= 64 * workers {
            // Column slices (multiples of 16 columns).
            let per = ((n + workers - 1) / workers + 15) / 16 * 16
            ParallelLoop.runIndexed(workers, workers: workers) { r, _ in
                for w in r {
                    let j0 = w * per, j1 = min(n, j0 + per)
                    if j1 <= j0 { continue }
                    sgemm(transA: transA, transB: transB, m: m, n: j1 - j0, k: k, alpha: alpha, a: a, lda: lda,
                          b: transB ? b + j0 * ldb : b + j0, ldb: ldb, beta: beta, c: c + j0, ldc: ldc, category: "")
                }
            }
        } else {
            let per = (m + workers - 1) / workers
            ParallelLoop.runIndexed(workers, workers: workers) { r, _ in
                for w in r {
                    let i0 = w * per, i1 = min(m, i0 + per)
                    if i1 <= i0 { continue }
                    sgemm(transA: transA, transB: transB, m: i1 - i0, n: n, k: k, alpha: alpha,
                          a: transA ? a + i0 : a + i0 * lda, lda: lda, b: b, ldb: ldb, beta: beta,
                          c: c + i0 * ldc, ldc: ldc, category: "")
                }
            }
        }
    }
}
