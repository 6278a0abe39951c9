// Unconditional DDPM ancestral sampling (Ho et al. 2020, Alg. 2; DESIGN §5.1 step 2 without
// guidance) with the stationary Gaussian prior as the denoiser, through the Float32
// `Denoiser` protocol: the draws must reproduce the prior's power spectrum.
//
// The oracle. Every step is linear and diagonal in the unitary Fourier basis, so each mode
// u_k follows a scalar recursion that the test evaluates exactly in Float64 from P(k) and
// the schedule alone (no prior code involved):
//     x̂0 = M + g_i (u − a_i M),  g_i = a_i P / (ᾱ_i P + 1 − ᾱ_i),   a_i = √ᾱ_i,
//     u ← c1_i x̂0 + c2_i u + σ_i z  (σ_i² = β̃_i, no noise at i = 0),
//     mean  m ← c1_i (M + g_i (m − a_i M)) + c2_i m,   variance  v ← (c1_i g_i + c2_i)² v + σ_i²,
// from u ~ N(0, 1) at the first step; M = √N μ for k = 0, else 0. The expected sample power
// is E|u_k − M_k|² = v + (m − M)². With 100 respaced steps the DDPM discretisation itself
// (not the prior) leaves this a few per cent below P(k) — about 4–9 % for this spectrum —
// so the draws are compared with (1) that exact expectation, within sampling error, and
// (2) P(k) itself, within sampling error plus the computed discretisation gap.
// Sampling error: 2,000 draws give a relative standard error of 1/√2000 = 2.2 % per complex
// mode and √(2/2000) = 3.2 % per real mode; the tolerance is 5 standard errors per mode and
// a pooled χ² bound (SpectrumEstimate.expectMatches).

import Foundation
import Testing
import TweedieCore
@testable import TweediePriors

@Suite("Analytic priors: ancestral sampling with the Gaussian prior")
struct AnalyticAncestralSamplingTests {
    @Test("2,000 DDPM draws (cosine, 100 respaced steps) reproduce the power spectrum within sampling error")
    func ancestralSpectrum() throws {
        let h = 8, w = 8, n = h * w, count = 2000, mu = 0.5
        let spectrum = try PowerSpectrum(model: .powerLaw(amplitude: 0.05, slope: 3, k0: 0.1), height: h, width: w)
        let prior = try StationaryGaussianPrior(spectrum: spectrum, mean: [mu], schedule: NoiseSchedule(kind: .cosine, steps: 1000))
        let schedule = try prior.schedule.respaced(to: 100)

        // The sampler (per-sample streams: draw k depends only on (seed, k)).
        let streams = (0..<count).map { SampleStream(seed: 81, index: $0) }
        var x = ImageBatch(count: count, shape: prior.imageShape)
        for k in 0..<count { for j in 0..<n { x.data[k * n + j] = Float(streams[k].normal()) } }
        for i in stride(from: schedule.count - 1, through: 0, by: -1) {
            let x0 = try prior.predict(x, timesteps: [Int](repeating: schedule.timesteps[i], count: count)).x0
            let (c1, c2, variance) = schedule.posteriorCoefficients(i)
            let sd = variance.squareRoot()
            x0.data.withUnsafeBufferPointer { pred in
                x.data.withUnsafeMutableBufferPointer { cur in
                    for k in 0..<count {
                        let stream = streams[k]
                        for j in 0..<n {
                            var v = c1 * Double(pred[k * n + j]) + c2 * Double(cur[k * n + j])
                            if i > 0 { v += sd * stream.normal() }
                            cur[k * n + j] = Float(v)
                        }
                    }
                }
            }
        }
        #expect(x.allFinite)
        let draws = (0..<count).map { k in (0..<n).map { Double(x.data[k * n + $0]) } }
        let estimate = SpectrumEstimate(draws, mean: prior.mean, h: h, w: w)

        // The exact expectation of this discrete sampler, mode by mode.
        var expected = [Double](repeating: 0, count: n), gap = expected
        for k in 0..<n {
            let p = spectrum.values[k]
            let bigM = k == 0 ? Double(n).squareRoot() * mu : 0
            var m = 0.0, v = 1.0
            for i in stride(from: schedule.count - 1, through: 0, by: -1) {
                let ab = schedule.alphasCumprod[i], a = ab.squareRoot()
                let g = a * p / (ab * p + 1 - ab)
                let (c1, c2, variance) = schedule.posteriorCoefficients(i)
                m = c1 * (bigM + g * (m - a * bigM)) + c2 * m
                v = (c1 * g + c2) * (c1 * g + c2) * v + (i > 0 ? variance : 0)
            }
            expected[k] = v + (m - bigM) * (m - bigM)
            gap[k] = abs(expected[k] / p - 1)
        }
        // (1) Against the sampler's exact expectation: sampling error only.
        estimate.expectMatches(expected, samples: count, what: "DDPM draws vs exact discrete-sampler spectrum")
        // (2) Against the prior's own spectrum: sampling error plus the discretisation gap.
        #expect(gap.max()! < 0.1, "100-step DDPM discretisation gap \(gap.max()!)")
        for (k, real) in estimate.independentModes {
            let p = spectrum.values[k]
            let se = ((real ? 2.0 : 1.0) / Double(count)).squareRoot()
            #expect(abs(estimate.power[k] / p - 1) < 5 * se + gap[k], "mode \(k): \(estimate.power[k]) vs P = \(p)")
        }
        // Mean image within 5 standard errors of μ (pixel variance = mean of P).
        let se = (spectrum.pixelVariance(channel: 0) / Double(count)).squareRoot()
        for j in 0..<n {
            let m = draws.reduce(0.0) { $0 + $1[j] } / Double(count)
            #expect(abs(m - mu) < 5 * se, "pixel \(j) mean \(m)")
        }
    }
}
