// Tests of the stationary Gaussian prior (Priors/Analytic/StationaryGaussianPrior.swift)
// against independent oracles: the dense Wiener filter μ + √ᾱ C (ᾱ C + (1−ᾱ) I)⁻¹ (x_t − √ᾱ μ)
// with C built by a direct DFT sum of the spectrum formula, central finite differences for
// the VJP, and the sample power spectrum of exact prior draws.

import Foundation
import Testing
import TweedieCore
import TweedieTestSupport
@testable import TweediePriors

@Suite("Analytic priors: stationary Gaussian")
struct AnalyticGaussianPriorTests {
    // A non-square, two-channel grid catches axis and channel mix-ups.
    static let h = 6, w = 8, channels = 2
    static let amplitude = 0.7, slope = 2.5, k0 = 0.15

    /// The power-law spectrum written out in the test (fftfreq in cycles per pixel), one channel.
    static func powerLaw(h: Int, w: Int) -> [Double] {
        var p = [Double](repeating: 0, count: h * w)
        for ky in 0..<h { for kx in 0..<w {
            let fy = DenseReference.freq(ky, h), fx = DenseReference.freq(kx, w)
            p[ky * w + kx] = amplitude * pow(fy * fy + fx * fx + k0 * k0, -slope / 2)
        } }
        return p
    }

    static func makePrior() throws -> StationaryGaussianPrior {
        let spectrum = try PowerSpectrum(model: .powerLaw(amplitude: amplitude, slope: slope, k0: k0),
                                         height: h, width: w, channels: channels)
        let mean = DenseReference.normals(channels * h * w, seed: 11).map { 0.3 * $0 + 0.5 }
        return try StationaryGaussianPrior(spectrum: spectrum, mean: mean,
                                           schedule: NoiseSchedule(kind: .cosine, steps: 1000))
    }

    @Test("x̂0 equals the dense closed-form Wiener filter at every noise level; ε̂ is consistent")
    func wienerFilter() throws {
        let prior = try Self.makePrior()
        let n = prior.valueCount
        let p = Self.powerLaw(h: Self.h, w: Self.w)
        let c = DenseReference.circulantCovariance(p + p, channels: Self.channels, h: Self.h, w: Self.w)
        for (j, alphaBar) in [0.9999, 0.97, 0.6, 0.2, 0.003].enumerated() {
            let a = alphaBar.squareRoot(), s = (1 - alphaBar).squareRoot()
            // x_t drawn from the model: a x0 + s ε.
            let x0 = prior.sample(using: SampleStream(seed: 5, index: j))
            let eps = DenseReference.normals(n, seed: 6, index: j)
            let xt = (0..<n).map { a * x0[$0] + s * eps[$0] }
            // Dense: μ + a C (ᾱ C + s² I)⁻¹ (x_t − a μ).
            var m = c.map { alphaBar * $0 }
            for i in 0..<n { m[i * n + i] += 1 - alphaBar }
            let r = (0..<n).map { xt[$0] - a * prior.mean[$0] }
            let solved = DenseReference.solve(m, r, n: n, k: 1).x
            let cs = DenseReference.matvec(c, solved, rows: n, columns: n)
            let expected = (0..<n).map { prior.mean[$0] + a * cs[$0] }
            let (x0hat, epshat) = try prior.denoise(xt, alphaBar: alphaBar)
            let scale = DenseReference.maxAbs(expected)
            #expect(DenseReference.maxAbsDiff(x0hat, expected) < 1e-11 * scale, "ᾱ = \(alphaBar)")
            let epsExpected = (0..<n).map { (xt[$0] - a * expected[$0]) / s }
            #expect(DenseReference.maxAbsDiff(epshat, epsExpected) < 1e-9 * DenseReference.maxAbs(epsExpected), "ᾱ = \(alphaBar)")
        }
    }

