// Split-Gibbs against exact posteriors:
// - i.i.d. Gaussian prior + dense linear operator + Gaussian noise: the posterior
//   is Gaussian with precision MᵀM/σ² + I/s² (solved densely here, independently);
// - one pixel with an asinh pixel transform (non-Gaussian posterior): mean and
//   variance by brute-force quadrature on a fine grid. This exercises the
//   linearised likelihood step and its Metropolis–Hastings correction.
// Tolerances come from the Monte-Carlo error of the sample count (4 standard errors)
// plus the small bias of the finite smallest coupling ρ_min. The nonlinear case
// needs slower annealing (60 iterations): with 30 the chain has not caught up
// with the posterior (mean bias ≈ 0.15 σ), which is the known cost of annealed PnP.
import Foundation
import Testing
import TweedieCore
import TweedieTestSupport
@testable import TweedieSampling

@Suite struct SplitGibbsTests {
    @Test func gaussianPosteriorIsExact() throws {
        let shape = ImageShape(channels: 1, height: 2, width: 2)
        let n = 4, mObs = 3
        let (mu, s2, sigma) = (0.2, 1.0, 0.5)
        let prior = try IIDGaussianDenoiser(shape: shape, mu: mu, variance: s2)
        let mat = testUniforms(mObs * n, seed: 21)
        let outShape = ImageShape(channels: 1, height: 1, width: mObs)
        let op = DenseOperator(inputShape: shape, outputShape: outShape, matrix: mat)
        let y = try ImageBatch(count: 1, shape: outShape, data: [0.7, -0.3, 0.4])
        let prob = try PosteriorProblem(observation: y, forwardOperator: op,
                                        noise: ScalarNoise(shape: outShape, sigma: Float(sigma)), fluxScale: 1)
        // Exact posterior.
        var prec = [Double](repeating: 0, count: n * n)
        for i in 0..<n { for j in 0..<n {
            var acc = 0.0
            for r in 0..<mObs { acc += mat[r * n + i] * mat[r * n + j] }
            prec[i * n + j] = acc / (sigma * sigma) + (i == j ? 1 / s2 : 0)
        } }
        let cov = DenseReference.inverse(prec, n: n)
        var rhs = [Double](repeating: mu / s2, count: n)
        for i in 0..<n { for r in 0..<mObs { rhs[i] += mat[r * n + i] * Double(y.data[r]) / (sigma * sigma) } }
        let mean = (0..<n).map { i in (0..<n).reduce(0.0) { $0 + cov[i * n + $1] * rhs[$1] } }

        let sampler = try SplitGibbsSampler(prior: prior, problem: prob,
                                            settings: SplitGibbsSettings(iterations: 30))
        let count = 1500
        let u = try sampler.sample(indices: 0..<count, seed: 3)
        var st = RunningStatistics(valueCount: n)
        for k in 0..<count { st.add(u.data[(k * n)..<((k + 1) * n)]) }
        for i in 0..<n {
            let sd = cov[i * n + i].squareRoot()
            // Mean: 4 standard errors. Variance: 4 relative standard errors √(2/(N−1)) plus 5 % for ρ_min / discretisation.
            #expect(abs(st.mean[i] - mean[i]) < 4 * sd / Double(count).squareRoot(), "pixel \(i): mean \(st.mean[i]) vs \(mean[i])")
            #expect(abs(st.variance[i] / cov[i * n + i] - 1) < 4 * (2.0 / Double(count - 1)).squareRoot() + 0.05,
                    "pixel \(i): variance \(st.variance[i]) vs \(cov[i * n + i])")
        }
    }

    /// Default likelihood step (4 MH moves after 2 Gauss–Newton steps) and the galaxy prior's cheaper
    /// one (2 moves after 1 step). One move per iteration is a valid Metropolis-within-Gibbs step too,
    /// but the annealed chain then lags the posterior: mean 1.566–1.580 against 1.600 here (0.2–0.3
    /// posterior std, beyond 4 standard errors), with 1 or 2 Gauss–Newton steps. With none, the proposal
    /// is centred away from the conditional's mode and the MH test's proposal density (written through
    /// r = P m, with no solve for m) does the correcting: a wrong sign there moves the mean by 0.07.
    @Test(arguments: [(4, 2), (2, 1), (4, 0)])
    func nonlinearTransformPosteriorMatchesQuadrature(moves: Int, gaussNewton: Int) throws {
        let shape = ImageShape(channels: 1, height: 1, width: 1)
        let transform = AsinhTransform(softening: 0.3, gain: 1, offset: 0)
        let (mu, s2, sigma, a, yv) = (0.0, 1.0, 0.15, 1.0, 0.8)
        let prior = try IIDGaussianDenoiser(shape: shape, mu: mu, variance: s2, transform: transform)
        let outShape = ImageShape(channels: 1, height: 1, width: 1)
        let op = DenseOperator(inputShape: shape, outputShape: outShape, matrix: [a])
        let y = try ImageBatch(count: 1, shape: outShape, data: [Float(yv)])
        let prob = try PosteriorProblem(observation: y, forwardOperator: op,
                                        noise: ScalarNoise(shape: outShape, sigma: Float(sigma)), fluxScale: 1)
        // Quadrature: p(u | y) ∝ N(u; μ, s²) N(y; a·0.3·sinh(u), σ²).
        let (pm, pv) = asinhPixelPosterior(y: yv, mu: mu, variance: s2, softening: 0.3, gain: a, sigma: sigma)
        let sampler = try SplitGibbsSampler(prior: prior, problem: prob,
                                            settings: SplitGibbsSettings(iterations: 60, likelihoodMoves: moves,
                                                                         gaussNewtonSteps: gaussNewton))
        let count = 2000
        let s = try sampler.sample(indices: 0..<count, seed: 8)
        var st = RunningStatistics(valueCount: 1)
        for k in 0..<count { st.add([s.data[k]]) }
        #expect(abs(st.mean[0] - pm) < 4 * pv.squareRoot() / Double(count).squareRoot() + 0.01 * pv.squareRoot(),
                "mean \(st.mean[0]) vs quadrature \(pm)")
        #expect(abs(st.variance[0] / pv - 1) < 4 * (2.0 / Double(count - 1)).squareRoot() + 0.05,
                "variance \(st.variance[0]) vs quadrature \(pv)")
    }

    /// The sampler's MH diagnostic counts every decision of the non-final likelihood steps (moves ×
    /// iterations × samples), and it measures what it says: a proposal linearised at z (no
    /// Gauss–Newton step) is accepted less often than one at the conditional's mode. An affine pixel
    /// transform makes no MH test, so reports nothing.
    @Test func mhAcceptanceCountsEveryDecision() throws {
        let shape = ImageShape(channels: 1, height: 1, width: 1)
        let transform = AsinhTransform(softening: 0.3, gain: 1, offset: 0)
        let y = try ImageBatch(count: 1, shape: shape, data: [0.8])
        let op = DenseOperator(inputShape: shape, outputShape: shape, matrix: [1])
        let prob = try PosteriorProblem(observation: y, forwardOperator: op, noise: ScalarNoise(shape: shape, sigma: 0.15), fluxScale: 1)
        let count = 200, moves = 2
        var rates: [Double] = []
        for gn in [0, 2] {
            let prior = try IIDGaussianDenoiser(shape: shape, mu: 0, variance: 1, transform: transform)
            let sampler = try SplitGibbsSampler(prior: prior, problem: prob,
                                                settings: SplitGibbsSettings(iterations: 20, likelihoodMoves: moves, gaussNewtonSteps: gn))
            #expect(sampler.diagnostics.isEmpty)
            _ = try sampler.sample(indices: 0..<count, seed: 3)
            let (all, late) = sampler.acceptance.counts
            #expect(all.proposed == count * moves * (sampler.levels.count - 1), "\(all) over \(sampler.levels.count) levels")
            #expect(late.proposed > 0 && late.proposed < all.proposed && all.accepted <= all.proposed)
            #expect(sampler.diagnostics.count == 1 && sampler.diagnostics[0].contains("of \(all.proposed))"), "\(sampler.diagnostics)")
            rates.append(Double(all.accepted) / Double(all.proposed))
        }
        #expect(rates[0] < rates[1], "acceptance without Gauss–Newton steps \(rates[0]), with two \(rates[1])")
        let affine = try SplitGibbsSampler(prior: IIDGaussianDenoiser(shape: shape, mu: 0, variance: 1), problem: prob,
                                           settings: SplitGibbsSettings(iterations: 5))
        _ = try affine.sample(indices: 0..<4, seed: 1)
        #expect(affine.diagnostics.isEmpty)
    }

    /// Records written before the Gauss–Newton count was a setting decode with the 2 steps they ran.
    @Test func settingsWithoutGaussNewtonStepsDecodeAsTwo() throws {
        let old = #"{"iterations":30,"rhoMax":1,"priorSteps":20,"finalIterations":1,"likelihoodMoves":4,"cgTolerance":1e-05,"cgMaxIterations":200}"#
        let s = try JSONDecoder().decode(SplitGibbsSettings.self, from: Data(old.utf8))
        #expect(s == SplitGibbsSettings(iterations: 30, rhoMax: 1, priorSteps: 20, finalIterations: 1, likelihoodMoves: 4, gaussNewtonSteps: 2))
        let new = SplitGibbsSettings(iterations: 15, likelihoodMoves: 1, gaussNewtonSteps: 1)
        #expect(try JSONDecoder().decode(SplitGibbsSettings.self, from: JSONEncoder().encode(new)) == new)
    }
}
