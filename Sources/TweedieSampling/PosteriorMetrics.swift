// Scores of a posterior run (DESIGN §6; paper 003 §3.4):
// - variance ratio var_post / var_prior pixel-wise, and its average over a
//   centred disk (paper 003 Table 2: r = 30 px on a 256 px grid), per band;
// - which prior bands the data observe at all (`observedBands`): a band the
//   likelihood never sees keeps var_post ≈ var_prior, so a headline averaged
//   over it measures nothing but the prior;
// - reduced χ² = ‖√W (y − A x)‖² / N_usable of the mean and of each sample;
// - with a truth image: MSE, PSNR (peak = max − min of the truth), SSIM (Wang
//   et al. 2004: 11×11 Gaussian window σ = 1.5, K1 = 0.01, K2 = 0.03, per band,
//   averaged) and the coverage of the truth by pixel-wise credible intervals —
//   empirical ones by the same type-6 quantile rule as `tweedie calibrate`
//   (`CalibrationAccumulator.quantile`), so a sampler whose draws are exact
//   covers the truth at the nominal rate for any number of samples K ≥ 39.
// Every reduction accumulates in Double.

import Foundation
import TweedieCore

public enum PosteriorMetrics {
    /// Pixel-wise var_post / var_prior; prior variance ≤ 0 gives NaN there.
    public static func varianceRatio(posterior: [Double], prior: [Float]) -> [Float] {
        precondition(posterior.count == prior.count)
        return zip(posterior, prior).map { p, q in q > 0 ? Float(p / Double(q)) : .nan }
    }

    /// Mean of `map` (per band, then averaged over bands) inside a disk of `radius` px around
    /// (cx, cy) (0-based pixel coordinates; pixel centres at integers). NaNs are skipped.
    public static func apertureMean(_ map: [Float], shape: ImageShape, radius: Double,
                                    center: (x: Double, y: Double)) -> Double {
        var sum = 0.0, n = 0
        for c in 0..<shape.channels {
            for y in 0..<shape.height {
                for x in 0..<shape.width {
                    let dx = Double(x) - center.x, dy = Double(y) - center.y
                    guard dx * dx + dy * dy <= radius * radius else { continue }
                    let v = map[(c * shape.height + y) * shape.width + x]
                    if v.isFinite { sum += Double(v); n += 1 }
                }
            }
        }
        return n > 0 ? sum / Double(n) : .nan
    }

    /// Mean of `map` inside the disk, one value per band (NaN for a band with no finite value there).
    public static func apertureMeanPerBand(_ map: [Float], shape: ImageShape, radius: Double,
                                           center: (x: Double, y: Double)) -> [Double] {
        let plane = shape.planeCount
        return (0..<shape.channels).map { c in
            let one = ImageShape(channels: 1, height: shape.height, width: shape.width)
            return apertureMean(Array(map[(c * plane)..<((c + 1) * plane)]), shape: one, radius: radius, center: center)
        }
    }

    /// Which bands of the prior grid the likelihood sees: band c is observed when
    /// ‖√W (A(p_c) − A(0))‖² > 10⁻¹² · max_c′ ‖√W (A(p_c′) − A(0))‖², p_c a fixed pseudo-random
    /// probe (values in [0.5, 1.5)) that is non-zero in band c only. Generic over the chain: a band
    /// selection drops a band's response to exactly 0, and so do zero weights (a band whose data
    /// are all masked); mixing operators (a PSF, a resampling, a UV sampling) keep it. The 10⁻¹²
    /// energy ratio (10⁻⁶ in amplitude) is far above Float round-off leaking between bands and far
    /// below any band the data constrain. One `apply` on a batch of C + 1 images.
    /// - Parameter sqrtWeights: √W of one observation (`NoiseModel.sqrtWeights`), 0 where masked.
    public static func observedBands(of forwardOperator: any ForwardOperator, sqrtWeights: [Float]) throws -> [Bool] {
        let shape = forwardOperator.inputShape, out = forwardOperator.outputShape
        guard sqrtWeights.count == out.count else {
            throw TweedieError.shapeMismatch(what: "noise weights vs operator output (\(forwardOperator.summary))",
                                             expected: "\(out.count) values", got: "\(sqrtWeights.count)")
        }
        let plane = shape.planeCount, channels = shape.channels
        var probes = ImageBatch(count: channels + 1, shape: shape)   // image 0: all zero
        var state: UInt64 = 0x7EED1E
        for c in 0..<channels {
            let base = (c + 1) * shape.count + c * plane
            for j in 0..<plane {
                state &+= 0x9E37_79B9_7F4A_7C15
                probes.data[base + j] = Float(0.5 + Double(splitMix64(state) >> 11) / Double(1 << 53))
            }
        }
        let response = try forwardOperator.apply(probes)
        let n = out.count
        let energy = (0..<channels).map { c -> Double in
            var e = 0.0
            for j in 0..<n {
                let d = Double(sqrtWeights[j]) * (Double(response.data[(c + 1) * n + j]) - Double(response.data[j]))
                if d.isFinite { e += d * d }
            }
            return e
        }
        let top = energy.max() ?? 0
        return energy.map { top > 0 && $0 > 1e-12 * top }
    }

    /// The default aperture: centred, radius n·30/256 px (the paper's 30 px on 256 px).
    public static func defaultAperture(_ shape: ImageShape) -> (radius: Double, center: (x: Double, y: Double)) {
        (Double(min(shape.width, shape.height)) * 30 / 256,
         (Double(shape.width - 1) / 2, Double(shape.height - 1) / 2))
    }

    public static func mse(_ a: [Float], _ b: [Float]) -> Double {
        precondition(a.count == b.count)
        var s = 0.0
        for j in a.indices { let d = Double(a[j]) - Double(b[j]); s += d * d }
        return s / Double(a.count)
    }

