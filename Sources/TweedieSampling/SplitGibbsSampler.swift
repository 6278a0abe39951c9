// Split-Gibbs / plug-and-play diffusion posterior sampling (Wu, Sun, Chen,
// Zhang, Yue & Bouman 2024, "Principled probabilistic imaging using diffusion
// models as plug-and-play priors", PnP-DM), in the prior's network space u.
//
// Target: π(u, z) ∝ p(y | u) · p(z) · N(u; z, ρ² I), with
// p(y | u) = N(y; A(s·T(u)), W⁻¹). Its z-marginal tends to the posterior
// p(z | y) as ρ → 0. Gibbs alternates, per sample (samples never couple):
//  1. likelihood step, u ~ π(u | z, y):
//     linearise T at z, x ≈ s·T(z) + s·T'(z)⊙(u − z); with B v = A(s T'(z) ⊙ v)
//     and ỹ = y − A(s T(z)) the conditional of v = u − z is Gaussian,
//     precision P = BᵀWB + I/ρ², mean m = P⁻¹BᵀWỹ. A draw comes from
//     perturb-then-optimise: solve P v = BᵀW(ỹ + W^{−1/2} n₁) + n₂/ρ by
//     conjugate gradients (n₁, n₂ standard normal). For an affine T this is
//     the exact conditional; otherwise it is an independence proposal, and a
//     Metropolis–Hastings test against the exact conditional keeps the chain exact
//     (`likelihoodMoves` proposals per iteration). The linearisation point is z moved
//     by `gaussNewtonSteps` Gauss–Newton steps towards the conditional's mode, each
//     backtracked (t = 1, ½, ¼) until log π(u | z, y) rises, so the proposal is the
//     Laplace approximation rather than a Gaussian centred where z happens to be;
//  2. prior step, z ~ p(z | u) ∝ p(z) N(u; z, ρ²): with ᾱ such that
//     (1 − ᾱ)/ᾱ = ρ², x_t = √ᾱ·u is a diffusion state at that level, and the
//     unconditional ancestral reverse process from there to t = 0 samples
//     p(z | x_t) (DESIGN §5.2). It needs only the denoiser's x̂0 — no VJP.
// ρ is annealed geometrically from `rhoMax` to the smallest level of the
// training schedule (t = 0): iteration k uses the original timestep t_k whose
// ρ_t = √((1 − ᾱ_t)/ᾱ_t) is nearest the target. The prior step runs on a
// sub-grid of the original timesteps {round(t_k·(j/J)²)}, J = min(t_k,
// `priorSteps`): coarse at high noise, every timestep near t = 0. The fine
// bottom matters: an ancestral step replaces x0 by its mean x̂0, so a coarse
// last step loses the variance of p(x0 | x_t) — negligible for unconditional
// sampling, but all of it when the prior step starts at small ρ.
// The sample comes from the last iteration (at the smallest coupling ρ₀ of the
// schedule) without its prior step: x = a + P⁻¹(D Aᵀ √W (√W ỹ + n₁) + (z − a)/ρ₀²),
// the likelihood step's draw with the data noise n₁ but not the coupling noise
// n₂/ρ₀. The joint target's z-marginal is the posterior with the likelihood
// smoothed by N(0, ρ₀²) and its u-marginal the posterior with the prior smoothed
// by it; at high SNR the posterior is narrower than ρ₀ in network units (the
// demo at 100× its SNR: z missed the data, reduced χ² 13), and where the prior
// is tighter than ρ₀ (the galaxy prior's sky) u is too wide (demo coverage
// 0.91 / 0.97). This draw keeps z where the data are weaker than 1/ρ₀² and takes
// the data's own spread where they are stronger — exact in both limits, an
// approximation in between that simulation-based calibration measures.
//
// Cost per sample: Σ_k (J_k + 1) network evaluations (no VJPs), plus per iteration
// 1 CG solve (affine T) or gaussNewtonSteps + likelihoodMoves (otherwise: the last linearisation's
// mean is carried by the draw's solve and enters the MH test through P m = r), each
// up to `cgMaxIterations` operator apply + adjoint pairs; the early, large-ρ solves
// are the slow ones (data-dominated, ill-conditioned). The last likelihood step takes
// at least `finalGaussNewtonSteps`: its draw is the sample, and at ρ₀ its solves
// converge in ≈ 10 iterations.

import Foundation
import TweedieCore

