// A stationary Gaussian prior x0 ~ N(μ, C) on a periodic h×w grid, channels
// independent, C circulant with a given power spectrum P (DESIGN §4.5).
//
// Exact Tweedie denoiser. With x_t = a x0 + s ε (a = √ᾱ, s = √(1−ᾱ)), x_t is
// Gaussian and E[x0 | x_t] is the Wiener filter
//     x̂0 = μ + a C (ᾱ C + s² I)⁻¹ (x_t − a μ),
// diagonal in Fourier space (C = F⁻¹ diag(P) F, PowerSpectrum.swift):
//     X̂0(k) = M(k) + a P(k) / (ᾱ P(k) + s²) · D(k),   D = F[x_t − a μ],
// and consistently ε̂ = (x_t − a x̂0)/s, per mode s / (ᾱ P + s²) · D(k) (computed
// in that form: no cancellation as s → 0). The map x_t ↦ x̂0 is affine with a
// real, k ↔ −k symmetric (hence symmetric-matrix) filter, so the VJP is the
// same filter applied to the cotangent.
//
// Exact prior draws: x0 = μ + F⁻¹[√P · F z] / N for white z ~ N(0, I), since
// C^{1/2} = F⁻¹ diag(√P) F (the unitary DFT diagonalises C).
//
// All arithmetic is Float64 (FFTW double). Images are `[c][y][x]`, x fastest.

import Foundation
import TweedieCore

public final class StationaryGaussianPrior: AnalyticPrior {
    public let imageShape: ImageShape
    public let schedule: NoiseSchedule
    public let pixelTransform: any PixelTransform = AffinePixelTransform()
    public let bands: [String]
    public let summary: String
    /// The power spectrum of every channel (eigenvalues of C).
    public let spectrum: PowerSpectrum
    /// The mean image μ, c·h·w values.
    public let mean: [Double]
    /// P on FFTW's half spectrum, `[c][ky][0…w/2]`.
    let halfSpectrum: [Double]
    let fft: RealFFT2D

    /// - Parameters:
    ///   - spectrum: P per channel (its grid and channel count fix the image shape).
    ///   - mean: 1 value (every pixel), one per channel, or a full c·h·w image.
    ///   - schedule: the diffusion schedule the sampler will use (the prior is exact for any).
    ///   - bands: channel names (empty when unknown, else one per channel).
    public init(spectrum: PowerSpectrum, mean: [Double] = [0], schedule: NoiseSchedule,
                bands: [String] = []) throws {
        let shape = ImageShape(channels: spectrum.channels, height: spectrum.height, width: spectrum.width)
        self.mean = try expandImage(mean, shape: shape, what: "gaussian prior mean")
        guard bands.isEmpty || bands.count == shape.channels else {
            throw TweedieError.shapeMismatch(what: "gaussian prior bands", expected: "\(shape.channels) names",
                                             got: "\(bands.count) (\(bands.joined(separator: ",")))")
        }
        let mu = self.mean
        self.imageShape = shape
        self.schedule = schedule
        self.bands = bands
        self.spectrum = spectrum
        self.halfSpectrum = spectrum.halfSpectrum()
        self.fft = RealFFT2D.shared(height: shape.height, width: shape.width)
        let meanText = mu.allSatisfy({ $0 == mu[0] }) ? "μ=\(mu[0])" : "μ image #\(provenanceHash([mu]))"
        self.summary = "analytic gaussian \(shape) (\(spectrum.summary) #\(provenanceHash([spectrum.values])), \(meanText); \(schedule.kind.rawValue) T=\(schedule.originalSteps))"
    }

    /// Scratch for one call of the Fourier filters (never shared between threads).
    final class Workspace {
        let input: UnsafeMutablePointer<Double>
        let spectrum: UnsafeMutablePointer<Double>
        let scratch: UnsafeMutablePointer<Double>
        let plane: UnsafeMutablePointer<Double>
        init(values: Int, fft: RealFFT2D) {
            input = .allocate(capacity: values)
            spectrum = .allocate(capacity: 2 * fft.spectrumCount)
            scratch = .allocate(capacity: 2 * fft.spectrumCount)
            plane = .allocate(capacity: fft.planeCount)
        }
        deinit { input.deallocate(); spectrum.deallocate(); scratch.deallocate(); plane.deallocate() }
    }

    /// For each channel c: one forward FFT of `ws.input` (c·h·w values), then for every filter set f
    /// the plane F⁻¹[filters_f,c ⊙ F[input_c]]/N is handed to `emit(f, c·h·w offset, plane)`.
    /// Each filter set holds c·h·(w/2+1) real half-spectrum values.
    func applyFilters(_ ws: Workspace, _ filterSets: [UnsafePointer<Double>],
                      emit: (Int, Int, UnsafePointer<Double>) -> Void) {
        let plane = imageShape.planeCount, sc = fft.spectrumCount
        for c in 0..<imageShape.channels {
            fft.forward(ws.input + c * plane, ws.spectrum)
            for (f, filters) in filterSets.enumerated() {
                fft.applyFilter(filters + c * sc, to: ws.spectrum, scratch: ws.scratch, output: ws.plane)
                emit(f, c * plane, ws.plane)
            }
        }
    }

