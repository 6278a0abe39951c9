// The exact posteriors the calibration study compares samplers with (issue 8;
// DESIGN §4.5); the study's operators are built in TweedieStudies (CalibrationOperators).
//
// Two routes, both exact for y = A x + n, n ~ N(0, σ² I):
// - Fourier: a stationary Gaussian prior and a single periodic PSF convolution
//   are diagonal in Fourier space (FourierGaussianPosterior.swift);
// - dense: any linear operator on a small image (≤ 1024 unknowns, e.g. 16×16)
//   is turned into its matrix by applying it to unit vectors, and the prior's
//   `densePosterior` gives the posterior Gaussian (mixture) with per-component
//   posteriors and reweighted component probabilities π_k.
//
// Mixture mode weights of samples. p(k | x, y) = p(k | x) because y depends on
// k only through x, so the exact responsibility of a posterior sample x is the
// prior responsibility w_k N(x; μ_k, D_k)/Σ_l w_l N(x; μ_l, D_l). Averaged over
// exact posterior draws it is an unbiased estimate of π_k; averaged over a
// sampler's draws it is the sampler's mode weight (soft assignment).

import Foundation
import TweedieCore
import TweedieOperators
import TweediePriors

/// The exact posterior of one observation.
public struct CalibrationOracle: Sendable {
    public enum Route: String, Sendable, Codable { case fourier, dense }
    public let route: Route
    /// Posterior mean and pixel variance, N values each.
    public let mean: [Double]
    public let variance: [Double]
    /// Posterior component probabilities π_k (one value for a Gaussian prior).
    public let componentWeights: [Double]
    private let fourier: FourierGaussianPosterior?
    private let dense: GaussianMixturePosterior?

    /// - Parameters: the prior, a linear operator on its grid, the noise σ (every observed value) and y.
    public init(prior: any AnalyticPrior, operator op: any ForwardOperator, sigma: Double, observation y: ImageBatch) throws {
        if let g = prior as? StationaryGaussianPrior, let psf = CalibrationOracle.periodicPSF(op), psf.bandCount == 1 {
            let post = try g.fourierPosterior(kernel: psf.kernel(band: 0).map(Double.init), kernelHeight: psf.height,
                                              kernelWidth: psf.width, noiseSigma: [sigma],
                                              observation: y.data.map(Double.init))
            route = .fourier; fourier = post; dense = nil
            mean = post.mean; variance = post.variance; componentWeights = [1]
        } else {
            let noise = try DiagonalGaussianNoise(sigma: sigma, shape: op.outputShape)
            let lik = try DenseLinearGaussianLikelihood(operator: op, noise: noise, observation: y)
            let post = try prior.densePosterior(lik)
            route = .dense; fourier = nil; dense = post
            mean = post.mean; variance = post.variance; componentWeights = post.weights
        }
    }

    /// The exact posterior covariance eigenvalue V of DFT mode (channel, ky, kx) (FFT order) when the
    /// posterior is diagonal in Fourier space (the Fourier route); nil otherwise.
    public var modeVariance: ((Int, Int, Int) -> Double)? {
        guard let f = fourier else { return nil }
        return { c, ky, kx in f.spectrum.value(channel: c, ky: ky, kx: kx) }
    }

    /// The PSF of an operator that is one periodic PSF convolution (nil otherwise).
    static func periodicPSF(_ op: any ForwardOperator) -> PointSpreadFunction? {
        if let c = op as? PSFConvolution, c.boundary == .periodic { return c.psf }
        return nil
    }

    /// One exact posterior draw from `stream`.
    public func sample(using stream: SampleStream) -> [Double] {
        if let f = fourier { return f.sample(using: stream) }
        return dense!.sample(using: stream)
    }

    /// Exact component responsibilities p(k | x) of one image x under a mixture prior ([1] otherwise).
    public static func responsibilities(of x: ArraySlice<Float>, prior: any AnalyticPrior) -> [Double] {
        guard let mix = prior as? GaussianMixturePrior, mix.componentCount > 1 else { return [1] }
        var logs = mix.weights.map { Foundation.log($0) }
        for k in 0..<mix.componentCount {
            let mu = mix.means[k], d = mix.variances[k]
            var acc = 0.0
            var j = 0
            for v in x {
                // A zero-variance pixel is a point mass; a tiny floor keeps the density finite.
                let dv = max(d[j], 1e-12)
                let r = Double(v) - mu[j]
                acc += r * r / dv + Foundation.log(dv)
                j += 1
            }
            logs[k] -= 0.5 * acc
        }
        let top = logs.max()!
        let e = logs.map { Foundation.exp($0 - top) }
        let s = e.reduce(0, +)
        return e.map { $0 / s }
    }
}

extension CalibrationOracle {
    /// Component weights of the ρ-smoothed posterior π_ρ(z) ∝ p(z) L_ρ(z), L_ρ(z) = ∫ N(u; z, ρ²I) p(y | u) du —
    /// the z-marginal that split-Gibbs targets at coupling ρ. For a Gaussian-mixture prior with diagonal
    /// components N(μ_k, D_k) and y = A u + n, ∫ N(z; μ_k, D_k) N(y; A z, σ²I + ρ²AAᵀ) dz =
    /// N(y; Aμ_k, A(D_k + ρ²I)Aᵀ + σ²I): the exact posterior weights of the mixture whose component
    /// variances are D_k + ρ². ρ = 0 gives the posterior's own weights.
    public static func smoothedComponentWeights(prior mix: GaussianMixturePrior, operator op: any ForwardOperator,
                                                sigma: Double, observation y: ImageBatch, rho: Double) throws -> [Double] {
        let comps = (0..<mix.componentCount).map {
            MixtureComponent(weight: mix.weights[$0], mean: mix.means[$0], variance: mix.variances[$0].map { $0 + rho * rho })
        }
        let smoothed = try GaussianMixturePrior(shape: mix.imageShape, components: comps, schedule: mix.schedule)
        return try CalibrationOracle(prior: smoothed, operator: op, sigma: sigma, observation: y).componentWeights
    }
}
