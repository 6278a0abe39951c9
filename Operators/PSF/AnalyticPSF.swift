// Analytic PSF profiles rendered on a pixel grid with sub-pixel integration
// (DESIGN §3 "PSF convolution"; issue 3 item 2).
//
// Profiles (radius r in arcsec, unnormalised surface brightness):
// - Gaussian, FWHM F: I(r) = exp(−r²/(2σ²)), σ = F / (2√(2 ln 2)). Pixel
//   values are integrated exactly (separable erf differences).
// - Moffat (Moffat 1969), FWHM F and β > 1: I(r) = (1 + (r/α)²)^(−β),
//   α = F / (2√(2^{1/β} − 1)); total flux π α² / (β − 1).
// - Airy (circular aperture of diameter D at wavelength λ, no obstruction):
//   I(θ) = [2 J₁(x)/x]², x = π D θ / λ (θ in radians); total flux 4λ²/(π D²)
//   in steradians; first dark ring at θ = 1.2197 λ/D, FWHM ≈ 1.029 λ/D.
// - Elliptical Moffat (EllipticalMoffatPSF.swift) renders through the same code
//   (`PSFProfile`: any profile given as I(dx, dy)).
// Rendering: a stamp of h × w pixels of `pixelScale` arcsec, profile centred
// on the centre of pixel (h/2, w/2) (integer division, 0-based; DESIGN §2);
// each pixel value is the profile's integral over the pixel by an n×n
// Gauss–Legendre rule (n chosen from the profile's width, or given); the stamp
// is normalised to unit sum, and a warning reports when it captures less than
// 98 % of the profile's total flux (`originalSums` holds that captured fraction).

@preconcurrency import CGSL
import Foundation
import TweedieCore

/// A PSF profile that can be rendered at a pixel scale: surface brightness at an
/// offset (dx along +x = columns, dy along +y = rows) from the centre, in the
/// profile's length unit (arcsec for the analytic profiles; rendering with
/// `pixelScale: 1` makes that unit the pixel).
public protocol PSFProfile: Sendable {
    /// Unnormalised surface brightness at offset (dx, dy) from the centre.
    func intensity(dxArcsec dx: Double, dyArcsec dy: Double) -> Double
    /// The profile's total flux ∫ I dA in arcsec² (nil when infinite).
    var totalFlux: Double? { get }
    /// A length (arcsec) over which the profile changes appreciably (sets the sub-pixel rule).
    var featureScaleArcsec: Double { get }
    /// One line for provenance, e.g. "moffat(FWHM=0.6″, β=3)".
    var summary: String { get }
}

/// A circularly symmetric PSF profile that can be rendered at a pixel scale.
public protocol AnalyticPSFProfile: PSFProfile {
    /// Unnormalised surface brightness at radius `r` arcsec from the centre.
    func intensity(radiusArcsec r: Double) -> Double
    /// The profile's total flux ∫ I dA in arcsec² (nil when infinite).
    var totalFlux: Double? { get }
    /// A length (arcsec) over which the profile changes appreciably (sets the sub-pixel rule).
    var featureScaleArcsec: Double { get }
    /// One line for provenance, e.g. "moffat(FWHM=0.6″, β=3)".
    var summary: String { get }
}

extension AnalyticPSFProfile {
    public func intensity(dxArcsec dx: Double, dyArcsec dy: Double) -> Double {
        intensity(radiusArcsec: (dx * dx + dy * dy).squareRoot())
    }
}

/// Gaussian PSF with full width at half maximum `fwhm` arcsec.
public struct GaussianPSF: AnalyticPSFProfile, Equatable {
    public let fwhm: Double
    public var sigma: Double { fwhm / (2 * (2 * log(2.0)).squareRoot()) }
    public init(fwhm: Double) throws {
        guard fwhm.isFinite, fwhm > 0 else {
            throw TweedieError.invalidInput(what: "Gaussian PSF FWHM", problem: "must be > 0 arcsec, got \(fwhm)")
        }
        self.fwhm = fwhm
    }
    public func intensity(radiusArcsec r: Double) -> Double { exp(-r * r / (2 * sigma * sigma)) }
    public var totalFlux: Double? { 2 * Double.pi * sigma * sigma }
    public var featureScaleArcsec: Double { sigma }
    public var summary: String { "gaussian(FWHM=\(fwhm)″)" }
}

