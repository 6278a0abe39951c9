// DPS and the run loop against exact oracles:
// - ζ = 0 is plain ancestral sampling: samples must reproduce the prior's mean
//   and variance (i.i.d. Gaussian prior, exact denoiser);
// - the guidance gradient ∇_{x_t}‖r‖ equals central finite differences of ‖r‖
//   through a nonlinear pixel transform, a dense operator and the denoiser;
// - sample k is bit-identical for batch sizes 1, 4, 7 and after a resume.
import Foundation
import Testing
import TweedieCore
@testable import TweedieSampling

@Suite struct DPSTests {
    func problem(shape: ImageShape, outCount: Int, sigma: Float, truth: [Float],
                 transform: any PixelTransform = AffinePixelTransform(), fluxScale: Double = 1) throws -> PosteriorProblem {
        let outShape = ImageShape(channels: 1, height: 1, width: outCount)
        let m = testUniforms(outCount * shape.count, seed: 7)
        let op = DenseOperator(inputShape: shape, outputShape: outShape, matrix: m)
        var xt = try ImageBatch(count: 1, shape: shape, data: truth)
        xt.data = xt.data.map { Float(fluxScale) * transform.toPhysical($0) }
        var y = try op.apply(xt)
        let noise = testUniforms(outCount, seed: 99)
        for j in 0..<outCount { y.data[j] += sigma * Float(noise[j]) }
        return try PosteriorProblem(observation: y, forwardOperator: op,
                                    noise: ScalarNoise(shape: outShape, sigma: sigma), fluxScale: fluxScale)
    }

    @Test func ancestralLoopReproducesThePrior() throws {
        let shape = ImageShape(channels: 1, height: 2, width: 2)
        let prior = try IIDGaussianDenoiser(shape: shape, mu: 0.3, variance: 0.25)
        let prob = try problem(shape: shape, outCount: 3, sigma: 1, truth: [0, 0, 0, 0])
        let dps = try DPSSampler(prior: prior, problem: prob, settings: DPSSettings(steps: 100, guidanceScale: 0))
        let n = 2000
        let u = try dps.sample(indices: 0..<n, seed: 11)
        var stats = RunningStatistics(valueCount: shape.count)
        for k in 0..<n { stats.add(u.data[(k * 4)..<((k + 1) * 4)]) }
        // Mean: standard error √(0.25/2000) ≈ 0.0112 → 4σ = 0.045. Variance: relative s.e. √(2/1999) ≈ 3.2 % → 4σ ≈ 13 %.
        for j in 0..<4 {
            #expect(abs(stats.mean[j] - 0.3) < 0.045)
            #expect(abs(stats.variance[j] / 0.25 - 1) < 0.13)
        }
    }

    /// With `ddimEta` and ζ = 0, DPS's steps are the unconditional DDIM sampler's (same streams, same
    /// coefficients): the samples agree to rounding; a bad η is refused.
    @Test func ddimStepsWithoutGuidanceAreTheUnconditionalDDIMSampler() throws {
        let shape = ImageShape(channels: 1, height: 2, width: 2)
        let prior = try IIDGaussianDenoiser(shape: shape, mu: 0.3, variance: 0.25)
        let prob = try problem(shape: shape, outCount: 3, sigma: 1, truth: [0, 0, 0, 0])
        for eta in [0.0, 0.5, 1.0] {
            let dps = try DPSSampler(prior: prior, problem: prob, settings: DPSSettings(steps: 50, guidanceScale: 0, ddimEta: eta))
            let ddim = try AncestralSampler(prior: prior, steps: 50, method: .ddim(eta: eta))
            let a = try dps.sample(indices: 0..<6, seed: 4), b = try ddim.sample(indices: 0..<6, seed: 4)
            for j in a.data.indices { #expect(abs(a.data[j] - b.data[j]) < 1e-5, "η \(eta), value \(j): \(a.data[j]) vs \(b.data[j])") }
            #expect(dps.summary.contains("DDIM steps η=\(eta)"))
        }
        #expect(throws: TweedieError.self) {
            try DPSSampler(prior: prior, problem: prob, settings: DPSSettings(steps: 50, guidanceScale: 0, ddimEta: 1.5))
        }
    }