    @Test("Dense covariance matrix and pixel variance agree with the direct DFT of the spectrum")
    func covariance() throws {
        let prior = try Self.makePrior()
        let p = Self.powerLaw(h: Self.h, w: Self.w)
        let expected = DenseReference.circulantCovariance(p + p, channels: Self.channels, h: Self.h, w: Self.w)
        let got = try prior.covarianceMatrix()
        #expect(DenseReference.maxAbsDiff(got, expected) < 1e-12 * DenseReference.maxAbs(expected))
        let meanP = p.reduce(0, +) / Double(p.count)
        for v in prior.pixelVariances { #expect(abs(v - meanP) < 1e-12 * meanP) }
    }

    @Test("Gaussian-correlation spectrum: pixel variance σ², covariance ≈ σ² exp(−r²/2ℓ²)")
    func gaussianCorrelation() throws {
        let spectrum = try PowerSpectrum(model: .gaussianCorrelation(variance: 2.5, length: 1.5), height: 32, width: 32)
        #expect(abs(spectrum.pixelVariance(channel: 0) - 2.5) < 1e-12)
        let cf = spectrum.covarianceFunction(channel: 0)
        for (ry, rx) in [(0, 0), (0, 1), (1, 1), (2, 3), (0, 4), (5, 0)] {
            let r2 = Double(ry * ry + rx * rx)
            // Aliasing of the sampled Gaussian (ℓ = 1.5) changes c(r) by < 1e-4 relative to σ².
            #expect(abs(cf[ry * 32 + rx] - 2.5 * exp(-r2 / (2 * 1.5 * 1.5))) < 2.5e-4, "lag (\(ry), \(rx))")
        }
    }

    @Test("VJP equals the transposed Jacobian from central finite differences")
    func vjpFiniteDifferences() throws {
        let prior = try Self.makePrior()
        let n = prior.valueCount
        let alphaBar = 0.35
        let xt = DenseReference.normals(n, seed: 21)
        let v = DenseReference.normals(n, seed: 22)
        let step = 1e-3  // x̂0 is affine: central differences are exact up to rounding
        var jtv = [Double](repeating: 0, count: n)
        var xp = xt
        for j in 0..<n {
            xp[j] = xt[j] + step
            let plus = try prior.denoise(xp, alphaBar: alphaBar).x0
            xp[j] = xt[j] - step
            let minus = try prior.denoise(xp, alphaBar: alphaBar).x0
            xp[j] = xt[j]
            jtv[j] = (0..<n).reduce(0.0) { $0 + v[$1] * (plus[$1] - minus[$1]) / (2 * step) }
        }
        let got = try prior.pullback(v, at: xt, alphaBar: alphaBar)
        #expect(DenseReference.maxAbsDiff(got, jtv) < 1e-9 * DenseReference.maxAbs(jtv))
    }

    @Test("Float32 Denoiser path: ᾱ from the schedule per image, pullback, errors for bad input")
    func denoiserPath() throws {
        let prior = try Self.makePrior()
        let shape = prior.imageShape, n = prior.valueCount
        let steps = [0, 499, 998]
        let values = (0..<3).flatMap { DenseReference.normals(n, seed: 31, index: $0) }
        let batch = try ImageBatch(count: 3, shape: shape, data: values.map(Float.init))
        let cot = try ImageBatch(count: 3, shape: shape, data: DenseReference.normals(3 * n, seed: 32).map(Float.init))
        let (pred, pullback) = try prior.predictWithPullback(batch, timesteps: steps)
        let back = try pullback(cot)
        for (k, t) in steps.enumerated() {
            let ab = prior.schedule.alphasCumprod[t]
            let x = Array(batch.data[(k * n)..<((k + 1) * n)]).map(Double.init)
            let (d, e) = try prior.denoise(x, alphaBar: ab)
            let g = try prior.pullback(Array(cot.data[(k * n)..<((k + 1) * n)]).map(Double.init), at: x, alphaBar: ab)
            for i in 0..<n {
                #expect(abs(Double(pred.x0.data[k * n + i]) - d[i]) <= 1e-6 * max(1, abs(d[i])))
                #expect(abs(Double(pred.eps.data[k * n + i]) - e[i]) <= 1e-6 * max(1, abs(e[i])))
                #expect(abs(Double(back.data[k * n + i]) - g[i]) <= 1e-6 * max(1, abs(g[i])))
            }
        }
        #expect(throws: TweedieError.self) { try prior.predict(batch, timesteps: [0, 1]) }
        #expect(throws: TweedieError.self) { try prior.predict(batch, timesteps: [0, 1, 1000]) }
        let wrong = ImageBatch(count: 1, shape: ImageShape(channels: 1, height: 6, width: 8))
        #expect(throws: TweedieError.self) { try prior.predict(wrong, timesteps: [3]) }
        #expect(throws: TweedieError.self) { try prior.denoise([Double](repeating: 0, count: n), alphaBar: 1) }
    }

    @Test("Concurrent predict calls (shared FFT plans, per-call workspaces) give the serial result")
    func concurrentCalls() throws {
        let prior = try Self.makePrior()
        let batch = try ImageBatch(count: 4, shape: prior.imageShape,
                                   data: DenseReference.normals(4 * prior.valueCount, seed: 35).map(Float.init))
        let steps = [5, 200, 600, 990]
        let serial = try prior.predict(batch, timesteps: steps)
        final class Results: @unchecked Sendable {  // mutated only under `lock`
            let lock = NSLock()
            var x0 = [[Float]](repeating: [], count: 16)
        }
        let results = Results()
        DispatchQueue.concurrentPerform(iterations: 16) { i in
            let out = (try? prior.predict(batch, timesteps: steps).x0.data) ?? []
            results.lock.lock(); results.x0[i] = out; results.lock.unlock()
        }
        for r in results.x0 { #expect(r == serial.x0.data) }
    }

    @Test("Exact prior draws reproduce the mean and power spectrum within sampling error (4,000 draws)")
    func exactSamplerSpectrum() throws {
        let h = 8, w = 8, count = 4000
        let spectrum = try PowerSpectrum(model: .powerLaw(amplitude: 0.05, slope: 3, k0: 0.1), height: h, width: w)
        let prior = try StationaryGaussianPrior(spectrum: spectrum, mean: [0.5], schedule: NoiseSchedule(kind: .linear, steps: 100))
        let draws = (0..<count).map { prior.sample(using: SampleStream(seed: 41, index: $0)) }
        let estimate = SpectrumEstimate(draws, mean: prior.mean, h: h, w: w)
        let p = (0..<(h * w)).map { spectrum.values[$0] }
        estimate.expectMatches(p, samples: count, what: "exact prior draws")
        // Sample mean per pixel within 5 standard errors (pixel variance = mean P).
        let sigma = (p.reduce(0, +) / Double(h * w) / Double(count)).squareRoot()
        for i in 0..<(h * w) {
            let m = draws.reduce(0.0) { $0 + $1[i] } / Double(count)
            #expect(abs(m - 0.5) < 5 * sigma)
        }
        // Draw k depends only on (seed, k).
        #expect(prior.sample(using: SampleStream(seed: 41, index: 7)) == draws[7])
    }

    @Test("Array spectra: centred and FFT layouts agree; asymmetric, negative and mis-sized arrays are refused")
    func arraySpectra() throws {
        let h = 5, w = 6
        let p = Self.powerLaw(h: h, w: w)
        var centred = [Double](repeating: 0, count: h * w)
        for y in 0..<h { for x in 0..<w { centred[((y + h / 2) % h) * w + (x + w / 2) % w] = p[y * w + x] } }
        let a = try PowerSpectrum(values: p, height: h, width: w, layout: .fftOrder)
        let b = try PowerSpectrum(values: centred, height: h, width: w, layout: .centred)
        #expect(DenseReference.maxAbsDiff(a.values, b.values) == 0)
        var asym = p
        asym[1] *= 1.5
        #expect(throws: TweedieError.self) { try PowerSpectrum(values: asym, height: h, width: w, layout: .fftOrder) }
        var negative = p
        negative[0] = -1
        #expect(throws: TweedieError.self) { try PowerSpectrum(values: negative, height: h, width: w, layout: .fftOrder) }
        #expect(throws: TweedieError.self) { try PowerSpectrum(values: [1, 2, 3], height: h, width: w, layout: .fftOrder) }
        #expect(throws: TweedieError.self) {
            try PowerSpectrum(model: .powerLaw(amplitude: 1, slope: 3, k0: 0), height: h, width: w)
        }
    }
}

/// The sample power spectrum E|DFT(x − μ)(k)|²/N of single-channel h×w draws, by a direct DFT,
/// with each independent mode (k and −k are the same for real fields) compared to an expectation.
struct SpectrumEstimate {
    let h: Int, w: Int
    /// Mean of |X(k)|²/N over the draws, FFT order.
    let power: [Double]

