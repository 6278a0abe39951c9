// Dense Float64 linear algebra for the exact posteriors of the analytic priors
// (DESIGN §4.5) on small images: Cholesky factorisation (GSL
// gsl_linalg_cholesky_decomp1), triangular solves and products (OpenBLAS CBLAS,
// reached through the CGSL module, whose shim includes OpenBLAS's cblas.h).
//
// Conventions: every matrix is a row-major [Double] with its dimensions passed
// alongside; a Cholesky factor L (S = L Lᵀ) is stored as a full n×n matrix
// whose strict upper triangle is zero.

@preconcurrency import CGSL
import COpenBLAS  // links libopenblas, whose CBLAS the CGSL shim declares
import Foundation
import TweedieCore

public enum DenseLinearAlgebra {
    /// Largest number of unknowns (c·h·w) the dense routes accept (an N×N matrix is 8 MB at 1024).
    public static let maxUnknowns = 1024
    /// Largest number of observed values the dense routes accept.
    public static let maxObservations = 4096

    static func checkUnknowns(_ n: Int, what: String) throws {
        guard n <= maxUnknowns else {
            throw TweedieError.invalidInput(
                what: what,
                problem: "\(n) unknowns is more than the dense limit \(maxUnknowns) (e.g. 16×16×4); use a smaller image, or the Fourier route for a Gaussian prior with a periodic convolution")
        }
    }

    /// Lower Cholesky factor of a symmetric positive-definite n×n matrix (only its lower triangle is read).
    static func cholesky(_ s: [Double], n: Int, what: String) throws -> [Double] {
        GSL.configure()
        var l = s
        let status: Int32 = l.withUnsafeMutableBufferPointer { buf in
            var view = gsl_matrix_view_array(buf.baseAddress!, n, n)
            return gsl_linalg_cholesky_decomp1(&view.matrix)
        }
        guard status == 0 else {
            throw TweedieError.numerical(problem: "\(what): the \(n)×\(n) matrix is not positive definite (GSL status \(status)); check that every noise variance is > 0 and finite")
        }
        for i in 0..<n { for j in (i + 1)..<n { l[i * n + j] = 0 } }
        return l
    }

    /// Solves L X = B in place (L n×n lower triangular, B n×cols).
    static func solveLower(_ l: [Double], n: Int, _ b: inout [Double], columns: Int) {
        guard n > 0 && columns > 0 else { return }
        l.withUnsafeBufferPointer { lp in
            b.withUnsafeMutableBufferPointer { bp in
                cblas_dtrsm(CblasRowMajor, CblasLeft, CblasLower, CblasNoTrans, CblasNonUnit,
                            Int32(n), Int32(columns), 1.0, lp.baseAddress!, Int32(n), bp.baseAddress!, Int32(columns))
            }
        }
    }

    /// Solves Lᵀ X = B in place (L n×n lower triangular, B n×cols).
    static func solveLowerTransposed(_ l: [Double], n: Int, _ b: inout [Double], columns: Int) {
        guard n > 0 && columns > 0 else { return }
        l.withUnsafeBufferPointer { lp in
            b.withUnsafeMutableBufferPointer { bp in
                cblas_dtrsm(CblasRowMajor, CblasLeft, CblasLower, CblasTrans, CblasNonUnit,
                            Int32(n), Int32(columns), 1.0, lp.baseAddress!, Int32(n), bp.baseAddress!, Int32(columns))
            }
        }
    }

    /// C = op(A) op(B), op = transpose when the flag is set; A is (transA ? k×m : m×k), B (transB ? n×k : k×n).
    static func multiply(_ a: [Double], _ b: [Double], m: Int, n: Int, k: Int,
                         transposeA: Bool = false, transposeB: Bool = false) -> [Double] {
        var c = [Double](repeating: 0, count: m * n)
        guard m > 0 && n > 0 && k > 0 else { return c }
        a.withUnsafeBufferPointer { ap in
            b.withUnsafeBufferPointer { bp in
                c.withUnsafeMutableBufferPointer { cp in
                    cblas_dgemm(CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans,
                                transposeB ? CblasTrans : CblasNoTrans,
                                Int32(m), Int32(n), Int32(k), 1.0,
                                ap.baseAddress!, Int32(transposeA ? m : k),
                                bp.baseAddress!, Int32(transposeB ? k : n),
                                0.0, cp.baseAddress!, Int32(n))
                }
            }
        }
        return c
    }

    /// y = A x (A m×n) or Aᵀ x (A m×n, x of length m) when `transpose`.
    static func multiplyVector(_ a: [Double], _ x: [Double], rows m: Int, columns n: Int, transpose: Bool = false) -> [Double] {
        var y = [Double](repeating: 0, count: transpose ? n : m)
        guard m > 0 && n > 0 else { return y }
        a.withUnsafeBufferPointer { ap in
            x.withUnsafeBufferPointer { xp in
                y.withUnsafeMutableBufferPointer { yp in
                    cblas_dgemv(CblasRowMajor, transpose ? CblasTrans : CblasNoTrans, Int32(m), Int32(n), 1.0,
                                ap.baseAddress!, Int32(n), xp.baseAddress!, 1, 0.0, yp.baseAddress!, 1)
                }
            }
        }
        return y
    }
}
