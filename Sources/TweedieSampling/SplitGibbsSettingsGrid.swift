// Split-Gibbs as a sampler kind (SamplerSettings: kind, label, factory) and its spec entry, every
// key one value or a list (lists expand to a grid, the first key outermost):
//   {kind: split-gibbs, iterations: 30, prior_steps: 20, rho_max: 1, final_iterations: 1,
//    prior_step_variance: posterior|analytic|local, cg_error_tolerance: 0.1, likelihood_moves: 4,
//    gauss_newton_steps: 2, gauss_newton_error_tolerance: 10, coupling: level|midpoint,
//    prior_step_variance_scale: 1, batch: 50}
// Unset keys: in a calibration table the values above (30, 20, 1, 1, posterior, relative-residual
// stopping, 4, 2, the solves' own stopping, level, 1); in an SBC spec the prior's declared settings
// (SplitGibbsSettings(declaredBy:)). SMC reads the first nine keys for its kernel (`Grid.kernelKeys`).
import TweedieCore
import TweediePriors

extension SplitGibbsSettings: SamplerSettings {
    public static let kind = "split-gibbs"
    /// `split-gibbs-i<iterations>-j<prior steps>-r<ρmax>-f<final iterations>` and `settingsTag`.
    public var label: String {
        "split-gibbs-i\(iterations)-j\(priorSteps)-r\(shortNumber(rhoMax))-f\(finalIterations)" + settingsTag
    }

    /// "-va" / "-vl" for Analytic-DPM / local prior-step variance, "-e<ε>" for solves stopped on their
    /// error, "-cm" for midpoint coupling, "-vs<λ>" for a variance weight other than 1, "-m<n>" / "-g<n>"
    /// for MH moves / Gauss–Newton steps other than 4 / 2, "-n<ε>" for Gauss–Newton solves with their
    /// own error bound (nothing for the older defaults — β̃, relative-residual stopping, level coupling,
    /// 4 moves, 2 steps, one stopping rule — so older labels are unchanged).
    var settingsTag: String {
        (priorStepVariance == .analytic ? "-va" : priorStepVariance == .local ? "-vl" : "") + (cgErrorTolerance.map { "-e\(shortNumber($0))" } ?? "") + (coupling == .midpoint ? "-cm" : "")
            + (priorStepVariance != .posterior && priorStepVarianceScale != 1 ? "-vs\(shortNumber(priorStepVarianceScale))" : "")
            + (likelihoodMoves != 4 ? "-m\(likelihoodMoves)" : "") + (gaussNewtonSteps != 2 ? "-g\(gaussNewtonSteps)" : "")
            + (gaussNewtonErrorTolerance.map { "-n\(shortNumber($0))" } ?? "")
    }

    public func makeSampler(prior: any Denoiser, problem: PosteriorProblem) throws -> any PosteriorSampler {
        try SplitGibbsSampler(prior: prior, problem: problem, settings: self)
    }

    /// The annealing's shape, as the calibration table's columns hold it.
    var annealingDescription: String {
        "\(iterations) iterations, ≤\(priorSteps) prior steps, ρmax=\(rhoMax), \(finalIterations) final"
    }

    public func calibrationDescription(route: String) -> SamplerSettingsDescription {
        SamplerSettingsDescription(summary: "split-Gibbs " + annealingDescription, iterations: iterations,
                                   priorSteps: priorSteps, rhoMax: rhoMax, finalIterations: finalIterations)
    }

    public static func networkEvaluationsPerSample(of sampler: any PosteriorSampler) -> Int? {
        (sampler as? SplitGibbsSampler)?.networkEvaluationsPerSample
    }

    /// The split-Gibbs keys of a spec entry, one value or a list each.
    public struct Grid: SamplerSettingsGrid {
        /// The keys an SMC entry also takes for its kernel.
        public static let kernelKeys = ["iterations", "prior_steps", "rho_max", "final_iterations", "prior_step_variance",
                                        "cg_error_tolerance", "likelihood_moves", "gauss_newton_steps", "gauss_newton_error_tolerance"]
        public static let keys = kernelKeys + ["coupling", "prior_step_variance_scale", "batch"]
        public var iterations: [Int]?
        public var priorSteps: [Int]?
        public var rhoMax: [Double]?
        public var finalIterations: [Int]?
        public var priorStepVariance: [PriorStepVariance]?
        public var cgErrorTolerance: [Double]?
        public var likelihoodMoves: [Int]?
        public var gaussNewtonSteps: [Int]?
        public var gaussNewtonErrorTolerance: [Double]?
        public var coupling: [AnnealingCoupling]?
        public var priorStepVarianceScale: [Double]?

