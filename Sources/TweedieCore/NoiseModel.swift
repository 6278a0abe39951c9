// The noise-model contract (DESIGN §3): n ~ N(0, Σ), Σ diagonal.
//
// A noise model whitens a residual: r_w = W^{1/2} (y − A x) with W = Σ⁻¹ on
// usable pixels and 0 on masked ones (NaN, BLANK, zero weight), so masked
// pixels drop out of the likelihood ‖r_w‖².

/// A diagonal Gaussian noise model in observation space.
public protocol NoiseModel: Sendable {
    /// Shape of one observation image this model describes.
    var shape: ImageShape { get }
    /// √W per value of one observation image (0 where masked), `shape.count` values.
    var sqrtWeights: [Float] { get }
    /// One line for provenance.
    var summary: String { get }
}

extension NoiseModel {
    /// Number of usable (unmasked) values in one observation.
    public var usableCount: Int { sqrtWeights.reduce(0) { $0 + ($1 > 0 ? 1 : 0) } }
}
