// Noise models: scalar σ, variance and inverse-variance maps, masks that drop
// values out of the likelihood, σ estimated from data (sigma-clipped MAD) on
// simulated noise of known σ, and the errors for bad input.
import Foundation
import Testing
import TweedieCore
@testable import TweedieOperators

@Suite struct NoiseTests {
    let shape = ImageShape(channels: 2, height: 3, width: 4)

    @Test func scalarSigma() throws {
        let n = try DiagonalGaussianNoise(sigma: 0.5, shape: shape)
        #expect(n.sqrtWeights.allSatisfy { $0 == 2 } && n.usableCount == shape.count)
        let b = try DiagonalGaussianNoise(bandSigmas: [1, 4], shape: shape)
        #expect(b.sqrtWeights[0] == 1 && b.sqrtWeights[12] == 0.25)
        for bad in [0.0, -1, .nan, .infinity] {
            #expect(throws: TweedieError.self) { try DiagonalGaussianNoise(sigma: bad, shape: shape) }
        }
        #expect(throws: TweedieError.self) { try DiagonalGaussianNoise(bandSigmas: [1], shape: shape) }
    }

    @Test func varianceAndInverseVarianceMaps() throws {
        var v = [Float](repeating: 4, count: shape.count)
        v[3] = .nan; v[5] = .infinity
        let vm = try DiagonalGaussianNoise(variance: ImageBatch(count: 1, shape: shape, data: v))
        #expect(vm.sqrtWeights[0] == 0.5 && vm.sqrtWeights[3] == 0 && vm.sqrtWeights[5] == 0 && vm.maskedCount == 2)
        v[7] = 0
        #expect(throws: TweedieError.self) { try DiagonalGaussianNoise(variance: ImageBatch(count: 1, shape: self.shape, data: v)) }

        var w = [Float](repeating: 16, count: shape.count)
        w[1] = 0; w[2] = .nan
        let wm = try DiagonalGaussianNoise(inverseVariance: ImageBatch(count: 1, shape: shape, data: w))
        #expect(wm.sqrtWeights[0] == 4 && wm.sqrtWeights[1] == 0 && wm.sqrtWeights[2] == 0 && wm.maskedCount == 2)
        #expect(wm.sigmas[0] == 0.25 && wm.sigmas[1] == .infinity)
        w[4] = -1
        #expect(throws: TweedieError.self) { try DiagonalGaussianNoise(inverseVariance: ImageBatch(count: 1, shape: self.shape, data: w)) }
    }

    @Test func maskedValuesDropOutOfTheLikelihood() throws {
        var y = [Float](repeating: 1, count: shape.count)
        y[6] = .nan
        let obs = try ImageBatch(count: 1, shape: shape, data: y)
        let n = try DiagonalGaussianNoise(sigma: 2, shape: shape).masking(nonFiniteOf: obs)
        #expect(n.sqrtWeights[6] == 0 && n.usableCount == shape.count - 1)
        // χ² = Σ (√W (y − Ax))² with Ax = 0: masked value contributes nothing whatever y holds there.
        var chi2 = 0.0
        for j in y.indices where n.sqrtWeights[j] > 0 { chi2 += pow(Double(n.sqrtWeights[j] * y[j]), 2) }
        #expect(abs(chi2 - Double(shape.count - 1) / 4) < 1e-12)
        let allNaN = try ImageBatch(count: 1, shape: shape, data: [Float](repeating: .nan, count: shape.count))
        #expect(throws: TweedieError.self) { try DiagonalGaussianNoise(sigma: 2, shape: self.shape).masking(nonFiniteOf: allNaN) }
        let wrong = ImageBatch(count: 1, shape: ImageShape(channels: 1, height: 3, width: 4))
        #expect(throws: TweedieError.self) { try DiagonalGaussianNoise(sigma: 2, shape: self.shape).masking(nonFiniteOf: wrong) }
    }

