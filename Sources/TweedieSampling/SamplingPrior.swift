// What posterior sampling needs of a prior, besides its denoiser: a prior directory (neural U-Net,
// Priors/Models/<name>/) or an analytic spec (gaussian:…, mixture:…), with the prior variance map
// (for the variance ratio), the prior's mean physical image (for the flux-scale estimate), the
// sampling settings the prior declares (typed in TweediePriors' PriorSamplingDefaults) and provenance.
import Foundation
import TweedieCore
import TweediePriors

public struct SamplingPrior {
    public var denoiser: any Denoiser
    public var name: String
    public var source: String
    public var isAnalytic: Bool
    public var pixelScale: (value: Double, unit: String)?
    public var variance: (values: [Float], space: VarianceSpace)?
    public var meanPhysical: [Float]?
    public var guidanceTable: [Int: Double]
    /// Split-Gibbs settings recommended in the prior's config (`"split_gibbs": {"iterations": 30,
    /// "rho_max": 1, "prior_steps": 20}`), tuned on its demo observation; nil: none declared.
    public var splitGibbs: SplitGibbsSettings?
    /// The prior's range in network space for clipping x̂0 (config "x0_clip": [lo, hi]), if declared.
    public var x0Clip: (Float, Float)?
    public var provenance: [String: String]

    /// ζ recommended in the prior's config for `steps` DDPM steps (PriorSamplingDefaults.recommendedGuidance).
    public func recommendedGuidance(steps: Int) -> (zeta: Double, tabulatedAt: Int)? {
        PriorSamplingDefaults(dpsGuidance: guidanceTable).recommendedGuidance(steps: steps)
    }

    /// Resolves a prior argument (a directory or an analytic spec); `option` names it in errors.
    public static func resolve(_ text: String, option: String = "--prior") throws -> SamplingPrior {
        let resolved = try PriorResolver.resolve(text, option: option, maxBatch: nil)
        if resolved.isAnalytic { return try analytic(text, resolved) }
        return try directory(text, resolved)
    }

    private static func directory(_ path: String, _ resolved: ResolvedPrior) throws -> SamplingPrior {
        guard let dir = resolved.directory else {
            throw TweedieError.invalidInput(what: path, problem: "is not a prior directory (config.json + weights)")
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
        let declared = c.sampling
        var gibbs: SplitGibbsSettings? = nil
        if let g = declared.splitGibbs {
            let preset = SplitGibbsSettings.calibrated
            gibbs = SplitGibbsSettings(iterations: g.iterations ?? preset.iterations, rhoMax: g.rhoMax ?? preset.rhoMax,
                                       priorSteps: g.priorSteps ?? preset.priorSteps, finalIterations: preset.finalIterations,
                                       likelihoodMoves: g.likelihoodMoves ?? preset.likelihoodMoves,
                                       gaussNewtonSteps: g.gaussNewtonSteps ?? preset.gaussNewtonSteps,
                                       priorStepVariance: g.priorStepVariance.flatMap(PriorStepVariance.init(rawValue:)) ?? preset.priorStepVariance,
                                       cgErrorTolerance: g.cgErrorTolerance ?? preset.cgErrorTolerance,
                                       coupling: g.coupling.flatMap(AnnealingCoupling.init(rawValue:)) ?? preset.coupling,
                                       priorStepVarianceScale: g.priorStepVarianceScale ?? preset.priorStepVarianceScale,
                                       gaussNewtonErrorTolerance: g.gaussNewtonErrorTolerance ?? preset.gaussNewtonErrorTolerance)
        }
        let clip = declared.x0Clip.map { (Float($0.lowerBound), Float($0.upperBound)) }
        let sha = c.weightsSHA256 ?? (try? dir.weightsChecksum()) ?? "unknown"
        return SamplingPrior(denoiser: den, name: c.name, source: path, isAnalytic: false,
                             pixelScale: (c.pixelScale.value, c.pixelScale.unit.rawValue), variance: variance,
                             meanPhysical: mean, guidanceTable: declared.dpsGuidance, splitGibbs: gibbs, x0Clip: clip,
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
            throw TweedieError.invalidInput(what: text, problem: "is not an analytic prior spec")
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
