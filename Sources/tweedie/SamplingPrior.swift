// What the sampling commands need of a `--prior` (resolved by PriorLoader): a prior directory (neural
// U-Net, Priors/Models/<name>/) or an analytic spec (gaussian:…, mixture:…),
// with what sampling needs besides the denoiser: the prior variance map (for
// the variance ratio), the prior's mean physical image (for the flux-scale
// estimate), the recommended DPS guidance, and provenance.
import Foundation
import TweedieCore
import TweediePriors
import TweedieSampling

struct SamplingPrior {
    var denoiser: any Denoiser
    var name: String
    var source: String
    var isAnalytic: Bool
    var pixelScale: (value: Double, unit: String)?
    var variance: (values: [Float], space: VarianceSpace)?
    var meanPhysical: [Float]?
    var guidanceTable: [Int: Double]
    /// Split-Gibbs settings recommended in the prior's config (`"split_gibbs": {"iterations": 30,
    /// "rho_max": 1, "prior_steps": 20}`), tuned on its demo observation; nil: none declared.
    var splitGibbs: SplitGibbsSettings?
    /// The prior's range in network space for clipping x̂0 (config "x0_clip": [lo, hi]), if declared.
    var x0Clip: (Float, Float)?
    var provenance: [String: String]

    /// ζ recommended in the prior's config (`"dps_guidance": {"100": 0.005}`) for `steps` DDPM steps:
    /// the entry for exactly this step count, else the entry of the nearest tabulated step count n₀
    /// scaled by n₀/steps — DPS's guidance drift accumulates as ζ per step over the steps, so this
    /// keeps ζ·steps, the total pull towards the data, at its tuned value. `tabulatedAt` is n₀ (== steps
    /// when tabulated). nil: the prior tabulates no ζ (analytic priors).
    func recommendedGuidance(steps: Int) -> (zeta: Double, tabulatedAt: Int)? {
        if let z = guidanceTable[steps] { return (z, steps) }
        let near = guidanceTable.keys.min { a, b in
            let da = abs(log(Double(a) / Double(steps))), db = abs(log(Double(b) / Double(steps)))
            return da != db ? da < db : a < b
        }
        guard let n0 = near, let z0 = guidanceTable[n0] else { return nil }
        return (z0 * Double(n0) / Double(steps), n0)
    }

    static func resolve(_ text: String) throws -> SamplingPrior {
        let resolved = try PriorLoader.load(text)
        if resolved.isAnalytic { return try analytic(text, resolved) }
        return try directory(text, resolved)
    }

