// Primary beam of a single dish (DESIGN §3 "UV masking": the sky is multiplied by
// the primary beam before it is Fourier transformed).
//
// - Gaussian: A(r) = exp(−4 ln 2 · r² / FWHM²) with FWHM = 1.13 λ/D (a tapered
//   illumination, the usual approximation, e.g. the ALMA technical handbook).
// - Airy: A(r) = [2 J₁(x)/x]², x = π D r / λ — the power pattern of a uniformly
//   illuminated circular aperture (FWHM ≈ 1.029 λ/D, first null 1.22 λ/D).
// r is the angular distance from the pointing centre in radians (small-angle:
// r = Δl·√(dx² + dy²) in pixels dx, dy from the image centre (N/2, N/2), 0-based).

import CGSL
import Foundation
import TweedieCore

/// The primary-beam shape.
public enum PrimaryBeamShape: String, Sendable, CaseIterable {
    case gaussian, airy, none
}

/// A dish's primary beam (power pattern, peak 1 at the pointing centre).
public struct PrimaryBeam: Sendable, Equatable {
    public var shape: PrimaryBeamShape
    /// Dish diameter, metres.
    public var diameter: Double
    /// Frequency, Hz.
    public var frequency: Double

    public init(shape: PrimaryBeamShape, diameter: Double, frequency: Double) throws {
        if shape != .none {
            guard diameter.isFinite, diameter > 0 else {
                throw TweedieError.invalidInput(what: "primary beam", problem: "dish diameter \(diameter) m must be > 0")
            }
            guard frequency.isFinite, frequency > 0 else {
                throw TweedieError.invalidInput(what: "primary beam", problem: "frequency \(frequency) Hz must be > 0")
            }
        }
        self.shape = shape; self.diameter = diameter; self.frequency = frequency
    }

    /// No attenuation (A = 1 everywhere).
    public static let unity = try! PrimaryBeam(shape: .none, diameter: 0, frequency: 0)

    /// Wavelength, metres.
    public var wavelength: Double { EarthRotationSynthesis.speedOfLight / frequency }

    /// Full width at half maximum, radians (infinite for `.none`).
    public var fwhm: Double {
        switch shape {
        case .gaussian: return 1.13 * wavelength / diameter
        case .airy: return 1.02899 * wavelength / diameter
        case .none: return .infinity
        }
    }

    /// A(r) for r in radians.
    public func value(atRadius r: Double) -> Double {
        switch shape {
        case .none: return 1
        case .gaussian:
            let f = fwhm
            return exp(-4 * log(2.0) * r * r / (f * f))
        case .airy:
            let x = Double.pi * diameter * r / wavelength
            if abs(x) < 1e-8 { return 1 }
            let a = 2 * gsl_sf_bessel_J1(x) / x
            return a * a
        }
    }

    /// The beam on an N×N image with square pixels of `cell` radians, centred on pixel (N/2, N/2), `[y][x]`.
    public func image(size n: Int, cell: Double) -> [Float] {
        var out = [Float](repeating: 1, count: n * n)
        if shape == .none { return out }
        let c = n / 2
        for y in 0..<n {
            for x in 0..<n {
                let dx = Double(x - c), dy = Double(y - c)
                out[y * n + x] = Float(value(atRadius: cell * (dx * dx + dy * dy).squareRoot()))
            }
        }
        return out
    }

    /// One line for provenance.
    public var summary: String {
        shape == .none ? "no primary beam"
            : String(format: "%@ primary beam, D = %.1f m at %.4g GHz, FWHM %.1f″", shape.rawValue, diameter,
                     frequency / 1e9, fwhm * 180 / .pi * 3600)
    }

    /// Dish diameters of known telescopes (metres), for files that do not carry one.
    public static func dishDiameter(telescope: String) -> Double? {
        switch telescope.uppercased().trimmingCharacters(in: .whitespaces) {
        case "VLA", "EVLA", "JVLA": return 25
        case "ALMA": return 12
        case "MEERKAT": return 13.5
        case "ATCA": return 22
        case "WSRT": return 25
        default: return nil
        }
    }
}
