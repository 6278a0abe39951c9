// Checks of the brute-force dense references (Tests/TweedieTestSupport/DenseReference.swift)
// against closed forms, before the analytic-prior tests rely on them.

import Foundation
import Testing
import TweedieCore
import TweedieTestSupport

@Suite("Analytic priors: dense references")
struct AnalyticDenseReferenceTests {
    @Test("Gauss–Jordan solve and log-determinant against closed forms")
    func gaussJordan() {
        // [[4, 1], [2, 3]]: det 10, inverse (1/10)[[3, −1], [−2, 4]].
        let (x, logDet, sign) = DenseReference.solve([4, 1, 2, 3], [1, 0, 0, 1], n: 2, k: 2)
        #expect(DenseReference.maxAbsDiff(x, [0.3, -0.1, -0.2, 0.4]) < 1e-15)
        #expect(abs(logDet - log(10)) < 1e-14 && sign == 1)
        // A random 12×12 matrix times its inverse is the identity.
        let n = 12
        let a = DenseReference.normals(n * n, seed: 3)
        let p = DenseReference.multiply(a, DenseReference.inverse(a, n: n), m: n, k: n, n: n)
        var id = [Double](repeating: 0, count: n * n)
        for i in 0..<n { id[i * n + i] = 1 }
        #expect(DenseReference.maxAbsDiff(p, id) < 1e-11)
    }

    @Test("Direct-DFT covariance function: a flat spectrum is white, a single cosine mode is a cosine")
    func covarianceFunction() {
        let h = 4, w = 6
        let flat = DenseReference.covarianceFunction([Double](repeating: 2, count: h * w), h: h, w: w)
        #expect(abs(flat[0] - 2) < 1e-14 && flat.dropFirst().allSatisfy { abs($0) < 1e-14 })
        var p = [Double](repeating: 0, count: h * w)
        p[1] = 1; p[w - 1] = 1  // kx = ±1/6
        let c = DenseReference.covarianceFunction(p, h: h, w: w)
        for ry in 0..<h { for rx in 0..<w {
            #expect(abs(c[ry * w + rx] - 2 * cos(2 * Double.pi * Double(rx) / 6) / 24) < 1e-14)
        } }
    }

    @Test("Convolution matrix: a shifted delta kernel is a shift (true convolution, centre kh/2, kw/2)")
    func convolutionMatrix() {
        // 3×3 kernel with a 1 at (u, v) = (2, 0): offset d = (+1, −1), so y(py, px) = x(py − 1, px + 1).
        var k = [Double](repeating: 0, count: 9)
        k[2 * 3 + 0] = 1
        let h = 4, w = 5
        let a = DenseReference.periodicConvolution(kernel: k, kh: 3, kw: 3, channels: 1, h: h, w: w)
        let x = (0..<(h * w)).map(Double.init)
        let y = DenseReference.matvec(a, x, rows: h * w, columns: h * w)
        for py in 0..<h { for px in 0..<w {
            #expect(y[py * w + px] == x[((py - 1 + h) % h) * w + (px + 1) % w])
        } }
    }
}
