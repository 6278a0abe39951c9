// Colour scales of figure panels: value → colour, and the ticks of the
// panel's colour bar (a bar of t ∈ [0, 1], left to right).
//
// - grey: a `StretchMapping` (linear, zscale or asinh; `DisplayStretch`),
//   t = mapping.unit(x), grey = 255·t. Ticks at t = 0, ¼, ½, ¾, 1, labelled
//   with the value there (`StretchMapping.value(atUnit:)`).
// - logRatio: t = (log₁₀ x − log₁₀ low)/(log₁₀ high − log₁₀ low), clamped,
//   for a ratio such as the posterior-to-prior variance ratio; colours run
//   through ColorBrewer's diverging RdBu (Brewer 2003, colorbrewer2.org):
//   blue below 1, white at 1, red above 1. Ticks at the powers of ten, and a
//   mark at 1 (0 < low < 1 < high). x ≤ low shows as `low`.
// - symmetric: t = (x + limit)/(2·limit), clamped, RdBu again with white at 0
//   (a whitened residual: ticks at −limit, −limit/2, 0, limit/2, limit).
// NaN is black in every scale.
import Foundation

public enum ColourScale: Sendable {
    case grey(StretchMapping)
    case logRatio(low: Double, high: Double)
    case symmetric(limit: Double)

    /// A tick of the colour bar: position t ∈ [0, 1] and its label.
    public struct Tick: Sendable, Equatable {
        public var position: Double
        public var label: String
    }

    /// The bar position t ∈ [0, 1] of `x` (NaN for NaN).
    public func position(_ x: Float) -> Double {
        if x.isNaN { return .nan }
        let t: Double
        switch self {
        case .grey(let m): return m.unit(x)
        case .logRatio(let low, let high):
            let v = Swift.max(Double(x), low)
            t = (log10(v) - log10(low)) / (log10(high) - log10(low))
        case .symmetric(let limit):
            t = limit > 0 ? (Double(x) + limit) / (2 * limit) : 0.5
        }
        return Swift.min(Swift.max(t, 0), 1)
    }

    /// The colour of bar position t.
    public func colour(atPosition t: Double) -> RGB {
        if t.isNaN { return (0, 0, 0) }
        switch self {
        case .grey:
            let g = UInt8((Swift.min(Swift.max(t, 0), 1) * 255).rounded())
            return (g, g, g)
        case .logRatio(let low, let high):
            // White sits at x = 1: rescale each side of it onto its half of RdBu.
            let t1 = (0 - log10(low)) / (log10(high) - log10(low))
            let s = t <= t1 ? 0.5 * t / Swift.max(t1, 1e-12) : 0.5 + 0.5 * (t - t1) / Swift.max(1 - t1, 1e-12)
            return Self.rdBu(s)
        case .symmetric:
            return Self.rdBu(t)
        }
    }

    /// The colour of `x`.
    public func colour(_ x: Float) -> RGB { colour(atPosition: position(x)) }

    /// The colour bar's ticks.
    public var ticks: [Tick] {
        switch self {
        case .grey(let m):
            return [0, 0.25, 0.5, 0.75, 1].map { Tick(position: $0, label: Self.format(m.value(atUnit: $0))) }
        case .logRatio(let low, let high):
            var out: [Tick] = []
            var k = Int(ceil(log10(low) - 1e-9))
            while Double(k) <= log10(high) + 1e-9 {
                out.append(Tick(position: position(Float(pow(10, Double(k)))), label: Self.format(pow(10, Double(k)))))
                k += 1
            }
            return out
        case .symmetric(let limit):
            return [-1, -0.5, 0, 0.5, 1].map { Tick(position: position(Float($0 * limit)), label: Self.format($0 * limit)) }
        }
    }

    /// Where the bar marks a reference value (1 for a ratio, 0 for a residual), if any.
    public var reference: Tick? {
        switch self {
        case .grey: return nil
        case .logRatio: return Tick(position: position(1), label: "1")
        case .symmetric: return Tick(position: 0.5, label: "0")
        }
    }

    /// Three significant figures, no exponent between 10⁻³ and 10⁵.
    public static func format(_ v: Double) -> String {
        if v == 0 { return "0" }
        let a = Swift.abs(v)
        if a >= 1e-3 && a < 1e5 {
            var s = String(format: "%.3g", v)
            if s.contains("e") { s = String(format: "%.0f", v) }
            return s
        }
        return String(format: "%.2g", v)
    }

    /// ColorBrewer RdBu (11 classes, reversed so that s = 0 is dark blue, 0.5 white-ish, 1 dark red),
    /// interpolated linearly between its classes.
    public static func rdBu(_ s: Double) -> RGB {
        let stops: [(Double, Double, Double)] = [
            (5, 48, 97), (33, 102, 172), (67, 147, 195), (146, 197, 222), (209, 229, 240), (247, 247, 247),
            (253, 219, 199), (244, 165, 130), (214, 96, 77), (178, 24, 43), (103, 0, 31)]
        let u = Swift.min(Swift.max(s, 0), 1) * Double(stops.count - 1)
        let i = Swift.min(Int(u), stops.count - 2), f = u - Double(i)
        let a = stops[i], b = stops[i + 1]
        func mix(_ p: Double, _ q: Double) -> UInt8 { UInt8((p + f * (q - p)).rounded()) }
        return (mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
    }
}

extension StretchMapping {
    /// The value shown at grey level u ∈ [0, 1] (the inverse of `unit` on [low, high]).
    public func value(atUnit u: Double) -> Double {
        switch stretch {
        case .linear, .zscale: return low + u * (high - low)
        case .asinh:
            guard softening > 0 else { return low + u * (high - low) }
            return low + softening * Foundation.sinh(u * Foundation.asinh((high - low) / softening))
        }
    }

    /// The asinh mapping set by an observation's noise: low = sky − σ, high = `high`, softening σ
    /// (Lupton et al. 1999 with the observation's robust σ), scaled by `factor` (a change of units,
    /// e.g. the pixel-area ratio between the observation's and another grid's pixels).
    public static func noiseAsinh(sky: Double, sigma: Double, high: Double, factor: Double = 1) -> StretchMapping {
        let low = sky - sigma
        var soft = sigma
        if !(soft > 0) { soft = (high - low) / 10 }
        return StretchMapping(stretch: .asinh, low: factor * low, high: factor * high, softening: factor * soft)
    }
}
