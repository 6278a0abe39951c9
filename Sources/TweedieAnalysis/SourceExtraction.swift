// Source extraction on an image: background and noise, k·σ threshold
// segmentation with a minimum connected area, deblending (Segmentation.swift),
// and per-source measurements (paper 000 §3.4: sources localised and their
// fluxes measured on reconstructed sky models; §3.5.3 flux accuracy).
//
// Measurements on the pixels S of one source, with v = image − background:
// - centroid: first moments (x̄, ȳ) = Σ v·(x, y) / Σ v over S (the isophotal
//   centroid, SExtractor's X_IMAGE, 0-based here);
// - flux: the isophotal sum Σ_S v (image units × pixels: Jy for a sky model in
//   Jy/pixel; divide by the beam area in pixels for a Jy/beam map), its error
//   σ·√|S| for white noise;
// - aperture flux (optional): Σ v over a circle of radius r about the centroid,
//   every pixel weighted by the fraction of it inside the circle (5×5
//   sub-pixel samples), NaN pixels skipped;
// - peak value and pixel;
// - second central moments x2, y2, xy (weights v over S), and the ellipse they
//   describe: semi-axes a ≥ b (rms extent along the principal axes) and angle
//   θ of the major axis from +x towards +y, degrees in (−90, 90].
// Background: given, or the sigma-clipped (3σ) median; σ: given, or the
// sigma-clipped robust σ = 1.4826·MAD (ImageStatistics). The threshold is
// v > k·σ. Sums accumulate in Double (DESIGN §2).

import Foundation
import TweedieCore

/// What to detect and how.
public struct DetectionSettings: Sendable, Equatable {
    /// Noise σ in image units; nil: estimated (sigma-clipped 1.4826·MAD).
    public var sigma: Double?
    /// Background level; nil: estimated (sigma-clipped median).
    public var background: Double?
    /// Detection threshold k: pixels with value − background > k·σ.
    public var threshold: Double
    /// Minimum number of 8-connected pixels of a source.
    public var minimumPixels: Int
    public var deblend: DeblendSettings
    /// Radius (pixels) of the aperture flux; nil: no aperture flux.
    public var apertureRadius: Double?

    public init(sigma: Double? = nil, background: Double? = nil, threshold: Double = 3, minimumPixels: Int = 5,
                deblend: DeblendSettings = DeblendSettings(), apertureRadius: Double? = nil) {
        self.sigma = sigma
        self.background = background
        self.threshold = threshold
        self.minimumPixels = minimumPixels
        self.deblend = deblend
        self.apertureRadius = apertureRadius
    }

    func validate() throws {
        guard threshold.isFinite, threshold > 0 else {
            throw TweedieError.setting(name: "threshold", problem: "\(threshold) must be > 0 (the detection level in units of σ, e.g. 3)")
        }
        if let s = sigma, !(s.isFinite && s > 0) {
            throw TweedieError.setting(name: "sigma", problem: "\(s) must be a finite value > 0 (the noise σ in image units)")
        }
        if let b = background, !b.isFinite {
            throw TweedieError.invalidInput(what: "background", problem: "\(b) must be finite")
        }
        guard minimumPixels >= 1 else {
            throw TweedieError.setting(name: "min_pixels", problem: "\(minimumPixels) must be ≥ 1")
        }
        guard deblend.levels >= 1, deblend.contrast.isFinite, deblend.contrast >= 0 else {
            throw TweedieError.invalidInput(what: "deblending", problem: "needs ≥ 1 level and a contrast ≥ 0 (got \(deblend.levels), \(deblend.contrast))")
        }
        if let r = apertureRadius, !(r.isFinite && r > 0) {
            throw TweedieError.setting(name: "aperture", problem: "radius \(r) must be > 0 pixels")
        }
    }
}

