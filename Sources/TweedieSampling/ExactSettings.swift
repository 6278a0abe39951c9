// Exact posterior draws as a sampler kind (SamplerSettings): no settings, and its spec entry
//   {kind: exact, batch: 50}
// (an analytic prior only: the closed-form posterior, ExactPosteriorSampler).
import TweedieCore
import TweediePriors

/// The settings of exact posterior draws: none.
public struct ExactSettings: SamplerSettings, Equatable {
    public init() {}
    public static let kind = "exact"
    public var label: String { "exact" }

    public func makeSampler(prior: any Denoiser, problem: PosteriorProblem) throws -> any PosteriorSampler {
        guard let analytic = prior as? any AnalyticPrior else {
            throw TweedieError.invalidInput(what: "sampler exact", problem: "exact draws need an analytic prior (gaussian:…, mixture:…)")
        }
        return try ExactPosteriorSampler(prior: analytic, problem: problem)
    }

    public func calibrationDescription(route: String) -> SamplerSettingsDescription {
        SamplerSettingsDescription(summary: "exact posterior draws (\(route))")
    }

    /// `{kind: exact}`: one setting.
    public struct Grid: SamplerSettingsGrid {
        public static let keys = ["batch"]
        public init(reading entry: SamplerSpecEntry) throws {}
        public func choices(samples: Int) -> [SamplerChoice] { [.exact] }
        public func resolved(prior: SamplingPrior, what: String, warn: (String) -> Void) throws -> SamplerChoice {
            guard prior.denoiser is any AnalyticPrior else {
                throw TweedieError.invalidInput(what: "\(what).kind", problem: "exact draws need an analytic prior (gaussian:…, mixture:…)")
            }
            return .exact
        }
    }
}
