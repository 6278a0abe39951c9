// A small seeded RandomNumberGenerator for reproducible test vectors and synthetic test images:
// the SplitMix64 sequence (Steele, Lea & Flood 2014) — state advances by the golden-ratio
// increment and each output is TweedieCore's `splitMix64` finaliser of the state — with
// Box–Muller normals. Not the samplers' randomness (that is `SampleStream`, GSL's mt19937).

import Foundation
import TweedieCore

public struct SplitMix64Generator: RandomNumberGenerator, Sendable {
    public var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        defer { state &+= 0x9E37_79B9_7F4A_7C15 }
        return splitMix64(state)
    }

    /// A standard normal variate (Box–Muller from two uniforms; the cosine branch only).
    public mutating func normal() -> Double {
        let u1 = Double.random(in: Double.ulpOfOne..<1, using: &self), u2 = Double.random(in: 0..<1, using: &self)
        return (-2 * log(u1)).squareRoot() * cos(2 * .pi * u2)
    }
}
