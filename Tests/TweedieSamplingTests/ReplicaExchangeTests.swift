// Replica-exchange split-Gibbs against independent oracles:
// - the exchange ratio against π_i(s_j) π_j(s_i) / (π_i(s_i) π_j(s_j)) evaluated from the joint
//   densities N(u; z, ρ²I) by hand (p(y | u) and p(z) cancel);
// - invariance: every rung started from exact draws of its target (z-marginal π_ρ(z) ∝ p(z) N(y; A z,
//   σ²I + ρ²AAᵀ), Gaussian problem, dense inverse) is still at it after 20 sweeps. An exchange rule
//   with the wrong sign hands the bottom rungs (ρ → 0.01, the posterior) the wide states of the top
//   (ρ = 3, near the prior) and fails this;
// - the mixture's ρ-smoothed component weights (the rung targets' mode weights) against
//   π_k N(y; Aμ_k, A(D_k + ρ²I)Aᵀ + σ²I) evaluated densely from the operator's matrix.
import Foundation
import Testing
import TweedieCore
import TweedieOperators
import TweediePriors
import TweedieTestSupport
@testable import TweedieSampling
@testable import TweedieStudies

@Suite struct ReplicaExchangeTests {
    @Test func exchangeRatioMatchesJointDensities() {
        // log N(u; z, ρ²I) in d dimensions with ‖u − z‖² = D.
        func logJoint(_ d: Double, _ rho: Double, dims: Int) -> Double { -0.5 * d / (rho * rho) - Double(dims) * log(rho) }
        for (ri, rj, di, dj) in [(3.0, 2.0, 40.0, 10.0), (0.5, 0.3, 0.2, 0.9), (1.0, 0.9, 5.0, 5.0)] {
            let byHand = logJoint(dj, ri, dims: 16) + logJoint(di, rj, dims: 16) - logJoint(di, ri, dims: 16) - logJoint(dj, rj, dims: 16)
            let got = ReplicaExchangeSampler.logExchangeAcceptance(rhoI: ri, rhoJ: rj, dI: di, dJ: dj)
            #expect(abs(got - byHand) < 1e-12 * max(1, abs(byHand)), "ρ \(ri)/\(rj), D \(di)/\(dj): \(got) vs \(byHand)")
        }
    }

    /// Mean and covariance of π_ρ(z) ∝ N(z; μ1, vI) N(y; A z, σ²I + ρ²AAᵀ) (dense information form).
    static func smoothedPosterior(a: [Double], rows m: Int, columns n: Int, y: [Double], sigma: Double, mu: Double, v: Double,
                                  rho: Double) -> (mean: [Double], covariance: [Double]) {
        let at = DenseReference.transpose(a, rows: m, columns: n)
        var c = DenseReference.multiply(a, at, m: m, k: n, n: m).map { $0 * rho * rho }
        for i in 0..<m { c[i * m + i] += sigma * sigma }
        let atci = DenseReference.multiply(at, DenseReference.inverse(c, n: m), m: n, k: m, n: m)
        var prec = DenseReference.multiply(atci, a, m: n, k: m, n: n)
        for i in 0..<n { prec[i * n + i] += 1 / v }
        let cov = DenseReference.inverse(prec, n: n)
        var rhs = DenseReference.matvec(atci, y, rows: n, columns: m)
        for j in 0..<n { rhs[j] += mu / v }
        return (DenseReference.matvec(cov, rhs, rows: n, columns: n), cov)
    }

    /// Lower Cholesky factor of a small SPD matrix.
    static func cholesky(_ c: [Double], n: Int) -> [Double] {
        var l = [Double](repeating: 0, count: n * n)
        for i in 0..<n {
            for j in 0...i {
                var s = c[i * n + j]
                for k in 0..<j { s -= l[i * n + k] * l[j * n + k] }
                l[i * n + j] = i == j ? s.squareRoot() : s / l[j * n + j]
            }
        }
        return l
    }

