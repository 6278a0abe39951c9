// Power spectra of stationary Gaussian random fields on a periodic h×w grid
// (the analytic oracle prior of DESIGN §4.5).
//
// Convention (used by every analytic routine): the covariance C of one channel
// is circulant, and P(k) are its eigenvalues,
//     C = F⁻¹ diag(P) F,   F the unnormalised DFT (X(k) = Σ_r x(r) e^{−2πi k·r}),
// equivalently P(k) = E|X(k)|² / N for X = DFT(x − μ), N = h·w. The pixel
// variance is the mean of P over the N modes and the covariance function is
// c(r) = (1/N) Σ_k P(k) e^{2πi k·r}, so C_pq = c(p − q mod (h, w)).
// Wavenumbers k are in cycles per pixel (numpy's fftfreq on each axis).
//
// Arrays are stored per channel `[c][ky][kx]` in FFT order (k = 0 at index
// (0, 0)); they may be given "centred" instead (k = 0 at pixel (h/2, w/2),
// integer division — the usual layout of a power-spectrum FITS image). A real
// field needs P(k) = P(−k) and P ≥ 0: both are checked.

import Foundation
import TweedieCore

/// A power-spectrum formula, isotropic in |k| (cycles per pixel).
public enum PowerSpectrumModel: Equatable, Sendable, Codable {
    /// P(k) = A · (|k|² + k0²)^(−α/2) (α = `slope`; k0 > 0 keeps the k = 0 mode finite when α > 0).
    case powerLaw(amplitude: Double, slope: Double, k0: Double)
    /// Gaussian correlation function of length ℓ pixels, c(r) ≈ σ² exp(−|r|²/(2ℓ²)):
    /// P(k) ∝ exp(−2π² ℓ² |k|²) (its continuous Fourier transform), scaled so the mean of P
    /// over the grid — the pixel variance — is exactly σ² (the periodised, aliased Gaussian).
    case gaussianCorrelation(variance: Double, length: Double)

    /// One line for provenance.
    public var summary: String {
        switch self {
        case let .powerLaw(a, s, k0): return "power-law P(k)=\(a)·(k²+\(k0)²)^(-\(s)/2)"
        case let .gaussianCorrelation(v, l): return "gaussian-correlation σ²=\(v) ℓ=\(l)px"
        }
    }
}

/// Layout of a power-spectrum array given by the user.
public enum SpectrumLayout: String, Codable, Sendable, CaseIterable {
    /// k = 0 at index (0, 0), FFTW / numpy order.
    case fftOrder = "fft"
    /// k = 0 at pixel (h/2, w/2), integer division (fftshift-ed; a FITS image's usual layout).
    case centred
}

/// The power spectrum of every channel of a stationary Gaussian prior (channels independent).
public struct PowerSpectrum: Equatable, Sendable {
    public let height: Int
    public let width: Int
    public let channels: Int
    /// P per channel, `[c][ky][kx]` in FFT order, c·h·w values.
    public let values: [Double]
    /// Where the values came from (provenance).
    public let summary: String

