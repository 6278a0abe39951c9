// A Gaussian-mixture prior p(x0) = Σ_k w_k N(μ_k, D_k), D_k diagonal (isotropic
// or per pixel), with the exact Tweedie denoiser and its exact VJP (DESIGN §4.5).
//
// Notation: a = √ᾱ, s² = 1 − ᾱ, x = x_t = a x0 + s ε, all products per pixel i.
// Under component k, x ~ N(a μ_k, V_k) with V_k = ᾱ D_k + s² (diagonal), so
//     log ℓ_k(x) = −½ Σ_i [ (x_i − a μ_ki)² / V_ki + log V_ki ]   (2π dropped: common to all k),
//     π_k(x) = w_k ℓ_k / Σ_l w_l ℓ_l                             (responsibilities, a softmax),
//     m_k(x) = μ_k + a D_k / V_k ⊙ (x − a μ_k)                   (per-component Wiener estimate),
//     x̂0(x) = E[x0 | x] = Σ_k π_k m_k,
//     ε̂ = (x − a x̂0)/s = s Σ_k π_k (x − a μ_k)/V_k  (since x − a m_k = s² (x − a μ_k)/V_k;
//           evaluated in this form, so no cancellation as s → 0).
//
// Exact VJP. With g_k = ∂ log ℓ_k/∂x = −(x − a μ_k)/V_k and ḡ = Σ_l π_l g_l:
//     ∂m_ki/∂x_j = δ_ij a D_ki/V_ki,     ∂π_k/∂x_j = π_k (g_kj − ḡ_j),
//     ∂x̂0_i/∂x_j = Σ_k π_k δ_ij a D_ki/V_ki + Σ_k m_ki π_k (g_kj − ḡ_j),
// so for a cotangent v
//     (Jᵀ v)_j = Σ_k π_k [ a D_kj/V_kj v_j + g_kj (m_k·v − Σ_l π_l m_l·v) ]
//              = Σ_k π_k [ a D_kj/V_kj v_j + g_kj ((m_k − x̂0)·v) ],
// the last form used (centred dot products: no cancellation between large m_k·v).
// (J is symmetric — J = (a/s²) Cov[x0 | x_t] by Tweedie's second-order formula —
// but the code implements the derived Jᵀ v as written.)
//
// Exact prior draws: a uniform picks k by w, then μ_k + √D_k ⊙ z.
// Images are c·h·w Doubles `[c][y][x]`; everything is Float64.

import Foundation
import TweedieCore

/// One mixture component: weight, mean image, diagonal variance.
public struct MixtureComponent: Sendable, Equatable, Codable {
    /// Prior weight (> 0; the weights are normalised).
    public var weight: Double
    /// Mean: 1 value, one per channel, or a full c·h·w image.
    public var mean: [Double]
    /// Variance: 1 value (isotropic), one per channel, or c·h·w values (diagonal), each ≥ 0.
    public var variance: [Double]
    public init(weight: Double, mean: [Double], variance: [Double]) {
        self.weight = weight; self.mean = mean; self.variance = variance
    }
}

public final class GaussianMixturePrior: AnalyticPrior {
    public let imageShape: ImageShape
    public let schedule: NoiseSchedule
    public let pixelTransform: any PixelTransform = AffinePixelTransform()
    public let bands: [String]
    public let summary: String
    /// Normalised prior weights w_k.
    public let weights: [Double]
    /// Mean images μ_k, K × N.
    public let means: [[Double]]
    /// Diagonal variances D_k, K × N.
    public let variances: [[Double]]
    private let logWeights: [Double]

    public init(shape: ImageShape, components: [MixtureComponent], schedule: NoiseSchedule,
                bands: [String] = []) throws {
        guard !components.isEmpty else {
            throw TweedieError.invalidInput(what: "gaussian mixture prior", problem: "needs at least one component")
        }
        guard shape.count >= 1 else {
            throw TweedieError.invalidInput(what: "gaussian mixture prior shape", problem: "\(shape) is empty")
        }
        guard bands.isEmpty || bands.count == shape.channels else {
            throw TweedieError.shapeMismatch(what: "gaussian mixture bands", expected: "\(shape.channels) names",
                                             got: "\(bands.count) (\(bands.joined(separator: ",")))")
        }
        var ws: [Double] = [], mus: [[Double]] = [], ds: [[Double]] = []
        for (k, c) in components.enumerated() {
            guard c.weight.isFinite && c.weight > 0 else {
                throw TweedieError.invalidInput(what: "mixture component \(k) weight", problem: "must be finite and > 0, got \(c.weight)")
            }
            ws.append(c.weight)
            mus.append(try expandImage(c.mean, shape: shape, what: "mixture component \(k) mean"))
            let d = try expandImage(c.variance, shape: shape, what: "mixture component \(k) variance")
            if let bad = d.firstIndex(where: { $0 < 0 }) {
                throw TweedieError.invalidInput(what: "mixture component \(k) variance", problem: "value \(d[bad]) at index \(bad) is negative")
            }
            ds.append(d)
        }
        let total = ws.reduce(0, +)
        self.imageShape = shape
        self.schedule = schedule
        self.bands = bands
        self.weights = ws.map { $0 / total }
        self.logWeights = self.weights.map { Foundation.log($0) }
        self.means = mus
        self.variances = ds
        let isotropic = ds.allSatisfy { d in d.allSatisfy { $0 == d[0] } }
        self.summary = "analytic gaussian-mixture \(shape) K=\(components.count) \(isotropic ? "isotropic" : "diagonal") #\(provenanceHash([self.weights] + mus + ds)); \(schedule.kind.rawValue) T=\(schedule.originalSteps)"
    }

