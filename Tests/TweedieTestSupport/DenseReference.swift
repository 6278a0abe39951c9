// Brute-force reference computations for the tests, written independently of the library:
// plain Gauss–Jordan elimination with partial pivoting (no Cholesky, no BLAS, no FFTW),
// circulant covariances built from the power spectrum by a direct DFT sum, and convolution
// matrices written from the definition of a true, periodic convolution centred on (kh/2, kw/2).
// Their own checks are in Tests/TweediePriorsTests/AnalyticDenseReferenceTests.swift.

import Foundation
import TweedieCore

/// Dense Float64 references. Matrices are row-major [Double], n×n unless said otherwise.
public enum DenseReference {
    /// Solves A X = B (A n×n, B n×k) by Gauss–Jordan with partial pivoting; also returns log|det A| and sign.
    public static func solve(_ a: [Double], _ b: [Double], n: Int, k: Int) -> (x: [Double], logAbsDet: Double, sign: Double) {
        var m = a, r = b
        var logDet = 0.0, sign = 1.0
        for col in 0..<n {
            var piv = col
            for i in col..<n where abs(m[i * n + col]) > abs(m[piv * n + col]) { piv = i }
            if piv != col {
                for j in 0..<n { m.swapAt(col * n + j, piv * n + j) }
                for j in 0..<k { r.swapAt(col * k + j, piv * k + j) }
                sign = -sign
            }
            let p = m[col * n + col]
            logDet += log(abs(p)); if p < 0 { sign = -sign }
            for j in 0..<n { m[col * n + j] /= p }
            for j in 0..<k { r[col * k + j] /= p }
            for i in 0..<n where i != col {
                let f = m[i * n + col]
                if f == 0 { continue }
                for j in 0..<n { m[i * n + j] -= f * m[col * n + j] }
                for j in 0..<k { r[i * k + j] -= f * r[col * k + j] }
            }
        }
        return (r, logDet, sign)
    }

    public static func inverse(_ a: [Double], n: Int) -> [Double] {
        var id = [Double](repeating: 0, count: n * n)
        for i in 0..<n { id[i * n + i] = 1 }
        return solve(a, id, n: n, k: n).x
    }

    /// (m×k) · (k×n).
    public static func multiply(_ a: [Double], _ b: [Double], m: Int, k: Int, n: Int) -> [Double] {
        var c = [Double](repeating: 0, count: m * n)
        for i in 0..<m { for l in 0..<k { let v = a[i * k + l]; if v == 0 { continue }; for j in 0..<n { c[i * n + j] += v * b[l * n + j] } } }
        return c
    }

    public static func transpose(_ a: [Double], rows: Int, columns: Int) -> [Double] {
        var t = [Double](repeating: 0, count: rows * columns)
        for i in 0..<rows { for j in 0..<columns { t[j * rows + i] = a[i * columns + j] } }
        return t
    }

    public static func matvec(_ a: [Double], _ x: [Double], rows: Int, columns: Int) -> [Double] {
        (0..<rows).map { i in (0..<columns).reduce(0.0) { $0 + a[i * columns + $1] * x[$1] } }
    }

    /// numpy's fftfreq.
    public static func freq(_ j: Int, _ n: Int) -> Double { j < (n + 1) / 2 ? Double(j) / Double(n) : Double(j - n) / Double(n) }

    /// Covariance function c(r) = (1/N) Σ_k P(k) cos(2π k·r) of one channel (P real and even), `[ry][rx]`.
    public static func covarianceFunction(_ p: [Double], h: Int, w: Int) -> [Double] {
        var c = [Double](repeating: 0, count: h * w)
        for ry in 0..<h {
            for rx in 0..<w {
                var s = 0.0
                for ky in 0..<h {
                    for kx in 0..<w {
                        s += p[ky * w + kx] * cos(2 * Double.pi * (Double(ky * ry) / Double(h) + Double(kx * rx) / Double(w)))
                    }
                }
                c[ry * w + rx] = s / Double(h * w)
            }
        }
        return c
    }

