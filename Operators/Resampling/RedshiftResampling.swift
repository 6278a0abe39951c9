// The redshift / pixel-scale map f_{z,p} of paper 003 §2 (Fig. 1), DESIGN §3.
//
// The prior lives at a fixed physical pixel scale s (kpc/pixel). At redshift z
// one prior pixel spans θ = s / D_A(z) radians (D_A the proper angular-diameter
// distance of a flat ΛCDM cosmology, `FlatLambdaCDM`); with observed pixel
// scale p (″/px) the observed cutout has m = round(n·θ/p) pixels per axis
// (n the prior's size along that axis). Priors defined in ″/px use θ directly
// (`PixelScaleResampling`). The image is then resampled n → m by exact area
// overlap (`AreaOverlapResampling`: flux-conserving, separable, exact adjoint),
// keeping the whole field, so the effective observed pixel is n·θ/m (≈ p up
// to the rounding of m, reported). Order in a chain, as in the paper:
// resample to the observed grid first, then convolve with the observed PSF.

import Foundation
import TweedieCore

/// Sizes and scales of an f_{z,p} resampling, with what to tell the user about them.
public struct ResamplingGeometry: Sendable, Equatable, CustomStringConvertible {
    /// Prior grid (n_y × n_x) and observed grid (m_y × m_x).
    public let priorHeight: Int, priorWidth: Int
    public let observedHeight: Int, observedWidth: Int
    /// θ: one prior pixel in arcsec (at the redshift, for a physical-scale prior).
    public let priorPixelArcsec: Double
    /// p: the observation's pixel scale in arcsec.
    public let observedPixelArcsec: Double
    /// z, the prior's kpc/px and D_A(z) (Mpc) when the resampling comes from a redshift.
    public let redshift: Double?
    public let priorPixelKpc: Double?
    public let angularDiameterDistanceMpc: Double?

    /// m/n along x: below 1 the observation has fewer pixels than the prior grid.
    public var scaleFactor: Double { Double(observedWidth) / Double(priorWidth) }
    /// n/m along x: how much the reconstruction must upsample the observation.
    public var upsamplingFactor: Double { Double(priorWidth) / Double(observedWidth) }
    /// The observed pixel actually used, n·θ/m along x (differs from p by the rounding of m).
    public var effectiveObservedPixelArcsec: Double { Double(priorWidth) * priorPixelArcsec / Double(observedWidth) }

    /// Remarks on the scale change (DESIGN §3: say how far it is from the prior's native scale).
    public var warnings: [String] {
        var w: [String] = []
        if observedWidth > priorWidth || observedHeight > priorHeight {
            w.append("the observed grid (m=\(observedWidth)) is finer than the prior grid (n=\(priorWidth)): "
                     + "f_{z,p} upsamples by \(fmt(scaleFactor)); the prior's pixels are coarser than the data's")
        }
        if 2 * observedWidth < priorWidth || 2 * observedHeight < priorHeight {
            w.append("the reconstruction must upsample the observation by n/m = \(fmt(upsamplingFactor)) > 2 "
                     + "(m=\(observedWidth), n=\(priorWidth)); paper 003 finds results prior-dominated beyond a factor ~2")
        }
        return w
    }

    public var description: String {
        var parts: [String] = []
        if let z = redshift, let kpc = priorPixelKpc, let da = angularDiameterDistanceMpc {
            parts += ["z=\(z)", "\(kpc) kpc/px", "D_A=\(fmt(da)) Mpc"]
        }
        parts += ["θ=\(fmt(priorPixelArcsec))″/px", "p=\(observedPixelArcsec)″/px",
                  "effective \(fmt(effectiveObservedPixelArcsec))″/px", "m/n=\(fmt(scaleFactor))"]
        return "\(priorHeight)×\(priorWidth) → \(observedHeight)×\(observedWidth) (" + parts.joined(separator: ", ") + ")"
    }