    /// The Wiener filter a P/(ᾱ P + s²) and the noise filter s/(ᾱ P + s²) on the half spectrum.
    private func filters(alphaBar: Double) -> (x0: [Double], eps: [Double]) {
        let a = alphaBar.squareRoot(), s2 = 1 - alphaBar, s = s2.squareRoot()
        var fx = [Double](repeating: 0, count: halfSpectrum.count)
        var fe = fx
        for j in halfSpectrum.indices {
            let p = halfSpectrum[j]
            let den = alphaBar * p + s2
            fx[j] = a * p / den
            fe[j] = s / den
        }
        return (fx, fe)
    }

    /// The filters of every distinct ᾱ, computed once per call.
    private func filterTable(_ alphaBars: [Double]) -> [Double: (x0: [Double], eps: [Double])] {
        var table: [Double: (x0: [Double], eps: [Double])] = [:]
        for ab in alphaBars where table[ab] == nil { table[ab] = filters(alphaBar: ab) }
        return table
    }

    public func denoise(_ xt: [Double], alphaBar: Double) throws -> (x0: [Double], eps: [Double]) {
        try checkAlphaBar(alphaBar)
        try checkImage(xt, "x_t")
        let a = alphaBar.squareRoot()
        let ws = Workspace(values: valueCount, fft: fft)
        for i in 0..<valueCount { ws.input[i] = xt[i] - a * mean[i] }
        var x0 = mean, eps = [Double](repeating: 0, count: valueCount)
        let (fx, fe) = filters(alphaBar: alphaBar)
        fx.withUnsafeBufferPointer { px in
            fe.withUnsafeBufferPointer { pe in
                applyFilters(ws, [px.baseAddress!, pe.baseAddress!]) { f, off, plane in
                    for i in 0..<imageShape.planeCount {
                        if f == 0 { x0[off + i] += plane[i] } else { eps[off + i] = plane[i] }
                    }
                }
            }
        }
        return (x0, eps)
    }

    public func pullback(_ cotangent: [Double], at xt: [Double], alphaBar: Double) throws -> [Double] {
        try checkAlphaBar(alphaBar)
        try checkImage(cotangent, "cotangent of x̂0")
        let ws = Workspace(values: valueCount, fft: fft)
        for i in 0..<valueCount { ws.input[i] = cotangent[i] }
        var out = [Double](repeating: 0, count: valueCount)
        filters(alphaBar: alphaBar).x0.withUnsafeBufferPointer { px in
            applyFilters(ws, [px.baseAddress!]) { _, off, plane in
                for i in 0..<imageShape.planeCount { out[off + i] = plane[i] }
            }
        }
        return out
    }

    // Batched Float32 paths of the Denoiser contract: the same arithmetic as `denoise` /
    // `pullback` (Float32 in, Float64 filters, Float32 out) without per-image allocations.

