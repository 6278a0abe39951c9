// The products of a posterior run (DESIGN §6; paper 003 §3.2–§3.4), computed
// from the one-pass statistics of `PosteriorAccumulator`:
//   mean, std         physical units s·T(u), prior grid (Welford, Double);
//   variance ratio    var_post(u) / var_prior(u) pixel-wise in the prior's
//                     declared (network) space u, as paper 003 §3.4;
//   residual          √W (y − A(mean)) on the observation grid (masked = 0; residual.fits writes NaN there);
// and the scores: the variance ratio averaged over a disk (paper 003 Table 2)
// per band, and over the bands the data observe (a band the operator chain
// drops, or whose data are all masked, keeps its prior variance and would
// only dilute the headline), the reduced χ² of A(mean) and the distribution
// of per-sample reduced χ², and with a truth image MSE, PSNR, SSIM and the
// pixel-wise coverage of the truth by the 50 / 68 / 95 % credible intervals
// (type-6 empirical quantiles of the samples, the rule of `tweedie calibrate`,
// when at least 39 are available; else mean ± zσ); the variance ratio, MSE and
// coverage also per prior band and the reduced χ² per observation band
// (PosteriorBandScores.swift).

import Foundation
import TweedieCore

/// Quantiles of a set of numbers (type-7 interpolation), for summaries.
public struct DistributionSummary: Codable, Sendable, Equatable {
    public var count: Int
    @FiniteOrNull public var min: Double
    @FiniteOrNull public var p16: Double
    @FiniteOrNull public var median: Double
    @FiniteOrNull public var p84: Double
    @FiniteOrNull public var max: Double
    @FiniteOrNull public var mean: Double

    public init(_ values: [Double]) {
        let v = values.filter(\.isFinite).sorted()
        count = v.count
        func q(_ p: Double) -> Double {
            guard !v.isEmpty else { return .nan }
            let h = p * Double(v.count - 1), i = Int(h.rounded(.down)), f = h - Double(i)
            return i + 1 < v.count ? v[i] * (1 - f) + v[i + 1] * f : v[i]
        }
        min = v.first ?? .nan; max = v.last ?? .nan
        p16 = q(0.16); median = q(0.5); p84 = q(0.84)
        mean = v.isEmpty ? .nan : v.reduce(0, +) / Double(v.count)
    }
}

/// Scores against a known truth image (physical units, prior grid).
public struct TruthScores: Codable, Sendable, Equatable {
    /// Mean squared error of the posterior mean (units["mse"]: the observation's unit squared).
    @FiniteOrNull public var mse: Double
    /// Peak signal-to-noise ratio of the mean (units["psnr"]: dB).
    @FiniteOrNull public var psnr: Double
    @FiniteOrNull public var ssim: Double
    /// Fractions of pixels (all bands) whose truth lies in the 50 / 68 / 95 % credible intervals.
    @FiniteOrNull public var coverage50: Double
    @FiniteOrNull public var coverage68: Double
    @FiniteOrNull public var coverage95: Double
    /// "empirical" (quantiles of the kept samples) or "gaussian" (mean ± z·std).
    public var coverageMethod: String
    /// The interval rule in words (which quantiles, of how many samples), for the reader of summary.json.
    public var coverageRule: String
    /// Units of `mse` and `psnr`.
    public var units: [String: String?]
}

/// The scores written to summary.json.
public struct PosteriorScores: Codable, Sendable, Equatable {
    /// Variance ratio averaged over the aperture in each band, then over the observed bands only
    /// (nil without a prior variance; NaN — null in JSON — when no band is observed).
    @OptionalFiniteOrNull public var apertureVarianceRatio: Double?
    /// How `apertureVarianceRatio` and `medianVarianceRatio` are taken, in words.
    public var varianceRatioScope: String?
    /// The aperture disk: radius and centre (0-based pixel coordinates of the prior grid, pixel
    /// centres at integers); units["apertureRadius"], units["apertureCenter"]: "pix".
    public var apertureRadius: Double
    public var apertureCenter: [Double]
    /// Median of the variance-ratio map over the observed bands' pixels.
    @OptionalFiniteOrNull public var medianVarianceRatio: Double?
    /// The scores of each prior band, observed or not, in the prior's band order.
    public var priorBands: [PriorBandScores]
    /// The reduced χ² of the mean in each observation band.
    public var observationBands: [ObservationBandScores]
    /// The prior bands the likelihood sees (`PosteriorMetrics.observedBands`), in the prior's order.
    public var observedBands: [String]
    /// The prior bands it does not see (their variance ratio is the prior's, ≈ 1).
    public var unobservedBands: [String]
    /// ‖√W (y − A mean)‖² / N_usable over every observation band.
    @FiniteOrNull public var reducedChiSquaredOfMean: Double
    /// Reduced χ² of each sample: its distribution.
    public var sampleReducedChiSquared: DistributionSummary
    public var usableValues: Int
    public var truth: TruthScores?
    /// Units of `apertureRadius` and `apertureCenter`.
    public var units: [String: String?] = ["apertureRadius": "pix", "apertureCenter": "pix"]
}

