// Diffusion Posterior Sampling (Chung et al. 2022; paper 003 Eq. 1), exactly
// as DESIGN §5.1. For i = S−1 … 0 over a (possibly respaced) schedule, per
// sample (samples never couple: every norm is per image):
//   1. ε̂ = ε_θ(x_i, t_i), x̂0 = (x_i − √(1−ᾱ_i) ε̂)/√ᾱ_i   (optionally clipped);
//   2. x' = c1·x̂0 + c2·x_i + σ_i z,  c1 = β_i√ᾱ_{i−1}/(1−ᾱ_i),
//      c2 = √α_i(1−ᾱ_{i−1})/(1−ᾱ_i), σ_i² = β̃_i (or β_i), no noise at i = 0;
//      or, with `ddimEta`, the DDIM step x' = √ᾱ_{i−1}·x̂0 + √(1−ᾱ_{i−1}−σ_i²)·ε̂ + σ_i z
//      (Song et al. 2021 Eq. 12, σ_i from η as in AncestralSampler);
//   3. r = √W (y − A(s·T(x̂0)));
//   4. x_{i−1} = x' − ζ ∇_{x_i}‖r‖, the gradient flowing through T, A (its
//      adjoint / VJP) and the network (the denoiser's pullback):
//      ∇_{x_i}‖r‖ = J_{x̂0}ᵀ [ s·T'(x̂0) ⊙ Aᵀ(−√W ⊙ r / ‖r‖) ].
// Unlike the reference code of paper 003, the noise term is kept and the
// residual norm is never summed over the batch.
//
// Step 2's per-sample arithmetic is AncestralUpdate.ddpm (AncestralSampler.swift),
// shared with the unconditional sampler.
//
// Randomness: sample k draws x_S and every z from its own stream
// SampleStream(seed, k), so it is bit-identical for any batch size.

import TweedieCore

/// DPS settings. `guidanceScale` is ζ in step 4 (per step, on ∇‖r‖).
public struct DPSSettings: Equatable, Sendable, Codable {
    /// Number of (respaced) sampling steps S.
    public var steps: Int
    /// Guidance scale ζ.
    public var guidanceScale: Double
    /// Clip x̂0 to [clipMin, clipMax] in network space before use (nil: no clipping).
    public var clipMin: Float?
    public var clipMax: Float?
    /// Use β_i instead of β̃_i as the ancestral-step variance.
    public var useBetaVariance: Bool
    /// Step 2 as a DDIM step with this η (AncestralSampler's DDIM update) instead of the DDPM
    /// ancestral step; nil: DDPM (paper 003).
    public var ddimEta: Double?

    public init(steps: Int, guidanceScale: Double, clipMin: Float? = nil, clipMax: Float? = nil,
                useBetaVariance: Bool = false, ddimEta: Double? = nil) {
        self.steps = steps; self.guidanceScale = guidanceScale
        self.clipMin = clipMin; self.clipMax = clipMax; self.useBetaVariance = useBetaVariance
        self.ddimEta = ddimEta
    }
}

public struct DPSSampler: PosteriorSampler {
    public let prior: any Denoiser
    public let problem: PosteriorProblem
    public let settings: DPSSettings
    public let schedule: NoiseSchedule

    public init(prior: any Denoiser, problem: PosteriorProblem, settings: DPSSettings) throws {
        guard prior.imageShape == problem.forwardOperator.inputShape else {
            throw TweedieError.shapeMismatch(what: "prior image vs operator input (\(problem.forwardOperator.summary))",
                                             expected: "\(prior.imageShape)",
                                             got: "\(problem.forwardOperator.inputShape)")
        }
        guard settings.guidanceScale.isFinite && settings.guidanceScale >= 0 else {
            throw TweedieError.setting(name: "guidance", problem: "must be ≥ 0, got \(settings.guidanceScale)")
        }
        if let eta = settings.ddimEta, !(eta.isFinite && eta >= 0 && eta <= 1) {
            throw TweedieError.setting(name: "dps_eta", problem: "DDIM η must be in [0, 1], got \(eta)")
        }
        self.prior = prior
        self.problem = problem
        self.settings = settings
        self.schedule = try prior.schedule.respaced(to: settings.steps)
    }

    public var name: String { "dps" }
    public var summary: String {
        "DPS (ζ=\(settings.guidanceScale), \(settings.steps) steps, "
            + (settings.ddimEta.map { "DDIM steps η=\($0)" } ?? "σ²=\(settings.useBetaVariance ? "β" : "β̃")")
            + (settings.clipMin != nil ? ", x̂0 clipped to [\(settings.clipMin!), \(settings.clipMax ?? .infinity)]" : "")
            + ")"
    }

