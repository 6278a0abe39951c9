// Per-cell noise of gridded visibilities (DESIGN §3: the likelihood lives in
// visibility space, with per-cell σ; a white per-pixel likelihood on a dirty
// image would be wrong, its noise being correlated over a beam).
//
// A cell's visibility is the natural-weighted mean of its measurements
// (UVGrid.swift), so with data weights w_k = s²/σ_k² (s² the variance of a
// measurement of unit weight, per real component) its real and imaginary
// parts each have σ_c = s / √(Σ_k w_k). When the weights are true inverse
// variances, s = 1. The imaginary part of the DC cell is identically zero in
// model and data and is masked (weight 0).
// Layout matches UVSamplingOperator's output: C × K × 2 (re, im).

import TweedieCore

/// Diagonal Gaussian noise on the sampled uv cells.
public struct VisibilityNoiseModel: NoiseModel {
    public let shape: ImageShape
    public let sqrtWeights: [Float]
    /// σ of one real component of a unit-weight measurement.
    public let unitWeightSigma: Double
    /// σ per cell (per real component), K values.
    public let cellSigma: [Double]
    public let summary: String

    public init(grid: UVGrid, unitWeightSigma: Double = 1, channels: Int = 1) throws {
        guard unitWeightSigma.isFinite, unitWeightSigma > 0 else {
            throw TweedieError.invalidInput(what: "visibility σ", problem: "\(unitWeightSigma) must be > 0")
        }
        guard channels >= 1 else {
            throw TweedieError.invalidInput(what: "visibility noise channels", problem: "\(channels) must be ≥ 1")
        }
        let k = grid.cellCount
        shape = ImageShape(channels: channels, height: k, width: 2)
        self.unitWeightSigma = unitWeightSigma
        cellSigma = grid.naturalWeight.map { unitWeightSigma / $0.squareRoot() }
        var sw = [Float](repeating: 0, count: channels * k * 2)
        for ch in 0..<channels {
            for c in 0..<k {
                let s = Float(1 / cellSigma[c])
                sw[(ch * k + c) * 2] = s
                sw[(ch * k + c) * 2 + 1] = (grid.fx[c] == 0 && grid.fy[c] == 0) ? 0 : s
            }
        }
        sqrtWeights = sw
        let lo = cellSigma.min() ?? 0, hi = cellSigma.max() ?? 0
        summary = "per-cell visibility σ = \(unitWeightSigma)/√Σw (\(String(format: "%.3g", lo))…\(String(format: "%.3g", hi))) on \(k) cells"
    }
}
