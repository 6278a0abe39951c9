// The sampling settings a prior directory declares in its config.json "prior" object, tuned by
// the prior's own evaluation and demo; command-line options override them:
//
//   "dps_guidance": {"100": 0.005}                      DPS step size ζ per DDPM step count
//   "split_gibbs": {"iterations": 30, "rho_max": 1,      split-Gibbs annealing (any subset;
//                   "prior_steps": 20,                   unset keys take the sampler's
//                   "likelihood_moves": 4,               calibrated preset)
//                   "gauss_newton_steps": 2,
//                   "prior_step_variance": "analytic",   (posterior | analytic | local)
//                   "cg_error_tolerance": 0.1,           likelihood solves' error, posterior σ
//                   "gauss_newton_error_tolerance": 100, the MH steps' Gauss–Newton solves' error
//                   "coupling": "midpoint",              annealing coupling (level | midpoint)
//                   "prior_step_variance_scale": 0.5}    weight λ of the Analytic-DPM term
//   "x0_clip": [-1.2, 1.2]                               range of x̂0 in network space
//   "unconditional_sampler": {"method": "ddim",          how unconditional samples are drawn
//                             "eta": 0.5, "steps": 100}   (method ddpm | ddim; eta for ddim)
//
// Parsed once when the config is read: a malformed value is a `TweedieError.model` naming the
// file and the key, so a prior with a broken setting fails at load, not halfway through a run.
// The values are plain numbers here; TweedieSampling maps them onto its sampler settings.

import Foundation
import TweedieCore

public struct PriorSamplingDefaults: Equatable, Sendable {
    /// Split-Gibbs keys the prior declares (nil: not declared; the sampler's preset applies).
    public struct SplitGibbs: Equatable, Sendable {
        public var iterations: Int?
        public var rhoMax: Double?
        public var priorSteps: Int?
        public var likelihoodMoves: Int?
        public var gaussNewtonSteps: Int?
        /// The prior step's ancestral variance: "posterior" (DDPM's β̃), "analytic" (Analytic-DPM) or
        /// "local" (Analytic-DPM over each pixel's window).
        public var priorStepVariance: String?
        /// Stop the likelihood solves when their error is ≤ this many posterior standard deviations.
        public var cgErrorTolerance: Double?
        /// The same bound for the Gauss–Newton mean solves of the MH-corrected likelihood steps.
        public var gaussNewtonErrorTolerance: Double?
        /// The likelihood steps' coupling during annealing: "level" or "midpoint".
        public var coupling: String?
        /// λ, the weight of the Analytic-DPM term in the prior step's variance.
        public var priorStepVarianceScale: Double?
        public init(iterations: Int? = nil, rhoMax: Double? = nil, priorSteps: Int? = nil,
                    likelihoodMoves: Int? = nil, gaussNewtonSteps: Int? = nil, priorStepVariance: String? = nil,
                    cgErrorTolerance: Double? = nil, coupling: String? = nil, priorStepVarianceScale: Double? = nil,
                    gaussNewtonErrorTolerance: Double? = nil) {
            self.coupling = coupling; self.priorStepVarianceScale = priorStepVarianceScale
            self.gaussNewtonErrorTolerance = gaussNewtonErrorTolerance
            self.iterations = iterations; self.rhoMax = rhoMax; self.priorSteps = priorSteps
            self.likelihoodMoves = likelihoodMoves; self.gaussNewtonSteps = gaussNewtonSteps
            self.priorStepVariance = priorStepVariance; self.cgErrorTolerance = cgErrorTolerance
        }
    }

    /// The unconditional sampler the prior's evaluation used.
    public struct UnconditionalSampler: Equatable, Sendable {
        public enum Method: Equatable, Sendable {
            /// DDPM ancestral steps (σ² = β̃).
            case ddpm
            /// DDIM with noise level η ≥ 0.
            case ddim(eta: Double)
        }
        public var method: Method
        /// Respaced step count (nil: the command's default).
        public var steps: Int?
        public init(method: Method, steps: Int? = nil) { self.method = method; self.steps = steps }
    }

    /// DPS ζ tabulated per DDPM step count.
    public var dpsGuidance: [Int: Double] = [:]
    public var splitGibbs: SplitGibbs?
    /// Range of x̂0 in network space (lo < hi).
    public var x0Clip: ClosedRange<Double>?
    public var unconditionalSampler: UnconditionalSampler?

    public init(dpsGuidance: [Int: Double] = [:], splitGibbs: SplitGibbs? = nil, x0Clip: ClosedRange<Double>? = nil,
                unconditionalSampler: UnconditionalSampler? = nil) {
        self.dpsGuidance = dpsGuidance; self.splitGibbs = splitGibbs
        self.x0Clip = x0Clip; self.unconditionalSampler = unconditionalSampler
    }

    /// The config keys this type interprets.
    public static let keys: Set<String> = ["dps_guidance", "split_gibbs", "x0_clip", "unconditional_sampler"]