/// The variance of each coarse ancestral step of the prior step, from x_t to x_s on the sub-grid.
/// The exact reverse transition p(x_s | x_t) = ∫ q(x_s | x_t, x0) p(x0 | x_t) dx0 has covariance
/// β̃ I + c1² Cov(x0 | x_t) (c1 the posterior-mean coefficient of x0); DDPM's β̃ drops the second
/// term, which is negligible on the full grid but not on a coarse one.
public enum PriorStepVariance: String, Equatable, Sendable, Codable, CaseIterable {
    /// σ² = β̃ (DDPM's posterior variance; under-disperses on coarse grids).
    case posterior
    /// σ² = β̃ + c1² v̂, v̂ = (1 − ᾱ_t)/ᾱ_t · max(0, 1 − ‖ε̂‖²/d) per image: the mean of
    /// Var(x0 | x_t) over pixels, from E‖ε̂‖² = d − tr Cov(ε | x_t) (Bao et al. 2022, Analytic-DPM,
    /// with the image's own ‖ε̂‖² for the expectation), isotropic.
    case analytic
    /// σ²_j = β̃ + c1² v̂_j, the same identity taken locally: v̂_j = (1 − ᾱ_t)/ᾱ_t · max(0, 1 − ⟨ε̂²⟩_j)
    /// with ⟨ε̂²⟩_j the mean of ε̂² over the (2r+1)² window of pixel j's channel plane
    /// (`localVarianceRadius`, edges use the part of the window inside the image). Where the prior is
    /// locally stationary over the window this is Var(x0_j | x_t); it gives the tight sky and the
    /// uncertain galaxy structure their own variances where `analytic` gives both the image mean.
    case local
}

extension PriorStepVariance {
    /// Half-width r of the `local` variance's window (5 × 5 pixels: 25 values of ε̂², so the window
    /// mean's relative standard error is √(2/25) ≈ 0.28 where ε̂ is Gaussian).
    public static let localVarianceRadius = 2

    /// The per-pixel mean of `values` over each pixel's (2r+1)² window in its own channel plane
    /// (separable running sums; windows truncated at the edges and divided by their own size).
    static func windowMean(_ values: UnsafeBufferPointer<Double>, shape: ImageShape, radius r: Int) -> [Double] {
        let h = shape.height, w = shape.width, plane = shape.planeCount
        var rows = [Double](repeating: 0, count: values.count), out = rows
        for c in 0..<shape.channels {
            let o = c * plane
            for y in 0..<h {
                for x in 0..<w {
                    var s = 0.0
                    for xx in max(0, x - r)...min(w - 1, x + r) { s += values[o + y * w + xx] }
                    rows[o + y * w + x] = s / Double(min(w - 1, x + r) - max(0, x - r) + 1)
                }
            }
            for y in 0..<h {
                let lo = max(0, y - r), hi = min(h - 1, y + r)
                for x in 0..<w {
                    var s = 0.0
                    for yy in lo...hi { s += rows[o + yy * w + x] }
                    out[o + y * w + x] = s / Double(hi - lo + 1)
                }
            }
        }
        return out
    }
}

/// Which coupling ρ the likelihood step of annealing level k uses. Its z was drawn by the previous
/// level's prior step, at ρ_{k−1} > ρ_k, so the pair (u, z) is never at the joint target of one
/// level: where the data pin a mode down (posterior std s ≪ the prior's) the u-marginal does not
/// depend on ρ but z's does (s² + ρ²), and a z that carries ρ_{k−1}'s width into ρ_k's likelihood
/// step widens u; where the prior dominates it is the other way round (u's marginal grows with ρ,
/// z's does not). The lag adds variance in proportion to the step ln(ρ_{k−1}/ρ_k): a scalar
/// Gaussian model with exact kernels and this sampler's geometric annealing from ρ 10 gives
/// 1.29 / 1.13 / 1.06 × the exact variance for data-pinned modes at 30 / 60 / 120 iterations, as
/// the stationary Gaussian oracle's low-frequency bands show (docs/calibration.md).
public enum AnnealingCoupling: String, Equatable, Sendable, Codable, CaseIterable {
    /// ρ_k: exact for prior-dominated modes, the full lag for data-pinned ones.
    case level
    /// √(ρ_{k−1} ρ_k), the geometric midpoint of the levels z and u belong to: about half the lag in
    /// both regimes (scalar model at 30 iterations: at most 1.13 × instead of 1.29 ×), i.e. the
    /// accuracy of twice the iterations at no cost. The first level uses its own ρ.
    case midpoint
}

