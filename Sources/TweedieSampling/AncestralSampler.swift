// Unconditional sampling from a score prior over a respaced schedule: DDPM
// ancestral sampling (Ho et al. 2020, Alg. 2; DESIGN §5.1 step 2 without the
// guidance of step 4) and DDIM (Song, Meng & Ermon 2021, Eq. 12).
//
// For i = S−1 … 0 with ε̂, x̂0 from the prior at the original timestep t_i:
//   DDPM:  x_{i−1} = c1·x̂0 + c2·x_i + σ_i z,  c1 = β_i√ᾱ_{i−1}/(1−ᾱ_i),
//          c2 = √α_i(1−ᾱ_{i−1})/(1−ᾱ_i), σ_i² = β̃_i = β_i(1−ᾱ_{i−1})/(1−ᾱ_i) (or β_i),
//          no noise at i = 0 — the same per-sample update DPSSampler uses
//          (`AncestralUpdate.ddpm`, shared);
//   DDIM:  x_{i−1} = √ᾱ_{i−1}·x̂0 + √(1−ᾱ_{i−1}−σ_i²)·ε̂ + σ_i z,
//          σ_i = η·√((1−ᾱ_{i−1})/(1−ᾱ_i))·√(1−ᾱ_i/ᾱ_{i−1}); η = 0 is deterministic
//          given x_S, η = 1 has DDPM's marginal noise level (ᾱ_{−1} = 1).
// Everything happens in the prior's network space; `physical(_:)` maps samples
// through the prior's pixel transform x = T(u).
//
// Randomness: sample k draws x_S (first) and then each step's z from its own
// stream SampleStream(seed, k), in that order, so it is bit-identical for any
// batch size (the U-Net is batch-invariant: UNetBatchInvarianceTests).

import TweedieCore

/// The per-sample updates of the DDPM ancestral step (DESIGN §5.1 steps 2 and 4) and the DDIM step,
/// shared by the unconditional sampler and DPS so both take exactly the same arithmetic:
///   DDPM x ← c1·x̂0 + c2·x + σ·z [− ζ·g], DDIM x ← a·x̂0 + b·ε̂ + σ·z [− ζ·g],
///   z from `stream` (skipped, z = 0, when `addNoise` is false / σ = 0).
public enum AncestralUpdate {
    /// Updates one image `x` in place. `noise` is scratch of the image's size. Returns the index of the
    /// first non-finite value (leaving the rest of `x` partly updated), or nil when all are finite.
    @inline(__always)
    public static func ddpm(x: UnsafeMutableBufferPointer<Float>, x0: UnsafeBufferPointer<Float>,
                            c1: Float, c2: Float, sigma: Float, addNoise: Bool, stream: SampleStream,
                            noise: UnsafeMutableBufferPointer<Float>,
                            guidance: (zeta: Float, gradient: UnsafeBufferPointer<Float>)? = nil) -> Int? {
        combine(x: x, x0: x0, other: UnsafeBufferPointer(x), a: c1, b: c2, sigma: sigma, addNoise: addNoise,
                stream: stream, noise: noise, guidance: guidance)
    }

    /// The DDIM update of one image in place: x ← a·x̂0 + b·ε̂ + σ·z [− ζ·g] (z only when σ > 0).
    @inline(__always)
    public static func ddim(x: UnsafeMutableBufferPointer<Float>, x0: UnsafeBufferPointer<Float>,
                            eps: UnsafeBufferPointer<Float>, a: Float, b: Float, sigma: Float,
                            stream: SampleStream, noise: UnsafeMutableBufferPointer<Float>,
                            guidance: (zeta: Float, gradient: UnsafeBufferPointer<Float>)? = nil) -> Int? {
        combine(x: x, x0: x0, other: eps, a: a, b: b, sigma: sigma, addNoise: sigma > 0,
                stream: stream, noise: noise, guidance: guidance)
    }