    public func sample(indices: Range<Int>, seed: UInt64) throws -> ImageBatch {
        let shape = prior.imageShape
        let b = indices.count
        let per = shape.count
        let streams = indices.map { SampleStream(seed: seed, index: $0) }
        var x = ImageBatch(count: b, shape: shape)
        x.data.withUnsafeMutableBufferPointer { p in
            for k in 0..<b { streams[k].fillNormal(UnsafeMutableBufferPointer(rebasing: p[(k * per)..<((k + 1) * per)])) }
        }
        let zeta = Float(settings.guidanceScale)
        var noise = [Float](repeating: 0, count: per)

        for i in stride(from: schedule.count - 1, through: 0, by: -1) {
            let t = schedule.timesteps[i]
            let (x0, eps, grad) = try guidance(x, timestep: t)
            // Steps 2 and 4: ancestral (DDPM) or DDIM step, then the guidance step.
            let (c1d, c2d, vt) = schedule.posteriorCoefficients(i)
            let sigma = Float(i == 0 ? 0 : (settings.useBetaVariance ? schedule.betas[i] : vt).squareRoot())
            let c1 = Float(c1d), c2 = Float(c2d)
            // DDIM: x' = a·x̂0 + b·ε̂ + σ_i z (Song et al. Eq. 12, the unconditional sampler's coefficients).
            let dc = schedule.ddimCoefficients(i, eta: settings.ddimEta ?? 0)
            let da = Float(dc.a), db = Float(dc.b), ddimSigma = Float(dc.sigma)
            for k in 0..<b {
                let r = (k * per)..<((k + 1) * per)
                let bad = x.data.withUnsafeMutableBufferPointer { xp in
                    x0.data.withUnsafeBufferPointer { x0p in
                        grad.data.withUnsafeBufferPointer { gp in
                            noise.withUnsafeMutableBufferPointer { np in
                                if settings.ddimEta != nil {
                                    return eps.data.withUnsafeBufferPointer { ep in
                                        AncestralUpdate.ddim(x: UnsafeMutableBufferPointer(rebasing: xp[r]),
                                                             x0: UnsafeBufferPointer(rebasing: x0p[r]),
                                                             eps: UnsafeBufferPointer(rebasing: ep[r]), a: da, b: db,
                                                             sigma: ddimSigma, stream: streams[k], noise: np,
                                                             guidance: (zeta, UnsafeBufferPointer(rebasing: gp[r])))
                                    }
                                }
                                return AncestralUpdate.ddpm(x: UnsafeMutableBufferPointer(rebasing: xp[r]),
                                                            x0: UnsafeBufferPointer(rebasing: x0p[r]), c1: c1, c2: c2,
                                                            sigma: sigma, addNoise: i > 0, stream: streams[k], noise: np,
                                                            guidance: (zeta, UnsafeBufferPointer(rebasing: gp[r])))
                            }
                        }
                    }
                }
                if bad != nil {
                    throw TweedieError.numerical(problem:
                        "DPS produced a non-finite value at step \(schedule.count - i) of \(schedule.count) (timestep \(t)) in sample \(indices.lowerBound + k); try a smaller guidance ζ or x̂0 clipping")
                }
            }
        }
        // With x̂0 clipping on, the final sample is held to the same range: its last guidance step
        // (x_0 = x̂0 − ζ∇‖r‖) must not leave the prior's support (a nonlinear pixel transform can
        // overflow there).
        if let lo = settings.clipMin, let hi = settings.clipMax {
            for j in 0..<x.data.count { x.data[j] = min(max(x.data[j], lo), hi) }
        }
        return x
    }

    /// Steps 1 and 3 and the gradient of step 4 for a batch at original timestep `t`:
    /// returns x̂0 (clipped if asked), ε̂ (consistent with the clipped x̂0) and ∇_{x_t}‖r‖ per image.
    public func guidance(_ x: ImageBatch, timestep t: Int) throws -> (x0: ImageBatch, eps: ImageBatch, gradient: ImageBatch) {
        let b = x.count
        let transform = prior.pixelTransform
        let s = Float(problem.fluxScale)
        let (pred, pullback) = try prior.predictWithPullback(x, timesteps: [Int](repeating: t, count: b))
        var x0 = pred.x0, eps = pred.eps
        // Step 1: optional clipping; the derivative is zero where the clip is active. ε̂ follows the
        // clipped x̂0 (ε̂ = (x_t − √ᾱ x̂0)/√(1−ᾱ)), as in the unconditional sampler; only DDIM steps use it.
        var clipped = [Bool]()
        if let lo = settings.clipMin, let hi = settings.clipMax {
            clipped = [Bool](repeating: false, count: x0.valueCount)
            let ab = prior.schedule.alphasCumprod[t]
            let sa = Float(ab.squareRoot()), s1 = Float((1 - ab).squareRoot())
            for j in 0..<x0.valueCount {
                let v = x0.data[j]
                if v < lo { x0.data[j] = lo; clipped[j] = true } else if v > hi { x0.data[j] = hi; clipped[j] = true }
                if clipped[j] { eps.data[j] = (x.data[j] - sa * x0.data[j]) / s1 }
            }
        }
        // Step 3: whitened residual of s·T(x̂0); ∇_{A x}‖r‖ = −√W ⊙ r/‖r‖ per sample.
        let phys = problem.physical(x0, transform: transform)
        var (g, chi2) = try problem.whitenedResiduals(ofPhysical: phys)
        let w = problem.noise.sqrtWeights
        let perObs = problem.observation.shape.count
        for k in 0..<b {
            let norm = chi2[k].squareRoot()
            let inv: Float = norm > 0 ? Float(-1 / norm) : 0
            for j in 0..<perObs { g.data[k * perObs + j] *= inv * w[j] }
        }
        var gPhys = try problem.forwardOperator.vjp(g, at: phys)
        for j in 0..<gPhys.valueCount {
            gPhys.data[j] *= (clipped.isEmpty || !clipped[j]) ? s * transform.derivative(x0.data[j]) : 0
        }
        return (x0, eps, try pullback(gPhys))
    }
}
