// The exact posterior of a Gaussian-mixture prior p(x) = Σ_k w_k N(μ_k, C_k)
// under y = A x + n, n ~ N(0, Σ) (DESIGN §4.5): again a Gaussian mixture,
//     p(x | y) = Σ_k π_k N(x; m_k, P_k),
//     π_k ∝ w_k N(y; A μ_k, A C_k Aᵀ + Σ)      (reweighting by each component's evidence),
// with (m_k, P_k) the per-component Gaussian posteriors (GaussianPosterior.swift).
// Moments: mean E[x|y] = Σ π_k m_k; pixel variance by the law of total variance,
//     Var[x_i | y] = Σ π_k (P_k,ii + m_k,i²) − (E[x_i|y])²,
// evaluated as Σ π_k (P_k,ii + (m_k,i − E[x_i|y])²) to avoid cancellation.
// Exact draws: a component k ~ π, then that component's Matheron draw.
// A single Gaussian prior is the one-component case.

import Foundation
import TweedieCore

public struct GaussianMixturePosterior: Sendable {
    /// Prior component weights w_k (normalised).
    public let priorWeights: [Double]
    /// Per-component exact Gaussian posteriors.
    public let components: [GaussianPosterior]
    /// Posterior component probabilities π_k.
    public let weights: [Double]
    /// log p(y) = log Σ_k w_k N(y; A μ_k, A C_k Aᵀ + Σ).
    public let logEvidence: Double
    /// Posterior mean E[x | y], N values.
    public let mean: [Double]
    /// Posterior pixel variance Var[x_i | y], N values.
    public let variance: [Double]

    public init(priorWeights: [Double], components: [GaussianPosterior]) throws {
        guard !components.isEmpty && priorWeights.count == components.count else {
            throw TweedieError.shapeMismatch(what: "mixture posterior", expected: "one prior weight per component (\(components.count))",
                                             got: "\(priorWeights.count)")
        }
        let total = priorWeights.reduce(0, +)
        guard priorWeights.allSatisfy({ $0.isFinite && $0 > 0 }) && total.isFinite else {
            throw TweedieError.invalidInput(what: "mixture weights", problem: "must be finite and > 0, got \(priorWeights)")
        }
        let w = priorWeights.map { $0 / total }
        let n = components[0].count
        guard components.allSatisfy({ $0.count == n }) else {
            throw TweedieError.shapeMismatch(what: "mixture posterior components", expected: "\(n) unknowns each", got: "\(components.map(\.count))")
        }
        let logs = zip(w, components).map { Foundation.log($0) + $1.logEvidence }
        let top = logs.max()!
        let sum = logs.reduce(0) { $0 + Foundation.exp($1 - top) }
        let pi = logs.map { Foundation.exp($0 - top) / sum }
        var mean = [Double](repeating: 0, count: n)
        for (k, c) in components.enumerated() { for i in 0..<n { mean[i] += pi[k] * c.mean[i] } }
        var variance = [Double](repeating: 0, count: n)
        for (k, c) in components.enumerated() {
            for i in 0..<n {
                let d = c.mean[i] - mean[i]
                variance[i] += pi[k] * (c.variance[i] + d * d)
            }
        }
        self.priorWeights = w
        self.components = components
        self.weights = pi
        self.logEvidence = top + Foundation.log(sum)
        self.mean = mean
        self.variance = variance
    }

    /// One exact posterior draw: a uniform picks the component by π, then that component's draw.
    public func sample(using stream: SampleStream) -> [Double] {
        var k = 0
        if components.count > 1 {
            let u = stream.uniform()
            var acc = 0.0
            k = components.count - 1
            for (j, p) in weights.enumerated() {
                acc += p
                if u < acc { k = j; break }
            }
        }
        return components[k].sample(using: stream)
    }
}