    /// Block-diagonal circulant covariance (channels × h × w unknowns) from per-channel spectra `[c][ky][kx]`.
    public static func circulantCovariance(_ p: [Double], channels: Int, h: Int, w: Int) -> [Double] {
        let plane = h * w, n = channels * plane
        var cov = [Double](repeating: 0, count: n * n)
        for c in 0..<channels {
            let cf = covarianceFunction(Array(p[(c * plane)..<((c + 1) * plane)]), h: h, w: w)
            for py in 0..<h { for px in 0..<w { for qy in 0..<h { for qx in 0..<w {
                cov[(c * plane + py * w + px) * n + c * plane + qy * w + qx] = cf[((py - qy + h) % h) * w + (px - qx + w) % w]
            } } } }
        }
        return cov
    }

    /// Matrix of y(p) = Σ_d k(d) x(p − d mod grid) per channel, d = (u − kh/2, v − kw/2), kernel `[c][u][v]` or shared.
    public static func periodicConvolution(kernel: [Double], kh: Int, kw: Int, channels: Int, h: Int, w: Int) -> [Double] {
        let plane = h * w, n = channels * plane
        var a = [Double](repeating: 0, count: n * n)
        for c in 0..<channels {
            let kb = kernel.count == kh * kw ? 0 : c * kh * kw
            for py in 0..<h { for px in 0..<w { for u in 0..<kh { for v in 0..<kw {
                let qy = ((py - (u - kh / 2)) % h + h) % h, qx = ((px - (v - kw / 2)) % w + w) % w
                a[(c * plane + py * w + px) * n + c * plane + qy * w + qx] += kernel[kb + u * kw + v]
            } } } }
        }
        return a
    }

    /// log N(y; mean, S) by Gauss–Jordan.
    public static func logGaussian(_ y: [Double], mean: [Double], covariance s: [Double]) -> Double {
        let m = y.count
        let r = zip(y, mean).map { $0 - $1 }
        let (x, logDet, _) = solve(s, r, n: m, k: 1)
        let quad = zip(r, x).reduce(0.0) { $0 + $1.0 * $1.1 }
        return -0.5 * (quad + logDet + Double(m) * log(2 * Double.pi))
    }

    /// Information-form Gaussian posterior: P = (C⁻¹ + Aᵀ Σ⁻¹ A)⁻¹, m = P (C⁻¹ μ + Aᵀ Σ⁻¹ y).
    public static func informationPosterior(priorMean mu: [Double], priorCovariance c: [Double], a: [Double],
                                     noiseVariance: [Double], y: [Double]) -> (mean: [Double], covariance: [Double]) {
        let n = mu.count, m = y.count
        let cinv = inverse(c, n: n)
        var prec = cinv
        var rhs = matvec(cinv, mu, rows: n, columns: n)
        for i in 0..<m {
            for j in 0..<n where a[i * n + j] != 0 {
                rhs[j] += a[i * n + j] * y[i] / noiseVariance[i]
                for l in 0..<n { prec[j * n + l] += a[i * n + j] * a[i * n + l] / noiseVariance[i] }
            }
        }
        let cov = inverse(prec, n: n)
        return (matvec(cov, rhs, rows: n, columns: n), cov)
    }

    /// n standard normals from a per-sample stream (reproducible test data).
    public static func normals(_ n: Int, seed: UInt64, index: Int = 0) -> [Double] {
        let s = SampleStream(seed: seed, index: index)
        return (0..<n).map { _ in s.normal() }
    }

    public static func maxAbsDiff(_ a: [Double], _ b: [Double]) -> Double {
        zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
    }
    public static func maxAbs(_ a: [Double]) -> Double { a.reduce(0) { max($0, abs($1)) } }
}