    init(_ draws: [[Double]], mean: [Double], h: Int, w: Int) {
        self.h = h; self.w = w
        let n = h * w
        var cosT = [Double](repeating: 0, count: n * n), sinT = cosT
        for ky in 0..<h { for kx in 0..<w { for y in 0..<h { for x in 0..<w {
            let ph = 2 * Double.pi * (Double(ky * y) / Double(h) + Double(kx * x) / Double(w))
            cosT[(ky * w + kx) * n + y * w + x] = cos(ph); sinT[(ky * w + kx) * n + y * w + x] = sin(ph)
        } } } }
        // Only one mode of each (k, −k) pair is transformed; its mirror has the same |X|².
        var power = [Double](repeating: 0, count: n)
        var d = [Double](repeating: 0, count: n)
        let modes = Self.independentModes(h: h, w: w)
        cosT.withUnsafeBufferPointer { ct in
            sinT.withUnsafeBufferPointer { st in
                for draw in draws {
                    for i in 0..<n { d[i] = draw[i] - mean[i] }
                    for (k, _) in modes {
                        var re = 0.0, im = 0.0
                        for i in 0..<n { re += ct[k * n + i] * d[i]; im -= st[k * n + i] * d[i] }
                        power[k] += (re * re + im * im) / Double(n)
                    }
                }
            }
        }
        for ky in 0..<h { for kx in 0..<w {
            let i = ky * w + kx, j = ((h - ky) % h) * w + (w - kx) % w
            if j < i { power[i] = power[j] }
        } }
        self.power = power.map { $0 / Double(draws.count) }
    }