    private static func directory(_ path: String, _ resolved: ResolvedPrior) throws -> SamplingPrior {
        guard let dir = resolved.directory else {
            throw TweedieError.invalidInput(what: "--prior", problem: "\(path) is not a prior directory")
        }
        let c = dir.config
        let den = resolved.denoiser
        var variance: (values: [Float], space: VarianceSpace)? = nil
        var mean: [Float]? = nil
        if let url = dir.varianceMapURL, let info = c.varianceMap {
            let hdus = try FITSReader.listHDUs(url.path)
            let v = try FITSReader.read(url.path)
            guard v.count == 1, v.shape == den.imageShape else {
                throw TweedieError.shapeMismatch(what: "prior variance map \(url.path)", expected: "\(den.imageShape)", got: "\(v.count)×\(v.shape)")
            }
            variance = (v.data, info.space == .network ? .network : .physical)
            if hdus.contains(where: { $0.name?.uppercased() == "PHYSMEAN" }) {
                let m = try FITSReader.read(url.path, hdu: FITSHDUSelector(parsing: "PHYSMEAN"))
                if m.count == 1, m.shape == den.imageShape { mean = m.data }
            }
        }
        var table: [Int: Double] = [:]
        if case let .object(o)? = c.otherPriorKeys["dps_guidance"] {
            for (k, v) in o {
                guard let n = Int(k), n > 0, case let .number(z) = v, z.isFinite, z > 0 else {
                    throw TweedieError.invalidInput(what: "\(path)/config.json prior.dps_guidance.\(k)",
                                                    problem: "must map a whole step count to a positive ζ (as \"100\": 0.005); fix the prior's config")
                }
                table[n] = z
            }
        }
        var gibbs: SplitGibbsSettings? = nil
        if case let .object(o)? = c.otherPriorKeys["split_gibbs"] {
            func number(_ key: String, whole: Bool = false) throws -> Double? {
                guard let v = o[key] else { return nil }
                guard case let .number(x) = v, x.isFinite, x > 0, !whole || (x >= 1 && x.rounded() == x) else {
                    throw TweedieError.invalidInput(what: "\(path)/config.json prior.split_gibbs.\(key)",
                                                    problem: "must be a positive \(whole ? "whole " : "")number; fix the prior's config")
                }
                return x
            }
            let preset = SplitGibbsSettings.calibrated
            gibbs = SplitGibbsSettings(iterations: try number("iterations", whole: true).map { Int($0) } ?? preset.iterations,
                                       rhoMax: try number("rho_max") ?? preset.rhoMax,
                                       priorSteps: try number("prior_steps", whole: true).map { Int($0) } ?? preset.priorSteps,
                                       finalIterations: preset.finalIterations,
                                       likelihoodMoves: try number("likelihood_moves", whole: true).map { Int($0) } ?? preset.likelihoodMoves,
                                       gaussNewtonSteps: try number("gauss_newton_steps", whole: true).map { Int($0) } ?? preset.gaussNewtonSteps)
        }
        var clip: (Float, Float)? = nil
        if case let .array(a)? = c.otherPriorKeys["x0_clip"], a.count == 2, case let .number(lo) = a[0], case let .number(hi) = a[1], lo < hi {
            clip = (Float(lo), Float(hi))
        }
        let sha = c.weightsSHA256 ?? (try? dir.weightsChecksum()) ?? "unknown"
        return SamplingPrior(denoiser: den, name: c.name, source: path, isAnalytic: false,
                             pixelScale: (c.pixelScale.value, c.pixelScale.unit.rawValue), variance: variance,
                             meanPhysical: mean, guidanceTable: table, splitGibbs: gibbs, x0Clip: clip,
                             provenance: ["name": c.name, "path": path, "sha256": sha, "architecture": c.architectureSummary,
                                          "pixel_transform": c.pixelTransform.description,
                                          "pixel_scale": c.pixelScale.description,
                                          "variance_map": c.varianceMap.map { "\($0.file) (\($0.samples) samples, \($0.space.rawValue) space)" } ?? "none"])
    }

    /// Analytic priors: the stationary Gaussian's pixel variance and mean are exact (from its
    /// spectrum); for a mixture they are estimated from 4,096 exact prior samples (relative error
    /// of a variance ≈ √(2/4096) ≈ 2 %), stream 2³² + k of seed 0.
    private static func analytic(_ text: String, _ resolved: ResolvedPrior) throws -> SamplingPrior {
        guard let prior = resolved.analytic else {
            throw TweedieError.invalidInput(what: "--prior", problem: "\(text) is not an analytic prior")
        }
        let shape = prior.imageShape, n = shape.count
        var mean = [Double](repeating: 0, count: n), variance = mean
        let how: String
        if let g = prior as? StationaryGaussianPrior {
            for c in 0..<shape.channels {
                for j in 0..<shape.planeCount {
                    let i = c * shape.planeCount + j
                    variance[i] = g.pixelVariances[c]
                    mean[i] = g.mean.count == 1 ? g.mean[0] : g.mean.count == shape.channels ? g.mean[c] : g.mean[i]
                }
            }
            how = "exact (from the power spectrum)"
        } else {
            let count = 4096
            var m2 = mean
            for k in 0..<count {
                let x = prior.sample(using: SampleStream(seed: 0, index: (1 << 32) + k))
                for j in 0..<n {
                    let d = x[j] - mean[j]
                    mean[j] += d / Double(k + 1)
                    m2[j] += d * (x[j] - mean[j])
                }
            }
            variance = m2.map { $0 / Double(count - 1) }
            how = "\(count) exact prior samples"
        }
        let t = prior.pixelTransform
        return SamplingPrior(denoiser: prior, name: text, source: text, isAnalytic: true, pixelScale: nil,
                             variance: (variance.map { Float($0) }, .network),
                             meanPhysical: mean.map { t.toPhysical(Float($0)) }, guidanceTable: [:], splitGibbs: nil, x0Clip: nil,
                             provenance: ["name": text, "kind": "analytic", "summary": prior.summary,
                                          "variance_map": how])
    }
}