/// One detected source (positions 0-based pixels, `[y][x]` image).
public struct DetectedSource: Sendable, Equatable {
    public var id: Int
    /// Isophotal centroid.
    public var x: Double
    public var y: Double
    /// Isophotal flux Σ v and its white-noise error σ·√npix.
    public var flux: Double
    public var fluxError: Double
    /// Aperture flux, when asked for.
    public var apertureFlux: Double?
    /// Peak value (background-subtracted) and its pixel.
    public var peak: Double
    public var peakX: Int
    public var peakY: Int
    public var pixelCount: Int
    /// Second central moments (pixels²).
    public var x2: Double
    public var y2: Double
    public var xy: Double
    /// Ellipse of the second moments: rms semi-axes (pixels) and major-axis angle from +x to +y (degrees).
    public var semiMajor: Double
    public var semiMinor: Double
    public var theta: Double
    /// True when the source came out of a segment that deblending split.
    public var deblended: Bool

    public init(id: Int, x: Double, y: Double, flux: Double, fluxError: Double = 0, apertureFlux: Double? = nil,
                peak: Double = 0, peakX: Int = 0, peakY: Int = 0, pixelCount: Int = 0, x2: Double = 0, y2: Double = 0,
                xy: Double = 0, semiMajor: Double = 0, semiMinor: Double = 0, theta: Double = 0, deblended: Bool = false) {
        self.id = id; self.x = x; self.y = y; self.flux = flux; self.fluxError = fluxError
        self.apertureFlux = apertureFlux; self.peak = peak; self.peakX = peakX; self.peakY = peakY
        self.pixelCount = pixelCount; self.x2 = x2; self.y2 = y2; self.xy = xy
        self.semiMajor = semiMajor; self.semiMinor = semiMinor; self.theta = theta; self.deblended = deblended
    }
}

/// The result of one extraction.
public struct SourceCatalogue: Sendable {
    public var sources: [DetectedSource]
    public var width: Int
    public var height: Int
    public var background: Double
    public var sigma: Double
    /// Whether σ (and the background) were estimated from the image.
    public var sigmaEstimated: Bool
    public var backgroundEstimated: Bool
    public var settings: DetectionSettings
    /// Segment map: 0 for background, source id (1-based) elsewhere.
    public var segmentation: [Int32]
}

public enum SourceExtractor {
    /// Detects and measures the sources of a width × height image (`[y][x]`).
    /// - Parameter name: names the image in error messages (a file path, say).
    public static func extract(_ image: [Float], width: Int, height: Int, settings: DetectionSettings = DetectionSettings(),
                               name: String = "image") throws -> SourceCatalogue {
        try settings.validate()
        guard width >= 1, height >= 1, image.count == width * height else {
            throw TweedieError.shapeMismatch(what: "\(name)", expected: "\(width)×\(height) = \(width * height) pixels",
                                             got: "\(image.count) values")
        }
        var background = settings.background ?? 0, sigma = settings.sigma ?? 0
        if settings.background == nil || settings.sigma == nil {
            guard let clipped = ImageStatistics.sigmaClipped(image, kappa: 3) else {
                throw TweedieError.invalidInput(what: "\(name)", problem: "has no finite pixel (all NaN or infinite); nothing to detect")
            }
            if settings.background == nil { background = clipped.median }
            if settings.sigma == nil { sigma = clipped.robustSigma }
        } else if !image.contains(where: { $0.isFinite }) {
            throw TweedieError.invalidInput(what: "\(name)", problem: "has no finite pixel (all NaN or infinite); nothing to detect")
        }
        guard sigma.isFinite, sigma > 0 else {
            throw TweedieError.invalidInput(what: "\(name)",
                                            problem: "the robust noise estimate is 0 (more than half the pixels are equal, e.g. a noiseless model); give the noise level σ")
        }
        let v = image.map { $0.isFinite ? $0 - Float(background) : .nan }
        let t0 = Float(settings.threshold * sigma)
        var labeller = ConnectedComponents(width: width, height: height)
        let segments = Segmentation.segments(v, width: width, height: height, threshold: t0,
                                             minimumPixels: settings.minimumPixels, labeller: &labeller)
        var sources: [DetectedSource] = []
        var map = [Int32](repeating: 0, count: width * height)
        for segment in segments {
            let parts = Segmentation.deblend(segment, values: v, threshold: t0, minimumPixels: settings.minimumPixels,
                                             settings: settings.deblend, labeller: &labeller)
            for part in parts {
                var s = measure(part, values: v, width: width, sigma: sigma, id: sources.count + 1)
                s.deblended = parts.count > 1
                if let r = settings.apertureRadius {
                    s.apertureFlux = apertureSum(v, width: width, height: height, x: s.x, y: s.y, radius: r)
                }
                for p in part { map[p] = Int32(s.id) }
                sources.append(s)
            }
        }
        return SourceCatalogue(sources: sources, width: width, height: height, background: background, sigma: sigma,
                               sigmaEstimated: settings.sigma == nil, backgroundEstimated: settings.background == nil,
                               settings: settings, segmentation: map)
    }

