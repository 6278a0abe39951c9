// The exact posterior of a stationary Gaussian prior under a periodic
// convolution and white Gaussian noise, in closed form per Fourier mode
// (DESIGN §4.5):
//     y = k ⊛ x + n,  x ~ N(μ, C),  n ~ N(0, σ² I),  per channel.
// Every matrix is circulant, so the unitary DFT diagonalises all of them: with
// H(k) = DFT of the kernel (its transfer function), P(k) the prior spectrum,
// R = F[y − k ⊛ μ],
//     posterior mean       m = μ + F⁻¹[ P H̄ / (|H|² P + σ²) · R ],
//     posterior spectrum   V(k) = P σ² / (|H|² P + σ²)   (eigenvalues of the posterior covariance),
//     pixel variance       (1/N) Σ_k V(k), the same at every pixel (stationary),
//     log evidence         −½ Σ_k [ |R(k)|² / (N (|H|²P + σ²)) + log(|H|²P + σ²) + log 2π ].
// Exact draws: m + F⁻¹[√V · F z]/N for white z.
//
// Conventions: true convolution (kernel flipped) with the kernel centred on
// pixel (kh/2, kw/2) (integer division; DESIGN §2), wrapping periodically on
// the h×w grid; kernel no larger than the image; images `[c][y][x]`; F the
// unnormalised DFT, P as in PowerSpectrum.swift. Float64 throughout.

import Foundation
import TweedieCore

public struct FourierGaussianPosterior: Sendable {
    public let prior: StationaryGaussianPrior
    /// Posterior mean, c·h·w values.
    public let mean: [Double]
    /// Posterior covariance eigenvalues V(k) per channel, `[c][ky][kx]` FFT order (a PowerSpectrum).
    public let spectrum: PowerSpectrum
    /// Posterior pixel variance per channel (stationary: the same at every pixel).
    public let pixelVariances: [Double]
    /// log p(y) (natural log, with the 2π terms).
    public let logEvidence: Double
    /// V on FFTW's half spectrum, for sampling.
    private let halfVariance: [Double]

