// The split-Gibbs prior step against an exact oracle on the Gaussian-mixture prior.
// The step draws z ~ p(z | u) for u = z + ρ ε by reverse diffusion from x_t = √ᾱ u at the
// timestep t whose coupling √((1 − ᾱ)/ᾱ) is ρ. By the tower property,
// E_{z ~ p(z | x_t)}[p(k | z)] = p(k | x_t) (x_t carries no information on k beyond z), and both
// sides are closed form for the mixture: p(k | z) from the components' densities, p(k | x_t) from
// GaussianMixturePrior.responsibilities. The average over many draws of the step must therefore
// reproduce the exact component probabilities.
//
// Measured when this test was written (8×8 mixture of the calibration study, 4000 draws, σ of the
// average ≈ 0.007): on the full DDPM grid (J ≥ t) the step is right (0.233 vs exact 0.238 at
// ρ = 3, 0.114 vs 0.120 at ρ = 2); with the calibrated preset's ≤ 100 steps it drifts towards the
// heavier, narrower component (0.191 and 0.091), the same direction as split-Gibbs's mixture rows
// in the calibration study lean (though the full grid alone does not fix those: tuning/mixture_j1000).
// The test checks the full grid; PRIOR_STEP_STEPS=100 makes it fail on the drift.
import Foundation
import Testing
import TweedieCore
import TweediePriors
import TweedieTestSupport
@testable import TweedieSampling

@Suite struct SplitGibbsPriorStepTests {
    /// p(k | z) for a clean image z (ᾱ = 1), by hand from the prior's components.
    static func componentProbabilities(_ z: ArraySlice<Float>, prior: GaussianMixturePrior) -> [Double] {
        var logs = prior.weights.map { Foundation.log($0) }
        for k in logs.indices {
            var acc = 0.0
            for (i, v) in z.enumerated() {
                let d = prior.variances[k][i], r = Double(v) - prior.means[k][i]
                acc += r * r / d + Foundation.log(d)
            }
            logs[k] -= 0.5 * acc
        }
        let top = logs.max()!
        let p = logs.map { Foundation.exp($0 - top) }
        let s = p.reduce(0, +)
        return p.map { $0 / s }
    }

    /// The prior step needs a problem only for its shape: the identity operator, σ = 1.
    static func identityProblem(_ shape: ImageShape) throws -> PosteriorProblem {
        try PosteriorProblem(observation: ImageBatch(count: 1, shape: shape), forwardOperator: DenseOperator.identity(shape),
                             noise: ScalarNoise(shape: shape, sigma: 1), fluxScale: 1)
    }

    /// The timestep whose coupling √((1 − ᾱ)/ᾱ) is nearest ρ, that coupling, and u = x0 + ρ_t ε for a
    /// prior draw x0 and ε from the same stream.
    static func coupledDraw(_ prior: any AnalyticPrior, rho: Double, stream: SampleStream) -> (t: Int, rho: Double, u: [Double]) {
        let abar = prior.schedule.alphasCumprod
        func coupling(_ i: Int) -> Double { ((1 - abar[i]) / abar[i]).squareRoot() }
        let t = abar.indices.min { abs(log(coupling($0) / rho)) < abs(log(coupling($1) / rho)) }!
        let x0 = prior.sample(using: stream)
        var noise = [Float](repeating: 0, count: x0.count)
        noise.withUnsafeMutableBufferPointer { stream.fillNormal($0) }
        return (t, coupling(t), (0..<x0.count).map { x0[$0] + coupling(t) * Double(noise[$0]) })
    }