public struct SplitGibbsSettings: Equatable, Sendable, Codable {
    /// Gibbs iterations of the annealing (≥ 1).
    public var iterations: Int
    /// Largest coupling ρ (network units), where annealing starts.
    public var rhoMax: Double
    /// Most network evaluations of one prior step (J).
    public var priorSteps: Int
    /// Iterations repeated at the smallest ρ at the end.
    public var finalIterations: Int
    /// Metropolis–Hastings moves per likelihood step when the pixel transform is not affine
    /// (each costs one CG solve and no network evaluation). One move is a valid
    /// Metropolis-within-Gibbs step; more mix the u-conditional faster per iteration.
    public var likelihoodMoves: Int
    /// Damped Gauss–Newton steps from z towards the u-conditional's mode before the proposal is
    /// built (non-affine pixel transforms only; each costs one CG solve).
    public var gaussNewtonSteps: Int
    /// Conjugate-gradient relative tolerance and iteration cap.
    public var cgTolerance: Double
    public var cgMaxIterations: Int
    /// When set, the likelihood solves stop on their estimated error in the conditional's standard
    /// deviations, ‖v − v*‖_P ≤ this (ConjugateGradient's file header), instead of on `cgTolerance`.
    public var cgErrorTolerance: Double?
    /// When set, the Gauss–Newton mean solves of the Metropolis–Hastings-corrected likelihood steps
    /// stop at this error (same units) instead. Those solves only place the linearisation point, which
    /// the MH test leaves free (a looser point costs acceptance, not exactness); the last likelihood
    /// step, whose draw is the sample and has no MH test, keeps `cgErrorTolerance`.
    public var gaussNewtonErrorTolerance: Double?
    /// The variance of the prior step's coarse ancestral steps.
    public var priorStepVariance: PriorStepVariance
    /// The coupling of each likelihood step during the annealing (AnnealingCoupling).
    public var coupling: AnnealingCoupling
    /// λ, the weight of the Analytic-DPM term in the prior step's variance, σ² = β̃ + λ c1² v̂
    /// (`analytic` and `local`; 1 is Bao et al.'s estimate, 0 is β̃). v̂ comes from the network's own
    /// ‖ε̂‖², which a network that regresses towards the mean makes too small, so v̂ too large;
    /// λ < 1 is tuned by simulation-based calibration on the prior that declares it.
    public var priorStepVarianceScale: Double

    public init(iterations: Int = 30, rhoMax: Double = 1.0, priorSteps: Int = 20, finalIterations: Int = 1,
                likelihoodMoves: Int = 4, gaussNewtonSteps: Int = 2, cgTolerance: Double = 1e-5, cgMaxIterations: Int = 200,
                priorStepVariance: PriorStepVariance = .posterior, cgErrorTolerance: Double? = nil,
                coupling: AnnealingCoupling = .level, priorStepVarianceScale: Double = 1, gaussNewtonErrorTolerance: Double? = nil) {
        self.priorStepVariance = priorStepVariance; self.cgErrorTolerance = cgErrorTolerance; self.coupling = coupling
        self.gaussNewtonErrorTolerance = gaussNewtonErrorTolerance
        self.priorStepVarianceScale = priorStepVarianceScale
        self.iterations = iterations; self.rhoMax = rhoMax; self.priorSteps = priorSteps
        self.likelihoodMoves = max(1, likelihoodMoves); self.gaussNewtonSteps = max(0, gaussNewtonSteps)
        self.finalIterations = finalIterations; self.cgTolerance = cgTolerance; self.cgMaxIterations = cgMaxIterations
    }

    private enum CodingKeys: String, CodingKey {
        case iterations, rhoMax, priorSteps, finalIterations, likelihoodMoves, gaussNewtonSteps, cgTolerance, cgMaxIterations
        case priorStepVariance, cgErrorTolerance, coupling, priorStepVarianceScale, gaussNewtonErrorTolerance
    }
    /// Decodes records written before `gaussNewtonSteps` (they ran 2), `priorStepVariance` (β̃),
    /// `cgErrorTolerance` (relative-residual stopping), `coupling` (`.level`) and
    /// `priorStepVarianceScale` (1) and `gaussNewtonErrorTolerance` (nil) existed.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(iterations: try c.decode(Int.self, forKey: .iterations), rhoMax: try c.decode(Double.self, forKey: .rhoMax),
                  priorSteps: try c.decode(Int.self, forKey: .priorSteps), finalIterations: try c.decode(Int.self, forKey: .finalIterations),
                  likelihoodMoves: try c.decode(Int.self, forKey: .likelihoodMoves),
                  gaussNewtonSteps: try c.decodeIfPresent(Int.self, forKey: .gaussNewtonSteps) ?? 2,
                  cgTolerance: try c.decode(Double.self, forKey: .cgTolerance), cgMaxIterations: try c.decode(Int.self, forKey: .cgMaxIterations),
                  priorStepVariance: try c.decodeIfPresent(PriorStepVariance.self, forKey: .priorStepVariance) ?? .posterior,
                  cgErrorTolerance: try c.decodeIfPresent(Double.self, forKey: .cgErrorTolerance),
                  coupling: try c.decodeIfPresent(AnnealingCoupling.self, forKey: .coupling) ?? .level,
                  priorStepVarianceScale: try c.decodeIfPresent(Double.self, forKey: .priorStepVarianceScale) ?? 1,
                  gaussNewtonErrorTolerance: try c.decodeIfPresent(Double.self, forKey: .gaussNewtonErrorTolerance))
    }
}