    /// x ← a·x̂0 + b·w + σ·z [− ζ·g], w = x itself (DDPM: read before written, element by element) or ε̂ (DDIM).
    @inline(__always)
    static func combine(x: UnsafeMutableBufferPointer<Float>, x0: UnsafeBufferPointer<Float>, other w: UnsafeBufferPointer<Float>,
                        a: Float, b: Float, sigma: Float, addNoise: Bool, stream: SampleStream,
                        noise: UnsafeMutableBufferPointer<Float>,
                        guidance: (zeta: Float, gradient: UnsafeBufferPointer<Float>)?) -> Int? {
        if addNoise { stream.fillNormal(noise) }
        if let (zeta, grad) = guidance {
            for j in 0..<x.count {
                let z: Float = addNoise ? noise[j] : 0
                let v = a * x0[j] + b * w[j] + sigma * z - zeta * grad[j]
                guard v.isFinite else { return j }
                x[j] = v
            }
        } else {
            for j in 0..<x.count {
                let z: Float = addNoise ? noise[j] : 0
                let v = a * x0[j] + b * w[j] + sigma * z
                guard v.isFinite else { return j }
                x[j] = v
            }
        }
        return nil
    }
}

/// Which unconditional sampler.
public enum AncestralMethod: Equatable, Sendable, CustomStringConvertible {
    /// DDPM ancestral sampling, σ_i² = β̃_i (or β_i).
    case ddpm(useBetaVariance: Bool)
    /// DDIM with noise level η ≥ 0 (η = 0 deterministic).
    case ddim(eta: Double)

    public var description: String {
        switch self {
        case .ddpm(let beta): return "DDPM ancestral (σ²=\(beta ? "β" : "β̃"))"
        case .ddim(let eta): return "DDIM (η=\(eta))"
        }
    }
}

/// Draws unconditional samples from a prior (DDPM or DDIM over a respaced schedule).
public struct AncestralSampler: PosteriorSampler {
    public let prior: any Denoiser
    public let method: AncestralMethod
    public let schedule: NoiseSchedule
    /// Called after every step with (steps done, steps in all) for the batch being drawn.
    public var progress: (@Sendable (Int, Int) -> Void)?
    /// Clip x̂0 to [lo, hi] in network space before each update (improved-diffusion's
    /// clip_denoised; DDIM's ε̂ is then recomputed from the clipped x̂0). nil: no clipping.
    public var clip: (lo: Float, hi: Float)?

    /// - Parameters: steps: the number S of respaced steps (1 … the prior's T).
    public init(prior: any Denoiser, steps: Int, method: AncestralMethod = .ddpm(useBetaVariance: false)) throws {
        if case .ddim(let eta) = method {
            guard eta.isFinite && eta >= 0 else {
                throw TweedieError.setting(name: "eta", problem: "must be a finite number ≥ 0, got \(eta)")
            }
        }
        self.prior = prior
        self.method = method
        self.schedule = try prior.schedule.respaced(to: steps)
    }

    public var name: String {
        switch method {
        case .ddpm: return "ddpm"
        case .ddim: return "ddim"
        }
    }
    public var summary: String {
        "\(method), \(schedule.count) steps" + (clip.map { ", x̂0 clipped to [\($0.lo), \($0.hi)]" } ?? "")
    }

    /// The DDIM noise level σ_i for step i.
    public func ddimSigma(_ i: Int, eta: Double) -> Double { schedule.ddimCoefficients(i, eta: eta).sigma }

