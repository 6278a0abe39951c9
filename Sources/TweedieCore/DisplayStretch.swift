// Display stretches for previews: value → [0, 1] grey level (DESIGN §6,
// "preview.png … with a stated stretch").
//
// - linear: low = min, high = max of the finite values; u = (x − low)/(high − low).
// - asinh (Lupton et al. 1999, AJ 118, 1406, "asinh magnitudes", used for display
//   as in Lupton et al. 2004, PASP 116, 133): with the sigma-clipped sky level m
//   and noise σ (3σ clipping of the median / 1.4826·MAD, `ImageStatistics`),
//   low = m − σ, high = max, softening a = σ:
//   u = asinh((x − low)/a) / asinh((high − low)/a), x < low → 0.
//   Nearly linear within a of the sky (noise stays visible), logarithmic beyond,
//   so faint outskirts and bright cores show in one picture. When σ = 0 the
//   softening falls back to (high − low)/10.
// - zscale: linear between the limits of IRAF's `zscale` algorithm (IRAF
//   `display` task; the same as astropy's ZScaleInterval) — see `ZScale`.
// Everything is clamped to [0, 1]. A flat image (high ≤ low) is mid-grey 0.5.
// NaN stays NaN (the preview paints it black).
import Foundation

/// How values are mapped to grey levels in a preview.
public enum DisplayStretch: String, CaseIterable, Sendable {
    case linear, asinh, zscale

    /// The mapping this stretch uses for `values` (a plane; non-finite values ignored).
    public func mapping<C: Collection>(for values: C) -> StretchMapping where C.Element == Float {
        let stats = ImageStatistics(values)
        guard stats.finiteCount > 0 else {
            return StretchMapping(stretch: self, low: 0, high: 0, softening: 0)
        }
        switch self {
        case .linear:
            return StretchMapping(stretch: .linear, low: stats.min, high: stats.max, softening: 0)
        case .zscale:
            let (z1, z2) = ZScale.limits(values) ?? (stats.min, stats.max)
            return StretchMapping(stretch: .zscale, low: z1, high: z2, softening: 0)
        case .asinh:
            let clipped = ImageStatistics.sigmaClipped(values)
            let sigma = clipped?.robustSigma ?? 0
            let sky = clipped?.median ?? stats.median
            let low = sky - sigma
            let high = stats.max
            var soft = sigma
            if !(soft > 0) { soft = (high - low) / 10 }
            return StretchMapping(stretch: .asinh, low: low, high: high, softening: soft)
        }
    }
}

/// A concrete value → [0, 1] map: the stretch and its parameters.
public struct StretchMapping: Equatable, Sendable, CustomStringConvertible {
    public var stretch: DisplayStretch
    /// Values at or below `low` map to 0, at or above `high` to 1.
    public var low: Double
    public var high: Double
    /// The asinh softening a (0 for the linear stretches).
    public var softening: Double

    public init(stretch: DisplayStretch, low: Double, high: Double, softening: Double) {
        self.stretch = stretch; self.low = low; self.high = high; self.softening = softening
    }

    /// The grey level of `x` in [0, 1]; NaN for NaN.
    @inlinable
    public func unit(_ x: Float) -> Double {
        if x.isNaN { return .nan }
        guard high > low else { return 0.5 }
        let v = Double(x)
        let u: Double
        switch stretch {
        case .linear, .zscale:
            u = (v - low) / (high - low)
        case .asinh:
            u = Foundation.asinh(Swift.max(v - low, 0) / softening) / Foundation.asinh((high - low) / softening)
        }
        return Swift.min(Swift.max(u, 0), 1)
    }

    public var description: String {
        let f = { (d: Double) in String(format: "%.6g", d) }
        switch stretch {
        case .linear: return "linear from \(f(low)) to \(f(high))"
        case .zscale: return "zscale: linear from \(f(low)) to \(f(high))"
        case .asinh: return "asinh from \(f(low)) (sky − σ) to \(f(high)), softening \(f(softening)) (σ)"
        }
    }
}

