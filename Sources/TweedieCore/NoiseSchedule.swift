// Discrete diffusion noise schedules as in improved-diffusion (DESIGN §4.2;
// Nichol & Dhariwal 2021, Eq. 17 for the cosine schedule).
//
// Index convention: step i ∈ 0..<T, ᾱ_i = Π_{j≤i} (1 − β_j), x_i = √ᾱ_i x0 + √(1−ᾱ_i) ε.
// A respaced schedule keeps a subset of the original ᾱ (Nichol & Dhariwal §4,
// "respacing"), recomputes β from consecutive kept ᾱ, and remembers the original
// timestep of each kept step: the network is always called with that index.

import Foundation

/// The β schedule family.
public enum ScheduleKind: String, Codable, Sendable, CaseIterable {
    case linear
    case cosine
}

/// A (possibly respaced) discrete noise schedule. A value type: never shared mutable state.
public struct NoiseSchedule: Equatable, Sendable {
    public let kind: ScheduleKind
    /// Length of the original (training) schedule T.
    public let originalSteps: Int
    /// β_i of this (possibly respaced) schedule, Double.
    public let betas: [Double]
    /// ᾱ_i of this schedule.
    public let alphasCumprod: [Double]
    /// Original timestep index of each step (the network's `t`), ascending.
    public let timesteps: [Int]

    public var count: Int { betas.count }

    /// The full training schedule with T steps.
    public init(kind: ScheduleKind, steps T: Int) throws {
        guard T >= 2 else {
            throw TweedieError.invalidInput(what: "diffusion steps", problem: "need at least 2 steps, got \(T)")
        }
        var betas = [Double](repeating: 0, count: T)
        switch kind {
        case .linear:
            // β from 1e-4·1000/T to 0.02·1000/T, evenly spaced (improved-diffusion get_named_beta_schedule).
            let scale = 1000.0 / Double(T)
            let b0 = scale * 1e-4, b1 = scale * 0.02
            for i in 0..<T { betas[i] = b0 + (b1 - b0) * Double(i) / Double(T - 1) }
        case .cosine:
            // f(t) = cos²(((t/T)+s)/(1+s) · π/2), s = 0.008; β_i = min(1 − f(i+1)/f(i), 0.999).
            func f(_ t: Double) -> Double {
                let v = cos(((t / Double(T)) + 0.008) / 1.008 * Double.pi / 2)
                return v * v
            }
            for i in 0..<T { betas[i] = min(1 - f(Double(i + 1)) / f(Double(i)), 0.999) }
        }
        self.init(kind: kind, originalSteps: T, betas: betas, timesteps: Array(0..<T))
    }

    private init(kind: ScheduleKind, originalSteps: Int, betas: [Double], timesteps: [Int]) {
        self.kind = kind
        self.originalSteps = originalSteps
        self.betas = betas
        var acc = 1.0
        self.alphasCumprod = betas.map { b in acc *= (1 - b); return acc }
        self.timesteps = timesteps
    }

    /// Respaced to `steps` evenly spaced original timesteps (improved-diffusion's
    /// `space_timesteps(T, [steps])` for one section: stride (T−1)/(steps−1), rounded).
    public func respaced(to steps: Int) throws -> NoiseSchedule {
        guard steps >= 1 && steps <= count else {
            throw TweedieError.setting(name: "steps",
                                       problem: "must be between 1 and \(count), got \(steps)")
        }
        if steps == count { return self }
        var keep: [Int] = []
        if steps == 1 {
            keep = [count - 1]
        } else {
            let stride = Double(count - 1) / Double(steps - 1)
            var cur = 0.0
            for _ in 0..<steps { keep.append(Int(cur.rounded())); cur += stride }
        }
        return try keeping(indices: keep)
    }

    /// The sub-schedule keeping the steps at `indices` (strictly increasing indices into this schedule):
    /// ᾱ is kept, β recomputed from consecutive kept ᾱ, original timesteps remembered.
    public func keeping(indices keep: [Int]) throws -> NoiseSchedule {
        guard !keep.isEmpty, zip(keep, keep.dropFirst()).allSatisfy({ $0 < $1 }),
              keep.first! >= 0, keep.last! < count else {
            throw TweedieError.invalidInput(what: "schedule subsequence",
                                            problem: "indices must be strictly increasing within 0..<\(count)")
        }
        var newBetas: [Double] = []
        var last = 1.0
        for i in keep {
            newBetas.append(1 - alphasCumprod[i] / last)
            last = alphasCumprod[i]
        }
        return NoiseSchedule(kind: kind, originalSteps: originalSteps, betas: newBetas,
                             timesteps: keep.map { timesteps[$0] })
    }

    /// ᾱ of the previous step (ᾱ_{-1} = 1).
    public func alphaCumprodPrev(_ i: Int) -> Double { i == 0 ? 1 : alphasCumprod[i - 1] }

    /// Posterior q(x_{i−1} | x_i, x0) coefficients (Ho et al. 2020, Eq. 7):
    /// mean = c1·x0 + c2·x_i, variance β̃_i = β_i(1−ᾱ_{i−1})/(1−ᾱ_i).
    public func posteriorCoefficients(_ i: Int) -> (c1: Double, c2: Double, variance: Double) {
        let ab = alphasCumprod[i], abPrev = alphaCumprodPrev(i), b = betas[i]
        let c1 = b * abPrev.squareRoot() / (1 - ab)
        let c2 = (1 - b).squareRoot() * (1 - abPrev) / (1 - ab)
        let v = b * (1 - abPrev) / (1 - ab)
        return (c1, c2, v)
    }

    /// DDIM step coefficients (Song, Meng & Ermon 2021, Eq. 12) for noise level η:
    /// x_{i−1} = a·x̂0 + b·ε̂ + σ·z, a = √ᾱ_{i−1}, b = √(1−ᾱ_{i−1}−σ²),
    /// σ = η·√((1−ᾱ_{i−1})/(1−ᾱ_i))·√(1−ᾱ_i/ᾱ_{i−1}).
    public func ddimCoefficients(_ i: Int, eta: Double) -> (a: Double, b: Double, sigma: Double) {
        let ab = alphasCumprod[i], abPrev = alphaCumprodPrev(i)
        let sigma = eta * ((1 - abPrev) / (1 - ab)).squareRoot() * max(0, 1 - ab / abPrev).squareRoot()
        return (abPrev.squareRoot(), max(0, 1 - abPrev - sigma * sigma).squareRoot(), sigma)
    }
}