extension SplitGibbsSettings {
    /// Settings that meet the calibration targets on the analytic oracles
    /// (Notebooks/results/calibration, docs/calibration.md): ρ annealed from 10 (it must start well
    /// above the prior's pixel std, so that the first prior step forgets the N(0, I) start; with
    /// ρmax = 1 and a prior std of 3.4 the samples stay too narrow) and up to 10 network calls per
    /// prior step with the Analytic-DPM step variance (with DDPM's β̃ coarse steps drop the variance
    /// of p(x0 | x_t): 10 steps lose 12 % of the posterior std, 100 steps ≈ 0; with the correction
    /// 10 steps meet the targets on the rows 100 β̃ steps meet, at a third of the time;
    /// tuning/full_variance), annealed over 120 iterations: at 30 the lag of z behind the falling ρ
    /// (AnnealingCoupling) left the modes the data pin down 20–29 % too wide in variance, at 60
    /// 7–16 %, at 120 within 6 % (tuning/annealing_8, annealing_32). Multimodal posteriors need
    /// slower annealing still (see the calibration table).
    public static let calibrated = SplitGibbsSettings(iterations: 120, rhoMax: 10, priorSteps: 10, finalIterations: 1,
                                                      priorStepVariance: .analytic)
}

public struct SplitGibbsSampler: PosteriorSampler {
    public let prior: any Denoiser
    public let problem: PosteriorProblem
    public let settings: SplitGibbsSettings
    /// The training schedule (original timesteps).
    public let schedule: NoiseSchedule
    /// Original timestep at which each iteration's prior step starts (non-increasing, ends at 0).
    public let levels: [Int]
    /// The prior step's sub-schedule for each distinct level.
    let priorGrids: [Int: NoiseSchedule]
    /// True when the pixel transform is affine (the likelihood step is then exact without MH).
    public let transformIsAffine: Bool
    /// The likelihood solves' preconditioner (its per-problem part: diag(AᵀWA) and its Fourier symbol),
    /// for an affine pixel transform only: there D is constant and the circulant approximation holds
    /// (CG 180 → PCG 3 iterations on a stationary system, LikelihoodPreconditionerTests). Under asinh
    /// D spans ≈ 500× across the image, the prior's relative weight 10⁵×, which no circulant captures:
    /// on the demo it cut CG iterations by 12 % at a higher cost per iteration, so plain CG is kept.
    let preconditioner: LikelihoodPreconditioner?

    public init(prior: any Denoiser, problem: PosteriorProblem, settings: SplitGibbsSettings) throws {
        guard prior.imageShape == problem.forwardOperator.inputShape else {
            throw TweedieError.shapeMismatch(what: "prior image vs operator input (\(problem.forwardOperator.summary))",
                                             expected: "\(prior.imageShape)", got: "\(problem.forwardOperator.inputShape)")
        }
        guard problem.forwardOperator.isLinear else {
            throw TweedieError.setting(name: "sampler",
                                       problem: "split-gibbs needs a linear forward operator (\(problem.forwardOperator.summary) is not); use dps")
        }
        guard settings.iterations >= 1, settings.finalIterations >= 0, settings.priorSteps >= 1 else {
            throw TweedieError.setting(name: "gibbs_iterations", problem: "the annealing iterations and prior steps must be ≥ 1 (final iterations ≥ 0), got \(settings.iterations), \(settings.priorSteps) (\(settings.finalIterations))")
        }
        guard settings.rhoMax.isFinite, settings.rhoMax > 0 else {
            throw TweedieError.setting(name: "gibbs_rho_max", problem: "must be > 0, got \(settings.rhoMax)")
        }
        self.prior = prior
        self.problem = problem
        self.settings = settings
        let sch = prior.schedule
        self.schedule = sch
        let rhos = sch.alphasCumprod.map { ((1 - $0) / $0).squareRoot() }  // increasing in t
        func nearestTimestep(_ rho: Double) -> Int {
            var best = 0
            for t in 0..<rhos.count where abs(log(rhos[t] / rho)) < abs(log(rhos[best] / rho)) { best = t }
            return best
        }
        let rhoMin = rhos[0], rhoMax = max(settings.rhoMax, rhoMin)
        var lv: [Int] = []
        let k = settings.iterations
        for it in 0..<k {
            let f = k == 1 ? 1.0 : Double(it) / Double(k - 1)
            lv.append(nearestTimestep(rhoMax * pow(rhoMin / rhoMax, f)))
        }
        lv.append(contentsOf: [Int](repeating: 0, count: settings.finalIterations))
        levels = lv
        var grids: [Int: NoiseSchedule] = [:]
        for t in Set(lv) { grids[t] = try Self.priorGrid(from: t, schedule: sch, steps: settings.priorSteps) }
        priorGrids = grids
        transformIsAffine = prior.pixelTransform is AffinePixelTransform
        preconditioner = transformIsAffine
            ? try LikelihoodPreconditioner(operator: problem.forwardOperator, sqrtWeights: problem.noise.sqrtWeights) : nil
    }