    @Test func ladderKeepsEveryRungAtItsSmoothedPosterior() throws {
        // Start every rung from exact draws of its joint target (z ~ π_ρ(z), then the exact Gaussian
        // u | z, y), sweep, and check that each rung's z still has π_ρ's moments: the exchanges and the
        // Gibbs moves must leave the product of the rung targets invariant.
        let shape = ImageShape(channels: 1, height: 2, width: 2)
        let n = 4, mObs = 3, sigma = 0.3, mu = 0.2, v = 1.0
        let prior = try IIDGaussianDenoiser(shape: shape, mu: mu, variance: v, steps: 200)
        let mat = testUniforms(mObs * n, seed: 11).map { $0 - 0.2 }
        let outShape = ImageShape(channels: 1, height: 1, width: mObs)
        let op = DenseOperator(inputShape: shape, outputShape: outShape, matrix: mat)
        let yv = [0.6, -0.3, 0.8]
        let problem = try PosteriorProblem(observation: try ImageBatch(count: 1, shape: outShape, data: yv.map { Float($0) }),
                                           forwardOperator: op, noise: ScalarNoise(shape: outShape, sigma: Float(sigma)), fluxScale: 1)
        let sampler = try ReplicaExchangeSampler(prior: prior, problem: problem,
                                                 settings: ReplicaExchangeSettings(rungs: 8, rhoMax: 3, rhoLow: 0.01, sweeps: 20,
                                                                                   tailIterations: 2, priorSteps: 200))
        let ladders = 400
        let streams = (0..<ladders).map { SampleStream(seed: 21, index: $0) }
        let exact = sampler.rungCouplings.map {
            Self.smoothedPosterior(a: mat, rows: mObs, columns: n, y: yv, sigma: sigma, mu: mu, v: v, rho: $0)
        }
        var us: [ImageBatch] = [], zs: [ImageBatch] = []
        for (r, rho) in sampler.rungCouplings.enumerated() {
            let chol = Self.cholesky(exact[r].covariance, n: n)
            var z = ImageBatch(count: ladders, shape: shape)
            for k in 0..<ladders {
                let e = DenseReference.normals(n, seed: 99, index: r * ladders + k)
                for i in 0..<n { z.data[k * n + i] = Float(exact[r].mean[i] + (0...i).reduce(0.0) { $0 + chol[i * n + $1] * e[$1] }) }
            }
            zs.append(z)
            us.append(try sampler.kernel.likelihoodStep(current: z, z: z, rho: rho, streams: streams))
        }
        let (_, after, rates) = try sampler.runLadder(count: ladders, streams: streams, initial: (us, zs))
        #expect(rates.allSatisfy { $0 > 0.05 }, "exchange acceptance \(rates)")
        for (r, rho) in sampler.rungCouplings.enumerated() {
            let z = after[r]
            var m = [Double](repeating: 0, count: n), s2 = m
            for k in 0..<ladders { for j in 0..<n { m[j] += Double(z.data[k * n + j]) / Double(ladders) } }
            for k in 0..<ladders { for j in 0..<n { let e = Double(z.data[k * n + j]) - m[j]; s2[j] += e * e / Double(ladders - 1) } }
            let varRatio = (0..<n).reduce(0.0) { $0 + s2[$1] / exact[r].covariance[$1 * n + $1] } / Double(n)
            // 400 draws: a pixel mean's σ is √(var/400); the pooled variance ratio's σ ≤ √(2/400) ≈ 0.07
            // (4 correlated pixels). 4σ bounds, plus 0.01 for the 200-step schedule's discretisation.
            for j in 0..<n {
                let se = (exact[r].covariance[j * n + j] / Double(ladders)).squareRoot()
                #expect(abs(m[j] - exact[r].mean[j]) < 4 * se + 0.01, "rung \(r) (ρ \(rho)) pixel \(j): mean \(m[j]) vs exact \(exact[r].mean[j])")
            }
            #expect(abs(varRatio - 1) < 0.2, "rung \(r) (ρ \(rho)): sampled / exact variance \(varRatio)")
        }
    }

    @Test func smoothedComponentWeightsMatchDenseEvidence() throws {
        let prior = try #require(try AnalyticPriorSpec.parseAnalytic("mixture:n=4,weights=0.3;0.7,means=-0.2;0.2,variances=1;0.4")
                                 as? GaussianMixturePrior)
        let psf = try GaussianPSF(fwhm: 1.5).render(pixelScale: 1, height: 3, width: 3)
        let op = try PSFConvolution(psf: psf, imageShape: prior.imageShape)
        let setup = try CalibrationSetup(prior: prior, priorName: "m4", forwardOperator: op, operatorName: "psf",
                                         noise: .sigma(0.3), observations: 2, seed: 3)
        // The operator's matrix (applied to unit vectors).
        let dense = try DenseLinearOperator(op)
        let n = dense.columns, m = dense.rows, a = dense.matrix
        let at = DenseReference.transpose(a, rows: m, columns: n)
        for o in 0..<2 {
            let y = setup.observations[o].data.map(Double.init)
            for rho in [0.0, 0.3, 2.0] {
                var logs: [Double] = []
                for k in 0..<prior.componentCount {
                    var ad = a
                    for i in 0..<m { for j in 0..<n { ad[i * n + j] *= prior.variances[k][j] + rho * rho } }
                    var c = DenseReference.multiply(ad, at, m: m, k: n, n: m)
                    for i in 0..<m { c[i * m + i] += setup.sigma * setup.sigma }
                    let mean = DenseReference.matvec(a, prior.means[k], rows: m, columns: n)
                    logs.append(log(prior.weights[k]) + DenseReference.logGaussian(y, mean: mean, covariance: c))
                }
                let top = logs.max()!
                let w = logs.map { exp($0 - top) }
                let want = w.map { $0 / w.reduce(0, +) }
                let got = try CalibrationOracle.smoothedComponentWeights(prior: prior, operator: op, sigma: setup.sigma,
                                                                         observation: setup.observations[o], rho: rho)
                #expect(DenseReference.maxAbsDiff(got, want) < 1e-6, "observation \(o), ρ \(rho): \(got) vs dense \(want)")
            }
        }
    }
}
