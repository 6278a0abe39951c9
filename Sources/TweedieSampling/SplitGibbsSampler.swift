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
    /// The likelihood step's MH decisions over the samples this sampler has drawn (shared by copies).
    let acceptance = AcceptanceTally()

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
    /// The MH acceptance of the likelihood steps (non-affine transforms), overall and over the last
    /// third of the annealing, where ρ is smallest and the chain's state becomes the sample.
    public var diagnostics: [String] {
        let (all, late) = acceptance.counts
        guard all.proposed > 0 else { return [] }
        func rate(_ c: (accepted: Int, proposed: Int)) -> String {
            String(format: "%.3f (%d of %d)", Double(c.accepted) / Double(max(1, c.proposed)), c.accepted, c.proposed)
        }
        return ["likelihood-step MH acceptance \(rate(all)), in the last third of the annealing \(rate(late)); the samples drawn in this process"]
    }
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
    /// ρ at two thirds of the annealing: likelihood steps at or below it count as late (`diagnostics`).
    var lateCoupling: Double { coupling(levels[(2 * levels.count) / 3]) }
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

    // MARK: prior step (the likelihood step: SplitGibbsLikelihoodStep.swift)

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
