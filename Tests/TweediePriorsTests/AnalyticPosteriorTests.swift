// Tests of the exact posteriors of the analytic priors (FourierGaussianPosterior,
// GaussianPosterior, GaussianMixturePosterior) against brute-force dense linear algebra on
// 8×8 images: the information form (C⁻¹ + Aᵀ Σ⁻¹ A)⁻¹ by Gauss–Jordan elimination (the
// library uses the gain form with Cholesky and FFTs), the evidence N(y; Aμ, A C Aᵀ + Σ) by a
// Gauss–Jordan log-determinant, and explicit mixture reweighting with the law of total
// variance in its raw form Σπ(P_ii + m_i²) − (Σπ m_i)². Exact posterior samplers are checked
// by their moments within sampling error.

import Foundation
import Testing
import TweedieCore
import TweedieTestSupport
@testable import TweediePriors

@Suite("Analytic priors: exact posteriors")
struct AnalyticPosteriorTests {
    /// Power-law spectrum of one channel written out in the test.
    static func powerLaw(h: Int, w: Int, amplitude: Double, slope: Double, k0: Double) -> [Double] {
        var p = [Double](repeating: 0, count: h * w)
        for ky in 0..<h { for kx in 0..<w {
            let fy = DenseReference.freq(ky, h), fx = DenseReference.freq(kx, w)
            p[ky * w + kx] = amplitude * pow(fy * fy + fx * fx + k0 * k0, -slope / 2)
        } }
        return p
    }

    struct GaussianCase {
        let prior: StationaryGaussianPrior
        let kernel: [Double]
        let kh: Int, kw: Int
        let sigmas: [Double]
        let y: [Double]
        let c: [Double]        // dense prior covariance (reference)
        let a: [Double]        // dense convolution matrix (reference)
        let noiseVariance: [Double]
    }

    static func gaussianCase(h: Int, w: Int, channels: Int, kh: Int, kw: Int, sigmas: [Double], seed: UInt64) throws -> GaussianCase {
        let n = channels * h * w
        let spectrum = try PowerSpectrum(model: .powerLaw(amplitude: 1, slope: 3, k0: 0.1), height: h, width: w, channels: channels)
        let mean = DenseReference.normals(n, seed: seed).map { 0.2 * $0 + 1 }
        let prior = try StationaryGaussianPrior(spectrum: spectrum, mean: mean, schedule: NoiseSchedule(kind: .cosine, steps: 1000))
        // An asymmetric positive kernel (per channel), so a flipped or shifted kernel would show.
        let stream = SampleStream(seed: seed, index: 1)
        let kernel = (0..<(channels * kh * kw)).map { _ in 0.1 + stream.uniform() }
        let p1 = powerLaw(h: h, w: w, amplitude: 1, slope: 3, k0: 0.1)
        let c = DenseReference.circulantCovariance(Array([[Double]](repeating: p1, count: channels).joined()),
                                                   channels: channels, h: h, w: w)
        let a = DenseReference.periodicConvolution(kernel: kernel, kh: kh, kw: kw, channels: channels, h: h, w: w)
        let truth = prior.sample(using: SampleStream(seed: seed, index: 2))
        let noise = DenseReference.normals(n, seed: seed, index: 3)
        let clean = DenseReference.matvec(a, truth, rows: n, columns: n)
        let noiseVariance = (0..<n).map { sigmas[$0 / (h * w)] * sigmas[$0 / (h * w)] }
        let y = (0..<n).map { clean[$0] + noiseVariance[$0].squareRoot() * noise[$0] }
        return GaussianCase(prior: prior, kernel: kernel, kh: kh, kw: kw, sigmas: sigmas, y: y, c: c, a: a, noiseVariance: noiseVariance)
    }