    @Test func priorStepKeepsMixtureComponentProbabilities() throws {
        let prior = try #require(try AnalyticPriorSpec.parseAnalytic("mixture:n=8,weights=0.3;0.7,means=-0.15;0.15,variances=1;0.4")
                                 as? GaussianMixturePrior)
        let shape = prior.imageShape, n = shape.count
        let problem = try Self.identityProblem(shape)
        let abar = prior.schedule.alphasCumprod
        let env = ProcessInfo.processInfo.environment
        let draws = Int(env["PRIOR_STEP_DRAWS"] ?? "4000")!
        // 4000 draws: enough that the ≤ 100-step drift (0.047 at ρ = 3, 0.029 at ρ = 2) fails the check.
        let steps = Int(env["PRIOR_STEP_STEPS"] ?? "1000")!
        do {
            let sampler = try SplitGibbsSampler(prior: prior, problem: problem,
                                                settings: SplitGibbsSettings(iterations: 30, rhoMax: 10, priorSteps: steps))
            // Large couplings, where the component label is still uncertain given u.
            let rhos = env["PRIOR_STEP_RHOS"].map { $0.split(separator: ",").map { Double(String($0))! } } ?? [3.0, 2.0]
            for (c, rho) in rhos.enumerated() {
                let (t, rhoT, ud) = Self.coupledDraw(prior, rho: rho, stream: SampleStream(seed: 77, index: c))
                let u = ud.map { Float($0) }
                let exact = try prior.responsibilities(u.map { Double($0) * abar[t].squareRoot() }, alphaBar: abar[t])
                let batch = try ImageBatch(count: draws, shape: shape, data: [[Float]](repeating: u, count: draws).flatMap { $0 })
                let streams = (0..<draws).map { SampleStream(seed: 91, index: c * draws + $0) }
                let z = try sampler.priorStep(batch, level: t, streams: streams)
                var mean = [Double](repeating: 0, count: prior.componentCount)
                for d in 0..<draws {
                    let p = Self.componentProbabilities(z.data[(d * n)..<((d + 1) * n)], prior: prior)
                    for k in mean.indices { mean[k] += p[k] / Double(draws) }
                }
                print("prior step J=\(steps) ρ=\(String(format: "%.3f", rhoT)) t=\(t): exact \(exact.map { String(format: "%.4f", $0) }) sampled \(mean.map { String(format: "%.4f", $0) })")
                // A [0, 1] variable of mean p has variance ≤ p(1 − p), so the average's σ ≤ √(p(1 − p)/draws):
                // 4σ plus 0.005 for the schedule's own discretisation.
                let se = (exact[0] * (1 - exact[0]) / Double(draws)).squareRoot()
                #expect(abs(mean[0] - exact[0]) < 4 * se + 0.005,
                        "J=\(steps) ρ=\(rhoT): sampled \(mean) vs exact \(exact)")
            }
        }
    }

    /// The prior step's spread against the exact p(x0 | u) on a stationary Gaussian prior (8×8,
    /// slope 3): u = x0 + ρ ε gives a Gaussian posterior whose per-pixel variance is closed form
    /// (the prior's dense posterior under an identity operator with noise σ = ρ). Over 2000 draws of
    /// the step from one u, the summed per-pixel variance must match it. On a 5-step grid DDPM's β̃
    /// keeps only a quarter to a third of it (measured 0.35 at ρ = 0.5, 0.25 at ρ = 2); the
    /// Analytic-DPM variance keeps it (measured 0.99 and 1.04). The bound is ±8 %: the σ of a variance
    /// estimate from 2000 draws summed over 64 correlated pixels is ≲ 3 %, and the isotropic
    /// correction is exact only for a white prior (this one is red).
    @Test func analyticPriorStepVarianceKeepsTheSpreadOnACoarseGrid() throws {
        let prior = try #require(try AnalyticPriorSpec.parseAnalytic("gaussian:n=8,amplitude=1,slope=3,k0=0.3") as? StationaryGaussianPrior)
        let shape = prior.imageShape, n = shape.count
        let problem = try Self.identityProblem(shape)
        let draws = 2000
        for (c, rho) in [0.5, 2.0].enumerated() {
            let (t, rhoT, u) = Self.coupledDraw(prior, rho: rho, stream: SampleStream(seed: 5, index: c))
            let likelihood = try DenseLinearGaussianLikelihood(operator: DenseLinearOperator(rows: n, columns: n, matrix: DenseOperator.identity(shape).matrix),
                                                               noiseVariance: [Double](repeating: rhoT * rhoT, count: n), observation: u)
            let exact = try prior.densePosterior(likelihood).variance.reduce(0, +)
            let batch = try ImageBatch(count: draws, shape: shape, data: [[Float]](repeating: u.map { Float($0) }, count: draws).flatMap { $0 })
            var ratios: [PriorStepVariance: Double] = [:]
            for v in PriorStepVariance.allCases {
                let sampler = try SplitGibbsSampler(prior: prior, problem: problem,
                                                    settings: SplitGibbsSettings(iterations: 30, rhoMax: 10, priorSteps: 5, priorStepVariance: v))
                let streams = (0..<draws).map { SampleStream(seed: 17, index: c * draws + $0) }
                let z = try sampler.priorStep(batch, level: t, streams: streams)
                var total = 0.0
                for j in 0..<n {
                    var m = 0.0, m2 = 0.0
                    for d in 0..<draws { let x = Double(z.data[d * n + j]); m += x; m2 += x * x }
                    m /= Double(draws)
                    total += (m2 / Double(draws) - m * m) * Double(draws) / Double(draws - 1)
                }
                ratios[v] = total / exact
            }
            print("prior step J=5 ρ=\(String(format: "%.3f", rhoT)): sampled/exact variance β̃ \(ratios[.posterior]!) analytic \(ratios[.analytic]!)")
            #expect(ratios[.posterior]! < 0.6, "β̃ at ρ \(rhoT): \(ratios[.posterior]!)")
            #expect(abs(ratios[.analytic]! - 1) < 0.08, "analytic at ρ \(rhoT): \(ratios[.analytic]!)")
        }
    }
}
