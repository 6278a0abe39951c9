// The elliptical Moffat profile (Moffat 1969; the usual seeing model of
// ground-based images, e.g. as fitted by IRAF imexam / photutils), used for
// PSFs estimated from stars (StarPSFEstimation in TweedieAnalysis) and
// rendered by the analytic PSF renderer (AnalyticPSF.swift: sub-pixel
// Gauss–Legendre integration, centred on pixel (h/2, w/2), unit sum).
//
//   I(dx, dy) = (1 + u²/α₁² + v²/α₂²)^(−β),
//   u =  cos θ · dx + sin θ · dy,   v = −sin θ · dx + cos θ · dy,
//   α_i = FWHM_i / (2 √(2^{1/β} − 1)),  total flux π α₁ α₂ / (β − 1).
//
// θ is the major axis' angle from +x (columns) towards +y (rows, FITS row 1 at
// the bottom as ds9 draws it), in (−90°, 90°]. Lengths are in the unit of the
// pixel scale it is rendered at (arcsec for `render(pixelScale: p″)`; render with
// pixelScale 1 when the FWHMs are in pixels). FWHM_major ≥ FWHM_minor.

import Foundation
import TweedieCore

public struct EllipticalMoffatPSF: PSFProfile, Equatable {
    /// FWHM along the major and minor axes (FWHM_major ≥ FWHM_minor).
    public let fwhmMajor: Double
    public let fwhmMinor: Double
    /// Major axis angle from +x towards +y, radians, in (−π/2, π/2].
    public let positionAngle: Double
    public let beta: Double
    /// The length unit of the FWHMs, for messages ("″" or "px").
    public let unit: String

    /// - Parameters: the axes may be given in either order; the angle is that of the first axis.
    public init(fwhm1: Double, fwhm2: Double, angle: Double, beta: Double, unit: String = "″") throws {
        for (name, f) in [("first", fwhm1), ("second", fwhm2)] where !(f.isFinite && f > 0) {
            throw TweedieError.invalidInput(what: "elliptical Moffat PSF FWHM (\(name) axis)",
                                            problem: "must be > 0, got \(f)")
        }
        guard beta.isFinite, beta > 1 else {
            throw TweedieError.invalidInput(what: "elliptical Moffat PSF β",
                                            problem: "must be > 1 (the total flux diverges otherwise), got \(beta)")
        }
        guard angle.isFinite else {
            throw TweedieError.invalidInput(what: "elliptical Moffat PSF position angle", problem: "must be finite, got \(angle)")
        }
        var a = angle
        if fwhm1 >= fwhm2 { fwhmMajor = fwhm1; fwhmMinor = fwhm2 } else { fwhmMajor = fwhm2; fwhmMinor = fwhm1; a += .pi / 2 }
        // Fold into (−π/2, π/2]: an axis is a direction without a sign.
        a = a.truncatingRemainder(dividingBy: .pi)
        if a > .pi / 2 { a -= .pi } else if a <= -.pi / 2 { a += .pi }
        positionAngle = a
        self.beta = beta
        self.unit = unit
    }

    /// 2√(2^{1/β} − 1): FWHM = α · this.
    public static func fwhmPerAlpha(beta: Double) -> Double { 2 * (pow(2, 1 / beta) - 1).squareRoot() }

    public var alphaMajor: Double { fwhmMajor / Self.fwhmPerAlpha(beta: beta) }
    public var alphaMinor: Double { fwhmMinor / Self.fwhmPerAlpha(beta: beta) }
    /// √(FWHM_major · FWHM_minor): the FWHM of the circle of equal area.
    public var fwhm: Double { (fwhmMajor * fwhmMinor).squareRoot() }
    /// 1 − minor/major.
    public var ellipticity: Double { 1 - fwhmMinor / fwhmMajor }

    public func intensity(dxArcsec dx: Double, dyArcsec dy: Double) -> Double {
        let c = cos(positionAngle), s = sin(positionAngle)
        let u = c * dx + s * dy, v = -s * dx + c * dy
        let a1 = alphaMajor, a2 = alphaMinor
        return pow(1 + u * u / (a1 * a1) + v * v / (a2 * a2), -beta)
    }
    public var totalFlux: Double? { Double.pi * alphaMajor * alphaMinor / (beta - 1) }
    public var featureScaleArcsec: Double { 0.5 * alphaMinor }
    public var summary: String {
        String(format: "moffat(FWHM=%.4g×%.4g", fwhmMajor, fwhmMinor) + unit
            + String(format: ", PA=%.1f°, β=%.4g)", positionAngle * 180 / .pi, beta)
    }

    /// Radius (along the major axis) holding the fraction `f` of the total flux:
    /// 1 − (1 + r²/α²)^{1−β} = f.
    public func radiusEnclosing(fraction f: Double) -> Double {
        alphaMajor * (pow(1 - f, 1 / (1 - beta)) - 1).squareRoot()
    }
}