    @Test("Gaussian prior + periodic convolution: Fourier closed form and dense route equal brute force (8×8; 6×8×2)",
          arguments: [(8, 8, 1, 3, 4, [0.3]), (6, 8, 2, 4, 3, [0.2, 0.5])])
    func gaussianFourierVersusDense(h: Int, w: Int, channels: Int, kh: Int, kw: Int, sigmas: [Double]) throws {
        let g = try Self.gaussianCase(h: h, w: w, channels: channels, kh: kh, kw: kw, sigmas: sigmas, seed: 91)
        let n = g.prior.valueCount
        let reference = DenseReference.informationPosterior(priorMean: g.prior.mean, priorCovariance: g.c, a: g.a,
                                                            noiseVariance: g.noiseVariance, y: g.y)
        var s = DenseReference.multiply(DenseReference.multiply(g.a, g.c, m: n, k: n, n: n),
                                        DenseReference.transpose(g.a, rows: n, columns: n), m: n, k: n, n: n)
        for i in 0..<n { s[i * n + i] += g.noiseVariance[i] }
        let refEvidence = DenseReference.logGaussian(g.y, mean: DenseReference.matvec(g.a, g.prior.mean, rows: n, columns: n), covariance: s)
        let refVariance = (0..<n).map { reference.covariance[$0 * n + $0] }
        let meanScale = DenseReference.maxAbs(reference.mean), covScale = DenseReference.maxAbs(reference.covariance)

        // Fourier closed form.
        let fourier = try g.prior.fourierPosterior(kernel: g.kernel, kernelHeight: g.kh, kernelWidth: g.kw,
                                                   noiseSigma: g.sigmas, observation: g.y)
        #expect(DenseReference.maxAbsDiff(fourier.mean, reference.mean) < 1e-9 * meanScale)
        #expect(DenseReference.maxAbsDiff(fourier.variance, refVariance) < 1e-9 * covScale)
        let fourierCov = DenseReference.circulantCovariance(fourier.spectrum.values, channels: channels, h: h, w: w)
        #expect(DenseReference.maxAbsDiff(fourierCov, reference.covariance) < 1e-9 * covScale)
        #expect(abs(fourier.logEvidence - refEvidence) < 1e-8 * max(1, abs(refEvidence)))

        // Dense route with the same operator given as a matrix.
        let likelihood = try DenseLinearGaussianLikelihood(operator: DenseLinearOperator(rows: n, columns: n, matrix: g.a),
                                                           noiseVariance: g.noiseVariance, observation: g.y)
        let dense = try g.prior.densePosterior(likelihood)
        #expect(dense.components.count == 1 && dense.weights == [1])
        #expect(DenseReference.maxAbsDiff(dense.mean, reference.mean) < 1e-9 * meanScale)
        #expect(DenseReference.maxAbsDiff(dense.variance, refVariance) < 1e-9 * covScale)
        #expect(DenseReference.maxAbsDiff(dense.components[0].covariance(), reference.covariance) < 1e-9 * covScale)
        #expect(abs(dense.logEvidence - refEvidence) < 1e-8 * max(1, abs(refEvidence)))
    }

    static func mixtureCase(rows m: Int, noiseScale: Double, seed: UInt64) throws -> (GaussianMixturePrior, DenseLinearGaussianLikelihood) {
        let shape = ImageShape(channels: 1, height: 8, width: 8)
        let n = shape.count
        let stream = SampleStream(seed: seed, index: 0)
        let components = (0..<3).map { k in
            MixtureComponent(weight: [0.5, 0.3, 0.2][k],
                             mean: DenseReference.normals(n, seed: seed, index: 10 + k),
                             variance: (0..<n).map { _ in 0.1 + 0.9 * stream.uniform() })
        }
        let prior = try GaussianMixturePrior(shape: shape, components: components, schedule: NoiseSchedule(kind: .cosine, steps: 1000))
        let a = DenseReference.normals(m * n, seed: seed, index: 20).map { $0 / 8 }
        let noiseVariance = (0..<m).map { _ in noiseScale * (0.5 + stream.uniform()) }
        let truth = prior.sample(using: SampleStream(seed: seed, index: 21))
        let e = DenseReference.normals(m, seed: seed, index: 22)
        let clean = DenseReference.matvec(a, truth, rows: m, columns: n)
        let y = (0..<m).map { clean[$0] + noiseVariance[$0].squareRoot() * e[$0] }
        let likelihood = try DenseLinearGaussianLikelihood(operator: DenseLinearOperator(rows: m, columns: n, matrix: a),
                                                           noiseVariance: noiseVariance, observation: y)
        return (prior, likelihood)
    }

    /// Brute-force mixture posterior: per-component information form, explicit evidence and reweighting.
    static func bruteForceMixture(_ prior: GaussianMixturePrior, _ l: DenseLinearGaussianLikelihood)
        -> (weights: [Double], logEvidence: Double, mean: [Double], variance: [Double]) {
        let n = prior.valueCount, m = l.count, a = l.forwardOperator.matrix
        var logs: [Double] = [], means: [[Double]] = [], vars: [[Double]] = []
        for k in 0..<prior.componentCount {
            var c = [Double](repeating: 0, count: n * n)
            for i in 0..<n { c[i * n + i] = prior.variances[k][i] }
            let post = DenseReference.informationPosterior(priorMean: prior.means[k], priorCovariance: c, a: a,
                                                           noiseVariance: l.noiseVariance, y: l.observation)
            var s = [Double](repeating: 0, count: m * m)
            for i in 0..<m { for j in 0..<m {
                s[i * m + j] = (0..<n).reduce(0.0) { $0 + a[i * n + $1] * prior.variances[k][$1] * a[j * n + $1] }
            } }
            for i in 0..<m { s[i * m + i] += l.noiseVariance[i] }
            let amu = DenseReference.matvec(a, prior.means[k], rows: m, columns: n)
            logs.append(log(prior.weights[k]) + DenseReference.logGaussian(l.observation, mean: amu, covariance: s))
            means.append(post.mean)
            vars.append((0..<n).map { post.covariance[$0 * n + $0] })
        }
        let top = logs.max()!
        let total = logs.reduce(0.0) { $0 + exp($1 - top) }
        let pi = logs.map { exp($0 - top) / total }
        var mean = [Double](repeating: 0, count: n), second = mean
        for k in 0..<pi.count {
            for i in 0..<n {
                let mk: Double = means[k][i]
                mean[i] += pi[k] * mk
                second[i] += pi[k] * (vars[k][i] + mk * mk)
            }
        }
        let variance: [Double] = (0..<n).map { second[$0] - mean[$0] * mean[$0] }
        return (pi, top + log(total), mean, variance)
    }