    @Test func guidanceGradientMatchesFiniteDifferences() throws {
        let shape = ImageShape(channels: 1, height: 2, width: 3)
        let transform = AsinhTransform(softening: 0.5, gain: 1.3, offset: 0.1)
        let prior = try IIDGaussianDenoiser(shape: shape, mu: 0.1, variance: 0.5, transform: transform)
        let truth: [Float] = [0.2, -0.4, 0.9, 0.1, 0.5, -0.2]
        let prob = try problem(shape: shape, outCount: 5, sigma: 0.3, truth: truth, transform: transform, fluxScale: 2.5)
        let dps = try DPSSampler(prior: prior, problem: prob, settings: DPSSettings(steps: 50, guidanceScale: 1))
        let t = 400
        let x0 = testUniforms(shape.count, seed: 3).map { Float($0) }
        let x = try ImageBatch(count: 1, shape: shape, data: x0)
        let (_, _, grad) = try dps.guidance(x, timestep: t)
        // ‖r‖ as a function of x_t in Double, independently of the library's chain.
        func norm(_ xs: [Double]) -> Double {
            let (g, ab) = prior.gain(t)
            let phys = xs.map { v -> Double in
                let e = 0.1 + g * (v - ab.squareRoot() * 0.1)
                return 2.5 * 0.5 * sinh((e - 0.1) / 1.3)
            }
            let op = prob.forwardOperator as! DenseOperator
            var acc = 0.0
            for i in 0..<5 {
                var ax = 0.0
                for j in 0..<6 { ax += op.matrix[i * 6 + j] * phys[j] }
                let r = (Double(prob.observation.data[i]) - ax) / 0.3
                acc += r * r
            }
            return acc.squareRoot()
        }
        let base = x0.map(Double.init)
        for j in 0..<6 {
            var p = base, m = base
            p[j] += 1e-5; m[j] -= 1e-5
            let fd = (norm(p) - norm(m)) / 2e-5
            #expect(abs(Double(grad.data[j]) - fd) <= 1e-3 * max(1, abs(fd)), "component \(j): \(grad.data[j]) vs \(fd)")
        }
    }

    @Test func samplesAreBitIdenticalForAnyBatchSizeAndResume() throws {
        let shape = ImageShape(channels: 1, height: 3, width: 3)
        let prior = try IIDGaussianDenoiser(shape: shape, mu: 0, variance: 1)
        let prob = try problem(shape: shape, outCount: 4, sigma: 0.2, truth: [Float](repeating: 0.5, count: 9))
        let dps = try DPSSampler(prior: prior, problem: prob, settings: DPSSettings(steps: 20, guidanceScale: 0.5))
        func run(batch: Int, total: Int, from state: PosteriorAccumulator? = nil) throws -> PosteriorAccumulator {
            let r = try PosteriorRun(sampler: dps, problem: prob, transform: prior.pixelTransform, seed: 5, batchSize: batch)
            var s = state ?? PosteriorAccumulator(fingerprint: "t", totalSamples: total, valueCount: 9)
            s.totalSamples = total
            return try r.run(s)
        }
        var a = try run(batch: 1, total: 13)
        var b = try run(batch: 4, total: 13)
        var c = try run(batch: 7, total: 13)
        var d = try run(batch: 3, total: 13, from: try run(batch: 4, total: 6))
        a.elapsedSeconds = 0; b.elapsedSeconds = 0; c.elapsedSeconds = 0; d.elapsedSeconds = 0
        #expect(a == b)
        #expect(a == c)
        #expect(a == d)
        #expect(a.physicalCount == 13)
    }
}