    /// ζ for `steps` DDPM steps: the entry for exactly this step count, else the entry of the nearest
    /// tabulated count n₀ (nearest in log) scaled by n₀/steps. DPS's guidance drift accumulates as ζ per
    /// step, so this keeps ζ·steps, the total pull towards the data, at its tuned value. `tabulatedAt`
    /// is n₀ (== steps when tabulated); nil when nothing is tabulated.
    public func recommendedGuidance(steps: Int) -> (zeta: Double, tabulatedAt: Int)? {
        if let z = dpsGuidance[steps] { return (z, steps) }
        let near = dpsGuidance.keys.min { a, b in
            let da = abs(log(Double(a) / Double(steps))), db = abs(log(Double(b) / Double(steps)))
            return da != db ? da < db : a < b
        }
        guard let n0 = near, let z0 = dpsGuidance[n0] else { return nil }
        return (z0 * Double(n0) / Double(steps), n0)
    }

    /// Parses the keys of the "prior" object (other keys are ignored).
    /// - Parameter fail: makes the error for a problem (the caller names the file).
    public init(priorKeys o: [String: JSONValue], fail: (String) -> TweedieError) throws {
        func whole(_ v: JSONValue, _ key: String) throws -> Int {
            guard case let .number(x) = v, x.isFinite, x >= 1, x.rounded() == x, x < 1e9 else {
                throw fail("key 'prior.\(key)' must be a positive whole number; fix the prior's config")
            }
            return Int(x)
        }
        func positive(_ v: JSONValue, _ key: String) throws -> Double {
            guard case let .number(x) = v, x.isFinite, x > 0 else { throw fail("key 'prior.\(key)' must be a positive number; fix the prior's config") }
            return x
        }
        func object(_ key: String, example: String) throws -> [String: JSONValue]? {
            guard let v = o[key], v != .null else { return nil }
            guard case let .object(m) = v else { throw fail("key 'prior.\(key)' must be an object such as \(example); fix the prior's config") }
            return m
        }
        func rejectUnknown(_ m: [String: JSONValue], _ key: String, _ known: [String]) throws {
            if let k = m.keys.sorted().first(where: { !known.contains($0) }) {
                throw fail("key 'prior.\(key).\(k)' is not a setting; use \(known.joined(separator: ", "))")
            }
        }

        if let m = try object("dps_guidance", example: "{\"100\": 0.005}") {
            for (k, v) in m {
                guard let n = Int(k), n > 0, case let .number(z) = v, z.isFinite, z > 0 else {
                    throw fail("key 'prior.dps_guidance.\(k)' must map a whole step count to a positive ζ (as \"100\": 0.005); fix the prior's config")
                }
                dpsGuidance[n] = z
            }
        }
        if let m = try object("split_gibbs", example: "{\"iterations\": 30, \"rho_max\": 1, \"prior_steps\": 20}") {
            let known = ["iterations", "rho_max", "prior_steps", "likelihood_moves", "gauss_newton_steps", "prior_step_variance",
                         "cg_error_tolerance", "gauss_newton_error_tolerance", "coupling", "prior_step_variance_scale"]
            try rejectUnknown(m, "split_gibbs", known)
            var g = SplitGibbs()
            if let v = m["iterations"] { g.iterations = try whole(v, "split_gibbs.iterations") }
            if let v = m["rho_max"] { g.rhoMax = try positive(v, "split_gibbs.rho_max") }
            if let v = m["prior_steps"] { g.priorSteps = try whole(v, "split_gibbs.prior_steps") }
            if let v = m["likelihood_moves"] { g.likelihoodMoves = try whole(v, "split_gibbs.likelihood_moves") }
            if let v = m["gauss_newton_steps"] { g.gaussNewtonSteps = try whole(v, "split_gibbs.gauss_newton_steps") }
            if let v = m["cg_error_tolerance"] { g.cgErrorTolerance = try positive(v, "split_gibbs.cg_error_tolerance") }
            if let v = m["gauss_newton_error_tolerance"] {
                g.gaussNewtonErrorTolerance = try positive(v, "split_gibbs.gauss_newton_error_tolerance")
            }
            if let v = m["prior_step_variance_scale"] { g.priorStepVarianceScale = try positive(v, "split_gibbs.prior_step_variance_scale") }
            if let v = m["prior_step_variance"] {
                guard case let .string(name) = v, ["posterior", "analytic", "local"].contains(name) else {
                    throw fail("key 'prior.split_gibbs.prior_step_variance' must be \"posterior\", \"analytic\" or \"local\"; fix the prior's config")
                }
                g.priorStepVariance = name
            }
            if let v = m["coupling"] {
                guard case let .string(name) = v, ["level", "midpoint"].contains(name) else {
                    throw fail("key 'prior.split_gibbs.coupling' must be \"level\" or \"midpoint\"; fix the prior's config")
                }
                g.coupling = name
            }
            splitGibbs = g
        }
        if let v = o["x0_clip"], v != .null {
            guard case let .array(a) = v, a.count == 2, case let .number(lo) = a[0], case let .number(hi) = a[1],
                  lo.isFinite, hi.isFinite, lo < hi else {
                throw fail("key 'prior.x0_clip' must be [lo, hi] with lo < hi (network space); fix the prior's config")
            }
            x0Clip = lo...hi
        }
        if let m = try object("unconditional_sampler", example: "{\"method\": \"ddim\", \"eta\": 0.5, \"steps\": 100}") {
            try rejectUnknown(m, "unconditional_sampler", ["method", "eta", "steps"])
            let steps = try m["steps"].map { try whole($0, "unconditional_sampler.steps") }
            switch m["method"] {
            case .string("ddpm")?:
                if m["eta"] != nil { throw fail("key 'prior.unconditional_sampler.eta' applies to ddim only; remove it or set method ddim") }
                unconditionalSampler = UnconditionalSampler(method: .ddpm, steps: steps)
            case .string("ddim")?:
                var eta = 0.0
                if let ev = m["eta"] {
                    guard case let .number(x) = ev, x.isFinite, x >= 0 else { throw fail("key 'prior.unconditional_sampler.eta' must be a number ≥ 0; fix the prior's config") }
                    eta = x
                }
                unconditionalSampler = UnconditionalSampler(method: .ddim(eta: eta), steps: steps)
            default:
                throw fail("key 'prior.unconditional_sampler.method' must be \"ddpm\" or \"ddim\"; fix the prior's config")
            }
        }
    }

