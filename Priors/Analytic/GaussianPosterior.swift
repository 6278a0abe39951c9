// The exact posterior of a Gaussian prior x ~ N(μ, C) under y = A x + n,
// n ~ N(0, Σ), Σ = diag σ², by dense Float64 linear algebra (DESIGN §4.5).
//
// Gain ("Kalman") form, which never inverts C (a steep power spectrum or a
// Gaussian correlation makes C nearly singular):
//     S = A C Aᵀ + Σ = L Lᵀ (Cholesky),   B = L⁻¹ A C,   z = L⁻¹ (y − A μ),
//     posterior mean        m = μ + C Aᵀ S⁻¹ (y − A μ) = μ + Bᵀ z,
//     posterior covariance  C − C Aᵀ S⁻¹ A C = C − Bᵀ B  (pixel variance C_ii − Σ_r B_ri²),
//     log evidence          log N(y; A μ, S) = −½ (zᵀz + 2 Σ_i log L_ii + m log 2π).
// Exact posterior draws by Matheron's rule (conditioning by perturbation):
// draw x ~ N(μ, C) and e ~ N(0, Σ), then x + C Aᵀ S⁻¹ (y − A x − e) = x + Bᵀ L⁻¹ (y − A x − e)
// is distributed as the posterior (its mean is m and its covariance C − BᵀB).
//
// Conventions: x flattened `[c][y][x]` (N values), y in the operator's output
// order (m values), matrices row-major.

import Foundation
import TweedieCore

/// A prior covariance for the dense routes.
public enum PriorCovariance: Sendable, Equatable {
    /// Full N×N row-major symmetric positive semi-definite matrix.
    case dense([Double])
    /// Diagonal, N variances ≥ 0.
    case diagonal([Double])
}

/// The exact Gaussian posterior of one Gaussian prior (component).
public struct GaussianPosterior: Sendable {
    /// Posterior mean, N values.
    public let mean: [Double]
    /// Posterior pixel variance (diagonal of the posterior covariance), N values.
    public let variance: [Double]
    /// log p(y) = log N(y; A μ, A C Aᵀ + Σ) (natural log, with the 2π terms).
    public let logEvidence: Double

    public let priorMean: [Double]
    public let priorCovariance: PriorCovariance
    public let likelihood: DenseLinearGaussianLikelihood
    /// Cholesky factor L of S = A C Aᵀ + Σ, m×m.
    let choleskyS: [Double]
    /// B = L⁻¹ A C, m×N.
    let gainFactor: [Double]
    /// Exact draws from the prior N(μ, C).
    let priorSampler: @Sendable (SampleStream) -> [Double]