/// Moffat PSF (ground-based seeing) with FWHM `fwhm` arcsec and index `beta` > 1.
public struct MoffatPSF: AnalyticPSFProfile, Equatable {
    public let fwhm: Double
    public let beta: Double
    /// Core radius α = FWHM / (2√(2^{1/β} − 1)).
    public var alpha: Double { fwhm / (2 * (pow(2, 1 / beta) - 1).squareRoot()) }
    public init(fwhm: Double, beta: Double) throws {
        guard fwhm.isFinite, fwhm > 0 else {
            throw TweedieError.invalidInput(what: "Moffat PSF FWHM", problem: "must be > 0 arcsec, got \(fwhm)")
        }
        guard beta.isFinite, beta > 1 else {
            throw TweedieError.invalidInput(what: "Moffat PSF β",
                                            problem: "must be > 1 (the total flux diverges otherwise), got \(beta)")
        }
        self.fwhm = fwhm; self.beta = beta
    }
    public func intensity(radiusArcsec r: Double) -> Double {
        let a = alpha
        return pow(1 + r * r / (a * a), -beta)
    }
    public var totalFlux: Double? { Double.pi * alpha * alpha / (beta - 1) }
    public var featureScaleArcsec: Double { 0.5 * alpha }
    public var summary: String { "moffat(FWHM=\(fwhm)″, β=\(beta))" }
}

/// Airy PSF of a circular aperture: wavelength and diameter in metres.
public struct AiryPSF: AnalyticPSFProfile, Equatable {
    public let wavelength: Double
    public let diameter: Double
    /// λ/D in arcsec.
    public var lambdaOverDArcsec: Double { wavelength / diameter * 180 / Double.pi * 3600 }
    public init(wavelength: Double, diameter: Double) throws {
        guard wavelength.isFinite, wavelength > 0 else {
            throw TweedieError.invalidInput(what: "Airy PSF wavelength", problem: "must be > 0 metres, got \(wavelength)")
        }
        guard diameter.isFinite, diameter > 0 else {
            throw TweedieError.invalidInput(what: "Airy PSF aperture diameter", problem: "must be > 0 metres, got \(diameter)")
        }
        self.wavelength = wavelength; self.diameter = diameter
    }
    public func intensity(radiusArcsec r: Double) -> Double {
        let x = Double.pi * r / lambdaOverDArcsec
        if abs(x) < 1e-8 { return 1 }
        let j = gsl_sf_bessel_J1(x)
        let v = 2 * j / x
        return v * v
    }
    public var totalFlux: Double? {
        let l = lambdaOverDArcsec
        return 4 * l * l / Double.pi
    }
    public var featureScaleArcsec: Double { 0.25 * lambdaOverDArcsec }
    public var summary: String { "airy(λ=\(wavelength) m, D=\(diameter) m, λ/D=\(String(format: "%.4g", lambdaOverDArcsec))″)" }
}

