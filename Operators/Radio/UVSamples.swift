// Ungridded uv-plane samples: baseline coordinates in wavelengths, weights and
// (for real data) complex visibilities (DESIGN §3 "UV masking").
//
// Conventions:
// - (u, v, w) in wavelengths; u toward east, v toward north (TMS §4.1).
// - Visibility sign convention of Tweedie: V(u, v) = ∫ I(l, m) e^{−2πi(ul + vm)} dl dm,
//   with l the direction cosine toward east (RA increasing), m toward north.
//   Readers convert files to this convention (UVFITSReader.swift).
// - Each measurement is stored once; its Hermitian partner V(−u, −v) = V(u, v)* is
//   implied (the gridder adds it, `hermitianPoints` lists it).
// - `weight` is the data weight (inverse variance up to a common scale); > 0.

/// A set of uv samples, optionally with Stokes I visibilities.
public struct UVSamples: Sendable {
    public var u: [Double]
    public var v: [Double]
    public var w: [Double]
    public var weight: [Double]
    /// Real and imaginary parts of the visibilities (Jy), empty for coverage only.
    public var real: [Float]
    public var imag: [Float]
    /// The frequencies (Hz) the samples were taken at (for the primary beam and provenance).
    public var frequencies: [Double]
    /// Where the samples came from, for provenance.
    public var origin: String

    public init(u: [Double], v: [Double], w: [Double], weight: [Double], real: [Float] = [], imag: [Float] = [],
                frequencies: [Double], origin: String) {
        precondition(u.count == v.count && v.count == w.count && w.count == weight.count)
        precondition(real.count == imag.count && (real.isEmpty || real.count == u.count))
        self.u = u; self.v = v; self.w = w; self.weight = weight
        self.real = real; self.imag = imag
        self.frequencies = frequencies; self.origin = origin
    }

    /// Number of measurements (each with its implied Hermitian partner).
    public var count: Int { u.count }
    /// True when visibilities are present.
    public var hasVisibilities: Bool { !real.isEmpty }
    /// Mean of the frequencies, Hz (the reference for the primary beam).
    public var meanFrequency: Double { frequencies.isEmpty ? 0 : frequencies.reduce(0, +) / Double(frequencies.count) }

    /// The longest projected baseline √(u² + v²), wavelengths.
    public var maxBaseline: Double {
        var best = 0.0
        for k in 0..<count { best = max(best, (u[k] * u[k] + v[k] * v[k]).squareRoot()) }
        return best
    }

    /// Both (u, v) and (−u, −v) of every sample, for plots and checks.
    public var hermitianPoints: [(u: Double, v: Double)] {
        var out: [(u: Double, v: Double)] = []
        out.reserveCapacity(2 * count)
        for k in 0..<count { out.append((u[k], v[k])); out.append((-u[k], -v[k])) }
        return out
    }
}
