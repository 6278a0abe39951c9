// The unconditional sampler a prior directory declares for its own samples (config
// prior.unconditional_sampler: method ddpm | ddim with η, and steps — the setting its evaluation
// used), as an AncestralMethod; and the unconditional sampler `tweedie prior sample | variance`
// build from it and their options, with its FITS provenance. SBC's truth draws start from it too.
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

extension AncestralSampler {
    /// Unconditional samples of `resolved`: `method` (nil: the prior's declared one, else DDPM with
    /// σ² = β̃), `steps` respaced steps (nil: the declared steps, else 250, or T if smaller), x̂0
    /// clipped to `clip` (nil: the prior's declared range, config x0_clip; .some(nil): no clipping).
    public init(unconditional resolved: ResolvedPrior, method: AncestralMethod?, steps: Int?, clip: (Float, Float)??) throws {
        let T = resolved.denoiser.schedule.count
        let declared = AncestralMethod.declared(by: resolved)
        let s = steps ?? declared?.steps ?? min(250, T)
        guard s <= T else {
            throw TweedieError.setting(name: "steps", problem: "\(s) exceeds the prior's \(T)-step schedule; give 1…\(T)")
        }
        try self.init(prior: resolved.denoiser, steps: s, method: method ?? declared?.method ?? .ddpm(useBetaVariance: false))
        if let c = clip {
            self.clip = c
        } else if let c = resolved.directory?.config.sampling.x0Clip {
            self.clip = (Float(c.lowerBound), Float(c.upperBound))
        }
    }

    /// Provenance cards of a sampling run of `count` samples from `seed` (the prior's are separate).
    public func provenanceCards(seed: UInt64, count: Int) -> [FITSCard] {
        var c = [FITSCard(keyword: "SAMPLER", value: .string(name), comment: "unconditional sampler")]
        if case .ddim(let e) = method { c.append(FITSCard(keyword: "ETA", value: .double(e), comment: "DDIM eta")) }
        c.append(FITSCard(keyword: "STEPS", value: .int(schedule.count), comment: "respaced sampling steps"))
        if let (lo, hi) = clip { c.append(FITSCard(keyword: "X0CLIP", value: .string("\(lo),\(hi)"), comment: "x0 clipped to this range")) }
        c.append(FITSCard(keyword: "SEED", value: .string(String(seed)), comment: "sample k uses stream (SEED, k)"))
        c.append(FITSCard(keyword: "NSAMPLES", value: .int(count), comment: "number of samples"))
        return c
    }
}