/// IRAF's zscale display limits (IRAF `display`; astropy `ZScaleInterval`):
/// limits near the median whose width follows the slope of the sorted pixel
/// values, so that a sky-dominated image shows its noise and faint structure.
///
/// 1. Sample: the finite values in storage order, every `stride`-th with
///    stride = max(1, ⌊n / sampleCount⌋), at most `sampleCount`; sort them
///    (npix samples, zmin/zmax the smallest/largest, center = ⌊(npix − 1)/2⌋,
///    median the middle sample or mean of the two middle ones).
/// 2. Fit a straight line sample(i) ≈ a + b·i by least squares, iteratively:
///    reject samples whose residual exceeds `krej` × the standard deviation of
///    the residuals of the samples still kept, widen every rejection to a
///    window of ngrow = max(1, ⌊0.01·npix⌋) neighbours, and refit; stop after
///    `maxIterations` fits, when a pass rejects nothing new, or when fewer
///    than minpix = max(`minPixels`, ⌊`maxReject`·npix⌋) samples remain.
/// 3. If enough samples remain: b ← b / `contrast`,
///    z1 = max(zmin, median − (center − 1)·b), z2 = min(zmax, median + (npix − center)·b);
///    otherwise z1 = zmin, z2 = zmax.
public enum ZScale {
    public static func limits<C: Collection>(_ values: C, sampleCount: Int = 1000, contrast: Double = 0.25,
                                             krej: Double = 2.5, maxReject: Double = 0.5, minPixels: Int = 5,
                                             maxIterations: Int = 5) -> (low: Double, high: Double)? where C.Element == Float {
        // 1. Samples.
        var finite: [Double] = []
        finite.reserveCapacity(values.count)
        for v in values where v.isFinite { finite.append(Double(v)) }
        guard !finite.isEmpty else { return nil }
        let stride = max(1, finite.count / sampleCount)
        var samples: [Double] = []
        samples.reserveCapacity(min(sampleCount, finite.count))
        var i = 0
        while i < finite.count && samples.count < sampleCount {
            samples.append(finite[i]); i += stride
        }
        samples.sort()
        let npix = samples.count
        let zmin = samples[0], zmax = samples[npix - 1]
        let center = (npix - 1) / 2
        let median = npix % 2 == 1 ? samples[center] : 0.5 * (samples[center] + samples[center + 1])
        let minpix = max(minPixels, Int(Double(npix) * maxReject))
        let ngrow = max(1, Int(Double(npix) * 0.01))

        // 2. Iterative line fit with rejection.
        var bad = [Bool](repeating: false, count: npix)
        var ngood = npix
        var lastNgood = npix + 1
        var slope = 0.0
        for _ in 0..<maxIterations {
            if ngood >= lastNgood || ngood < minpix { break }
            var sx = 0.0, sy = 0.0, n = 0.0
            for k in 0..<npix where !bad[k] { sx += Double(k); sy += samples[k]; n += 1 }
            let mx = sx / n, my = sy / n
            var sxy = 0.0, sxx = 0.0
            for k in 0..<npix where !bad[k] {
                let dx = Double(k) - mx
                sxy += dx * (samples[k] - my); sxx += dx * dx
            }
            slope = sxx > 0 ? sxy / sxx : 0
            let intercept = my - slope * mx
            var ss = 0.0, sr = 0.0
            for k in 0..<npix where !bad[k] {
                let r = samples[k] - (intercept + slope * Double(k))
                sr += r; ss += r * r
            }
            let meanR = sr / n
            let threshold = krej * max(ss / n - meanR * meanR, 0).squareRoot()
            var rejected = bad
            for k in 0..<npix {
                let r = samples[k] - (intercept + slope * Double(k))
                if r < -threshold || r > threshold { rejected[k] = true }
            }
            // Widen each rejection: sample k is bad if a rejected sample lies in [k − h2, k + h1],
            // h1 = ⌊(ngrow − 1)/2⌋, h2 = ngrow − 1 − h1 (a centred box of ngrow samples).
            let h1 = (ngrow - 1) / 2, h2 = ngrow - 1 - h1
            var grown = [Bool](repeating: false, count: npix)
            for k in 0..<npix where rejected[k] {
                for j in max(0, k - h1)...min(npix - 1, k + h2) { grown[j] = true }
            }
            bad = grown
            lastNgood = ngood
            ngood = bad.reduce(0) { $0 + ($1 ? 0 : 1) }
        }

        // 3. Limits.
        guard ngood >= minpix else { return (zmin, zmax) }
        let b = contrast > 0 ? slope / contrast : slope
        let z1 = max(zmin, median - Double(center - 1) * b)
        let z2 = min(zmax, median + Double(npix - center) * b)
        return (z1, z2)
    }
}
