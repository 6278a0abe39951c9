// The posterior samplers Tweedie offers, each with its typed settings, and the one factory that
// builds a sampler for a posterior problem. `sample`, `calibrate` (exact-oracle tables and SBC)
// and studies all choose through this type. What a kind provides (kind name, label, factory,
// calibration description, spec entry) is its settings' SamplerSettings conformance, in the
// sampler's own file(s); adding a sampler is that file plus a case here, its line in `settings`
// and its line in `kinds` (docs/DESIGN.md, "Adding a sampler").
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

    /// The case's settings; one line per case.
    public var settings: any SamplerSettings {
        switch self {
        case .exact: return ExactSettings()
        case let .dps(s): return s
        case let .splitGibbs(s): return s
        case let .smc(s): return s
        case let .replicaExchange(s): return s
        }
    }

    /// Every kind's settings type, in the order messages list the kinds; one line per kind.
    public static let kinds: [any SamplerSettings.Type] = [
        ExactSettings.self, DPSSettings.self, SplitGibbsSettings.self, SMCSettings.self, ReplicaExchangeSettings.self,
    ]

    /// The name on the command line and in calibration specs.
    public var kind: String { type(of: settings).kind }

    /// A file-name-safe label that names every setting, e.g. `dps-s100-g0.3`, `split-gibbs-i30-j20-r1-f1`.
    public var label: String { settings.label }

    /// Builds the sampler for `problem` with `prior` as its prior.
    public func makeSampler(prior: any Denoiser, problem: PosteriorProblem) throws -> any PosteriorSampler {
        try settings.makeSampler(prior: prior, problem: problem)
    }

    /// Network evaluations per sample (a VJP counts as one), when known before running: nil for
    /// exact draws and for adaptive SMC, which chooses its step count as it runs.
    public static func networkEvaluationsPerSample(of sampler: any PosteriorSampler) -> Int? {
        kinds.lazy.compactMap { $0.networkEvaluationsPerSample(of: sampler) }.first
    }
}

extension SplitGibbsSettings {
    /// The settings a prior declares (config split_gibbs), unset keys from the calibrated preset;
    /// the preset itself when the prior declares none.
    public init(declaredBy prior: SamplingPrior) {
        self = prior.splitGibbs ?? .calibrated
    }
}