    /// The spectrum of a formula, identical for every channel.
    public init(model: PowerSpectrumModel, height: Int, width: Int, channels: Int = 1) throws {
        try Self.checkGrid(height: height, width: width, channels: channels)
        var plane = [Double](repeating: 0, count: height * width)
        switch model {
        case let .powerLaw(a, alpha, k0):
            guard a.isFinite && a > 0 else {
                throw TweedieError.invalidInput(what: "power spectrum amplitude",
                                                problem: "must be a finite number > 0, got \(a)")
            }
            guard alpha.isFinite else {
                throw TweedieError.invalidInput(what: "power spectrum slope", problem: "must be finite, got \(alpha)")
            }
            guard k0.isFinite && k0 >= 0 && (k0 > 0 || alpha <= 0) else {
                throw TweedieError.invalidInput(
                    what: "power spectrum k0",
                    problem: "must be finite and > 0 when the slope is > 0 (else the k = 0 mode has infinite variance), got \(k0); try k0=0.05")
            }
            for y in 0..<height {
                let ky = fftFrequency(y, height)
                for x in 0..<width {
                    let kx = fftFrequency(x, width)
                    plane[y * width + x] = a * Foundation.pow(ky * ky + kx * kx + k0 * k0, -alpha / 2)
                }
            }
        case let .gaussianCorrelation(variance, length):
            guard variance.isFinite && variance > 0 else {
                throw TweedieError.invalidInput(what: "gaussian-correlation variance",
                                                problem: "must be a finite number > 0, got \(variance)")
            }
            guard length.isFinite && length > 0 else {
                throw TweedieError.invalidInput(what: "gaussian-correlation length",
                                                problem: "must be a finite number of pixels > 0, got \(length)")
            }
            var total = 0.0
            for y in 0..<height {
                let ky = fftFrequency(y, height)
                for x in 0..<width {
                    let kx = fftFrequency(x, width)
                    let v = Foundation.exp(-2 * Double.pi * Double.pi * length * length * (ky * ky + kx * kx))
                    plane[y * width + x] = v
                    total += v
                }
            }
            let scale = variance * Double(height * width) / total
            for i in plane.indices { plane[i] *= scale }
        }
        for v in plane where !v.isFinite {
            throw TweedieError.invalidInput(what: "power spectrum (\(model.summary))",
                                            problem: "gives a non-finite value \(v) on a \(height)×\(width) grid; change its parameters")
        }
        self.height = height
        self.width = width
        self.channels = channels
        self.values = Array([[Double]](repeating: plane, count: channels).joined())
        self.summary = model.summary
    }

    /// A spectrum given as an array: h·w values (used for every channel) or c·h·w values
    /// (`[c][ky][kx]`), in `layout`. Checks P ≥ 0, finite, and P(k) = P(−k) to 1e-6 of max P.
    public init(values: [Double], height: Int, width: Int, channels: Int = 1,
                layout: SpectrumLayout, source: String = "array") throws {
        try Self.checkGrid(height: height, width: width, channels: channels)
        let plane = height * width
        guard values.count == plane || values.count == channels * plane else {
            throw TweedieError.shapeMismatch(what: "power spectrum \(source)",
                                             expected: "\(height)×\(width) or \(channels)×\(height)×\(width) values",
                                             got: "\(values.count) values")
        }
        let perChannel = values.count == plane
        var out = [Double](repeating: 0, count: channels * plane)
        for c in 0..<channels {
            let src = perChannel ? 0 : c * plane
            for y in 0..<height {
                for x in 0..<width {
                    // FFT-order index (y, x) ← centred index ((y + h/2) mod h, (x + w/2) mod w).
                    let (sy, sx) = layout == .fftOrder ? (y, x) : ((y + height / 2) % height, (x + width / 2) % width)
                    out[c * plane + y * width + x] = values[src + sy * width + sx]
                }
            }
        }
        var maxValue = 0.0
        for (i, v) in out.enumerated() {
            guard v.isFinite && v >= 0 else {
                let c = i / plane, y = (i % plane) / width, x = i % width
                throw TweedieError.invalidInput(
                    what: "power spectrum \(source)",
                    problem: "value \(v) at channel \(c), FFT index (ky \(y), kx \(x)) is not a finite number ≥ 0; a power spectrum is non-negative")
            }
            maxValue = max(maxValue, v)
        }
        for c in 0..<channels {
            for y in 0..<height {
                for x in 0..<width {
                    let a = out[c * plane + y * width + x]
                    let b = out[c * plane + ((height - y) % height) * width + (width - x) % width]
                    if abs(a - b) > 1e-6 * maxValue {
                        throw TweedieError.invalidInput(
                            what: "power spectrum \(source)",
                            problem: "P(k) ≠ P(−k) at channel \(c), FFT index (ky \(y), kx \(x)): \(a) vs \(b); the field must be real — symmetrise it ((P(k)+P(−k))/2) or check the layout (\(layout.rawValue))")
                    }
                }
            }
        }
        // Exact symmetry from here on, so every filter keeps real fields real.
        for c in 0..<channels {
            for y in 0..<height {
                for x in 0..<width {
                    let i = c * plane + y * width + x
                    let j = c * plane + ((height - y) % height) * width + (width - x) % width
                    if i < j { let m = 0.5 * (out[i] + out[j]); out[i] = m; out[j] = m }
                }
            }
        }
        self.height = height
        self.width = width
        self.channels = channels
        self.values = out
        self.summary = "power spectrum from \(source)"
    }

