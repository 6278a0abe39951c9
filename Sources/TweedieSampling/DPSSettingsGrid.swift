// DPS as a sampler kind (SamplerSettings) and its spec entry:
//   {kind: dps, steps: [100, 1000], guidance: [0.1, 0.3, 1], batch: 50}   # lists expand to a grid
// In a calibration table steps default to 1000 and guidance is required; in an SBC spec steps
// default to 100, guidance to the prior's recommendation for the steps, and the prior's x̂0 clip applies.
import TweedieCore
import TweediePriors

extension DPSSettings: SamplerSettings {
    public static let kind = "dps"
    /// `dps-s<steps>-g<ζ>`.
    public var label: String { "dps-s\(steps)-g\(shortNumber(guidanceScale))" }

    public func makeSampler(prior: any Denoiser, problem: PosteriorProblem) throws -> any PosteriorSampler {
        try DPSSampler(prior: prior, problem: problem, settings: self)
    }

    public func calibrationDescription(route: String) -> SamplerSettingsDescription {
        SamplerSettingsDescription(summary: "DPS ζ=\(guidanceScale), \(steps) steps", steps: steps, guidance: guidanceScale)
    }

    /// A forward and a VJP per step.
    public static func networkEvaluationsPerSample(of sampler: any PosteriorSampler) -> Int? {
        (sampler as? DPSSampler).map { 2 * $0.settings.steps }
    }

    /// `steps` and `guidance` (ζ), one value or a list each.
    public struct Grid: SamplerSettingsGrid {
        public static let keys = ["steps", "guidance", "batch"]
        public var steps: [Int]?
        public var guidance: [Double]?

        public init(reading entry: SamplerSpecEntry) throws {
            steps = try entry.list("steps")
            guidance = try entry.list("guidance")
        }

        public func validate(samples: Int) throws {
            if (guidance ?? []).isEmpty {
                throw TweedieError.invalidInput(what: "calibration spec sampler 'dps'", problem: "needs guidance: ζ (one value or a list)")
            }
            if let v = steps, v.contains(where: { $0 < 1 }) { throw samplerSpecError("dps steps", "must be ≥ 1, got \(v)") }
            if let v = guidance, v.contains(where: { !($0.isFinite && $0 >= 0) }) { throw samplerSpecError("dps guidance", "must be ≥ 0, got \(v)") }
        }

        public func choices(samples: Int) -> [SamplerChoice] {
            (steps ?? [1000]).flatMap { s in (guidance ?? []).map { .dps(DPSSettings(steps: s, guidanceScale: $0)) } }
        }

        public func sbcChoice(prior: SamplingPrior, what: String) throws -> SamplerChoice {
            let steps = try SamplerSpecEntry.single(steps, "steps", what: what) ?? 100
            guard let zeta = try SamplerSpecEntry.single(guidance, "guidance", what: what) ?? prior.recommendedGuidance(steps: steps)?.zeta else {
                throw TweedieError.invalidInput(what: "\(what).guidance", problem: "the prior declares no DPS ζ; give guidance: ζ")
            }
            return .dps(DPSSettings(steps: steps, guidanceScale: zeta, clipMin: prior.x0Clip?.0, clipMax: prior.x0Clip?.1))
        }
    }
}