    @Test("Mixture prior + dense operator: weights, evidence, mean and variance equal brute force (8×8)",
          arguments: [(24, 0.05), (3, 2.0)])
    func mixtureVersusBruteForce(rows: Int, noiseScale: Double) throws {
        let (prior, likelihood) = try Self.mixtureCase(rows: rows, noiseScale: noiseScale, seed: 101)
        let reference = Self.bruteForceMixture(prior, likelihood)
        let post = try prior.densePosterior(likelihood)
        #expect(DenseReference.maxAbsDiff(post.weights, reference.weights) < 1e-9)
        #expect(abs(post.logEvidence - reference.logEvidence) < 1e-8 * max(1, abs(reference.logEvidence)))
        #expect(DenseReference.maxAbsDiff(post.mean, reference.mean) < 1e-9 * DenseReference.maxAbs(reference.mean))
        #expect(DenseReference.maxAbsDiff(post.variance, reference.variance) < 1e-9 * DenseReference.maxAbs(reference.variance))
        if rows == 3 {
            // The weakly informative case must really mix components.
            #expect(reference.weights.filter { $0 > 0.05 }.count >= 2, "weights \(reference.weights)")
        }
    }

    @Test("Exact posterior draws (mixture, dense Gaussian, Fourier) match the posterior moments within sampling error")
    func posteriorSampling() throws {
        let count = 4000
        // Mixture (multi-modal case).
        let (prior, likelihood) = try Self.mixtureCase(rows: 3, noiseScale: 2.0, seed: 101)
        let post = try prior.densePosterior(likelihood)
        let draws = (0..<count).map { post.sample(using: SampleStream(seed: 111, index: $0)) }
        for i in 0..<prior.valueCount {
            let m = draws.reduce(0.0) { $0 + $1[i] } / Double(count)
            #expect(abs(m - post.mean[i]) < 5 * (post.variance[i] / Double(count)).squareRoot(), "mixture pixel \(i) mean")
            // Second moment, standard error from the mixture's exact fourth moment.
            var second = 0.0, fourth = 0.0
            for (k, c) in post.components.enumerated() {
                let mu = c.mean[i], v = c.variance[i]
                second += post.weights[k] * (v + mu * mu)
                fourth += post.weights[k] * (mu * mu * mu * mu + 6 * mu * mu * v + 3 * v * v)
            }
            let m2 = draws.reduce(0.0) { $0 + $1[i] * $1[i] } / Double(count)
            #expect(abs(m2 - second) < 5 * ((fourth - second * second) / Double(count)).squareRoot(), "mixture pixel \(i) second moment")
        }

        // Gaussian prior: Fourier closed-form draws have the posterior spectrum; dense (Matheron) draws
        // have the posterior mean and variance.
        let g = try Self.gaussianCase(h: 8, w: 8, channels: 1, kh: 3, kw: 4, sigmas: [0.3], seed: 92)
        let fourier = try g.prior.fourierPosterior(kernel: g.kernel, kernelHeight: g.kh, kernelWidth: g.kw,
                                                   noiseSigma: g.sigmas, observation: g.y)
        let fdraws = (0..<count).map { fourier.sample(using: SampleStream(seed: 112, index: $0)) }
        SpectrumEstimate(fdraws, mean: fourier.mean, h: 8, w: 8)
            .expectMatches(fourier.spectrum.values, samples: count, what: "Fourier posterior draws")
        let n = g.prior.valueCount
        let dense = try g.prior.densePosterior(try DenseLinearGaussianLikelihood(
            operator: DenseLinearOperator(rows: n, columns: n, matrix: g.a), noiseVariance: g.noiseVariance, observation: g.y))
        let ddraws = (0..<count).map { dense.sample(using: SampleStream(seed: 113, index: $0)) }
        for i in 0..<n {
            let v = dense.variance[i]
            let m = ddraws.reduce(0.0) { $0 + $1[i] } / Double(count)
            #expect(abs(m - dense.mean[i]) < 5 * (v / Double(count)).squareRoot(), "dense Gaussian pixel \(i) mean")
            let sv = ddraws.reduce(0.0) { $0 + ($1[i] - dense.mean[i]) * ($1[i] - dense.mean[i]) } / Double(count)
            #expect(abs(sv - v) < 5 * v * (2 / Double(count)).squareRoot(), "dense Gaussian pixel \(i) variance")
        }
    }

