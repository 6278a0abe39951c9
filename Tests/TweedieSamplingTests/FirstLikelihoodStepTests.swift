// Split-Gibbs under a non-affine pixel transform against the exact posterior: 256 independent
// pixels, an IID N(0, 1) prior in network space, x = 0.3·sinh(u), every pixel measured with
// σ = 0.34 at y ∈ [0.8, 1.6] (asinh's exponential branch; posterior std 0.3–0.5 in u). Each
// pixel's exact posterior (mean and variance of u, and of x) comes from 1-D quadrature.
//
// What it guards: the annealing's first likelihood step must start its Metropolis–Hastings
// chain at its own first proposal. Started at the N(0, I) noise the sampler begins from, the
// independence sampler never left it (the noise's weight π/q exceeds any Laplace proposal's by
// ≈ e^2500: the target's tails under sinh are far heavier than the proposal's), the chain stayed
// there until ρ ≈ 0.4, and the samples came out between prior and posterior (measured when the
// start was fixed: u means 0.65 against 1.56; with this test's settings RMS 2.53, ratio 4.06,
// total flux −204 standard errors).
//
// Statistics, over K = 64 samples: the RMS over pixels of the standardised mean error
// (exact draws ≈ 1/√64 = 0.125), the pooled variance ratio (standard error ≈ 0.011), and the
// error of the total flux Σ x in standard errors of its mean (the pixels are independent, so its
// posterior variance is the sum of theirs). Measured with one MH move per likelihood step and
// solves stopped at 0.1 σ of error: RMS 0.130, ratio 1.008, total −0.44 SE. With four moves the
// total flux comes out low by 7.9 SE (two moves 4.3 SE), not yet understood, which is why the
// galaxy prior declares one move. The windowed Analytic-DPM variance (`local`) must meet the same
// bounds: the prior is stationary, so its 5 × 5 estimate of Var(x0 | x_t) has the isotropic one's
// mean and only adds noise.
import Foundation
import Testing
import TweedieCore
@testable import TweedieSampling

@Suite struct FirstLikelihoodStepTests {
    @Test(arguments: [PriorStepVariance.analytic, .local])
    func asinhPosteriorIsRecoveredFromANoiseStart(variance: PriorStepVariance) throws {
        let shape = ImageShape(channels: 1, height: 16, width: 16), n = shape.count
        let c = 0.3, sigma = 0.34
        let transform = AsinhTransform(softening: Float(c), gain: 1, offset: 0)
        let prior = try IIDGaussianDenoiser(shape: shape, mu: 0, variance: 1, transform: transform)
        let yv = testUniforms(n, seed: 5).map { 1.2 + 0.4 * $0 }
        let problem = try PosteriorProblem(observation: try ImageBatch(count: 1, shape: shape, data: yv.map { Float($0) }),
                                           forwardOperator: PixelIdentity(inputShape: shape),
                                           noise: ScalarNoise(shape: shape, sigma: Float(sigma)), fluxScale: 1)
        let exactU = yv.map { asinhPixelPosterior(y: $0, mu: 0, variance: 1, softening: c, gain: 1, sigma: sigma) }
        // The physical mean and variance per pixel by quadrature over u.
        var exactTotal = 0.0, totalVariance = 0.0
        for y in yv {
            var z0 = 0.0, z1 = 0.0, z2 = 0.0
            var u = -6.0
            while u <= 8 {
                let x = c * sinh(u), r = y - x
                let w = exp(-0.5 * u * u - 0.5 * r * r / (sigma * sigma))
                z0 += w; z1 += w * x; z2 += w * x * x
                u += 1e-4
            }
            exactTotal += z1 / z0
            totalVariance += z2 / z0 - (z1 / z0) * (z1 / z0)
        }
        let k = 64
        let settings = SplitGibbsSettings(iterations: 30, rhoMax: 1, priorSteps: 10, likelihoodMoves: 1,
                                          priorStepVariance: variance, cgErrorTolerance: 0.1)
        let sampler = try SplitGibbsSampler(prior: prior, problem: problem, settings: settings)
        let u = try sampler.sample(indices: 0..<k, seed: 3)
        var st = RunningStatistics(valueCount: n)
        var total = 0.0
        for i in 0..<k {
            let draw = Array(u.data[(i * n)..<((i + 1) * n)])
            st.add(draw)
            for v in draw { total += Double(transform.toPhysical(v)) }
        }
        total /= Double(k)
        let rms = ((0..<n).map { pow((st.mean[$0] - exactU[$0].mean) / exactU[$0].variance.squareRoot(), 2) }.reduce(0, +)
                   / Double(n)).squareRoot()
        let ratio = (0..<n).map { st.variance[$0] / exactU[$0].variance }.reduce(0, +) / Double(n)
        let totalError = (total - exactTotal) / (totalVariance / Double(k)).squareRoot()
        #expect(rms < 0.2, "RMS standardised mean error \(rms)")
        #expect(ratio > 0.85 && ratio < 1.15, "pooled variance ratio \(ratio)")
        #expect(abs(totalError) < 4, "total flux off by \(totalError) standard errors")
    }

    /// The `local` variance's window mean against the direct sum over each truncated window.
    @Test func windowMeanIsTheMeanOverEachTruncatedWindow() {
        let shape = ImageShape(channels: 2, height: 7, width: 9), r = 2
        let v = testUniforms(shape.count, seed: 11)
        let got = v.withUnsafeBufferPointer { PriorStepVariance.windowMean($0, shape: shape, radius: r) }
        for c in 0..<2 {
            for y in 0..<7 {
                for x in 0..<9 {
                    var s = 0.0, m = 0
                    for yy in max(0, y - r)...min(6, y + r) {
                        for xx in max(0, x - r)...min(8, x + r) { s += v[c * 63 + yy * 9 + xx]; m += 1 }
                    }
                    #expect(abs(got[c * 63 + y * 9 + x] - s / Double(m)) < 1e-12)
                }
            }
        }
    }
}

/// A = I without a dense matrix (every pixel measured once).
private struct PixelIdentity: ForwardOperator {
    let inputShape: ImageShape
    var outputShape: ImageShape { inputShape }
    var isLinear: Bool { true }
    var summary: String { "identity" }
    func apply(_ x: ImageBatch) throws -> ImageBatch { x }
    func vjp(_ v: ImageBatch, at x: ImageBatch?) throws -> ImageBatch { v }
}
