// Conjugate gradients on the samplers' systems P = BᵀWB + λI at extreme SNR
// (issue 22, "robust"), against a dense Double solve of the same system:
// - with the curvature given as the sum of squares W‖Bp‖² + λ‖p‖², the solve
//   never stops with an error, returns finite values, and its energy-norm error
//   ‖u − u*‖_P / ‖u*‖_P is ≤ 10⁻³ for W from 1 to 10¹², λ from 10⁻⁴ to 1
//   (condition numbers up to ≈ 10¹⁶ in exact arithmetic; measured 8·10⁻⁷ –
//   4·10⁻⁵ with iterative refinement, 0.39–0.47 on the three ill-conditioned
//   cases with one Float32 CG recursion);
// - a zero right-hand side returns the start untouched.
import Foundation
import Testing
import TweedieCore
@testable import TweedieSampling

@Suite struct ConjugateGradientTests {
    /// B: m × n with singular values spread over 4 decades (rows of a random orthogonal-ish mix).
    static func matrix(m: Int, n: Int, seed: UInt64) -> [Double] {
        let s = SampleStream(seed: seed, index: 0)
        let g = s.normals(m * n).map(Double.init)
        var b = [Double](repeating: 0, count: m * n)
        for i in 0..<m { for j in 0..<n { b[i * n + j] = g[i * n + j] * pow(10, -4 * Double(j) / Double(n - 1)) } }
        return b
    }

    /// Solves the n × n system a x = r in Double by Gaussian elimination with partial pivoting.
    static func denseSolve(_ a: [Double], _ r: [Double], n: Int) -> [Double] {
        var a = a, r = r
        for c in 0..<n {
            let p = (c..<n).max { abs(a[$0 * n + c]) < abs(a[$1 * n + c]) }!
            if p != c { for j in 0..<n { a.swapAt(c * n + j, p * n + j) }; r.swapAt(c, p) }
            for i in (c + 1)..<n {
                let f = a[i * n + c] / a[c * n + c]
                for j in c..<n { a[i * n + j] -= f * a[c * n + j] }
                r[i] -= f * r[c]
            }
        }
        var x = [Double](repeating: 0, count: n)
        for i in stride(from: n - 1, through: 0, by: -1) {
            var s = r[i]
            for j in (i + 1)..<n { s -= a[i * n + j] * x[j] }
            x[i] = s / a[i * n + i]
        }
        return x
    }

    @Test(arguments: [(1.0, 1.0), (1e6, 1e-2), (1e12, 1e-4), (1e12, 1.0)])
    func sumOfSquaresCurvatureNeverBreaksDown(weight w: Double, lambda: Double) throws {
        let m = 24, n = 16
        let b = Self.matrix(m: m, n: n, seed: 7)
        let shape = ImageShape(channels: 1, height: 4, width: 4)
        let op = DenseOperator(inputShape: shape, outputShape: ImageShape(channels: 1, height: 4, width: 6), matrix: b)
        let sw = Float(w.squareRoot())
        let apply: SPDOperator = { v in
            var bv = try op.apply(v)
            var curvature = [Double](repeating: 0, count: v.count)
            for k in 0..<v.count {
                var d = 0.0, p = 0.0
                for i in 0..<m { let x = Double(sw) * Double(bv.data[k * m + i]); d += x * x; bv.data[k * m + i] *= sw * sw }
                for j in 0..<n { p += Double(v.data[k * n + j]) * Double(v.data[k * n + j]) }
                curvature[k] = d + lambda * p
            }
            var out = try op.adjoint(bv)
            for j in 0..<out.valueCount { out.data[j] += Float(lambda) * v.data[j] }
            return (out, curvature)
        }
        // Dense P and a right-hand side of the sampler's form (data term plus prior noise).
        var p = [Double](repeating: 0, count: n * n)
        for i in 0..<n { for j in 0..<n {
            var s = 0.0
            for r in 0..<m { s += b[r * n + i] * w * b[r * n + j] }
            p[i * n + j] = s + (i == j ? lambda : 0)
        } }
        let noise = SampleStream(seed: 3, index: 0).normals(n + m).map(Double.init)
        var rhs = [Double](repeating: 0, count: n)
        for j in 0..<n {
            var s = 0.0
            for r in 0..<m { s += b[r * n + j] * w.squareRoot() * noise[n + r] }
            rhs[j] = s + lambda.squareRoot() * noise[j]
        }
        let exact = Self.denseSolve(p, rhs, n: n)
        let (u, report) = try ConjugateGradient.solveReporting(apply, rhs: try ImageBatch(count: 1, shape: shape, data: rhs.map(Float.init)),
                                                               initial: ImageBatch(count: 1, shape: shape),
                                                               tolerance: 1e-6, maxIterations: 200)
        #expect(u.allFinite)
        func energy(_ e: [Double]) -> Double {
            var s = 0.0
            for i in 0..<n { for j in 0..<n { s += e[i] * p[i * n + j] * e[j] } }
            return s.squareRoot()
        }
        let err = energy((0..<n).map { Double(u.data[$0]) - exact[$0] }) / energy(exact)
        #expect(err < 1e-3, "W \(w), λ \(lambda): energy-norm error \(err), \(report.iterations) iterations, converged \(report.converged)")
    }

    @Test func zeroRightHandSideReturnsTheStart() throws {
        let shape = ImageShape(channels: 1, height: 2, width: 2)
        let start = try ImageBatch(count: 1, shape: shape, data: [0, 0, 0, 0])
        let (u, report) = try ConjugateGradient.solveReporting({ v in (v, [1]) }, rhs: start, initial: start, tolerance: 1e-6, maxIterations: 10)
        #expect(u.data == start.data && report.iterations == 0)
    }
}
