// The values of a star-PSF estimate (StarPSFEstimation.swift): the options
// that steer it, what happened to each candidate star, and the result — the
// combined elliptical Moffat profile, its rendered PSF and the FITS provenance
// cards that describe it.
//
// Conventions: pixel coordinates 0-based, images row-major [y][x]; the rendered
// PSF has an odd size, unit sum and its centre on pixel (h/2, w/2) (DESIGN §2);
// position angles are measured from +x towards +y.

import Foundation
import TweedieCore
import TweedieOperators

public struct StarPSFOptions: Sendable {
    /// A candidate's peak must exceed sky + detectionSigma · σ.
    public var detectionSigma: Double = 10
    /// Other peaks above sky + neighbourSigma · σ count as neighbours.
    public var neighbourSigma: Double = 5
    /// Saturation level in image units (nil: SATURATE / SATLEVEL from the header, else only flat tops).
    public var saturationLevel: Double? = nil
    /// Fit stamp half-size in pixels (nil: from the FWHM guess).
    public var fitRadius: Int? = nil
    /// At most this many candidates (the brightest) are examined.
    public var maxStars: Int = 200
    /// κ of the outlier clipping.
    public var clipSigma: Double = 3
    /// Fit a free constant sky instead of holding the annulus median.
    public var fitBackground: Bool = false
    /// Gauss–Legendre points per axis per pixel in the fitted model.
    public var subpixelOrder: Int = 4
    /// Size of the rendered PSF (odd; nil: the smallest odd size holding 99.5 % of the flux along the major axis, 9…255).
    public var psfSize: Int? = nil
    public init() {}
}

/// What happened to one candidate.
public enum StarStatus: Equatable, Sendable, CustomStringConvertible {
    case used
    case rejected(String)
    public var description: String {
        switch self {
        case .used: return "used"
        case let .rejected(why): return why
        }
    }
}

/// One candidate star: where it was found, its fit, and whether it was used.
public struct StarMeasurement: Sendable {
    /// Peak pixel (0-based) and its value.
    public var peakX: Int
    public var peakY: Int
    public var peak: Double
    /// Local sky (annulus median) used for the fit.
    public var localSky: Double?
    public var fit: EllipticalMoffatFit?
    public var status: StarStatus
}

public struct StarPSFEstimate: Sendable {
    /// Every candidate examined, brightest first.
    public let stars: [StarMeasurement]
    /// The combined profile (pixel units).
    public let profile: EllipticalMoffatPSF
    /// The rendered PSF (odd size, unit sum, centred on (h/2, w/2)).
    public let psf: PointSpreadFunction
    /// Global sky and σ (clipped median, 1.4826·MAD).
    public let sky: Double
    public let skySigma: Double
    public let fitRadius: Int
    public let annulus: (inner: Int, outer: Int)
    /// Rows and columns masked as bad lines (0-based).
    public let badRows: [Int]
    public let badColumns: [Int]
    public var usedStars: [StarMeasurement] { stars.filter { $0.status == .used } }

    /// FITS provenance of the combined PSF: where the stars came from, how many, the profile's FWHM
    /// (px; and arcsec with the pixel scale), axes, position angle (deg from +x to +y), ellipticity, β.
    public func provenanceCards(source: String, pixelScale scale: Double?) -> [FITSCard] {
        let p = profile
        var cards = [
            FITSCard(keyword: "PSFTYPE", value: .string("stars"), comment: "elliptical Moffat fitted to stars"),
            FITSCard(keyword: "PSFSRC", value: .string(source), comment: "image the stars came from"),
            FITSCard(keyword: "PSFDESC", value: .string(FITSCard.asciiText(p.summary)), comment: "combined profile, pixel units"),
            FITSCard(keyword: "NSTARS", value: .int(usedStars.count), comment: "stars combined"),
            FITSCard(keyword: "PSFFWHMP", value: .double(p.fwhm), comment: "FWHM sqrt(major*minor), px"),
            FITSCard(keyword: "PSFFWHM1", value: .double(p.fwhmMajor), comment: "FWHM along the major axis, px"),
            FITSCard(keyword: "PSFFWHM2", value: .double(p.fwhmMinor), comment: "FWHM along the minor axis, px"),
            FITSCard(keyword: "PSFPA", value: .double(p.positionAngle * 180 / .pi), comment: "major axis, deg from +x to +y"),
            FITSCard(keyword: "PSFELL", value: .double(p.ellipticity), comment: "ellipticity 1 - minor/major"),
            FITSCard(keyword: "PSFBETA", value: .double(p.beta), comment: "Moffat beta"),
        ]
        if let s = scale {
            cards.append(FITSCard(keyword: "PIXSCALE", value: .double(s), comment: "pixel scale, arcsec/px"))
            cards.append(FITSCard(keyword: "PSFFWHM", value: .double(p.fwhm * s), comment: "FWHM, arcsec"))
        }
        return cards
    }
}
