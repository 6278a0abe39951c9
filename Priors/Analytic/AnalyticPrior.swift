// The common face of the analytic oracle priors (DESIGN §4.5): exact x̂0, its
// exact VJP, exact prior sampling and exact posteriors, in Float64.
//
// A conforming type implements the Double-precision single-image methods; this
// file turns them into the Float32 batch `Denoiser` contract (DESIGN §4.1), so
// an analytic prior is usable wherever a neural one is.
//
// Conventions: one image is c·h·w Doubles `[c][y][x]` (x fastest, DESIGN §2);
// x_t = √ᾱ x0 + √(1−ᾱ) ε with ᾱ = ᾱ_t of the prior's (training) schedule at the
// original timestep t; ε̂ = (x_t − √ᾱ x̂0)/√(1−ᾱ), score = −ε̂/√(1−ᾱ). The pixel
// transform of an analytic prior is the identity: it lives in physical units.

import Foundation
import TweedieCore

/// An analytic prior: exact Tweedie denoiser, exact sampler, exact linear-Gaussian posteriors.
public protocol AnalyticPrior: Denoiser {
    /// x̂0 = E[x0 | x_t] and ε̂ = (x_t − √ᾱ x̂0)/√(1−ᾱ) for one image, exactly (0 < ᾱ < 1).
    func denoise(_ xt: [Double], alphaBar: Double) throws -> (x0: [Double], eps: [Double])
    /// The exact vector–Jacobian product (∂x̂0/∂x_t)ᵀ v at x_t, for one image.
    func pullback(_ cotangent: [Double], at xt: [Double], alphaBar: Double) throws -> [Double]
    /// One exact draw x0 ~ p(x0), every random number taken from `stream` in a fixed order.
    func sample(using stream: SampleStream) -> [Double]
    /// The exact posterior p(x | y) for y = A x + n, n ~ N(0, diag σ²), by dense linear algebra
    /// (a Gaussian prior is the one-component case).
    func densePosterior(_ likelihood: DenseLinearGaussianLikelihood) throws -> GaussianMixturePosterior
}

extension AnalyticPrior {
    /// Number of Doubles in one image.
    public var valueCount: Int { imageShape.count }

    /// Throws unless 0 < ᾱ < 1 (x_t would be noise-free or pure noise).
    func checkAlphaBar(_ alphaBar: Double) throws {
        guard alphaBar.isFinite && alphaBar > 0 && alphaBar < 1 else {
            throw TweedieError.invalidInput(what: "ᾱ (alpha-bar) of the analytic prior",
                                            problem: "must be strictly between 0 and 1, got \(alphaBar)")
        }
    }

    /// Throws unless `values` holds one image of this prior's shape.
    func checkImage(_ values: [Double], _ what: String) throws {
        guard values.count == valueCount else {
            throw TweedieError.shapeMismatch(what: "\(what) for analytic prior \(imageShape)",
                                             expected: "\(valueCount) values", got: "\(values.count)")
        }
    }

    /// ᾱ for each image of `xt` at original timesteps `t` (validated against the schedule).
    public func alphaBars(for xt: ImageBatch, timesteps t: [Int]) throws -> [Double] {
        guard xt.shape == imageShape else {
            throw TweedieError.shapeMismatch(what: "x_t for prior \(summary)", expected: "\(imageShape)", got: "\(xt.shape)")
        }
        guard t.count == xt.count else {
            throw TweedieError.shapeMismatch(what: "timesteps for a batch of \(xt.count)",
                                             expected: "\(xt.count) timesteps", got: "\(t.count)")
        }
        let timesteps = schedule.timesteps
        return try t.map { step in
            // The training schedule's timesteps are 0..<T (direct index); a respaced one is searched.
            if step >= 0 && step < timesteps.count && timesteps[step] == step { return schedule.alphasCumprod[step] }
            guard let i = timesteps.firstIndex(of: step) else {
                throw TweedieError.invalidInput(what: "timestep",
                                                problem: "\(step) is not a step of the prior's schedule (0…\(schedule.originalSteps - 1))")
            }
            return schedule.alphasCumprod[i]
        }
    }

    public func predict(_ xt: ImageBatch, timesteps t: [Int]) throws -> DenoiserPrediction {
        let abar = try alphaBars(for: xt, timesteps: t)
        var x0 = ImageBatch(count: xt.count, shape: imageShape, bands: xt.bands, unit: xt.unit, header: xt.header)
        var eps = x0
        let per = valueCount
        for n in 0..<xt.count {
            let x = xt.data[(n * per)..<((n + 1) * per)].map(Double.init)
            let (d, e) = try denoise(x, alphaBar: abar[n])
            for i in 0..<per {
                x0.data[n * per + i] = Float(d[i])
                eps.data[n * per + i] = Float(e[i])
            }
        }
        return DenoiserPrediction(x0: x0, eps: eps)
    }

    public func predictWithPullback(_ xt: ImageBatch, timesteps t: [Int]) throws -> (DenoiserPrediction, DenoiserPullback) {
        let prediction = try predict(xt, timesteps: t)
        let abar = try alphaBars(for: xt, timesteps: t)
        let point = xt
        let pullback: DenoiserPullback = { [self] v in
            guard v.shape == imageShape && v.count == point.count else {
                throw TweedieError.shapeMismatch(what: "cotangent of x̂0 (\(summary))",
                                                 expected: "\(point.count)×\(imageShape)", got: "\(v.count)×\(v.shape)")
            }
            var out = ImageBatch(count: v.count, shape: imageShape, bands: point.bands, unit: point.unit, header: point.header)
            let per = valueCount
            for n in 0..<v.count {
                let x = point.data[(n * per)..<((n + 1) * per)].map(Double.init)
                let c = v.data[(n * per)..<((n + 1) * per)].map(Double.init)
                let g = try self.pullback(c, at: x, alphaBar: abar[n])
                for i in 0..<per { out.data[n * per + i] = Float(g[i]) }
            }
            return out
        }
        return (prediction, pullback)
    }

    /// `count` exact prior draws; draw j uses stream (seed, firstIndex + j), so draw k is the
    /// same whatever batch it is drawn in (DESIGN §2).
    public func samples(count: Int, seed: UInt64, firstIndex: Int = 0) -> ImageBatch {
        var out = ImageBatch(count: count, shape: imageShape, bands: bands)
        let per = valueCount
        for j in 0..<count {
            let x = sample(using: SampleStream(seed: seed, index: firstIndex + j))
            for i in 0..<per { out.data[j * per + i] = Float(x[i]) }
        }
        return out
    }
}

/// FNV-1a 64-bit hash of Doubles' bit patterns, for provenance lines of array-defined priors.
func provenanceHash(_ arrays: [[Double]]) -> String {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for a in arrays {
        for v in a {
            var bits = v.bitPattern
            for _ in 0..<8 { h = (h ^ (bits & 0xff)) &* 0x100_0000_01b3; bits >>= 8 }
        }
    }
    return String(h, radix: 16)
}
