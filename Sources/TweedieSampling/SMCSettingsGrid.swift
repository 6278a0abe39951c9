// SMC over the split-Gibbs annealing as a sampler kind (SamplerSettings) and its spec entry: the
// split-Gibbs kernel's keys (SplitGibbsSettings.Grid.kernelKeys) and
//   {kind: smc, …, particles: 256, adaptive: [false, true], keep: 1}   # lists expand to a grid
// One sampler call is one population (its kept samples), so `batch` does not apply. Unset keys: in
// a calibration table P = the samples per observation, planned tempering, all P kept; in a posterior
// request and an SBC spec 60 iterations, P = 64, adaptive tempering, all P kept (an SBC spec must set
// keep: 1, since ranks need independent draws).
import TweedieCore
import TweediePriors

extension SMCSettings: SamplerSettings {
    public static let kind = "smc"
    /// `smc-p<P>-i…-j…-r…-f…` as split-Gibbs's, then "-adaptive" and "-k<kept>" where they apply.
    public var label: String {
        "smc-p\(particles)-i\(gibbs.iterations)-j\(gibbs.priorSteps)-r\(shortNumber(gibbs.rhoMax))-f\(gibbs.finalIterations)" + gibbs.settingsTag
            + (adaptive ? "-adaptive" : "") + (samplesPerPopulation.map { "-k\($0)" } ?? "")
    }

    /// One call is one population: its kept samples.
    public var samplesPerCall: Int? { kept }

    public func makeSampler(prior: any Denoiser, problem: PosteriorProblem) throws -> any PosteriorSampler {
        try SMCSplitGibbsSampler(prior: prior, problem: problem, settings: self)
    }

    public func calibrationDescription(route: String) -> SamplerSettingsDescription {
        SamplerSettingsDescription(summary: "SMC split-Gibbs \(particles) particles\(kept < particles ? " (\(kept) kept)" : ""), " + gibbs.annealingDescription,
                                   iterations: gibbs.iterations, priorSteps: gibbs.priorSteps, rhoMax: gibbs.rhoMax,
                                   finalIterations: gibbs.finalIterations)
    }

    /// A population of P particles returns `kept` samples, so each costs P / kept particles'
    /// evaluations; unknown for adaptive tempering, which chooses its step count as it runs.
    public static func networkEvaluationsPerSample(of sampler: any PosteriorSampler) -> Int? {
        guard let m = sampler as? SMCSplitGibbsSampler, !m.settings.adaptive else { return nil }
        return (m.kernel.networkEvaluationsPerSample + m.initialGridCount) * m.settings.particles / m.settings.kept
    }

    /// The kernel's split-Gibbs keys and `particles`, `adaptive`, `keep`, one value or a list each.
    public struct Grid: SamplerSettingsGrid {
        public static let keys = SplitGibbsSettings.Grid.kernelKeys + ["particles", "adaptive", "keep"]
        public var gibbs: SplitGibbsSettings.Grid
        public var particles: [Int]?
        public var adaptive: [Bool]?
        public var keep: [Int]?

        public init(reading entry: SamplerSpecEntry) throws {
            gibbs = try SplitGibbsSettings.Grid(reading: entry)
            particles = try entry.list("particles")
            adaptive = try entry.list("adaptive")
            keep = try entry.list("keep")
        }

        public func validate(samples: Int) throws {
            try gibbs.validate(samples: samples)
            if let v = particles, v.contains(where: { $0 < 2 }) { throw samplerSpecError("smc particles", "must be ≥ 2, got \(v)") }
            if let v = keep {
                let p = particles ?? [samples]   // the particles default to the samples (choices)
                if v.contains(where: { k in k < 1 || p.contains { k > $0 } }) {
                    throw samplerSpecError("smc keep", "must be between 1 and the particles (\(p)), got \(v)")
                }
            }
        }

        public func choices(samples: Int) -> [SamplerChoice] {
            gibbs.settings.flatMap { g in
                (particles ?? [samples]).flatMap { p in
                    (adaptive ?? [false]).flatMap { a in
                        (keep.map { $0.map(Optional.some) } ?? [nil]).map {
                            .smc(SMCSettings(gibbs: g, particles: p, adaptive: a, samplesPerPopulation: $0))
                        }
                    }
                }
            }
        }

        /// Unset: the kernel's split-Gibbs settings from the prior, but 60 iterations; P =
        /// PosteriorDefaults.particles, adaptive tempering, every particle kept.
        public func resolved(prior: SamplingPrior, what: String, warn: (String) -> Void) throws -> SamplerChoice {
            var kernel = gibbs
            if kernel.iterations == nil { kernel.iterations = [Self.iterations] }
            let p = try SamplerSpecEntry.single(particles, "particles", what: what) ?? PosteriorDefaults.particles
            let kept = try SamplerSpecEntry.single(keep, "keep", what: what)
            if let k = kept, k < 1 || k > p {
                throw TweedieError.invalidInput(what: "\(what) keep", problem: "must be between 1 and the particles (\(p)), got \(k)")
            }
            return .smc(SMCSettings(gibbs: try kernel.single(prior: prior, what: what), particles: p,
                                    adaptive: try SamplerSpecEntry.single(adaptive, "adaptive", what: what) ?? true,
                                    samplesPerPopulation: kept))
        }

        /// The annealing iterations of a request that does not set them.
        public static let iterations = 60
    }
}