    @Test func sigmaEstimatedFromBackgroundWithSources() throws {
        // Gaussian noise of σ = 2.5 (band 0) and 0.7 (band 1) on a background of 10, plus bright
        // sources over ~8 % of the pixels and some NaNs; the clipped MAD must find the noise σ.
        let h = 128, w = 128
        let s = SampleStream(seed: 1234, index: 0)
        let truth = [2.5, 0.7]
        var data = [Float](repeating: 0, count: 2 * h * w)
        var plainStd = [Double](repeating: 0, count: 2)
        for c in 0..<2 {
            var sum = 0.0, sum2 = 0.0
            for y in 0..<h {
                for x in 0..<w {
                    var v = 10 + truth[c] * s.normal()
                    let dy = Double(y - 64), dx = Double(x - 64)
                    if dy * dy + dx * dx < 400 { v += 500 * exp(-(dy * dy + dx * dx) / 100) }
                    data[(c * h + y) * w + x] = Float(v); sum += v; sum2 += v * v
                }
            }
            plainStd[c] = (sum2 / Double(h * w) - pow(sum / Double(h * w), 2)).squareRoot()
        }
        data[5] = .nan; data[h * w + 77] = .nan
        let obs = try ImageBatch(count: 1, shape: ImageShape(channels: 2, height: h, width: w), data: data)
        let (model, est) = try DiagonalGaussianNoise.estimated(from: obs)
        for c in 0..<2 {
            #expect(abs(est.bandSigmas[c] - truth[c]) / truth[c] < 0.05, "band \(c): \(est.bandSigmas[c])")
            #expect(plainStd[c] > 3 * truth[c])  // the sources would spoil a plain standard deviation
            #expect(abs(est.backgroundMedians[c] - 10) < 0.1)
        }
        #expect(model.sqrtWeights[5] == 0 && model.maskedCount == 2)
        #expect(abs(Double(model.sqrtWeights[0]) - 1 / est.bandSigmas[0]) < 1e-6)
        // A constant image has no measurable noise.
        let flat = try ImageBatch(count: 1, shape: ImageShape(channels: 1, height: 8, width: 8), data: [Float](repeating: 3, count: 64))
        #expect(throws: TweedieError.self) { try NoiseEstimation.estimate(from: flat) }
    }
}

@Suite struct SimulationTests {
    @Test func simulatedNoiseHasTheRequestedLevel() throws {
        let prior = ImageShape(channels: 1, height: 64, width: 64)
        var truth = ImageBatch(count: 1, shape: prior)
        for y in 24..<40 { for x in 24..<40 { truth[0, 0, y, x] = 5 } }
        let op = try PSFConvolution(psf: GaussianPSF(fwhm: 3).render(pixelScale: 1, height: 15, width: 15), imageShape: prior)
        let a = try ObservationSimulator.simulate(truth: truth, operator: op, noise: .sigma(0.5), seed: 11)
        let b = try ObservationSimulator.simulate(truth: truth, operator: op, noise: .sigma(0.5), seed: 11)
        #expect(a.noisy.data == b.noisy.data)                                // reproducible from the seed
        #expect(try a.clean.data == op.apply(truth).data)                    // noise-free part is A x
        var s1 = 0.0, s2 = 0.0
        for j in a.noisy.data.indices { let r = Double(a.noisy.data[j] - a.clean.data[j]); s1 += r; s2 += r * r }
        let n = Double(prior.count)
        #expect(abs(s1 / n) < 4 * 0.5 / n.squareRoot())
        #expect(abs((s2 / n).squareRoot() - 0.5) < 0.02)
        // SNR = ‖A x‖ / σ.
        let c = try ObservationSimulator.simulate(truth: truth, operator: op, noise: .snr(50), seed: 1)
        let norm = c.clean.data.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
        #expect(abs(norm / c.sigma - 50) < 1e-9 && abs(c.snr - 50) < 1e-9)
        #expect(throws: TweedieError.self) { try ObservationSimulator.simulate(truth: truth, operator: op, noise: .sigma(0), seed: 1) }
        #expect(throws: TweedieError.self) { try ObservationSimulator.simulate(truth: truth, operator: op, noise: .snr(-3), seed: 1) }
    }
}