    /// Geometry from prior and observed pixel scales in arcsec.
    public init(priorHeight: Int, priorWidth: Int, priorPixelArcsec θ: Double, observedPixelArcsec p: Double,
                redshift: Double? = nil, priorPixelKpc: Double? = nil, angularDiameterDistanceMpc: Double? = nil) throws {
        guard priorHeight >= 1, priorWidth >= 1 else {
            throw TweedieError.invalidInput(what: "prior grid", problem: "has an empty size \(priorHeight)×\(priorWidth)")
        }
        guard θ.isFinite, θ > 0 else {
            throw TweedieError.invalidInput(what: "prior pixel scale", problem: "must be > 0 arcsec/pixel, got \(θ)")
        }
        guard p.isFinite, p > 0 else {
            throw TweedieError.invalidInput(what: "observed pixel scale", problem: "must be > 0 arcsec/pixel, got \(p)")
        }
        let my = Int((Double(priorHeight) * θ / p).rounded()), mx = Int((Double(priorWidth) * θ / p).rounded())
        let at = redshift.map { " at z=\($0)" } ?? ""
        guard my >= 1, mx >= 1 else {
            throw TweedieError.invalidInput(
                what: "observed pixel scale",
                problem: "the prior's \(priorWidth)-pixel field (\(fmt(Double(priorWidth) * θ))″\(at)) is smaller than one \(p)″ pixel (m = 0); use a smaller pixel scale or redshift")
        }
        guard my <= 16384, mx <= 16384 else {
            throw TweedieError.invalidInput(
                what: "observed pixel scale",
                problem: "gives an observed grid of \(my)×\(mx) pixels\(at) (at most 16384); check the redshift and pixel scales")
        }
        self.priorHeight = priorHeight; self.priorWidth = priorWidth
        observedHeight = my; observedWidth = mx
        priorPixelArcsec = θ; observedPixelArcsec = p
        self.redshift = redshift; self.priorPixelKpc = priorPixelKpc
        self.angularDiameterDistanceMpc = angularDiameterDistanceMpc
    }

    /// Geometry of a physical-scale prior (s kpc/px) placed at redshift z.
    public static func redshift(_ z: Double, priorPixelKpc s: Double, observedPixelArcsec p: Double,
                                priorHeight: Int, priorWidth: Int,
                                cosmology: FlatLambdaCDM = .planck2018) throws -> ResamplingGeometry {
        guard s.isFinite, s > 0 else {
            throw TweedieError.invalidInput(what: "prior pixel scale", problem: "must be > 0 kpc/pixel, got \(s)")
        }
        let da = try cosmology.angularDiameterDistance(z)
        let thetaArcsec = (s / 1000 / da) * 180 / Double.pi * 3600
        return try ResamplingGeometry(priorHeight: priorHeight, priorWidth: priorWidth, priorPixelArcsec: thetaArcsec,
                                      observedPixelArcsec: p, redshift: z, priorPixelKpc: s,
                                      angularDiameterDistanceMpc: da)
    }
}

/// f_{z,p} for a prior at a physical pixel scale (kpc/px) placed at redshift z.
public struct RedshiftResampling: GeometricResampling {
    public let geometry: ResamplingGeometry
    public let cosmology: FlatLambdaCDM
    public let resampling: AreaOverlapResampling

    public init(priorShape: ImageShape, redshift z: Double, priorPixelKpc: Double, observedPixelArcsec: Double,
                cosmology: FlatLambdaCDM = .planck2018) throws {
        geometry = try .redshift(z, priorPixelKpc: priorPixelKpc, observedPixelArcsec: observedPixelArcsec,
                                 priorHeight: priorShape.height, priorWidth: priorShape.width, cosmology: cosmology)
        self.cosmology = cosmology
        resampling = try AreaOverlapResampling(inputShape: priorShape, outputHeight: geometry.observedHeight,
                                               outputWidth: geometry.observedWidth)
    }

    public var summary: String { "redshift resampling \(geometry), \(cosmology)" }
}

/// Plain pixel-scale resampling for priors defined in ″/px.
public struct PixelScaleResampling: GeometricResampling {
    public let geometry: ResamplingGeometry
    public let resampling: AreaOverlapResampling

    public init(priorShape: ImageShape, priorPixelArcsec: Double, observedPixelArcsec: Double) throws {
        geometry = try ResamplingGeometry(priorHeight: priorShape.height, priorWidth: priorShape.width,
                                          priorPixelArcsec: priorPixelArcsec, observedPixelArcsec: observedPixelArcsec)
        resampling = try AreaOverlapResampling(inputShape: priorShape, outputHeight: geometry.observedHeight,
                                               outputWidth: geometry.observedWidth)
    }

    public var summary: String { "pixel-scale resampling \(geometry)" }
}

/// An f_{z,p} map: the area-overlap resampling its `geometry` sizes, whose A, Aᵀ and shapes it has.
public protocol GeometricResampling: ForwardOperator {
    var geometry: ResamplingGeometry { get }
    var resampling: AreaOverlapResampling { get }
}

extension GeometricResampling {
    public var inputShape: ImageShape { resampling.inputShape }
    public var outputShape: ImageShape { resampling.outputShape }
    public var isLinear: Bool { true }
    public func apply(_ x: ImageBatch) throws -> ImageBatch { try resampling.apply(x) }
    public func vjp(_ v: ImageBatch, at x: ImageBatch?) throws -> ImageBatch { try resampling.vjp(v, at: x) }
}

/// Four significant digits.
func fmt(_ x: Double) -> String { String(format: "%.4g", x) }
