// Högbom CLEAN (Högbom 1974; the baseline of paper 000 §1–2, "CLEAN +
// PyBDSF"): iteratively find the largest |residual| pixel p inside the clean
// window, add a component of flux g·R(p)/B(0) at p to the model (g the loop
// gain), and subtract that component times the dirty beam B shifted to p from
// the whole residual. Stop when the peak falls below max(k·σ, an absolute
// floor) or after a maximum number of iterations. Then restore:
//   restored = model ⊛ G + residual,
// with G the fitted restoring beam (RestoringBeam.swift, peak 1), so both terms
// are in Jy/beam (the residual is a dirty image in Jy/beam of the dirty beam;
// the model is in Jy per pixel, i.e. Jy per component).
//
// Beam: the dirty beam on the padded 2N × 2N grid with its peak on (N, N)
// (`UVGrid.paddedDirtyBeam()`), so that it can be shifted to any pixel of the
// N × N image: B is needed at offsets −(N−1)…N−1 on each axis, which the
// padded grid holds exactly (the dirty image is the linear convolution of the
// sky with that beam, DirtyImaging.swift). Any beam of size ≥ 2N−1 with its
// peak on (M/2, M/2) is accepted.
//
// σ: given, or the robust σ (1.4826·MAD after 3σ clipping, ImageStatistics)
// of the residual, re-estimated every `sigmaInterval` iterations and before
// stopping, so the threshold follows the residual as the bright sources go.
// Peak search and subtraction share one pass over the image (the next peak is
// found while the current component is subtracted). Residual in Float32, the
// model's component sums and flux totals in Double (DESIGN §2).

import Foundation
import TweedieCore

public struct CleanSettings: Sendable, Equatable {
    /// Loop gain g (0 < g ≤ 1); 0.1 is customary.
    public var gain: Double
    /// Stop when max |residual| in the window < threshold · σ.
    public var threshold: Double
    /// Noise σ of the residual (Jy/beam); nil: robust estimate from the residual.
    public var sigma: Double?
    /// Also stop below this absolute level (Jy/beam).
    public var absoluteThreshold: Double
    public var maxIterations: Int
    /// Clean window: components only where true (N×N); nil: the whole image.
    public var window: [Bool]?
    /// Only positive components (stop at the first negative peak).
    public var positiveOnly: Bool
    /// Iterations between robust-σ re-estimates (when σ is not given).
    public var sigmaInterval: Int

    public init(gain: Double = 0.1, threshold: Double = 3, sigma: Double? = nil, absoluteThreshold: Double = 0,
                maxIterations: Int = 10_000, window: [Bool]? = nil, positiveOnly: Bool = false, sigmaInterval: Int = 100) {
        self.gain = gain; self.threshold = threshold; self.sigma = sigma; self.absoluteThreshold = absoluteThreshold
        self.maxIterations = maxIterations; self.window = window; self.positiveOnly = positiveOnly
        self.sigmaInterval = sigmaInterval
    }
}

/// Why CLEAN stopped.
public enum CleanStop: String, Sendable {
    case threshold = "peak below the threshold"
    case maxIterations = "maximum number of iterations reached"
    case negativePeak = "first negative peak (positive-only)"
    case emptyWindow = "clean window is empty"
}

public struct CleanResult: Sendable {
    public var size: Int
    /// Model: summed component fluxes per pixel (Jy), N×N `[y][x]`.
    public var model: [Float]
    /// Residual (Jy/beam), N×N.
    public var residual: [Float]
    public var iterations: Int
    public var stop: CleanStop
    /// |residual| peak in the window at the end, and the σ and threshold level used last.
    public var finalPeak: Double
    public var sigma: Double
    public var thresholdLevel: Double
    /// Σ model (Jy), accumulated in Double.
    public var totalFlux: Double
    /// Non-zero model pixels: (x, y, flux).
    public var components: [(x: Int, y: Int, flux: Double)] {
        var out: [(x: Int, y: Int, flux: Double)] = []
        for i in 0..<model.count where model[i] != 0 { out.append((i % size, i / size, Double(model[i]))) }
        return out
    }

    /// model ⊛ beam + residual (Jy/beam of the restoring beam).
    public func restored(with beam: RestoringBeam) throws -> [Float] {
        let k = beam.kernel()
        let conv = try FFTConvolution(kernel: k.values, kernelHeight: k.size, kernelWidth: k.size,
                                      imageHeight: size, imageWidth: size, boundary: .linear)
        var out = [Float](repeating: 0, count: size * size)
        model.withUnsafeBufferPointer { m in out.withUnsafeMutableBufferPointer { conv.convolve(m, into: $0) } }
        for i in 0..<out.count { out[i] += residual[i] }
        return out
    }
}