    /// One representative per independent mode (k, −k), with whether it is its own mirror (a real mode).
    var independentModes: [(index: Int, real: Bool)] { Self.independentModes(h: h, w: w) }

    static func independentModes(h: Int, w: Int) -> [(index: Int, real: Bool)] {
        var out: [(Int, Bool)] = []
        for ky in 0..<h { for kx in 0..<w {
            let my = (h - ky) % h, mx = (w - kx) % w
            let i = ky * w + kx, j = my * w + mx
            if i <= j { out.append((i, i == j)) }
        } }
        return out
    }

    /// |X(k)|²/N of a Gaussian mode is E·χ²₂/2 (complex mode: relative standard deviation 1 per draw)
    /// or E·χ²₁ (real mode: √2), so the mean of `samples` draws has relative standard error
    /// 1/√samples or √(2/samples). Every independent mode must be within 5 standard errors
    /// (false alarm < 1e-4 over ≤ 40 modes), and the sum of squared z-scores below M + 5√(2M).
    func expectMatches(_ expected: [Double], samples: Int, what: String) {
        var chi2 = 0.0
        let modes = independentModes
        for (i, real) in modes {
            let se = expected[i] * ((real ? 2.0 : 1.0) / Double(samples)).squareRoot()
            let z = (power[i] - expected[i]) / se
            chi2 += z * z
            #expect(abs(z) < 5, "\(what): mode (\(i / w), \(i % w)) power \(power[i]) vs \(expected[i]), z = \(z)")
        }
        let m = Double(modes.count)
        #expect(chi2 < m + 5 * (2 * m).squareRoot(), "\(what): χ² = \(chi2) over \(modes.count) modes")
    }
}
