// σ estimated from the observation when the user gives none (DESIGN §3):
// an iterative sigma-clipped median absolute deviation per band.
//
// Per band, over finite values: m = median, σ = 1.4826·MAD (the MAD of a
// Gaussian is 0.6745 σ); values with |x − m| > κσ (κ = 3) are dropped and the
// estimate repeated until the kept set stops changing (≤ 20 rounds), so
// sources are clipped away and σ describes the background. Medians in Double.
// The clipping itself is the core's `ImageStatistics.sigmaClipped` (one
// implementation for `tweedie info`, previews, star finding and noise models);
// this file adds the per-band report and the noise model built from it.

import TweedieCore

/// The σ estimated per band, with how it was obtained (for reports and headers).
public struct NoiseEstimate: Sendable, Equatable, CustomStringConvertible {
    public let bandSigmas: [Double]
    public let backgroundMedians: [Double]
    public let pixelsUsed: [Int]
    public let iterations: [Int]
    public var description: String {
        (0..<bandSigmas.count).map { c in
            "band \(c): σ=\(fmt(bandSigmas[c])) (median \(fmt(backgroundMedians[c])), \(pixelsUsed[c]) pixels after \(iterations[c]) rounds of 3σ clipping)"
        }.joined(separator: "; ")
    }
}

public enum NoiseEstimation {
    /// σ = madToSigma · MAD for Gaussian data (the core's constant, one definition).
    public static let madToSigma = ImageStatistics.madToSigma

    /// Sigma-clipped (median, σ from MAD, kept count, rounds) of the finite values; nil if none.
    /// The core's `ImageStatistics.sigmaClipped` does the work (one implementation).
    public static func sigmaClippedMAD<C: Collection>(_ values: C, kappa: Double = 3,
                                                      maxIterations: Int = 20)
        -> (median: Double, sigma: Double, used: Int, iterations: Int)? where C.Element == Float {
        guard let r = ImageStatistics.sigmaClipped(values, kappa: kappa, maxIterations: maxIterations) else { return nil }
        return (r.median, r.robustSigma, r.keptCount, r.iterations)
    }

    /// σ per band of one observation image.
    public static func estimate(from observation: ImageBatch, source: String = "observation") throws -> NoiseEstimate {
        guard observation.count == 1 else {
            throw TweedieError.invalidInput(what: source, problem: "expected one image, got \(observation.count)")
        }
        var s: [Double] = [], m: [Double] = [], u: [Int] = [], it: [Int] = []
        for c in 0..<observation.shape.channels {
            guard let r = sigmaClippedMAD(observation.plane(0, c)) else {
                throw TweedieError.invalidInput(what: source, problem: "band \(c) has no finite values; cannot estimate σ")
            }
            guard r.sigma > 0 else {
                throw TweedieError.invalidInput(
                    what: source,
                    problem: "band \(c): the background's MAD is 0 (constant or quantised values), so σ cannot be estimated; give σ explicitly")
            }
            s.append(r.sigma); m.append(r.median); u.append(r.used); it.append(r.iterations)
        }
        return NoiseEstimate(bandSigmas: s, backgroundMedians: m, pixelsUsed: u, iterations: it)
    }
}

extension DiagonalGaussianNoise {
    /// A per-band scalar model with σ estimated from the observation (non-finite values masked), and the estimate.
    public static func estimated(from observation: ImageBatch, source: String = "observation") throws
        -> (model: DiagonalGaussianNoise, estimate: NoiseEstimate) {
        let e = try NoiseEstimation.estimate(from: observation, source: source)
        let base = try DiagonalGaussianNoise(bandSigmas: e.bandSigmas, shape: observation.shape)
        let model = try DiagonalGaussianNoise(shape: base.shape, sqrtWeights: base.sqrtWeights,
                                              summary: base.summary + " (estimated: sigma-clipped MAD)",
                                              bandSigmas: e.bandSigmas)
        return (try model.masking(nonFiniteOf: observation), e)
    }
}