/// The space a prior variance map (and so the variance ratio) is computed in.
public enum VarianceSpace: String, Sendable, Codable {
    /// The prior's declared network space u (paper 003's choice).
    case network
    /// Physical units s·T(u) (for priors whose map was made there; s then enters squared).
    case physical
}

/// Images and scores of a finished (or partial) run.
public struct PosteriorProducts: Sendable {
    public var mean: ImageBatch
    public var std: ImageBatch
    /// Posterior variance in network space (for the variance ratio).
    public var networkVariance: [Double]
    public var varianceRatio: ImageBatch?
    public var residual: ImageBatch
    public var scores: PosteriorScores

    /// Computes the products.
    /// - Parameters:
    ///   - bands: the prior's band names (for the output images).
    ///   - priorVariance: the prior's pixel variance and its space (nil: no variance ratio).
    ///   - aperture: radius and centre (0-based pixels) of the score disk; nil: the default.
    ///   - truth: physical truth on the prior grid, if known.
    ///   - samples: the kept samples (count × image, physical), for empirical coverage.
    public static func compute(_ acc: PosteriorAccumulator, problem: PosteriorProblem,
                               bands: [String], priorVariance: (values: [Float], space: VarianceSpace)?,
                               aperture: (radius: Double, center: (x: Double, y: Double))? = nil,
                               truth: ImageBatch? = nil, samples: [Float]? = nil) throws -> PosteriorProducts {
        let shape = problem.forwardOperator.inputShape
        guard acc.physicalCount >= 1 else {
            throw TweedieError.invalidInput(what: "posterior run", problem: "no samples drawn yet; nothing to summarise")
        }
        let physical = acc.physical, network = acc.network
        // Unbiased sample variance (n − 1); a single sample has variance 0.
        let vPhys = physical.variance
        let vNet = network.variance

        var mean = ImageBatch(count: 1, shape: shape)
        mean.data = physical.mean.map { Float($0) }
        mean.bands = bands
        var std = mean
        std.data = vPhys.map { Float($0.squareRoot()) }

        var ratio: ImageBatch? = nil
        if let (pv, space) = priorVariance {
            guard pv.count == shape.count else {
                throw TweedieError.shapeMismatch(what: "prior variance map vs prior image", expected: "\(shape.count) values",
                                                 got: "\(pv.count) values")
            }
            var r = mean
            // A physical-space prior map is of T(u) (flux scale 1); the posterior's is of s·T(u).
            let s2 = problem.fluxScale * problem.fluxScale
            r.data = PosteriorMetrics.varianceRatio(posterior: space == .network ? vNet : vPhys.map { $0 / s2 }, prior: pv)
            ratio = r
        }

        let (res, chi2) = try problem.whitenedResiduals(ofPhysical: mean)
        let usable = problem.noise.usableCount
        let ap = aperture ?? PosteriorMetrics.defaultAperture(shape)
        // Per band, then over the bands the likelihood sees.
        let names = bands.count == shape.channels ? bands : (0..<shape.channels).map(String.init)
        let observed = try PosteriorMetrics.observedBands(of: problem.forwardOperator, sqrtWeights: problem.noise.sqrtWeights)
        let plane = shape.planeCount
        var perBand: (aperture: [Double], median: [Double])? = nil
        var headline: (aperture: Double, median: Double)? = nil
        if let r = ratio {
            let apertures = PosteriorMetrics.apertureMeanPerBand(r.data, shape: shape, radius: ap.radius, center: ap.center)
            let medians = (0..<shape.channels).map { c in
                DistributionSummary(r.data[(c * plane)..<((c + 1) * plane)].map(Double.init)).median
            }
            perBand = (apertures, medians)
            let seen = apertures.indices.filter { observed[$0] && apertures[$0].isFinite }
            let pooled = (0..<shape.channels).filter { observed[$0] }.flatMap { c in
                r.data[(c * plane)..<((c + 1) * plane)].map(Double.init)
            }
            headline = (seen.isEmpty ? .nan : seen.reduce(0) { $0 + apertures[$1] } / Double(seen.count),
                        DistributionSummary(pooled).median)
        }
        let observedNames = names.indices.filter { observed[$0] }.map { names[$0] }
        let priorBands = names.indices.map { c in
            PriorBandScores(name: names[c], observed: observed[c], apertureVarianceRatio: perBand?.aperture[c],
                            medianVarianceRatio: perBand?.median[c], truth: nil)
        }
        let unit = problem.observation.unit
        var scores = PosteriorScores(
            apertureVarianceRatio: headline?.aperture,
            varianceRatioScope: ratio == nil ? nil :
                "apertureVarianceRatio: each band's mean over the aperture disk, averaged over the observed bands [\(observedNames.joined(separator: ","))]; medianVarianceRatio: median over the observed bands' pixels; priorBands cover every prior band",
            apertureRadius: ap.radius, apertureCenter: [ap.center.x, ap.center.y],
            medianVarianceRatio: headline?.median,
            priorBands: priorBands,
            observationBands: PosteriorMetrics.observationBandScores(residual: res.data, sqrtWeights: problem.noise.sqrtWeights,
                                                                     shape: problem.observation.shape, bands: problem.observation.bands),
            observedBands: observedNames,
            unobservedBands: names.indices.filter { !observed[$0] }.map { names[$0] },
            reducedChiSquaredOfMean: chi2[0] / Double(usable),
            sampleReducedChiSquared: DistributionSummary(acc.sampleChiSquared.map { $0 / Double(usable) }),
            usableValues: usable, truth: nil)

        if let t = truth {
            guard t.count == 1, t.shape == shape else {
                throw TweedieError.shapeMismatch(what: "truth image vs prior grid", expected: "\(shape)", got: "\(t.count)×\(t.shape)")
            }
            // Coverage of the pixels of `values` (a band, or all bands), one rule for both.
            let cov: (_ truth: [Float], _ planes: (offset: Int, channels: Int)?, _ level: Double) -> Double
            let method: String, rule: String
            // The widest level reported (95 %) needs K ≥ 39 for its type-6 interval to be unclamped.
            let needed = PosteriorMetrics.minimumSamplesForEmpiricalCoverage(level: 0.95)
            let k = (samples?.count ?? 0) / shape.count
            if let s = samples, k >= needed {
                cov = { tv, band, level in
                    let sv = band.map { PosteriorMetrics.band(s, $0.offset, plane: plane, channels: $0.channels, count: k) } ?? s
                    return PosteriorMetrics.empiricalCoverage(truth: tv, samples: sv, count: k, level: level)
                }
                method = "empirical"
                rule = "central interval between type-6 empirical quantiles (position p(K+1) among the K = \(k) sorted samples), the rule of tweedie calibrate"
            } else {
                cov = { tv, band, level in
                    let range = band.map { ($0.offset * plane)..<(($0.offset + 1) * plane) } ?? 0..<shape.count
                    return PosteriorMetrics.gaussianCoverage(truth: tv, mean: Array(physical.mean[range]), variance: Array(vPhys[range]), level: level)
                }
                method = "gaussian"
                rule = "mean ± z·std of \(acc.physicalCount) samples (z the normal quantile): fewer than the \(needed) samples the empirical 95 % interval needs" + (samples == nil ? " or no samples kept" : "")
            }
            scores.truth = TruthScores(mse: PosteriorMetrics.mse(mean.data, t.data),
                                       psnr: PosteriorMetrics.psnr(estimate: mean.data, truth: t.data),
                                       ssim: PosteriorMetrics.ssim(estimate: mean.data, truth: t.data, shape: shape),
                                       coverage50: cov(t.data, nil, 0.5), coverage68: cov(t.data, nil, 0.68),
                                       coverage95: cov(t.data, nil, 0.95),
                                       coverageMethod: method, coverageRule: rule,
                                       units: ["mse": squaredUnit(unit), "psnr": "dB"])
            for c in 0..<shape.channels {
                let tv = PosteriorMetrics.band(t.data, c, plane: plane, channels: shape.channels)
                let band = (offset: c, channels: shape.channels)
                scores.priorBands[c].truth = BandTruthScores(
                    mse: PosteriorMetrics.mse(PosteriorMetrics.band(mean.data, c, plane: plane, channels: shape.channels), tv),
                    coverage50: cov(tv, band, 0.5), coverage68: cov(tv, band, 0.68), coverage95: cov(tv, band, 0.95),
                    units: ["mse": squaredUnit(unit)])
            }
        }
        return PosteriorProducts(mean: mean, std: std, networkVariance: vNet, varianceRatio: ratio,
                                 residual: res, scores: scores)
    }
}