extension PSFProfile {
    /// Renders the profile on a `height` × `width` stamp of `pixelScale` arcsec pixels.
    /// - Parameter subpixelOrder: Gauss–Legendre points per axis per pixel (nil: chosen
    ///   from the profile's feature scale, between 4 and 64).
    public func render(pixelScale: Double, height: Int, width: Int,
                       subpixelOrder: Int? = nil) throws -> PointSpreadFunction {
        guard pixelScale.isFinite, pixelScale > 0 else {
            throw TweedieError.invalidInput(what: "PSF pixel scale", problem: "must be > 0 arcsec/pixel, got \(pixelScale)")
        }
        guard height >= 1, width >= 1, height <= 8192, width <= 8192 else {
            throw TweedieError.invalidInput(what: "PSF size", problem: "must be between 1 and 8192 pixels, got \(height)×\(width)")
        }
        let order = subpixelOrder ?? min(64, max(4, Int((4 * pixelScale / featureScaleArcsec).rounded(.up))))
        guard order >= 1, order <= 256 else {
            throw TweedieError.invalidInput(what: "PSF sub-pixel order", problem: "must be between 1 and 256, got \(order)")
        }
        var values = [Float](repeating: 0, count: height * width)
        var integral = 0.0  // Σ over the stamp of ∫pixel I dA, in arcsec²
        if let g = self as? GaussianPSF {
            // Exact pixel integrals: ∫ exp(−u²/2σ²) du over [a, b] = σ√(π/2)·(erf(b/σ√2) − erf(a/σ√2)).
            let s = g.sigma
            func axis(_ n: Int) -> [Double] {
                let c = n / 2
                return (0..<n).map { i in
                    let a = (Double(i - c) - 0.5) * pixelScale, b = (Double(i - c) + 0.5) * pixelScale
                    return s * (Double.pi / 2).squareRoot() * (erf(b / (s * 2.0.squareRoot())) - erf(a / (s * 2.0.squareRoot())))
                }
            }
            let ay = axis(height), ax = axis(width)
            for y in 0..<height {
                for x in 0..<width {
                    let v = ay[y] * ax[x]
                    values[y * width + x] = Float(v); integral += v
                }
            }
        } else {
            let (nodes, weights) = gaussLegendre(order)
            let cy = height / 2, cx = width / 2
            let area = pixelScale * pixelScale
            for y in 0..<height {
                for x in 0..<width {
                    var acc = 0.0
                    for i in 0..<order {
                        let dy = (Double(y - cy) + nodes[i]) * pixelScale
                        for j in 0..<order {
                            let dx = (Double(x - cx) + nodes[j]) * pixelScale
                            acc += weights[i] * weights[j] * intensity(dxArcsec: dx, dyArcsec: dy)
                        }
                    }
                    let v = acc * area
                    values[y * width + x] = Float(v); integral += v
                }
            }
        }
        // Express the stamp as a fraction of the profile's total flux: its sum is then the
        // captured fraction (reported when < 98 %), and it is normalised to unit sum below.
        var warnings: [String] = []
        let total = totalFlux ?? integral
        let captured = integral / total
        if captured < 0.98 {
            warnings.append("\(summary): the \(height)×\(width) stamp at \(pixelScale)″/px holds only "
                            + String(format: "%.1f", 100 * captured) + " % of the profile's flux; "
                            + "it is normalised to unit sum (use a larger size to keep the wings)")
        }
        let inv = 1 / total
        let img = try ImageBatch(count: 1, shape: ImageShape(channels: 1, height: height, width: width),
                                 data: values.map { Float(Double($0) * inv) })
        return try PointSpreadFunction(image: img, source: "\(summary) at \(pixelScale)″/px",
                                       normalize: true, extraWarnings: warnings, reportNormalisation: false)
    }
}

/// Gauss–Legendre nodes (offsets in [−½, ½] from a pixel centre) and weights (summing to 1), from GSL.
/// Public for the pixel-integrated Moffat fit of the star-PSF estimate (TweedieAnalysis).
public func gaussLegendre(_ n: Int) -> (nodes: [Double], weights: [Double]) {
    GSL.configure()
    guard let table = gsl_integration_glfixed_table_alloc(n) else {
        fatalError("gsl_integration_glfixed_table_alloc(\(n)) failed")
    }
    defer { gsl_integration_glfixed_table_free(table) }
    var nodes: [Double] = [], weights: [Double] = []
    for i in 0..<n {
        var xi = 0.0, wi = 0.0
        _ = gsl_integration_glfixed_point(-0.5, 0.5, i, &xi, &wi, table)
        nodes.append(xi); weights.append(wi)
    }
    return (nodes, weights)
}