    /// Number of components K.
    public var componentCount: Int { weights.count }

    /// Responsibilities π_k(x_t) (sum 1).
    public func responsibilities(_ xt: [Double], alphaBar: Double) throws -> [Double] {
        try checkAlphaBar(alphaBar)
        try checkImage(xt, "x_t")
        return responsibilitiesUnchecked(xt, alphaBar: alphaBar)
    }

    private func responsibilitiesUnchecked(_ x: [Double], alphaBar: Double) -> [Double] {
        let a = alphaBar.squareRoot(), s2 = 1 - alphaBar
        var logs = logWeights
        for k in 0..<componentCount {
            let mu = means[k], d = variances[k]
            var acc = 0.0
            for i in 0..<x.count {
                let v = alphaBar * d[i] + s2
                let r = x[i] - a * mu[i]
                acc += r * r / v + Foundation.log(v)
            }
            logs[k] -= 0.5 * acc
        }
        let top = logs.max()!
        var pi = logs.map { Foundation.exp($0 - top) }
        let sum = pi.reduce(0, +)
        for k in pi.indices { pi[k] /= sum }
        return pi
    }

    public func denoise(_ xt: [Double], alphaBar: Double) throws -> (x0: [Double], eps: [Double]) {
        let pi = try responsibilities(xt, alphaBar: alphaBar)
        let a = alphaBar.squareRoot(), s2 = 1 - alphaBar, s = s2.squareRoot()
        var x0 = [Double](repeating: 0, count: xt.count)
        var eps = x0
        for k in 0..<componentCount {
            let mu = means[k], d = variances[k], p = pi[k]
            for i in 0..<xt.count {
                let v = alphaBar * d[i] + s2
                let r = xt[i] - a * mu[i]
                x0[i] += p * (mu[i] + a * d[i] / v * r)
                eps[i] += p * s * r / v
            }
        }
        return (x0, eps)
    }

    public func pullback(_ cotangent: [Double], at xt: [Double], alphaBar: Double) throws -> [Double] {
        try checkImage(cotangent, "cotangent of x̂0")
        let x0 = try denoise(xt, alphaBar: alphaBar).x0
        let pi = responsibilitiesUnchecked(xt, alphaBar: alphaBar)
        let a = alphaBar.squareRoot(), s2 = 1 - alphaBar
        var out = [Double](repeating: 0, count: xt.count)
        for k in 0..<componentCount {
            let mu = means[k], d = variances[k], p = pi[k]
            // (m_k − x̂0)·v
            var dot = 0.0
            for i in 0..<xt.count {
                let v = alphaBar * d[i] + s2
                let m = mu[i] + a * d[i] / v * (xt[i] - a * mu[i])
                dot += (m - x0[i]) * cotangent[i]
            }
            for i in 0..<xt.count {
                let v = alphaBar * d[i] + s2
                let g = -(xt[i] - a * mu[i]) / v
                out[i] += p * (a * d[i] / v * cotangent[i] + g * dot)
            }
        }
        return out
    }

    /// A uniform picks the component, then c·h·w standard normals (order `[c][y][x]`).
    public func sample(using stream: SampleStream) -> [Double] {
        var k = componentCount - 1
        if componentCount > 1 {
            let u = stream.uniform()
            var acc = 0.0
            for (j, w) in weights.enumerated() {
                acc += w
                if u < acc { k = j; break }
            }
        }
        return componentSample(k, stream)
    }

    /// μ_k + √D_k ⊙ z, z from `stream`.
    private func componentSample(_ k: Int, _ stream: SampleStream) -> [Double] {
        let mu = means[k], d = variances[k]
        return (0..<valueCount).map { mu[$0] + d[$0].squareRoot() * stream.normal() }
    }

    public func densePosterior(_ likelihood: DenseLinearGaussianLikelihood) throws -> GaussianMixturePosterior {
        guard likelihood.forwardOperator.columns == valueCount else {
            throw TweedieError.shapeMismatch(what: "operator input for \(summary)", expected: "\(valueCount) unknowns",
                                             got: "\(likelihood.forwardOperator.columns)")
        }
        let parts = try (0..<componentCount).map { k in
            try GaussianPosterior(priorMean: means[k], priorCovariance: .diagonal(variances[k]), likelihood: likelihood,
                                  priorSampler: { [self] stream in self.componentSample(k, stream) })
        }
        return try GaussianMixturePosterior(priorWeights: weights, components: parts)
    }
}
