// Row-major single-precision GEMM through OpenBLAS's cblas_sgemm:
// C ← α·op(A)·op(B) + β·C with op(X) = X or Xᵀ, all matrices row-major with
// the given leading dimensions (elements between consecutive rows).

import COpenBLAS

@inline(__always)
func sgemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
           alpha: Float = 1, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
           beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int, category: String = "sgemm (other)") {
    if m == 0 || n == 0 { return }
    KernelProfile.measure(category) {
    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                blasint(m), blasint(n), blasint(k), alpha, a, blasint(lda), b, blasint(ldb), beta, c, blasint(ldc))
    }
}
