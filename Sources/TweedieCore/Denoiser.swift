// The denoiser contract (DESIGN §4.1) that score priors implement and samplers consume.
//
// For a batch x_t at diffusion step t (original timestep index), a prior gives
// the Tweedie estimate x̂0 = (x_t − √(1−ᾱ_t) ε̂) / √ᾱ_t, the noise estimate ε̂
// (score = −ε̂ / √(1−ᾱ_t)), and on request the vector–Jacobian product of x̂0
// with respect to x_t. Everything is in the prior's network space; the map to
// physical flux is the prior's `PixelTransform`.

/// What a network predicts; converted to (x̂0, ε̂) in exactly one place.
public enum PredictionType: String, Codable, Sendable, CaseIterable {
    case epsilon
    case x0
    case v

    /// Converts a raw network output to (x̂0, ε̂) given x_t and ᾱ_t (per image).
    /// ε: x̂0 = (x − √(1−ᾱ)·ε)/√ᾱ. x0: ε = (x − √ᾱ·x0)/√(1−ᾱ). v = √ᾱ·ε − √(1−ᾱ)·x0:
    /// x0 = √ᾱ·x − √(1−ᾱ)·v, ε = √(1−ᾱ)·x + √ᾱ·v.
    public func convert(output: Float, xt: Float, alphaBar: Double) -> (x0: Float, eps: Float) {
        let sa = Float(alphaBar.squareRoot()), sb = Float((1 - alphaBar).squareRoot())
        switch self {
        case .epsilon: return ((xt - sb * output) / sa, output)
        case .x0: return (output, (xt - sa * output) / sb)
        case .v: return (sa * xt - sb * output, sb * xt + sa * output)
        }
    }

    /// ∂x̂0/∂x_t and ∂x̂0/∂output (for the chain rule through the conversion).
    public func x0Partials(alphaBar: Double) -> (dxt: Float, dout: Float) {
        let sa = (alphaBar.squareRoot()), sb = ((1 - alphaBar).squareRoot())
        switch self {
        case .epsilon: return (Float(1 / sa), Float(-sb / sa))
        case .x0: return (0, 1)
        case .v: return (Float(sa), Float(-sb))
        }
    }
}

/// x̂0 and ε̂ for a batch.
public struct DenoiserPrediction: Sendable {
    public var x0: ImageBatch
    public var eps: ImageBatch
    public init(x0: ImageBatch, eps: ImageBatch) { self.x0 = x0; self.eps = eps }
}

/// Maps a cotangent on x̂0 to the cotangent on x_t: v ↦ (∂x̂0/∂x_t)ᵀ v, per image.
public typealias DenoiserPullback = (ImageBatch) throws -> ImageBatch

/// A score prior seen as a denoiser.
public protocol Denoiser: AnyObject, Sendable {
    /// Shape of one image in network space.
    var imageShape: ImageShape { get }
    /// The training schedule (the sampler respaces it).
    var schedule: NoiseSchedule { get }
    /// The map between network space and physical flux.
    var pixelTransform: any PixelTransform { get }
    /// Band names of the channels.
    var bands: [String] { get }
    /// One line for provenance (name, hash).
    var summary: String { get }

    /// x̂0 and ε̂ for x_t at original timesteps `t` (one per image).
    func predict(_ xt: ImageBatch, timesteps t: [Int]) throws -> DenoiserPrediction
    /// x̂0 and ε̂ plus the pullback of x̂0 with respect to x_t.
    func predictWithPullback(_ xt: ImageBatch, timesteps t: [Int]) throws -> (DenoiserPrediction, DenoiserPullback)
}