    public func predict(_ xt: ImageBatch, timesteps t: [Int]) throws -> DenoiserPrediction {
        let abar = try alphaBars(for: xt, timesteps: t)
        for ab in Set(abar) { try checkAlphaBar(ab) }
        var x0 = ImageBatch(count: xt.count, shape: imageShape, bands: xt.bands, unit: xt.unit, header: xt.header)
        var eps = x0
        let per = valueCount, plane = imageShape.planeCount
        let ws = Workspace(values: per, fft: fft)
        let table = filterTable(abar)
        xt.data.withUnsafeBufferPointer { src in
            x0.data.withUnsafeMutableBufferPointer { dx in
                eps.data.withUnsafeMutableBufferPointer { de in
                    mean.withUnsafeBufferPointer { mu in
                        for n in 0..<xt.count {
                            let a = abar[n].squareRoot()
                            for i in 0..<per { ws.input[i] = Double(src[n * per + i]) - a * mu[i] }
                            let (fx, fe) = table[abar[n]]!
                            fx.withUnsafeBufferPointer { px in
                                fe.withUnsafeBufferPointer { pe in
                                    applyFilters(ws, [px.baseAddress!, pe.baseAddress!]) { f, off, p in
                                        let base = n * per + off
                                        if f == 0 {
                                            for i in 0..<plane { dx[base + i] = Float(mu[off + i] + p[i]) }
                                        } else {
                                            for i in 0..<plane { de[base + i] = Float(p[i]) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return DenoiserPrediction(x0: x0, eps: eps)
    }

    public func predictWithPullback(_ xt: ImageBatch, timesteps t: [Int]) throws -> (DenoiserPrediction, DenoiserPullback) {
        let prediction = try predict(xt, timesteps: t)
        let abar = try alphaBars(for: xt, timesteps: t)
        let count = xt.count, bands = xt.bands
        let pullback: DenoiserPullback = { [self] v in
            guard v.shape == imageShape && v.count == count else {
                throw TweedieError.shapeMismatch(what: "cotangent of x̂0 (\(summary))",
                                                 expected: "\(count)×\(imageShape)", got: "\(v.count)×\(v.shape)")
            }
            var out = ImageBatch(count: count, shape: imageShape, bands: bands)
            let per = valueCount, plane = imageShape.planeCount
            let ws = Workspace(values: per, fft: fft)
            let table = filterTable(abar)
            v.data.withUnsafeBufferPointer { src in
                out.data.withUnsafeMutableBufferPointer { dst in
                    for n in 0..<count {
                        for i in 0..<per { ws.input[i] = Double(src[n * per + i]) }
                        table[abar[n]]!.x0.withUnsafeBufferPointer { px in
                            applyFilters(ws, [px.baseAddress!]) { _, off, p in
                                for i in 0..<plane { dst[n * per + off + i] = Float(p[i]) }
                            }
                        }
                    }
                }
            }
            return out
        }
        return (prediction, pullback)
    }

    /// Draws c·h·w standard normals from `stream` (order `[c][y][x]`) and colours them: μ + C^{1/2} z.
    public func sample(using stream: SampleStream) -> [Double] {
        var z = [Double](repeating: 0, count: valueCount)
        for i in z.indices { z[i] = stream.normal() }
        return colouredNoise(z, spectrum: halfSpectrum, base: mean)
    }

    /// base + F⁻¹[√S · F z]/N per channel, for a half spectrum S (c·h·(w/2+1) values ≥ 0).
    func colouredNoise(_ z: [Double], spectrum s: [Double], base: [Double]?) -> [Double] {
        let ws = Workspace(values: valueCount, fft: fft)
        for i in 0..<valueCount { ws.input[i] = z[i] }
        var out = base ?? [Double](repeating: 0, count: valueCount)
        s.map { $0.squareRoot() }.withUnsafeBufferPointer { root in
            applyFilters(ws, [root.baseAddress!]) { _, off, plane in
                for i in 0..<imageShape.planeCount { out[off + i] += plane[i] }
            }
        }
        return out
    }

    /// The dense covariance matrix C (N×N row-major, N = c·h·w, block diagonal over channels),
    /// C_pq = c(p − q mod (h, w)). Only for small images (N ≤ `DenseLinearAlgebra.maxUnknowns`).
    public func covarianceMatrix() throws -> [Double] {
        let n = valueCount
        try DenseLinearAlgebra.checkUnknowns(n, what: "dense covariance of \(summary)")
        let h = imageShape.height, w = imageShape.width, plane = imageShape.planeCount
        var cov = [Double](repeating: 0, count: n * n)
        for c in 0..<imageShape.channels {
            let cf = spectrum.covarianceFunction(channel: c)
            for py in 0..<h {
                for px in 0..<w {
                    let row = c * plane + py * w + px
                    for qy in 0..<h {
                        let ry = (py - qy + h) % h
                        for qx in 0..<w {
                            cov[row * n + c * plane + qy * w + qx] = cf[ry * w + (px - qx + w) % w]
                        }
                    }
                }
            }
        }
        return cov
    }

    /// Pixel variance of every channel (the prior variance map is constant per channel).
    public var pixelVariances: [Double] { (0..<imageShape.channels).map { spectrum.pixelVariance(channel: $0) } }

    public func densePosterior(_ likelihood: DenseLinearGaussianLikelihood) throws -> GaussianMixturePosterior {
        let component = try GaussianPosterior(priorMean: mean, priorCovariance: .dense(covarianceMatrix()),
                                              likelihood: likelihood,
                                              priorSampler: { [self] stream in self.sample(using: stream) })
        return try GaussianMixturePosterior(priorWeights: [1], components: [component])
    }
}

/// Expands 1 value, one per channel, or a full image into c·h·w values; checks finiteness.
func expandImage(_ v: [Double], shape: ImageShape, what: String) throws -> [Double] {
    let out: [Double]
    if v.count == shape.count {
        out = v
    } else if v.count == 1 {
        out = [Double](repeating: v[0], count: shape.count)
    } else if v.count == shape.channels {
        out = v.flatMap { [Double](repeating: $0, count: shape.planeCount) }
    } else {
        throw TweedieError.shapeMismatch(what: what,
                                         expected: shape.channels > 1 ? "1 value, \(shape.channels) (one per channel) or \(shape.count) (\(shape))"
                                                                      : "1 value or \(shape.count) (\(shape))",
                                         got: "\(v.count) values")
    }
    if let bad = out.firstIndex(where: { !$0.isFinite }) {
        throw TweedieError.invalidInput(what: what, problem: "value \(out[bad]) at index \(bad) is not finite")
    }
    return out
}
