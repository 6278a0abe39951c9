// The posterior samplers Tweedie offers, each with its typed settings, and the one factory that
// builds a sampler for a posterior problem. `sample`, `calibrate` (exact-oracle tables and SBC)
// and studies all choose through this type; adding a sampler is its own file plus a case here.
import Foundation
import TweedieCore
import TweediePriors

public enum SamplerChoice: Sendable, Equatable {
    /// Exact posterior draws (analytic priors only: the Gaussian or mixture posterior in closed form).
    case exact
    /// Diffusion posterior sampling (DPSSampler).
    case dps(DPSSettings)
    /// Split-Gibbs PnP-DM (SplitGibbsSampler).
    case splitGibbs(SplitGibbsSettings)
    /// SMC over the split-Gibbs annealing (SMCSplitGibbsSampler).
    case smc(SMCSettings)
    /// Replica exchange over the split-Gibbs coupling (ReplicaExchangeSampler).
    case replicaExchange(ReplicaExchangeSettings)

    /// The name on the command line and in calibration specs.
    public var kind: String {
        switch self {
        case .exact: return "exact"
        case .dps: return "dps"
        case .splitGibbs: return "split-gibbs"
        case .smc: return "smc"
        case .replicaExchange: return "replica-exchange"
        }
    }

    /// A file-name-safe label that names every setting, e.g. `dps-s100-g0.3`, `split-gibbs-i30-j20-r1-f1`.
    public var label: String {
        switch self {
        case .exact: return "exact"
        case let .dps(s): return "dps-s\(s.steps)-g\(shortNumber(s.guidanceScale))"
        case let .splitGibbs(s):
            return "split-gibbs-i\(s.iterations)-j\(s.priorSteps)-r\(shortNumber(s.rhoMax))-f\(s.finalIterations)" + Self.settingsTag(s)
        case let .smc(s):
            let g = s.gibbs
            return "smc-p\(s.particles)-i\(g.iterations)-j\(g.priorSteps)-r\(shortNumber(g.rhoMax))-f\(g.finalIterations)" + Self.settingsTag(g)
                + (s.adaptive ? "-adaptive" : "") + (s.samplesPerPopulation.map { "-k\($0)" } ?? "")
        case let .replicaExchange(s):
            return "replica-exchange-l\(s.rungs)-r\(shortNumber(s.rhoMax))-lo\(shortNumber(s.rhoLow))-s\(s.sweeps)-t\(s.tailIterations)-j\(s.priorSteps)"
        }
    }

    /// "-va" for Analytic-DPM prior-step variance, "-e<ε>" for solves stopped on their error, "-m<n>" /
    /// "-g<n>" for MH moves / Gauss–Newton steps other than 4 / 2 (nothing for the older defaults —
    /// β̃, relative-residual stopping, 4 moves, 2 steps — so older labels are unchanged).
    static func settingsTag(_ s: SplitGibbsSettings) -> String {
        (s.priorStepVariance == .analytic ? "-va" : s.priorStepVariance == .local ? "-vl" : "") + (s.cgErrorTolerance.map { "-e\(shortNumber($0))" } ?? "") + (s.coupling == .midpoint ? "-cm" : "")
            + (s.priorStepVariance != .posterior && s.priorStepVarianceScale != 1 ? "-vs\(shortNumber(s.priorStepVarianceScale))" : "")
            + (s.likelihoodMoves != 4 ? "-m\(s.likelihoodMoves)" : "") + (s.gaussNewtonSteps != 2 ? "-g\(s.gaussNewtonSteps)" : "")
    }

    /// Builds the sampler for `problem` with `prior` as its prior.
    public func makeSampler(prior: any Denoiser, problem: PosteriorProblem) throws -> any PosteriorSampler {
        switch self {
        case .exact:
            guard let analytic = prior as? any AnalyticPrior else {
                throw TweedieError.invalidInput(what: "sampler exact", problem: "exact draws need an analytic prior (gaussian:…, mixture:…)")
            }
            return try ExactPosteriorSampler(prior: analytic, problem: problem)
        case let .dps(s): return try DPSSampler(prior: prior, problem: problem, settings: s)
        case let .splitGibbs(s): return try SplitGibbsSampler(prior: prior, problem: problem, settings: s)
        case let .smc(s): return try SMCSplitGibbsSampler(prior: prior, problem: problem, settings: s)
        case let .replicaExchange(s): return try ReplicaExchangeSampler(prior: prior, problem: problem, settings: s)
        }
    }

    /// Network evaluations per sample (a VJP counts as one), when known before running: nil for
    /// exact draws and for adaptive SMC, which chooses its step count as it runs. An SMC population
    /// of P particles returns `kept` samples, so each costs P / kept particles' evaluations.
    public static func networkEvaluationsPerSample(of sampler: any PosteriorSampler) -> Int? {
        switch sampler {
        case let d as DPSSampler: return 2 * d.settings.steps
        case let g as SplitGibbsSampler: return g.networkEvaluationsPerSample
        case let m as SMCSplitGibbsSampler:
            guard !m.settings.adaptive else { return nil }
            return (m.kernel.networkEvaluationsPerSample + m.initialGridCount) * m.settings.particles / m.settings.kept
        case let r as ReplicaExchangeSampler: return r.networkEvaluationsPerSample
        default: return nil
        }
    }
}

extension SplitGibbsSettings {
    /// The settings a prior declares (config split_gibbs), unset keys from the calibrated preset;
    /// the preset itself when the prior declares none.
    public init(declaredBy prior: SamplingPrior) {
        self = prior.splitGibbs ?? .calibrated
    }
}
