// The split-Gibbs sampler's settings (SplitGibbsSampler.swift): the annealing, the prior step's
// coarse-step variance, the annealing coupling and the likelihood step's solves, with the preset
// calibrated on the analytic oracles. Spec keys and labels: SplitGibbsSettingsGrid.swift.
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