    /// y = sums of 2×2 blocks of a 1×4×4 image (a linear test operator with its exact adjoint).
    struct BlockSum: ForwardOperator {
        var inputShape: ImageShape { ImageShape(channels: 1, height: 4, width: 4) }
        var outputShape: ImageShape { ImageShape(channels: 1, height: 2, width: 2) }
        var isLinear: Bool { true }
        var summary: String { "2×2 block sum" }
        func apply(_ x: ImageBatch) throws -> ImageBatch {
            var out = ImageBatch(count: x.count, shape: outputShape)
            for n in 0..<x.count { for y in 0..<4 { for xx in 0..<4 { out[n, 0, y / 2, xx / 2] += x[n, 0, y, xx] } } }
            return out
        }
        func vjp(_ v: ImageBatch, at x: ImageBatch?) throws -> ImageBatch {
            var out = ImageBatch(count: v.count, shape: inputShape)
            for n in 0..<v.count { for y in 0..<4 { for xx in 0..<4 { out[n, 0, y, xx] = v[n, 0, y / 2, xx / 2] } } }
            return out
        }
    }

    struct FixedNoise: NoiseModel {
        var shape: ImageShape { ImageShape(channels: 1, height: 2, width: 2) }
        var sqrtWeights: [Float] { [2, 0, 1, 0.5] }
        var summary: String { "fixed test weights" }
    }

    @Test("Dense likelihood from a ForwardOperator and a NoiseModel: σ² = 1/W, masked values dropped")
    func likelihoodFromOperator() throws {
        let obs = try ImageBatch(count: 1, shape: ImageShape(channels: 1, height: 2, width: 2), data: [1, 2, 3, 4])
        let l = try DenseLinearGaussianLikelihood(operator: BlockSum(), noise: FixedNoise(), observation: obs)
        #expect(l.count == 3)
        #expect(l.noiseVariance == [0.25, 1, 4])
        #expect(l.observation == [1, 3, 4])
        // Row r of A sums the 2×2 block of kept output value [0, 2, 3][r].
        for (r, o) in [0, 2, 3].enumerated() {
            for y in 0..<4 { for x in 0..<4 {
                let inside = (y / 2) * 2 + x / 2 == o
                #expect(l.forwardOperator.matrix[r * 16 + y * 4 + x] == (inside ? 1 : 0))
            } }
        }
    }

    @Test("Bad posterior inputs are refused with clear errors")
    func badInput() throws {
        let g = try Self.gaussianCase(h: 8, w: 8, channels: 1, kh: 3, kw: 3, sigmas: [0.3], seed: 93)
        #expect(throws: TweedieError.self) {
            try g.prior.fourierPosterior(kernel: g.kernel, kernelHeight: 3, kernelWidth: 3, noiseSigma: [0], observation: g.y)
        }
        #expect(throws: TweedieError.self) {
            try g.prior.fourierPosterior(kernel: [Double](repeating: 1, count: 81), kernelHeight: 9, kernelWidth: 9,
                                         noiseSigma: [0.3], observation: g.y)
        }
        #expect(throws: TweedieError.self) {
            try g.prior.fourierPosterior(kernel: g.kernel, kernelHeight: 3, kernelWidth: 3, noiseSigma: [0.3], observation: [1, 2])
        }
        let op = try DenseLinearOperator(rows: 2, columns: 64, matrix: [Double](repeating: 1, count: 128))
        #expect(throws: TweedieError.self) { try DenseLinearGaussianLikelihood(operator: op, noiseVariance: [1, -1], observation: [0, 0]) }
        #expect(throws: TweedieError.self) { try DenseLinearGaussianLikelihood(operator: op, noiseVariance: [1], observation: [0, .nan]) }
        do {
            _ = try DenseLinearOperator(rows: 1, columns: 2000, matrix: [Double](repeating: 0, count: 2000))
            Issue.record("a 2000-unknown dense operator was accepted")
        } catch let e as TweedieError {
            #expect(e.description.contains("dense limit"))
        }
    }
}