    /// Moments of one source's pixels.
    static func measure(_ pixels: [Int], values v: [Float], width: Int, sigma: Double, id: Int) -> DetectedSource {
        var s0 = 0.0, sx = 0.0, sy = 0.0
        var peak = -Double.infinity, peakIndex = pixels[0]
        for p in pixels {
            let w = Double(v[p]), x = Double(p % width), y = Double(p / width)
            s0 += w; sx += w * x; sy += w * y
            if w > peak { peak = w; peakIndex = p }
        }
        let cx = sx / s0, cy = sy / s0
        var sxx = 0.0, syy = 0.0, sxy = 0.0
        for p in pixels {
            let w = Double(v[p]), dx = Double(p % width) - cx, dy = Double(p / width) - cy
            sxx += w * dx * dx; syy += w * dy * dy; sxy += w * dx * dy
        }
        let x2 = sxx / s0, y2 = syy / s0, xy = sxy / s0
        let mean = 0.5 * (x2 + y2), diff = 0.5 * (x2 - y2)
        let root = (diff * diff + xy * xy).squareRoot()
        let a = max(mean + root, 0).squareRoot(), b = max(mean - root, 0).squareRoot()
        var theta = 0.5 * atan2(2 * xy, x2 - y2) * 180 / .pi
        if theta <= -90 { theta += 180 }
        return DetectedSource(id: id, x: cx, y: cy, flux: s0, fluxError: sigma * Double(pixels.count).squareRoot(),
                              peak: peak, peakX: peakIndex % width, peakY: peakIndex / width, pixelCount: pixels.count,
                              x2: x2, y2: y2, xy: xy, semiMajor: a, semiMinor: b, theta: theta)
    }

    /// Σ v over a circle of `radius` about (x, y), pixels weighted by their area inside (5×5 sub-samples).
    public static func apertureSum(_ v: [Float], width: Int, height: Int, x: Double, y: Double, radius r: Double) -> Double {
        let sub = 5
        // Bounds clamped to the image in Double first, so any radius (1e20) converts to Int safely.
        func clamped(_ d: Double, _ n: Int) -> Int { d.isNaN ? 0 : Int(min(max(d, -1), Double(n))) }
        let x0 = max(0, clamped((x - r - 1).rounded(.down), width)), x1 = min(width - 1, clamped((x + r + 1).rounded(.up), width))
        let y0 = max(0, clamped((y - r - 1).rounded(.down), height)), y1 = min(height - 1, clamped((y + r + 1).rounded(.up), height))
        guard x0 <= x1, y0 <= y1 else { return 0 }
        let r2 = r * r, inner = max(r - 0.7072, 0), inner2 = inner * inner, outer = r + 0.7072, outer2 = outer * outer
        var sum = 0.0
        for py in y0...y1 {
            for px in x0...x1 {
                let value = v[py * width + px]
                if !value.isFinite { continue }
                let dx = Double(px) - x, dy = Double(py) - y, d2 = dx * dx + dy * dy
                if d2 >= outer2 { continue }
                var fraction = 1.0
                if d2 > inner2 {
                    // Pixel straddles the edge: count sub-samples inside.
                    var inside = 0
                    for j in 0..<sub {
                        let sy = dy + (Double(j) + 0.5) / Double(sub) - 0.5
                        for i in 0..<sub {
                            let sx = dx + (Double(i) + 0.5) / Double(sub) - 0.5
                            if sx * sx + sy * sy <= r2 { inside += 1 }
                        }
                    }
                    fraction = Double(inside) / Double(sub * sub)
                }
                sum += fraction * Double(value)
            }
        }
        return sum
    }
}
