// The unconditional sampler a prior directory declares for its own samples (config
// prior.unconditional_sampler: method ddpm | ddim with η, and steps — the setting its evaluation
// used), as an AncestralMethod. `tweedie prior sample | variance` and SBC's truth draws start from it.
import TweedieCore
import TweediePriors

extension AncestralMethod {
    /// The sampler and step count `resolved` declares (typed in PriorSamplingDefaults); nil when it
    /// declares none (an analytic prior, or a directory without the setting). DDPM uses σ² = β̃.
    public static func declared(by resolved: ResolvedPrior) -> (method: AncestralMethod, steps: Int?)? {
        guard let u = resolved.directory?.config.sampling.unconditionalSampler else { return nil }
        switch u.method {
        case .ddpm: return (.ddpm(useBetaVariance: false), u.steps)
        case .ddim(let eta): return (.ddim(eta: eta), u.steps)
        }
    }
}
