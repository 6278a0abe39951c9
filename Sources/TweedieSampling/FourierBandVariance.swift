// Sampled against exact posterior variance per radial Fourier band (issue 22,
// "right on average, wrong at large scales" must not hide in a pixel average).
//
// For a stationary Gaussian prior under a periodic convolution the exact
// posterior covariance is diagonal in the DFT basis with eigenvalues V(k)
// (FourierGaussianPosterior). With the unnormalised DFT F and K samples x_i of
// one observation, V̂(k) = Σ_i |F[x_i − x̄](k)|² / ((K − 1)·N) estimates V(k)
// (N pixels per plane). Per radial band of |k| (cycles per pixel; edges
// `edges`), pooled over channels, observations and the modes of the band
// (half spectrum, columns kx = 0 and the even-width Nyquist column counted
// once, the others twice), the score is Σ V̂ / Σ V: 1 for a calibrated sampler
// up to Monte-Carlo error ≈ √(2/(K − 1)/modes in the band).

import Foundation
import TweedieCore

public struct FourierBandAccumulator: Sendable {
    /// Band edges in |k| (cycles per pixel): large scales first, the last band the corners beyond 1/2.
    public static let edges: [Double] = [0, 1.0 / 16, 1.0 / 8, 3.0 / 16, 1.0 / 4, 3.0 / 8, 1.0 / 2, 0.75]
    private var sampled: [Double]
    private var exact: [Double]

    public init() {
        sampled = [Double](repeating: 0, count: Self.edges.count - 1)
        exact = sampled
    }

    static func band(_ f: Double) -> Int {
        var b = 0
        while b + 1 < edges.count - 1 && f >= edges[b + 1] { b += 1 }
        return b
    }

    static func frequency(_ j: Int, _ n: Int) -> Double {
        j < (n + 1) / 2 ? Double(j) / Double(n) : Double(j - n) / Double(n)
    }

    /// Adds the K samples (sample-major, c·h·w values each) of one observation and the exact V(k)
    /// (`modeVariance(channel, ky, kx)`, FFT order).
    public mutating func add(samples: [Float], count k: Int, shape: ImageShape,
                             modeVariance: (Int, Int, Int) -> Double) {
        let h = shape.height, w = shape.width, plane = shape.planeCount, per = shape.count
        let hw = w / 2 + 1
        let fft = RealFFT2D.shared(height: h, width: w)
        let n = Double(plane)
        for c in 0..<shape.channels {
            var mean = [Double](repeating: 0, count: plane)
            for i in 0..<k { for j in 0..<plane { mean[j] += Double(samples[i * per + c * plane + j]) } }
            for j in 0..<plane { mean[j] /= Double(k) }
            var power = [Double](repeating: 0, count: h * hw)
            for i in 0..<k {
                let e = (0..<plane).map { Float(Double(samples[i * per + c * plane + $0]) - mean[$0]) }
                let s = fft.forward(e)
                for m in 0..<(h * hw) { power[m] += Double(s[2 * m]) * Double(s[2 * m]) + Double(s[2 * m + 1]) * Double(s[2 * m + 1]) }
            }
            for ky in 0..<h {
                for kx in 0..<hw {
                    let mult = (kx == 0 || (w % 2 == 0 && kx == w / 2)) ? 1.0 : 2.0
                    let f = (pow(Self.frequency(ky, h), 2) + pow(Self.frequency(kx, w), 2)).squareRoot()
                    let b = Self.band(f)
                    sampled[b] += mult * power[ky * hw + kx] / (Double(k - 1) * n)
                    exact[b] += mult * modeVariance(c, ky, kx)
                }
            }
        }
    }

    /// Σ V̂ / Σ V per band (nil for a band without modes on this grid or with zero exact variance).
    public var ratios: [Double?] {
        zip(sampled, exact).map { $1 > 0 ? $0 / $1 : nil }
    }
}