        public init(reading entry: SamplerSpecEntry) throws {
            iterations = try entry.list("iterations")
            priorSteps = try entry.list("prior_steps")
            rhoMax = try entry.list("rho_max")
            finalIterations = try entry.list("final_iterations")
            cgErrorTolerance = try entry.list("cg_error_tolerance")
            likelihoodMoves = try entry.list("likelihood_moves")
            gaussNewtonSteps = try entry.list("gauss_newton_steps")
            gaussNewtonErrorTolerance = try entry.list("gauss_newton_error_tolerance")
            priorStepVarianceScale = try entry.list("prior_step_variance_scale")
            if let l = priorStepVarianceScale, l.contains(where: { !($0 >= 0 && $0.isFinite) }) {
                throw TweedieError.invalidInput(what: "sampler setting prior_step_variance_scale", problem: "must be ≥ 0, got \(l)")
            }
            if (likelihoodMoves ?? []).contains(where: { $0 < 1 }) || (gaussNewtonSteps ?? []).contains(where: { $0 < 0 }) {
                throw TweedieError.invalidInput(what: "sampler settings likelihood_moves / gauss_newton_steps",
                                                problem: "must be ≥ 1 and ≥ 0")
            }
            for (key, values) in [("cg_error_tolerance", cgErrorTolerance), ("gauss_newton_error_tolerance", gaussNewtonErrorTolerance)] {
                if let e = values, e.contains(where: { !($0 > 0 && $0.isFinite) }) {
                    throw TweedieError.invalidInput(what: "sampler setting \(key)", problem: "must be > 0 (posterior standard deviations), got \(e)")
                }
            }
            coupling = try entry.names("coupling")
            priorStepVariance = try entry.names("prior_step_variance")
        }

        public func validate(samples: Int) throws {
            if let v = iterations, v.contains(where: { $0 < 1 }) { throw samplerSpecError("split-gibbs iterations", "must be ≥ 1, got \(v)") }
            if let v = priorSteps, v.contains(where: { $0 < 1 }) { throw samplerSpecError("split-gibbs prior_steps", "must be ≥ 1, got \(v)") }
            if let v = rhoMax, v.contains(where: { !($0.isFinite && $0 > 0) }) { throw samplerSpecError("split-gibbs rho_max", "must be > 0, got \(v)") }
            if let v = finalIterations, v.contains(where: { $0 < 0 }) { throw samplerSpecError("split-gibbs final_iterations", "must be ≥ 0, got \(v)") }
        }

        /// Every setting, in the order the keys are listed above (the first outermost).
        public var settings: [SplitGibbsSettings] {
            var out: [SplitGibbsSettings] = []
            for it in iterations ?? [30] { for j in priorSteps ?? [20] { for r in rhoMax ?? [1] { for f in finalIterations ?? [1] {
                for v in priorStepVariance ?? [.posterior] {
                    for e in cgErrorTolerance.map({ $0.map(Optional.some) }) ?? [nil] {
                        for m in likelihoodMoves ?? [4] { for gn in gaussNewtonSteps ?? [2] {
                          for ge in gaussNewtonErrorTolerance.map({ $0.map(Optional.some) }) ?? [nil] {
                            for c in coupling ?? [.level] { for lambda in priorStepVarianceScale ?? [1] {
                                out.append(SplitGibbsSettings(iterations: it, rhoMax: r, priorSteps: j, finalIterations: f,
                                                              likelihoodMoves: m, gaussNewtonSteps: gn, priorStepVariance: v,
                                                              cgErrorTolerance: e, coupling: c, priorStepVarianceScale: lambda,
                                                              gaussNewtonErrorTolerance: ge))
                            } }
                          }
                        } }
                    }
                }
            } } } }
            return out
        }

        public func choices(samples: Int) -> [SamplerChoice] { settings.map { .splitGibbs($0) } }

        /// The one setting of an SBC spec, unset keys from `prior`'s declared settings.
        public func single(prior: SamplingPrior, what: String) throws -> SplitGibbsSettings {
            func one<T>(_ v: [T]?, _ key: String) throws -> T? { try SamplerSpecEntry.single(v, key, what: what) }
            let base = SplitGibbsSettings(declaredBy: prior)
            return SplitGibbsSettings(iterations: try one(iterations, "iterations") ?? base.iterations,
                                      rhoMax: try one(rhoMax, "rho_max") ?? base.rhoMax,
                                      priorSteps: try one(priorSteps, "prior_steps") ?? base.priorSteps,
                                      finalIterations: try one(finalIterations, "final_iterations") ?? base.finalIterations,
                                      likelihoodMoves: try one(likelihoodMoves, "likelihood_moves") ?? base.likelihoodMoves,
                                      gaussNewtonSteps: try one(gaussNewtonSteps, "gauss_newton_steps") ?? base.gaussNewtonSteps,
                                      priorStepVariance: try one(priorStepVariance, "prior_step_variance") ?? base.priorStepVariance,
                                      cgErrorTolerance: try one(cgErrorTolerance, "cg_error_tolerance") ?? base.cgErrorTolerance,
                                      coupling: try one(coupling, "coupling") ?? base.coupling,
                                      priorStepVarianceScale: try one(priorStepVarianceScale, "prior_step_variance_scale")
                                          ?? base.priorStepVarianceScale,
                                      gaussNewtonErrorTolerance: try one(gaussNewtonErrorTolerance, "gauss_newton_error_tolerance")
                                          ?? base.gaussNewtonErrorTolerance)
        }

        public func resolved(prior: SamplingPrior, what: String, warn: (String) -> Void) throws -> SamplerChoice {
            .splitGibbs(try single(prior: prior, what: what))
        }
    }
}