    private static func checkGrid(height: Int, width: Int, channels: Int) throws {
        guard height >= 1 && width >= 1 && height <= 8192 && width <= 8192 else {
            throw TweedieError.invalidInput(what: "analytic prior grid",
                                            problem: "height and width must be in 1…8192, got \(height)×\(width)")
        }
        guard channels >= 1 && channels <= 64 else {
            throw TweedieError.invalidInput(what: "analytic prior channels", problem: "must be in 1…64, got \(channels)")
        }
    }

    private init(height: Int, width: Int, channels: Int, values: [Double], summary: String) {
        self.height = height; self.width = width; self.channels = channels; self.values = values; self.summary = summary
    }

    /// The same spectrum rescaled so that every channel's pixel variance (mean of P) is `variance`.
    public func normalised(toPixelVariance variance: Double) throws -> PowerSpectrum {
        guard variance.isFinite && variance > 0 else {
            throw TweedieError.invalidInput(what: "power spectrum variance", problem: "must be a finite number > 0, got \(variance)")
        }
        var out = values
        for c in 0..<channels {
            let current = pixelVariance(channel: c)
            guard current > 0 else {
                throw TweedieError.invalidInput(what: "power spectrum (\(summary))",
                                                problem: "channel \(c) has zero power and cannot be normalised to variance \(variance)")
            }
            for i in 0..<planeCount { out[c * planeCount + i] *= variance / current }
        }
        return PowerSpectrum(height: height, width: width, channels: channels, values: out,
                             summary: "\(summary) normalised to pixel variance \(variance)")
    }

    /// Values in one channel plane.
    public var planeCount: Int { height * width }

    /// P at FFT indices (ky, kx) of channel c.
    public func value(channel c: Int, ky: Int, kx: Int) -> Double { values[(c * height + ky) * width + kx] }

    /// Pixel variance of channel c: the mean of P over all modes (= c(0)).
    public func pixelVariance(channel c: Int) -> Double {
        var s = 0.0
        for i in 0..<planeCount { s += values[c * planeCount + i] }
        return s / Double(planeCount)
    }

    /// The real half spectrum FFTW's r2c works on, `[c][ky][0…w/2]`, c·h·(w/2+1) values.
    func halfSpectrum() -> [Double] {
        let hw = width / 2 + 1
        var out = [Double](repeating: 0, count: channels * height * hw)
        for c in 0..<channels {
            for y in 0..<height {
                for x in 0..<hw { out[(c * height + y) * hw + x] = value(channel: c, ky: y, kx: x) }
            }
        }
        return out
    }

    /// Covariance function c(r) of channel c at periodic lags r = (ry, rx) ∈ [0, h) × [0, w),
    /// `[ry][rx]`: c(r) = (1/N) Σ_k P(k) e^{2πi k·r}, by a double-precision FFT.
    public func covarianceFunction(channel c: Int) -> [Double] {
        let fft = RealFFT2D.shared(height: height, width: width)
        let half = halfSpectrum()
        var spectrum = [Double](repeating: 0, count: 2 * fft.spectrumCount)
        for j in 0..<fft.spectrumCount { spectrum[2 * j] = half[c * fft.spectrumCount + j] / Double(planeCount) }
        var out = [Double](repeating: 0, count: planeCount)
        spectrum.withUnsafeMutableBufferPointer { s in
            out.withUnsafeMutableBufferPointer { o in fft.inverse(s.baseAddress!, o.baseAddress!) }
        }
        return out
    }
}