    /// PSNR in dB with peak = max(truth) − min(truth).
    public static func psnr(estimate: [Float], truth: [Float]) -> Double {
        let peak = Double((truth.max() ?? 0) - (truth.min() ?? 0))
        return 10 * log10(peak * peak / mse(estimate, truth))
    }

    /// Mean SSIM over bands (Gaussian-weighted local statistics, reflective borders handled by
    /// restricting to windows fully inside the image, as Wang et al.'s reference does).
    public static func ssim(estimate: [Float], truth: [Float], shape: ImageShape) -> Double {
        let radius = 5, sigma = 1.5
        var w = [Double](repeating: 0, count: 2 * radius + 1)
        for i in -radius...radius { w[i + radius] = exp(-Double(i * i) / (2 * sigma * sigma)) }
        let ws = w.reduce(0, +); w = w.map { $0 / ws }
        let peak = Double((truth.max() ?? 0) - (truth.min() ?? 0))
        let c1 = (0.01 * peak) * (0.01 * peak), c2 = (0.03 * peak) * (0.03 * peak)
        var total = 0.0, windows = 0
        let (h, wd) = (shape.height, shape.width)
        guard h > 2 * radius, wd > 2 * radius else { return .nan }
        for c in 0..<shape.channels {
            let off = c * h * wd
            for y in radius..<(h - radius) {
                for x in radius..<(wd - radius) {
                    var mx = 0.0, my = 0.0, sxx = 0.0, syy = 0.0, sxy = 0.0
                    for dy in -radius...radius {
                        for dx in -radius...radius {
                            let k = w[dy + radius] * w[dx + radius]
                            let a = Double(estimate[off + (y + dy) * wd + x + dx])
                            let b = Double(truth[off + (y + dy) * wd + x + dx])
                            mx += k * a; my += k * b; sxx += k * a * a; syy += k * b * b; sxy += k * a * b
                        }
                    }
                    let vx = sxx - mx * mx, vy = syy - my * my, cxy = sxy - mx * my
                    total += ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
                    windows += 1
                }
            }
        }
        return total / Double(windows)
    }

    /// Fraction of pixels whose truth lies in mean ± z·std (Gaussian credible interval of
    /// probability `level`, z = Φ⁻¹((1+level)/2)).
    public static func gaussianCoverage(truth: [Float], mean: [Double], variance: [Double], level: Double) -> Double {
        let z = normalQuantile(0.5 + level / 2)
        var inside = 0
        for j in truth.indices where abs(Double(truth[j]) - mean[j]) <= z * variance[j].squareRoot() { inside += 1 }
        return Double(inside) / Double(truth.count)
    }

    /// The empirical quantile rule of every coverage score (`tweedie calibrate`'s and `sample
    /// --truth`'s): type 6, position p(K+1) among the sorted values X_(1) … X_(K), interpolated and
    /// clamped to [X_(1), X_(K)]. A truth exchangeable with the K samples (what an exact sampler
    /// gives) has a rank uniform on K+1 places, so [q_{(1−L)/2}, q_{(1+L)/2}] covers it with
    /// probability L whenever both positions lie in [1, K]; type 7 (position p(K−1)+1) covers less
    /// (≈ 92 % at L = 95 %, K = 64).
    public static func empiricalQuantile(sorted: [Float], _ p: Double) -> Double {
        CalibrationAccumulator.quantile(sorted, p)
    }

    /// The fewest samples for which the central `level` interval's type-6 positions
    /// ((1 ∓ level)/2 · (K+1)) both lie among the order statistics, so the interval is unclamped:
    /// K + 1 ≥ 2 / (1 − level) (39 for 95 %).
    public static func minimumSamplesForEmpiricalCoverage(level: Double) -> Int {
        Int((2 / (1 - level) - 1e-9).rounded(.up)) - 1   // 1e-9: 2/(1 − 0.95) is 39.99…96 or 40.0…04 in Double
    }

    /// Fraction of pixels whose truth lies in the central empirical interval of probability `level`
    /// of `samples` (count × perImage values, index-major), by the type-6 rule (`empiricalQuantile`).
    public static func empiricalCoverage(truth: [Float], samples: [Float], count: Int, level: Double) -> Double {
        let per = truth.count
        precondition(count >= 1 && samples.count >= count * per)
        var inside = 0
        var column = [Float](repeating: 0, count: count)
        let lo = (1 - level) / 2, hi = 1 - lo
        for j in 0..<per {
            for k in 0..<count { column[k] = samples[k * per + j] }
            column.sort()
            let t = Double(truth[j])
            if t >= empiricalQuantile(sorted: column, lo) && t <= empiricalQuantile(sorted: column, hi) { inside += 1 }
        }
        return Double(inside) / Double(per)
    }

    /// Standard-normal quantile (Acklam's rational approximation refined by one Halley step; |error| < 1e-12).
    public static func normalQuantile(_ p: Double) -> Double {
        precondition(p > 0 && p < 1)
        let a = [-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
                 1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00]
        let b = [-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                 6.680131188771972e+01, -1.328068155288572e+01]
        let c = [-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                 -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00]
        let d = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00]
        var x: Double
        if p < 0.02425 {
            let q = (-2 * log(p)).squareRoot()
            x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
                ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
        } else if p > 1 - 0.02425 {
            let q = (-2 * log(1 - p)).squareRoot()
            x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
                ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
        } else {
            let q = p - 0.5, r = q * q
            x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
                (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)
        }
        let e = 0.5 * erfc(-x / 2.0.squareRoot()) - p
        let u = e * (2 * Double.pi).squareRoot() * exp(x * x / 2)
        return x - u / (1 + x * u / 2)
    }
}