public enum HogbomClean {
    /// CLEANs an N×N dirty image with an M×M dirty beam peaked on (M/2, M/2), M ≥ 2N − 1.
    public static func clean(dirty: [Float], size n: Int, beam: [Float], beamSize m: Int,
                             settings: CleanSettings = CleanSettings()) throws -> CleanResult {
        guard n >= 1, dirty.count == n * n else {
            throw TweedieError.shapeMismatch(what: "dirty image", expected: "\(n)×\(n) values", got: "\(dirty.count)")
        }
        guard beam.count == m * m, m / 2 >= n - 1, m - m / 2 - 1 >= n - 1 else {
            throw TweedieError.shapeMismatch(what: "dirty beam", expected: "a square beam of side ≥ 2N−1 = \(2 * n - 1) with its peak on (M/2, M/2)",
                                             got: "\(beam.count) values for side \(m)")
        }
        guard dirty.allSatisfy({ $0.isFinite }), beam.allSatisfy({ $0.isFinite }) else {
            throw TweedieError.invalidInput(what: "CLEAN input", problem: "the dirty image or beam has NaN or infinite values")
        }
        let b0 = Double(beam[(m / 2) * m + m / 2])
        guard b0 > 0 else {
            throw TweedieError.invalidInput(what: "dirty beam", problem: "its centre value \(b0) is not positive")
        }
        guard settings.gain > 0, settings.gain <= 1 else {
            throw TweedieError.setting(name: "gain", problem: "\(settings.gain) must be in (0, 1]")
        }
        guard settings.threshold.isFinite, settings.threshold >= 0, settings.absoluteThreshold >= 0 else {
            throw TweedieError.setting(name: "threshold", problem: "\(settings.threshold) must be ≥ 0 (in units of σ)")
        }
        if let s = settings.sigma, !(s.isFinite && s > 0) {
            throw TweedieError.setting(name: "sigma", problem: "\(s) must be > 0")
        }
        guard settings.maxIterations >= 0 else {
            throw TweedieError.setting(name: "max_iterations", problem: "\(settings.maxIterations) must be ≥ 0")
        }
        if let w = settings.window, w.count != n * n {
            throw TweedieError.shapeMismatch(what: "clean window", expected: "\(n)×\(n) flags", got: "\(w.count)")
        }
        let window = settings.window ?? [Bool](repeating: true, count: n * n)
        var residual = dirty
        var model = [Double](repeating: 0, count: n * n)

        func robustSigma() -> Double {
            ImageStatistics.sigmaClipped(residual, kappa: 3)?.robustSigma ?? 0
        }
        func level(_ sigma: Double) -> Double { max(settings.threshold * sigma, settings.absoluteThreshold) }
        var sigma = settings.sigma ?? robustSigma()
        var limit = level(sigma)

        // Initial peak.
        var peakIndex = -1, peakAbs = -1.0
        for i in 0..<(n * n) where window[i] {
            let a = Double(abs(residual[i]))
            if a > peakAbs { peakAbs = a; peakIndex = i }
        }
        guard peakIndex >= 0 else {
            return CleanResult(size: n, model: [Float](repeating: 0, count: n * n), residual: residual, iterations: 0,
                               stop: .emptyWindow, finalPeak: 0, sigma: sigma, thresholdLevel: limit, totalFlux: 0)
        }
        var iterations = 0
        var stop = CleanStop.maxIterations
        let c = m / 2
        window.withUnsafeBufferPointer { win in
            beam.withUnsafeBufferPointer { bm in
                residual.withUnsafeMutableBufferPointer { res in
                    while iterations < settings.maxIterations {
                        if peakAbs < limit, settings.sigma == nil {
                            // Re-estimate σ before stopping: the residual has changed since the last estimate.
                            sigma = ImageStatistics.sigmaClipped(res, kappa: 3)?.robustSigma ?? 0
                            limit = level(sigma)
                        }
                        if peakAbs < limit { stop = .threshold; break }
                        let value = Double(res[peakIndex])
                        if settings.positiveOnly && value <= 0 { stop = .negativePeak; break }
                        let flux = settings.gain * value / b0
                        model[peakIndex] += flux
                        let px = peakIndex % n, py = peakIndex / n
                        let f = Float(flux)
                        var nextIndex = -1, nextAbs: Float = -1
                        for y in 0..<n {
                            let rowR = y * n, rowB = (y - py + c) * m + (c - px)
                            for x in 0..<n {
                                let r = res[rowR + x] - f * bm[rowB + x]
                                res[rowR + x] = r
                                if win[rowR + x], abs(r) > nextAbs { nextAbs = abs(r); nextIndex = rowR + x }
                            }
                        }
                        peakIndex = nextIndex; peakAbs = Double(nextAbs)
                        iterations += 1
                        if settings.sigma == nil, iterations % max(settings.sigmaInterval, 1) == 0 {
                            sigma = ImageStatistics.sigmaClipped(res, kappa: 3)?.robustSigma ?? 0
                            limit = level(sigma)
                        }
                    }
                }
            }
        }
        let total = model.reduce(0, +)
        return CleanResult(size: n, model: model.map { Float($0) }, residual: residual, iterations: iterations, stop: stop,
                           finalPeak: peakAbs, sigma: sigma, thresholdLevel: limit, totalFlux: total)
    }
}
