// DPS as a sampler kind (SamplerSettings) and its spec entry:
//   {kind: dps, steps: [100, 1000], guidance: [0.1, 0.3, 1], batch: 50}   # lists expand to a grid
//   {kind: dps, steps: 250, clip: none, eta: 0.5}                      # one setting (a request)
// In a calibration table steps default to 1000 and guidance is required; in a posterior request
// (`tweedie sample`, a study case) and an SBC spec steps default to 250, guidance to the prior's
// recommendation for the steps, and the clip to the prior's declared x̂0 range.
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

    /// `steps` and `guidance` (ζ), one value or a list each; `clip` (x̂0 to [lo, hi] in network
    /// space, or none) and `eta` (DDIM steps with this η instead of DDPM ancestral ones), one value.
    public struct Grid: SamplerSettingsGrid {
        public static let keys = ["steps", "guidance", "clip", "eta", "batch"]
        public var steps: [Int]?
        public var guidance: [Double]?
        /// nil: unset (a request takes the prior's x0_clip); .some(nil): none.
        public var clip: (lo: Float, hi: Float)??
        public var eta: Double?

        public static func == (a: Grid, b: Grid) -> Bool {
            a.steps == b.steps && a.guidance == b.guidance && a.eta == b.eta
                && a.clip.map { $0.map { [$0.lo, $0.hi] } } == b.clip.map { $0.map { [$0.lo, $0.hi] } }
        }

        public init(reading entry: SamplerSpecEntry) throws {
            steps = try entry.list("steps")
            guidance = try entry.list("guidance")
            eta = try entry.value("eta")
            if let e = eta, !(e >= 0 && e <= 1) { throw samplerSpecError("dps eta", "must be in [0, 1], got \(e)") }
            if let word: String = try? entry.value("clip") {
                guard word == "none" else { throw samplerSpecError("dps clip", "must be none or [lo, hi], got '\(word)'") }
                clip = .some(nil)
            } else if let v: [Double] = try entry.value("clip") {
                guard v.count == 2, v[0] < v[1] else { throw samplerSpecError("dps clip", "needs [lo, hi] with lo < hi (or none), got \(v)") }
                clip = .some((Float(v[0]), Float(v[1])))
            }
        }

        public func validate(samples: Int) throws {
            if (guidance ?? []).isEmpty {
                throw TweedieError.invalidInput(what: "calibration spec sampler 'dps'", problem: "needs guidance: ζ (one value or a list)")
            }
            if let v = steps, v.contains(where: { $0 < 1 }) { throw samplerSpecError("dps steps", "must be ≥ 1, got \(v)") }
            if let v = guidance, v.contains(where: { !($0.isFinite && $0 >= 0) }) { throw samplerSpecError("dps guidance", "must be ≥ 0, got \(v)") }
        }

        public func choices(samples: Int) -> [SamplerChoice] {
            let range = clip ?? nil
            return (steps ?? [1000]).flatMap { s in
                (guidance ?? []).map {
                    .dps(DPSSettings(steps: s, guidanceScale: $0, clipMin: range?.lo, clipMax: range?.hi, ddimEta: eta))
                }
            }
        }

        /// Unset: steps PosteriorDefaults.dpsSteps; ζ the prior's recommendation for the steps
        /// (scaled from the nearest tabulated step count, with a warning, when the steps are not
        /// tabulated), else 1; the clip the prior's declared x0_clip; DDPM steps.
        public func resolved(prior: SamplingPrior, what: String, warn: (String) -> Void) throws -> SamplerChoice {
            let steps = try SamplerSpecEntry.single(steps, "steps", what: what) ?? PosteriorDefaults.dpsSteps
            guard steps >= 1 else { throw TweedieError.invalidInput(what: "\(what) steps", problem: "must be ≥ 1, got \(steps)") }
            var zeta = 1.0
            if let g = try SamplerSpecEntry.single(guidance, "guidance", what: what) {
                zeta = g   // DPSSampler checks it
            } else if let rec = prior.recommendedGuidance(steps: steps) {
                zeta = rec.zeta
                if rec.tabulatedAt != steps {
                    let tuned = prior.guidanceTable.keys.sorted().map(String.init).joined(separator: ", ")
                    warn("ζ = \(String(format: "%.4g", zeta)) is extrapolated from the prior's ζ at \(rec.tabulatedAt) steps (ζ·steps kept); it is tuned only for \(tuned) steps — use one of those step counts, or give ζ")
                }
            }
            let range = clip ?? prior.x0Clip.map { (lo: $0.0, hi: $0.1) }
            return .dps(DPSSettings(steps: steps, guidanceScale: zeta, clipMin: range?.lo, clipMax: range?.hi, ddimEta: eta))
        }
    }
}