    /// - Parameter priorSampler: exact draws from N(μ, C) (used only by `sample(using:)`).
    public init(priorMean: [Double], priorCovariance: PriorCovariance, likelihood: DenseLinearGaussianLikelihood,
                priorSampler: @escaping @Sendable (SampleStream) -> [Double]) throws {
        let a = likelihood.forwardOperator
        let n = a.columns, m = a.rows
        guard priorMean.count == n else {
            throw TweedieError.shapeMismatch(what: "prior mean for a \(m)×\(n) operator", expected: "\(n) values", got: "\(priorMean.count)")
        }
        // A C (m×N) and diag(C).
        var ac: [Double]
        let priorDiagonal: [Double]
        switch priorCovariance {
        case let .dense(c):
            guard c.count == n * n else {
                throw TweedieError.shapeMismatch(what: "prior covariance", expected: "\(n)×\(n) values", got: "\(c.count)")
            }
            ac = DenseLinearAlgebra.multiply(a.matrix, c, m: m, n: n, k: n)
            priorDiagonal = (0..<n).map { c[$0 * n + $0] }
        case let .diagonal(d):
            guard d.count == n else {
                throw TweedieError.shapeMismatch(what: "prior variances", expected: "\(n) values", got: "\(d.count)")
            }
            if let bad = d.firstIndex(where: { !($0.isFinite && $0 >= 0) }) {
                throw TweedieError.invalidInput(what: "prior variances", problem: "value \(d[bad]) at index \(bad) must be finite and ≥ 0")
            }
            ac = a.matrix
            for i in 0..<m { for j in 0..<n { ac[i * n + j] *= d[j] } }
            priorDiagonal = d
        }
        // S = A C Aᵀ + Σ, symmetrised against rounding.
        var s = DenseLinearAlgebra.multiply(ac, a.matrix, m: m, n: m, k: n, transposeB: true)
        for i in 0..<m {
            for j in 0..<i { let v = 0.5 * (s[i * m + j] + s[j * m + i]); s[i * m + j] = v; s[j * m + i] = v }
            s[i * m + i] += likelihood.noiseVariance[i]
        }
        let l = try DenseLinearAlgebra.cholesky(s, n: m, what: "exact posterior: A C Aᵀ + Σ")
        var b = ac
        DenseLinearAlgebra.solveLower(l, n: m, &b, columns: n)
        var z = likelihood.observation
        let amu = a.apply(priorMean)
        for i in 0..<m { z[i] -= amu[i] }
        DenseLinearAlgebra.solveLower(l, n: m, &z, columns: 1)

        let shift = DenseLinearAlgebra.multiplyVector(b, z, rows: m, columns: n, transpose: true)
        var mean = priorMean
        for j in 0..<n { mean[j] += shift[j] }
        var reduction = [Double](repeating: 0, count: n)
        for i in 0..<m { for j in 0..<n { let v = b[i * n + j]; reduction[j] += v * v } }
        var logDet = 0.0, quad = 0.0
        for i in 0..<m { logDet += 2 * Foundation.log(l[i * m + i]); quad += z[i] * z[i] }

        self.mean = mean
        self.variance = (0..<n).map { max(0, priorDiagonal[$0] - reduction[$0]) }
        self.logEvidence = -0.5 * (quad + logDet + Double(m) * Foundation.log(2 * Double.pi))
        self.priorMean = priorMean
        self.priorCovariance = priorCovariance
        self.likelihood = likelihood
        self.choleskyS = l
        self.gainFactor = b
        self.priorSampler = priorSampler
        guard mean.allSatisfy(\.isFinite) && logEvidence.isFinite else {
            throw TweedieError.numerical(problem: "exact posterior: non-finite mean or evidence (check the operator and noise scales)")
        }
    }

    /// Number of unknowns N.
    public var count: Int { mean.count }

    /// The full posterior covariance C − Bᵀ B (N×N row-major).
    public func covariance() -> [Double] {
        let n = count, m = likelihood.count
        var cov = DenseLinearAlgebra.multiply(gainFactor, gainFactor, m: n, n: n, k: m, transposeA: true)
        switch priorCovariance {
        case let .dense(c): for i in 0..<(n * n) { cov[i] = c[i] - cov[i] }
        case let .diagonal(d):
            for i in 0..<(n * n) { cov[i] = -cov[i] }
            for i in 0..<n { cov[i * n + i] += d[i] }
        }
        return cov
    }

    /// One exact posterior draw (Matheron's rule): the prior draw's randoms from `stream`
    /// first, then m standard normals for the noise.
    public func sample(using stream: SampleStream) -> [Double] {
        let a = likelihood.forwardOperator
        let m = a.rows
        var x = priorSampler(stream)
        precondition(x.count == count, "prior sampler returned \(x.count) values, expected \(count)")
        var u = a.apply(x)
        for i in 0..<m {
            u[i] = likelihood.observation[i] - u[i] - likelihood.noiseVariance[i].squareRoot() * stream.normal()
        }
        DenseLinearAlgebra.solveLower(choleskyS, n: m, &u, columns: 1)
        let shift = DenseLinearAlgebra.multiplyVector(gainFactor, u, rows: m, columns: count, transpose: true)
        for j in 0..<count { x[j] += shift[j] }
        return x
    }
}