    /// The declared keys as JSON values (for writing config.json back).
    public var json: [String: Any] {
        var out: [String: Any] = [:]
        if !dpsGuidance.isEmpty {
            out["dps_guidance"] = Dictionary(uniqueKeysWithValues: dpsGuidance.map { (String($0.key), $0.value) })
        }
        if let g = splitGibbs {
            var m: [String: Any] = [:]
            if let v = g.iterations { m["iterations"] = v }
            if let v = g.rhoMax { m["rho_max"] = v }
            if let v = g.priorSteps { m["prior_steps"] = v }
            if let v = g.likelihoodMoves { m["likelihood_moves"] = v }
            if let v = g.gaussNewtonSteps { m["gauss_newton_steps"] = v }
            if let v = g.priorStepVariance { m["prior_step_variance"] = v }
            if let v = g.cgErrorTolerance { m["cg_error_tolerance"] = v }
            if let v = g.gaussNewtonErrorTolerance { m["gauss_newton_error_tolerance"] = v }
            if let v = g.coupling { m["coupling"] = v }
            if let v = g.priorStepVarianceScale { m["prior_step_variance_scale"] = v }
            out["split_gibbs"] = m
        }
        if let c = x0Clip { out["x0_clip"] = [c.lowerBound, c.upperBound] }
        if let u = unconditionalSampler {
            var m: [String: Any] = [:]
            switch u.method {
            case .ddpm: m["method"] = "ddpm"
            case .ddim(let eta): m["method"] = "ddim"; m["eta"] = eta
            }
            if let s = u.steps { m["steps"] = s }
            out["unconditional_sampler"] = m
        }
        return out
    }

    /// One line per declared setting, for `tweedie prior info` (label, text).
    public var rows: [(String, String)] {
        func n(_ x: Double) -> String { x.rounded() == x && abs(x) < 1e15 ? "\(Int(x))" : "\(x)" }
        var u = "not declared"
        if let s = unconditionalSampler {
            switch s.method {
            case .ddpm: u = "ddpm"
            case .ddim(let eta): u = "ddim, eta \(n(eta))"
            }
            if let st = s.steps { u += ", \(st) steps" }
        }
        let z = dpsGuidance.isEmpty ? "not declared"
            : dpsGuidance.keys.sorted().map { "\(n(dpsGuidance[$0]!)) at \($0) steps" }.joined(separator: ", ")
        var g = "not declared"
        if let s = splitGibbs {
            let parts: [String?] = [s.iterations.map { "iterations \($0)" }, s.rhoMax.map { "rho_max \(n($0))" },
                                    s.priorSteps.map { "prior_steps \($0)" }, s.likelihoodMoves.map { "likelihood_moves \($0)" },
                                    s.gaussNewtonSteps.map { "gauss_newton_steps \($0)" },
                                    s.priorStepVariance.map { "prior_step_variance \($0)" },
                                    s.cgErrorTolerance.map { "cg_error_tolerance \(n($0))" },
                                    s.gaussNewtonErrorTolerance.map { "gauss_newton_error_tolerance \(n($0))" },
                                    s.coupling.map { "coupling \($0)" },
                                    s.priorStepVarianceScale.map { "prior_step_variance_scale \(n($0))" }]
            g = parts.compactMap { $0 }.joined(separator: ", ")
        }
        let c = x0Clip.map { "\(n($0.lowerBound)), \(n($0.upperBound))" } ?? "not declared"
        return [("unconditional", u), ("DPS ζ", z), ("split-Gibbs", g), ("x̂0 clip", c)]
    }
}