    public var name: String { "split-gibbs" }
    /// How the non-affine likelihood step's CG solves stop (part of `summary`, so of an SBC record's identity).
    var solveStoppingDescription: String {
        let draws = settings.cgErrorTolerance.map { "a total error of \(shortNumber($0)) posterior σ" }
            ?? "a relative residual of \(shortNumber(settings.cgTolerance))"
        return ", solves stopped at " + draws
            + (settings.gaussNewtonErrorTolerance.map { " (the MH steps' Gauss–Newton solves at \(shortNumber($0)))" } ?? "")
    }
    public var summary: String {
        "split-Gibbs PnP-DM (\(levels.count) iterations, ρ from \(settings.rhoMax) to \(String(format: "%.4f", coupling(0))), ≤ \(settings.priorSteps) prior steps each, "
            + (transformIsAffine ? "exact Gaussian likelihood step"
               : "likelihood step linearised after \(settings.gaussNewtonSteps) Gauss–Newton step(s) + \(settings.likelihoodMoves) MH move(s)"
                 + solveStoppingDescription)
            + (settings.priorStepVariance == .analytic ? ", prior steps with Analytic-DPM variance" : "")
            + (settings.priorStepVariance == .local ? ", prior steps with windowed Analytic-DPM variance" : "")
            + (settings.priorStepVariance != .posterior && settings.priorStepVarianceScale != 1
               ? " × \(settings.priorStepVarianceScale)" : "")
            + (settings.coupling == .midpoint ? ", likelihood steps coupled at the midpoint of consecutive levels" : "")
            + ", the sample the last likelihood step's draw without coupling noise"
            + ", \(networkEvaluationsPerSample) network evaluations per sample)"
    }
    /// Network evaluations per sample: Σ_k (J_k + 1) over every level but the last (whose prior step is not taken).
    public var networkEvaluationsPerSample: Int { levels.dropLast().reduce(0) { $0 + priorGrids[$1]!.count } }

    /// ρ of original timestep t: √((1 − ᾱ_t)/ᾱ_t).
    public func coupling(_ i: Int) -> Double {
        let ab = schedule.alphasCumprod[i]
        return ((1 - ab) / ab).squareRoot()
    }

    public func sample(indices: Range<Int>, seed: UInt64) throws -> ImageBatch {
        let shape = prior.imageShape
        let b = indices.count, per = shape.count
        let streams = indices.map { SampleStream(seed: seed, index: $0) }
        var z = ImageBatch(count: b, shape: shape)
        for k in 0..<b { z.data.replaceSubrange((k * per)..<((k + 1) * per), with: streams[k].normals(per)) }
        return try anneal(u: z, z: z, streams: streams, samples: indices)
    }

    /// The annealing of `levels` from the state (u, z): one likelihood and one prior step per level,
    /// the last level's likelihood step alone; returns that u (file header: the sample).
    func anneal(u start: ImageBatch, z initial: ImageBatch, streams: [SampleStream], samples indices: Range<Int>) throws -> ImageBatch {
        var u = start, z = initial
        for (it, level) in levels.enumerated() {
            let last = it == levels.count - 1
            // The first likelihood step starts its MH chain at its own first proposal: the starting u is
            // N(0, I) noise, no state of the chain, and under a non-affine T an independence sampler
            // started there keeps it — its weight π/q there exceeds any proposal's by ≈ e^2500 on a 16×16
            // asinh oracle (FirstLikelihoodStepTests), and the chain stayed at the noise until ρ ≈ 0.4.
            let rho = it > 0 && settings.coupling == .midpoint ? (coupling(levels[it - 1]) * coupling(level)).squareRoot() : coupling(level)
            u = try likelihoodStep(current: it == 0 ? nil : u, z: z, rho: rho, streams: streams, final: last)
            if last {
                guard u.allFinite else {
                    throw TweedieError.numerical(problem: "split-Gibbs produced a non-finite value at iteration \(it + 1) of \(levels.count) (samples \(indices))")
                }
                return u
            }
            z = try priorStep(u, level: level, streams: streams)
            guard z.allFinite else {
                throw TweedieError.numerical(problem: "split-Gibbs produced a non-finite value at iteration \(it + 1) of \(levels.count) (samples \(indices))")
            }
        }
        return z  // not reached: levels is never empty
    }

    /// The prior step's sub-grid from original timestep t: {round(t·(q/J)²)}, q = 0…J, J = min(t, steps).
    static func priorGrid(from t: Int, schedule: NoiseSchedule, steps: Int) throws -> NoiseSchedule {
        let j = min(t, steps)
        var keep = Set<Int>()
        if j == 0 { keep = [0] } else {
            for q in 0...j { keep.insert(Int((Double(t) * pow(Double(q) / Double(j), 2)).rounded())) }
        }
        return try schedule.keeping(indices: keep.sorted())
    }

