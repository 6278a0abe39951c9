// The per-band scores of summary.json (PosteriorScores.priorBands / observationBands): for each
// prior band, the variance ratio over the aperture disk and its image median, whether the
// likelihood sees the band, and with a truth the band's MSE and credible-interval coverage (the
// same interval rule as the all-band coverage); for each observation band, the reduced χ² of the
// posterior mean, ‖√W_c (y_c − A(mean)_c)‖² / N_c over the band's usable values. Images are
// band-major (plane c holds values c·H·W ..< (c+1)·H·W); sample sets are sample-major.
import Foundation
import TweedieCore

/// One prior band's scores.
public struct PriorBandScores: Codable, Sendable, Equatable {
    /// The prior's band name, or "0", "1", … when it declares none.
    public var name: String
    /// Whether the likelihood sees the band (`PosteriorMetrics.observedBands`).
    public var observed: Bool
    /// Mean of the variance-ratio map over the aperture disk in this band (nil without a prior variance).
    @OptionalFiniteOrNull public var apertureVarianceRatio: Double?
    /// Median of the variance-ratio map over this band's pixels.
    @OptionalFiniteOrNull public var medianVarianceRatio: Double?
    /// Scores against the truth in this band, when a truth was given.
    public var truth: BandTruthScores?
}

/// One prior band's scores against a known truth.
public struct BandTruthScores: Codable, Sendable, Equatable {
    /// Mean squared error of the posterior mean over the band's pixels (units["mse"]).
    @FiniteOrNull public var mse: Double
    /// Fractions of the band's pixels whose truth lies in the 50 / 68 / 95 % credible intervals.
    @FiniteOrNull public var coverage50: Double
    @FiniteOrNull public var coverage68: Double
    @FiniteOrNull public var coverage95: Double
    /// Unit of `mse` (the observation's unit squared; null when it declares none).
    public var units: [String: String?]
}

/// One observation band's fit.
public struct ObservationBandScores: Codable, Sendable, Equatable {
    /// The observation's band name, or "0", "1", … when it has none.
    public var name: String
    /// Values of the band with positive weight.
    public var usableValues: Int
    /// ‖√W_c (y_c − A(mean)_c)‖² / usableValues (null when the band has no usable value).
    @FiniteOrNull public var reducedChiSquaredOfMean: Double
}

extension PosteriorMetrics {
    /// Band `c` of `count` band-major images of `plane` values per band and `channels` bands,
    /// concatenated image by image.
    static func band(_ values: [Float], _ c: Int, plane: Int, channels: Int, count: Int = 1) -> [Float] {
        var out: [Float] = []
        out.reserveCapacity(count * plane)
        for k in 0..<count {
            let start = (k * channels + c) * plane
            out.append(contentsOf: values[start..<(start + plane)])
        }
        return out
    }

    /// The reduced χ² of each observation band from a whitened residual (zero at masked values)
    /// and the noise model's √W (positive at usable values).
    static func observationBandScores(residual: [Float], sqrtWeights: [Float], shape: ImageShape,
                                      bands: [String]) -> [ObservationBandScores] {
        let plane = shape.planeCount
        let names = bands.count == shape.channels ? bands : (0..<shape.channels).map(String.init)
        return (0..<shape.channels).map { c in
            var sum = 0.0, n = 0
            for j in (c * plane)..<((c + 1) * plane) where sqrtWeights[j] > 0 {
                sum += Double(residual[j]) * Double(residual[j]); n += 1
            }
            return ObservationBandScores(name: names[c], usableValues: n, reducedChiSquaredOfMean: n > 0 ? sum / Double(n) : .nan)
        }
    }
}