    /// - Parameters:
    ///   - kernel: kh·kw values (used for every channel) or c·kh·kw, `[c][y][x]`, centred on (kh/2, kw/2).
    ///   - noiseSigma: σ per channel (1 value or c values), > 0.
    ///   - observation: y, c·h·w values.
    public init(prior: StationaryGaussianPrior, kernel: [Double], kernelHeight kh: Int, kernelWidth kw: Int,
                noiseSigma: [Double], observation: [Double]) throws {
        let shape = prior.imageShape
        let h = shape.height, w = shape.width, ch = shape.channels, plane = shape.planeCount
        guard kh >= 1 && kw >= 1 && kh <= h && kw <= w else {
            throw TweedieError.invalidInput(what: "convolution kernel",
                                            problem: "size \(kh)×\(kw) must be between 1×1 and the image size \(h)×\(w); crop the kernel")
        }
        guard kernel.count == kh * kw || kernel.count == ch * kh * kw else {
            throw TweedieError.shapeMismatch(what: "convolution kernel", expected: "\(kh)×\(kw) or \(ch)×\(kh)×\(kw) values",
                                             got: "\(kernel.count)")
        }
        if let bad = kernel.firstIndex(where: { !$0.isFinite }) {
            throw TweedieError.invalidInput(what: "convolution kernel", problem: "value \(kernel[bad]) at index \(bad) is not finite")
        }
        let sigmas = noiseSigma.count == 1 ? [Double](repeating: noiseSigma[0], count: ch) : noiseSigma
        guard sigmas.count == ch else {
            throw TweedieError.shapeMismatch(what: "noise σ", expected: "1 or \(ch) values", got: "\(noiseSigma.count)")
        }
        if let bad = sigmas.first(where: { !($0.isFinite && $0 > 0) }) {
            throw TweedieError.invalidInput(what: "noise σ", problem: "must be finite and > 0, got \(bad)")
        }
        guard observation.count == shape.count else {
            throw TweedieError.shapeMismatch(what: "observation", expected: "\(shape.count) values (\(shape))", got: "\(observation.count)")
        }
        if let bad = observation.firstIndex(where: { !$0.isFinite }) {
            throw TweedieError.invalidInput(what: "observation", problem: "value \(observation[bad]) at index \(bad) is not finite")
        }

        let fft = prior.fft
        let sc = fft.spectrumCount, hw = fft.halfWidth
        let n = Double(plane)
        var mean = prior.mean
        var halfV = [Double](repeating: 0, count: ch * sc)
        var fullV = [Double](repeating: 0, count: ch * plane)
        var pixelVariances = [Double](repeating: 0, count: ch)
        var logEvidence = 0.0
        var kplane = [Double](repeating: 0, count: plane)
        var hSpec = [Double](repeating: 0, count: 2 * sc)
        var muSpec = hSpec, rSpec = hSpec, scratch = hSpec
        var work = [Double](repeating: 0, count: plane)
        for c in 0..<ch {
            // Kernel wrapped so its centre sits on pixel (0, 0): offset (u − kh/2, v − kw/2).
            for i in kplane.indices { kplane[i] = 0 }
            let kbase = kernel.count == kh * kw ? 0 : c * kh * kw
            for u in 0..<kh {
                for v in 0..<kw {
                    let y = ((u - kh / 2) % h + h) % h, x = ((v - kw / 2) % w + w) % w
                    kplane[y * w + x] += kernel[kbase + u * kw + v]
                }
            }
            let sigma2 = sigmas[c] * sigmas[c]
            kplane.withUnsafeBufferPointer { fft.forward($0.baseAddress!, &hSpec) }
            prior.mean.withUnsafeBufferPointer { fft.forward($0.baseAddress! + c * plane, &muSpec) }
            // r = y − k ⊛ μ  ⇒  R = F[y] − H·F[μ].
            observation.withUnsafeBufferPointer { fft.forward($0.baseAddress! + c * plane, &rSpec) }
            for j in 0..<sc {
                let hr = hSpec[2 * j], hi = hSpec[2 * j + 1], mr = muSpec[2 * j], mi = muSpec[2 * j + 1]
                rSpec[2 * j] -= hr * mr - hi * mi
                rSpec[2 * j + 1] -= hr * mi + hi * mr
            }
            // Mean update P H̄ R/(|H|²P + σ²) / N, posterior spectrum, evidence terms.
            for j in 0..<sc {
                let p = prior.halfSpectrum[c * sc + j]
                let hr = hSpec[2 * j], hi = hSpec[2 * j + 1]
                let h2 = hr * hr + hi * hi
                let den = h2 * p + sigma2
                let rr = rSpec[2 * j], ri = rSpec[2 * j + 1]
                let g = p / den / n
                scratch[2 * j] = g * (hr * rr + hi * ri)        // Re(H̄ R)
                scratch[2 * j + 1] = g * (hr * ri - hi * rr)    // Im(H̄ R)
                let v = p * sigma2 / den
                halfV[c * sc + j] = v
                // Half-spectrum column kx counts twice unless it is its own mirror (kx = 0 or the even-w Nyquist).
                let kx = j % hw
                let mult = (kx == 0 || (w % 2 == 0 && kx == w / 2)) ? 1.0 : 2.0
                pixelVariances[c] += mult * v / n
                logEvidence -= 0.5 * mult * ((rr * rr + ri * ri) / (n * den) + Foundation.log(den) + Foundation.log(2 * Double.pi))
            }
            scratch.withUnsafeMutableBufferPointer { s in work.withUnsafeMutableBufferPointer { fft.inverse(s.baseAddress!, $0.baseAddress!) } }
            for i in 0..<plane { mean[c * plane + i] += work[i] }
            // Full-grid V(k) (FFT order): V(−k) = V(k).
            for y in 0..<h {
                for x in 0..<w {
                    let (sy, sx) = x < hw ? (y, x) : ((h - y) % h, w - x)
                    fullV[c * plane + y * w + x] = halfV[c * sc + sy * hw + sx]
                }
            }
        }
        self.prior = prior
        self.mean = mean
        self.halfVariance = halfV
        self.pixelVariances = pixelVariances
        self.logEvidence = logEvidence
        self.spectrum = try PowerSpectrum(values: fullV, height: h, width: w, channels: ch, layout: .fftOrder,
                                          source: "Fourier posterior")
    }

    /// Posterior pixel variance as an image (c·h·w values, constant per channel).
    public var variance: [Double] {
        pixelVariances.flatMap { [Double](repeating: $0, count: prior.imageShape.planeCount) }
    }

    /// One exact posterior draw: c·h·w standard normals from `stream` (order `[c][y][x]`), coloured by √V.
    public func sample(using stream: SampleStream) -> [Double] {
        var z = [Double](repeating: 0, count: prior.valueCount)
        for i in z.indices { z[i] = stream.normal() }
        return prior.colouredNoise(z, spectrum: halfVariance, base: mean)
    }
}

extension StationaryGaussianPrior {
    /// The exact posterior under a periodic convolution with `kernel` and white noise σ (closed form per mode).
    public func fourierPosterior(kernel: [Double], kernelHeight: Int, kernelWidth: Int,
                                 noiseSigma: [Double], observation: [Double]) throws -> FourierGaussianPosterior {
        try FourierGaussianPosterior(prior: self, kernel: kernel, kernelHeight: kernelHeight, kernelWidth: kernelWidth,
                                     noiseSigma: noiseSigma, observation: observation)
    }
}