    /// The likelihood step's precision P v = Dᵀ Aᵀ W A D v + v/ρ² (D = s·T'(z) per pixel and image),
    /// with the curvature vᵀPv = ‖√W A D v‖² + ‖v‖²/ρ² per image as a sum of squares (positive for
    /// every v ≠ 0 whatever the SNR, ρ or rounding; ConjugateGradient's file header).
    func likelihoodPrecision(d: ImageBatch, rho: Double) -> SPDOperator {
        let op = problem.forwardOperator
        let obsPer = problem.observation.shape.count
        let sw = problem.noise.sqrtWeights
        let invRho2 = Float(1 / (rho * rho))
        return { v in
            let b = v.count, per = v.shape.count
            var dv = v
            for j in 0..<dv.valueCount { dv.data[j] *= d.data[j] }
            var av = try op.apply(dv)
            var curvature = [Double](repeating: 0, count: b)
            for k in 0..<b {
                var data = 0.0, prior = 0.0
                for j in 0..<obsPer {
                    let w = Double(sw[j]) * Double(av.data[k * obsPer + j])
                    data += w * w
                    av.data[k * obsPer + j] *= sw[j] * sw[j]
                }
                for j in (k * per)..<((k + 1) * per) { prior += Double(v.data[j]) * Double(v.data[j]) }
                curvature[k] = data + Double(invRho2) * prior
            }
            var out = try op.adjoint(av)
            for j in 0..<out.valueCount { out.data[j] = d.data[j] * out.data[j] + invRho2 * v.data[j] }
            return (out, curvature)
        }
    }

    /// M⁻¹ for `likelihoodPrecision(d:rho:)` (LikelihoodPreconditioner), nil for plain CG.
    func likelihoodPreconditioner(d: ImageBatch, rho: Double) -> Preconditioner? {
        preconditioner?.inverse(d: d, rho: rho)
    }

    // MARK: likelihood step