    /// Samples `indices` (stream (seed, k) for sample k), in network space, in index order, as one batch.
    public func sample(indices: Range<Int>, seed: UInt64) throws -> ImageBatch {
        let shape = prior.imageShape
        let b = indices.count, per = shape.count
        let streams = indices.map { SampleStream(seed: seed, index: $0) }
        var x = ImageBatch(count: b, shape: shape, bands: prior.bands)
        x.data.withUnsafeMutableBufferPointer { p in
            for k in 0..<b { streams[k].fillNormal(UnsafeMutableBufferPointer(rebasing: p[(k * per)..<((k + 1) * per)])) }
        }
        guard b > 0 else { return x }
        var noise = [Float](repeating: 0, count: per)
        let total = schedule.count
        for i in stride(from: total - 1, through: 0, by: -1) {
            let t = schedule.timesteps[i]
            var prediction = try prior.predict(x, timesteps: [Int](repeating: t, count: b))
            if let (lo, hi) = clip {
                let ab = schedule.alphasCumprod[i]
                let sa = Float(ab.squareRoot()), s1 = Float((1 - ab).squareRoot())
                for j in 0..<prediction.x0.data.count {
                    let v = prediction.x0.data[j]
                    let c = min(max(v, lo), hi)
                    if c != v {
                        prediction.x0.data[j] = c
                        prediction.eps.data[j] = (x.data[j] - sa * c) / s1
                    }
                }
            }
            var failure: (sample: Int, pixel: Int)?
            switch method {
            case .ddpm(let useBeta):
                let (c1d, c2d, vt) = schedule.posteriorCoefficients(i)
                let sigma = Float(i == 0 ? 0 : (useBeta ? schedule.betas[i] : vt).squareRoot())
                let c1 = Float(c1d), c2 = Float(c2d)
                x.data.withUnsafeMutableBufferPointer { xp in
                    prediction.x0.data.withUnsafeBufferPointer { x0p in
                        noise.withUnsafeMutableBufferPointer { np in
                            for k in 0..<b where failure == nil {
                                let r = (k * per)..<((k + 1) * per)
                                if let j = AncestralUpdate.ddpm(x: UnsafeMutableBufferPointer(rebasing: xp[r]),
                                                                x0: UnsafeBufferPointer(rebasing: x0p[r]), c1: c1, c2: c2,
                                                                sigma: sigma, addNoise: i > 0, stream: streams[k], noise: np) {
                                    failure = (k, j)
                                }
                            }
                        }
                    }
                }
            case .ddim(let eta):
                let c = schedule.ddimCoefficients(i, eta: eta)
                let a = Float(c.a), bCoef = Float(c.b), sigma = Float(c.sigma)
                x.data.withUnsafeMutableBufferPointer { xp in
                    prediction.x0.data.withUnsafeBufferPointer { x0p in
                        prediction.eps.data.withUnsafeBufferPointer { ep in
                            noise.withUnsafeMutableBufferPointer { np in
                                for k in 0..<b where failure == nil {
                                    let r = (k * per)..<((k + 1) * per)
                                    if let j = AncestralUpdate.ddim(x: UnsafeMutableBufferPointer(rebasing: xp[r]),
                                                                    x0: UnsafeBufferPointer(rebasing: x0p[r]),
                                                                    eps: UnsafeBufferPointer(rebasing: ep[r]),
                                                                    a: a, b: bCoef, sigma: sigma, stream: streams[k], noise: np) {
                                        failure = (k, j)
                                    }
                                }
                            }
                        }
                    }
                }
            }
            if let (k, j) = failure {
                throw TweedieError.numerical(problem:
                    "\(name.uppercased()) sampling produced a non-finite value at step \(total - i) of \(total) (timestep \(t)) in sample \(indices.lowerBound + k), pixel \(j) (\(prior.summary)); check the prior's weights, or use fewer or more steps")
            }
            progress?(total - i, total)
        }
        return x
    }

    /// Samples mapped to physical flux through the prior's pixel transform x = T(u).
    public func physical(_ u: ImageBatch) -> ImageBatch {
        var out = u
        let transform = prior.pixelTransform
        out.data.withUnsafeMutableBufferPointer { p in
            for j in p.indices { p[j] = transform.toPhysical(p[j]) }
        }
        return out
    }
}
