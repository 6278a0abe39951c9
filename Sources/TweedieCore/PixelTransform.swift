// The map between a prior's network space u and physical flux x (DESIGN §4.4).
//
// x = T(u) element-wise; the sampler needs T and its derivative (for the
// gradient of the likelihood through T) and T⁻¹ (to bring observations or
// truths into network space). Declared by each prior in its config.json.

import Foundation

/// An element-wise, monotone map network value → physical value.
public protocol PixelTransform: Sendable {
    /// Physical value of a network value.
    func toPhysical(_ u: Float) -> Float
    /// Network value of a physical value.
    func toNetwork(_ x: Float) -> Float
    /// dT/du at u.
    func derivative(_ u: Float) -> Float
    /// One line for provenance, e.g. "asinh(x/0.02)/3".
    var summary: String { get }
}

/// x = scale·u + offset.
public struct AffinePixelTransform: PixelTransform, Equatable {
    public var scale: Float
    public var offset: Float
    public init(scale: Float = 1, offset: Float = 0) { self.scale = scale; self.offset = offset }
    public func toPhysical(_ u: Float) -> Float { scale * u + offset }
    public func toNetwork(_ x: Float) -> Float { (x - offset) / scale }
    public func derivative(_ u: Float) -> Float { scale }
    public var summary: String { "affine(x = \(scale)·u + \(offset))" }
}

/// Asinh stretch: u = asinh(x / softening) · gain + offset  ⇔  x = softening · sinh((u − offset) / gain).
public struct AsinhTransform: PixelTransform, Equatable {
    public var softening: Float
    public var gain: Float
    public var offset: Float
    public init(softening: Float, gain: Float = 1, offset: Float = 0) {
        self.softening = softening; self.gain = gain; self.offset = offset
    }
    public func toPhysical(_ u: Float) -> Float { softening * Foundation.sinh((u - offset) / gain) }
    public func toNetwork(_ x: Float) -> Float { Foundation.asinh(x / softening) * gain + offset }
    public func derivative(_ u: Float) -> Float { softening / gain * Foundation.cosh((u - offset) / gain) }
    public var summary: String { "asinh(u = asinh(x/\(softening))·\(gain) + \(offset))" }
}

/// γ-root normalisation (paper 000 §3.1): u = 2·(x/xmax)^{1/γ} − 1 for x ≥ 0, odd-extended below 0,
/// so x = xmax·sign(v)|v|^γ with v = (u+1)/2.
public struct GammaRootTransform: PixelTransform, Equatable {
    public var gamma: Float
    public var maxValue: Float
    public init(gamma: Float, maxValue: Float) { self.gamma = gamma; self.maxValue = maxValue }
    public func toPhysical(_ u: Float) -> Float {
        let v = (u + 1) / 2
        return maxValue * (v < 0 ? -1 : 1) * Foundation.pow(abs(v), gamma)
    }
    public func toNetwork(_ x: Float) -> Float {
        let r = x / maxValue
        return 2 * (r < 0 ? -1 : 1) * Foundation.pow(abs(r), 1 / gamma) - 1
    }
    public func derivative(_ u: Float) -> Float {
        let v = (u + 1) / 2
        return maxValue * gamma * Foundation.pow(abs(v), gamma - 1) / 2
    }
    public var summary: String { "gamma-root(γ=\(gamma), max=\(maxValue))" }
}