    /// Draws u ~ π(u | z, y) (exact for affine T; MH-corrected independence proposal otherwise).
    /// `current` is where the MH chain starts; nil starts it at the first proposal (a draw from the
    /// Gaussian linearised at z), for a chain with no u yet.
    /// `final`: the sampler's last step (file header): the linearised conditional's draw with the data
    /// noise n₁ but without the coupling noise n₂/ρ, and no MH test.
    func likelihoodStep(current: ImageBatch?, z: ImageBatch, rho: Double,
                        streams: [SampleStream], final: Bool = false) throws -> ImageBatch {
        let op = problem.forwardOperator
        let transform = prior.pixelTransform
        let s = Float(problem.fluxScale)
        let b = z.count, per = z.shape.count
        let obsPer = problem.observation.shape.count
        let sw = problem.noise.sqrtWeights
        let zero = ImageBatch(count: b, shape: z.shape)
        let invRho = Float(1 / rho), invRho2 = Float(1 / (rho * rho))
        /// The Gaussian conditional of u linearised at a: x ≈ s·T(a) + D_a (u − a), D_a = s·T'(a).
        /// With ỹ_a = y − A(s·T(a)), v = u − a has precision P_a = D_a Aᵀ W A D_a + I/ρ² and mean
        /// m_a = P_a⁻¹ (D_a Aᵀ W ỹ_a + (z − a)/ρ²).
        /// `meanRHS` is r_a = D_a Aᵀ W ỹ_a + (z − a)/ρ² (so P_a m_a = r_a); `mean` is m_a, solved for only
        /// where a Gauss–Newton step needs it (zero otherwise).
        struct Linearisation {
            var point: ImageBatch; var d: ImageBatch; var rw: ImageBatch; var applyP: SPDOperator; var inverseM: Preconditioner?
            var meanRHS: ImageBatch; var mean: ImageBatch
        }
        func linearise(at a: ImageBatch, withMean: Bool) throws -> Linearisation {
            var d = a
            for j in 0..<d.valueCount { d.data[j] = s * transform.derivative(a.data[j]) }
            let (rw, _) = try problem.whitenedResiduals(ofPhysical: problem.physical(a, transform: transform))  // √W ỹ_a
            let applyP = likelihoodPrecision(d: d, rho: rho), mInv = likelihoodPreconditioner(d: d, rho: rho)
            var wr = rw
            for k in 0..<b { for j in 0..<obsPer { wr.data[k * obsPer + j] *= sw[j] } }
            var rhs = try op.adjoint(wr)
            for j in 0..<rhs.valueCount { rhs.data[j] = d.data[j] * rhs.data[j] + invRho2 * (z.data[j] - a.data[j]) }
            guard withMean else {
                return Linearisation(point: a, d: d, rw: rw, applyP: applyP, inverseM: mInv, meanRHS: rhs, mean: zero)
            }
            let (m, _) = try ConjugateGradient.solve(applyP, rhs: rhs, initial: zero, tolerance: settings.cgTolerance,
                                                     maxIterations: settings.cgMaxIterations, preconditioner: mInv,
                                                     errorTolerance: final ? settings.cgErrorTolerance
                                                         : settings.gaussNewtonErrorTolerance ?? settings.cgErrorTolerance)
            return Linearisation(point: a, d: d, rw: rw, applyP: applyP, inverseM: mInv, meanRHS: rhs, mean: m)
        }
        /// log π(u | z, y) up to a constant, per image (−∞ where not finite).
        func logTarget(_ x: ImageBatch) throws -> [Double] {
            let (_, chi2) = try problem.whitenedResiduals(ofPhysical: problem.physical(x, transform: transform))
            return (0..<b).map { k in
                var q = 0.0
                for j in (k * per)..<((k + 1) * per) { let e = Double(x.data[j] - z.data[j]); q += e * e }
                let v = -0.5 * chi2[k] - 0.5 * q / (rho * rho)
                return v.isFinite ? v : -.infinity
            }
        }
        // The linearisation point: z for an affine T (the conditional is then exactly Gaussian);
        // otherwise Gauss–Newton steps a ← a + m_a from z towards the conditional's mode, so the
        // independence proposal is the Laplace approximation there rather than a Gaussian centred
        // where z happens to be (which drifts off the conditional as the data grow precise).
        // The mean m_a of the last linearisation is never needed: the draw's solve carries it, and the
        // MH test's proposal density is written through r_a = P_a m_a (logProposal), so each
        // likelihood step makes gaussNewtonSteps mean solves plus one per draw.
        let gaussNewtonSteps = transformIsAffine ? 0 : (final ? max(settings.gaussNewtonSteps, Self.finalGaussNewtonSteps) : settings.gaussNewtonSteps)
        var lin = try linearise(at: z, withMean: gaussNewtonSteps > 0)
        if gaussNewtonSteps > 0 {
            // Damped by backtracking: an image takes the step t·m_a with the first t in 1, ½, ¼ that
            // raises log π(u | z, y), and keeps its point if none does (Gauss–Newton overshoots on the
            // exponential wings of asinh, e.g. from the N(0, I) start). The last step, whose draw is
            // the sample, takes up to `finalGaussNewtonSteps` (its solves are cheap at ρ₀).
            var current = try logTarget(lin.point)
            for gnStep in 0..<gaussNewtonSteps {
                var a = lin.point
                var step = [Float](repeating: 1, count: b), accepted = [Bool](repeating: false, count: b)
                for _ in 0..<3 {
                    for k in 0..<b where !accepted[k] {
                        for j in (k * per)..<((k + 1) * per) { a.data[j] = lin.point.data[j] + step[k] * lin.mean.data[j] }
                    }
                    let candidate = try logTarget(a)
                    for k in 0..<b where !accepted[k] {
                        if candidate[k] > current[k] { current[k] = candidate[k]; accepted[k] = true } else { step[k] /= 2 }
                    }
                    if !accepted.contains(false) { break }
                }
                for k in 0..<b where !accepted[k] {
                    a.data.replaceSubrange((k * per)..<((k + 1) * per), with: lin.point.data[(k * per)..<((k + 1) * per)])
                }
                guard accepted.contains(true) else { break }
                lin = try linearise(at: a, withMean: gnStep + 1 < gaussNewtonSteps)
            }
        }
        /// One perturb-then-optimise draw a + v, v ~ N(m_a, P_a⁻¹).
        func perturbedSolve() throws -> ImageBatch {
            // Right-hand side D Aᵀ √W (√W ỹ_a + n₁) + n₂/ρ + (z − a)/ρ².
            var obs = lin.rw
            for k in 0..<b {
                let n1 = streams[k].normals(obsPer)
                for j in 0..<obsPer where sw[j] > 0 { obs.data[k * obsPer + j] = sw[j] * (obs.data[k * obsPer + j] + n1[j]) }
                for j in 0..<obsPer where sw[j] == 0 { obs.data[k * obsPer + j] = 0 }
            }
            var rhs = try op.adjoint(obs)
            for k in 0..<b {
                let n2 = final ? [Float](repeating: 0, count: per) : streams[k].normals(per)
                for j in 0..<per {
                    let i = k * per + j
                    rhs.data[i] = lin.d.data[i] * rhs.data[i] + invRho * n2[j] + invRho2 * (z.data[i] - lin.point.data[i])
                }
            }
            let (v, _) = try ConjugateGradient.solve(lin.applyP, rhs: rhs, initial: zero, tolerance: settings.cgTolerance,
                                                     maxIterations: settings.cgMaxIterations, preconditioner: lin.inverseM,
                                                     errorTolerance: settings.cgErrorTolerance)
            var proposal = lin.point
            for j in 0..<proposal.valueCount { proposal.data[j] += v.data[j] }
            return proposal
        }
        let first = try perturbedSolve()
        if transformIsAffine || final { return first }
        var proposals = [first]
        for _ in 1..<settings.likelihoodMoves {
            proposals.append(try perturbedSolve())
        }

        // Metropolis–Hastings against the exact conditional (independence proposal N(a + m_a, P_a⁻¹)).
        // With e = x − a: (e − m_a)ᵀ P_a (e − m_a) = eᵀ P_a e − 2 eᵀ r_a + m_aᵀ r_a, and the last term is
        // the same for every x under one linearisation, so it cancels from the acceptance ratio; the
        // density needs P_a products only, no solve for m_a.
        func logProposal(_ x: ImageBatch) throws -> [Double] {
            var e = x
            for j in 0..<e.valueCount { e.data[j] = x.data[j] - lin.point.data[j] }
            let pe = try lin.applyP(e).curvature
            return (0..<b).map { k in
                var er = 0.0
                for j in (k * per)..<((k + 1) * per) { er += Double(e.data[j]) * Double(lin.meanRHS.data[j]) }
                return -0.5 * pe[k] + er
            }
        }
        var out = current ?? first
        var lpOld = try logTarget(out), lqOld = try logProposal(out)
        for proposal in proposals {
            let lpNew = try logTarget(proposal), lqNew = try logProposal(proposal)
            for k in 0..<b {
                let logA = (lpNew[k] - lpOld[k]) - (lqNew[k] - lqOld[k])
                if log(streams[k].uniform()) < logA {
                    out.data.replaceSubrange((k * per)..<((k + 1) * per), with: proposal.data[(k * per)..<((k + 1) * per)])
                    lpOld[k] = lpNew[k]; lqOld[k] = lqNew[k]
                }
            }
        }
        return out
    }

    /// Gauss–Newton steps (at least) before the last likelihood step's draw.
    static let finalGaussNewtonSteps = 4

    // MARK: prior step

    /// Draws z ~ p(z | u) with coupling ρ(level): ancestral reverse diffusion from x = √ᾱ u at original
    /// timestep `level` to 0 on that level's sub-grid.
    func priorStep(_ u: ImageBatch, level: Int, streams: [SampleStream], grid given: NoiseSchedule? = nil) throws -> ImageBatch {
        let grid = try given ?? priorGrids[level] ?? Self.priorGrid(from: level, schedule: schedule, steps: settings.priorSteps)
        let b = u.count, per = u.shape.count
        var x = u
        let sa = Float(schedule.alphasCumprod[level].squareRoot())
        for j in 0..<x.valueCount { x.data[j] *= sa }
        var noise = [Float](repeating: 0, count: per)
        for i in stride(from: grid.count - 1, through: 0, by: -1) {
            let pred = try prior.predict(x, timesteps: [Int](repeating: grid.timesteps[i], count: b))
            let (c1d, c2d, vt) = grid.posteriorCoefficients(i)
            let c1 = Float(c1d), c2 = Float(c2d)
            let ab = grid.alphasCumprod[i]
            for k in 0..<b {
                // σ² = β̃ (+ c1² v̂ with the Analytic-DPM corrections; PriorStepVariance). The last step
                // (to t = 0) has β̃ = 0 and, with a correction, still draws around x̂0.
                let base = i > 0 ? vt : 0, scale = settings.priorStepVarianceScale * c1d * c1d * (1 - ab) / ab
                var sigmas: [Float]
                switch settings.priorStepVariance {
                case .posterior:
                    sigmas = [Float](repeating: Float(base.squareRoot()), count: 1)
                case .analytic:
                    var e2 = 0.0
                    for j in 0..<per { let e = Double(pred.eps.data[k * per + j]); e2 += e * e }
                    sigmas = [Float((base + scale * max(0, 1 - e2 / Double(per))).squareRoot())]
                case .local:
                    let e2 = (0..<per).map { j -> Double in let e = Double(pred.eps.data[k * per + j]); return e * e }
                    let mean = e2.withUnsafeBufferPointer {
                        PriorStepVariance.windowMean($0, shape: u.shape, radius: PriorStepVariance.localVarianceRadius)
                    }
                    sigmas = mean.map { Float((base + scale * max(0, 1 - $0)).squareRoot()) }
                }
                let random = sigmas.contains { $0 > 0 }
                if random { noise.withUnsafeMutableBufferPointer { streams[k].fillNormal($0) } }
                for j in 0..<per {
                    let idx = k * per + j
                    let sigma = sigmas.count == 1 ? sigmas[0] : sigmas[j]
                    x.data[idx] = c1 * pred.x0.data[idx] + c2 * x.data[idx] + (random ? sigma * noise[j] : 0)
                }
            }
        }
        return x
    }
}
