// SMC split-Gibbs against independent oracles:
// - the importance weight's ρ-smoothed likelihood (Woodbury form, CG) against the dense
//   Gaussian N(r; 0, σ²I + ρ² B Bᵀ) evaluated with an explicit inverse;
// - systematic resampling and the effective sample size against hand-computed cases;
// - a bimodal posterior (Gaussian-mixture prior, PSF, exact posterior weights from the
//   calibration oracle): the population's mode weights must match the exact ones, where
//   plain annealed split-Gibbs with the same moves is known to miss them (Notebooks/results/calibration);
// - a non-affine (asinh) pixel transform on 16 independent pixels: one sample per population
//   against 1-D quadrature of each pixel's posterior (the weights' common linearisation point);
// - one sample kept per population: samples come from disjoint populations; on a 16×16
//   Gaussian problem where a population's weights collapse (its kept-whole samples are too
//   narrow), one sample from each of several populations has the exact posterior's width;
// - the conditional ESS against hand-computed cases; adaptive tempering on a 16×16 Gaussian
//   problem where the fixed schedule's first step already halves the ESS: its steps decrease,
//   never anneal faster than planned, are more than planned, keep the ESS above collapse, and
//   the final move separates resampled copies;
// - an adaptive population stopped midway (its step limit) and resumed from its checkpoint
//   ends with exactly the particles and steps of an uninterrupted run; a checkpoint of another
//   population or seed is not used, and a damaged one is a clear error.
import Foundation
import Testing
import TweedieCore
import TweedieOperators
import TweediePriors
import TweedieTestSupport
@testable import TweedieSampling
@testable import TweedieStudies

@Suite struct SMCSplitGibbsTests {
    @Test func smoothedLikelihoodMatchesDenseGaussian() throws {
        let shape = ImageShape(channels: 1, height: 2, width: 2)
        let n = 4, mObs = 3
        let sigma = 0.4
        let prior = try IIDGaussianDenoiser(shape: shape, mu: 0.1, variance: 1)
        let mat = testUniforms(mObs * n, seed: 5).map { $0 - 0.3 }
        let outShape = ImageShape(channels: 1, height: 1, width: mObs)
        let op = DenseOperator(inputShape: shape, outputShape: outShape, matrix: mat)
        let y = try ImageBatch(count: 1, shape: outShape, data: [0.5, -0.2, 0.9])
        let prob = try PosteriorProblem(observation: y, forwardOperator: op,
                                        noise: ScalarNoise(shape: outShape, sigma: Float(sigma)), fluxScale: 1)
        let smc = try SMCSplitGibbsSampler(prior: prior, problem: prob,
                                           settings: SMCSettings(gibbs: SplitGibbsSettings(iterations: 5), particles: 4))
        let z = try ImageBatch(count: 2, shape: shape, data: [0.3, -0.5, 1.2, 0.0, -0.8, 0.4, 0.1, 0.6])
        for rho in [0.05, 0.7, 3.0] {
            let got = try smc.logMarginalLikelihood(z, rho: rho)
            // Dense: C = σ² I + ρ² A Aᵀ (the IID denoiser's transform is the identity), −½ rᵀ C⁻¹ r.
            var c = [Double](repeating: 0, count: mObs * mObs)
            for i in 0..<mObs { for j in 0..<mObs {
                var acc = 0.0
                for k in 0..<n { acc += mat[i * n + k] * mat[j * n + k] }
                c[i * mObs + j] = rho * rho * acc + (i == j ? sigma * sigma : 0)
            } }
            let ci = DenseReference.inverse(c, n: mObs)
            let want = (0..<2).map { b -> Double in
                let r = (0..<mObs).map { i in Double(y.data[i]) - (0..<n).reduce(0.0) { $0 + mat[i * n + $1] * Double(z.data[b * n + $1]) } }
                var q = 0.0
                for i in 0..<mObs { for j in 0..<mObs { q += r[i] * ci[i * mObs + j] * r[j] } }
                return -0.5 * q
            }
            // Constants cancel in the weights: compare the difference between the two images.
            #expect(abs((got[0] - got[1]) - (want[0] - want[1])) < 1e-4 * max(1, abs(want[0] - want[1])),
                    "ρ = \(rho): \(got) vs dense \(want)")
        }
    }

    @Test func systematicResamplingAndESS() {
        // All weight on particle 2: every particle descends from it; ESS 1.
        let one: [Double] = [-.infinity, -.infinity, 0, -.infinity]
        #expect(SMCSplitGibbsSampler.systematicResample(one, uniform: 0.37) == [2, 2, 2, 2])
        #expect(abs(SMCSplitGibbsSampler.effectiveSampleSize(one) - 1) < 1e-12)
        // Equal weights: each particle keeps itself; ESS = P.
        let equal = [Double](repeating: -3, count: 5)
        #expect(SMCSplitGibbsSampler.systematicResample(equal, uniform: 0.5) == [0, 1, 2, 3, 4])
        #expect(abs(SMCSplitGibbsSampler.effectiveSampleSize(equal) - 5) < 1e-12)
        // Weights 1:3 over 4 particles with U = 0.5: points 0.125, 0.375, 0.625, 0.875 against cumulative 0.25, 1.
        let w: [Double] = [log(1.0), log(3.0), -.infinity, -.infinity]
        #expect(SMCSplitGibbsSampler.systematicResample(w, uniform: 0.5) == [0, 1, 1, 1])
        #expect(abs(SMCSplitGibbsSampler.effectiveSampleSize(w) - 16.0 / 10.0) < 1e-12)
    }

    @Test func populationRecoversMixtureModeWeights() throws {
        let prior = try AnalyticPriorSpec.parseAnalytic("mixture:n=4,weights=0.3;0.7,means=-0.2;0.2,variances=1;0.4")
        let psf = try GaussianPSF(fwhm: 1.5).render(pixelScale: 1, height: 3, width: 3)
        let op = try PSFConvolution(psf: psf, imageShape: prior.imageShape)
        let setup = try CalibrationSetup(prior: prior, priorName: "m4", forwardOperator: op, operatorName: "psf",
                                         noise: .sigma(0.3), observations: 12, seed: 3)
        #expect(setup.oracles.allSatisfy { $0.componentWeights.count == 2 })
        let gibbs = SplitGibbsSettings(iterations: 40, rhoMax: 10, priorSteps: 50)
        let s = try setup.run(.smc(SMCSettings(gibbs: gibbs, particles: 32)), samples: 32, levels: [0.68, 0.95], samplerSeed: 3)
        // The exact weights are not trivial for these observations (both modes matter).
        #expect(s.modeWeightExact!.allSatisfy { $0 > 0.1 })
        // Plain annealed split-Gibbs with the same 40 moves gives TV 0.083 on exactly these observations
        // and seeds (its mode freezes during the annealing); SMC 0.054 (measured when this test was
        // written). 0.07 separates them: losing the importance weights makes this fail.
        #expect(s.modeWeightTVMean! < 0.07, "SMC mode-weight TV \(s.modeWeightTVMean!) (exact \(s.modeWeightExact!), sampled \(s.modeWeightSampled!))")
        // Coverage over 12 × 16 pixels, 32 correlated samples each: 3 binomial σ over a quarter of the pixels.
        #expect(abs(s.coverage[1] - 0.95) < 3 * (0.95 * 0.05 / (Double(s.pixels) / 4)).squareRoot(),
                "SMC 95 % coverage \(s.coverage[1])")
    }

    @Test func samplesDoNotDependOnTheRequestedRange() throws {
        let shape = ImageShape(channels: 1, height: 2, width: 2)
        let prior = try IIDGaussianDenoiser(shape: shape, mu: 0, variance: 1)
        let outShape = ImageShape(channels: 1, height: 1, width: 2)
        let op = DenseOperator(inputShape: shape, outputShape: outShape, matrix: testUniforms(8, seed: 2))
        let prob = try PosteriorProblem(observation: try ImageBatch(count: 1, shape: outShape, data: [0.2, 0.4]),
                                        forwardOperator: op, noise: ScalarNoise(shape: outShape, sigma: 0.3), fluxScale: 1)
        let smc = try SMCSplitGibbsSampler(prior: prior, problem: prob,
                                           settings: SMCSettings(gibbs: SplitGibbsSettings(iterations: 6, priorSteps: 10), particles: 4))
        let all = try smc.sample(indices: 0..<8, seed: 9)
        let part = try smc.sample(indices: 5..<7, seed: 9)
        #expect(Array(all.data[20..<28]) == part.data)
        #expect(smc.sampleGroupSize == 4)
    }

    @Test func keptSamplesComeFromTheirOwnPopulations() throws {
        // Keeping one sample per population makes sample k the first (shuffled) particle of
        // population k, whose particles use streams 4k … 4k + 3: the same whatever range is asked
        // for, and distinct from every other population's.
        let shape = ImageShape(channels: 1, height: 2, width: 2)
        let prior = try IIDGaussianDenoiser(shape: shape, mu: 0, variance: 1)
        let prob = try PosteriorProblem(observation: try ImageBatch(count: 1, shape: shape, data: [0.5, -0.3, 0.1, 0.8]),
                                        forwardOperator: DenseOperator.identity(shape),
                                        noise: ScalarNoise(shape: shape, sigma: 0.1), fluxScale: 1)
        let gibbs = SplitGibbsSettings(iterations: 6, priorSteps: 10)
        let whole = try SMCSplitGibbsSampler(prior: prior, problem: prob, settings: SMCSettings(gibbs: gibbs, particles: 4))
        let one = try SMCSplitGibbsSampler(prior: prior, problem: prob,
                                           settings: SMCSettings(gibbs: gibbs, particles: 4, samplesPerPopulation: 1))
        #expect(one.sampleGroupSize == 1 && whole.sampleGroupSize == 4)
        let kept = try one.sample(indices: 0..<6, seed: 5)
        let distinct = Set((0..<6).map { (k: Int) -> [Float] in Array(kept.data[(k * 4)..<(k * 4 + 4)]) }).count
        #expect(distinct == 6)
        // Sample 0 is population 0's first particle, which is also the whole-population run's sample 0.
        #expect(Array(kept.data[0..<4]) == Array(try whole.sample(indices: 0..<4, seed: 5).data[0..<4]))
        // Sample 3 is population 3, asked for alone.
        let third = Array(kept.data[12..<16])
        #expect(try one.sample(indices: 3..<4, seed: 5).data == third)
        #expect(Array(try one.samplePopulation(3, seed: 5).data[0..<4]) == third)
        #expect(throws: TweedieError.self) {
            try SMCSplitGibbsSampler(prior: prior, problem: prob, settings: SMCSettings(gibbs: gibbs, particles: 4, samplesPerPopulation: 5))
        }
    }

    @Test func oneSamplePerPopulationKeepsTheWidthWherePopulationsCollapse() throws {
        // 16×16 stationary Gaussian prior, periodic PSF, SNR 50, planned tempering (30 levels from
        // ρ = 10, ≤ 40 network calls per prior step; with 10 the prior step itself loses ≈ 10 % of
        // the width): the weight increments sum over 256 data values, and a population's particles end
        // up sharing one or two ancestors, so 16 samples kept from one population of 16 are too
        // narrow (std ratio 0.70 in tuning/smc_adaptive). One sample from each of 16 populations of 4
        // is calibrated there (0.99 in tuning/smc_keep1; 0.98 against 0.65 here when written). Two
        // observations × 256 pixels × 16 samples: the std ratio of exact draws scatters by ≈ 0.02, so
        // 0.92 … 1.08 is a 4σ band that the whole-population run misses by far.
        let prior = try AnalyticPriorSpec.parseAnalytic("gaussian:n=16,amplitude=1,slope=3,k0=0.3")
        let psf = try GaussianPSF(fwhm: 2).render(pixelScale: 1, height: 7, width: 7)
        let op = try PSFConvolution(psf: psf, imageShape: prior.imageShape, boundary: .periodic)
        let setup = try CalibrationSetup(prior: prior, priorName: "g16", forwardOperator: op, operatorName: "psf",
                                         noise: .snr(50), observations: 2, seed: 11)
        let gibbs = SplitGibbsSettings(iterations: 30, rhoMax: 10, priorSteps: 40)
        let one = try setup.run(.smc(SMCSettings(gibbs: gibbs, particles: 4, samplesPerPopulation: 1)),
                                samples: 16, levels: [0.68], samplerSeed: 5)
        let whole = try setup.run(.smc(SMCSettings(gibbs: gibbs, particles: 16)), samples: 16, levels: [0.68], samplerSeed: 5)
        #expect(abs(one.stdRatio - 1) < 0.08, "one sample per population: std ratio \(one.stdRatio)")
        #expect(whole.stdRatio < 0.85, "whole population: std ratio \(whole.stdRatio)")
    }

    @Test func nonAffineTransformWeightsKeepThePosterior() throws {
        // 16 independent pixels, IID Gaussian prior in network space, asinh pixel transform,
        // every pixel measured (σ = 0.15): the posterior factorises, and each pixel's mean and
        // variance come from 1-D quadrature. With an asinh T the ρ-smoothed likelihood's
        // log-determinant differs between particles; dropping it per particle (linearising each at
        // its own z) made the weights favour particles with large T' (large |u|): one sample drawn
        // by weight from each population of 8 came out far too wide and biased (pooled variance
        // ratio 24, RMS mean error 0.61 posterior std, measured when this test was written), and
        // starting each particle's likelihood-step MH chain at N(0, I) noise left chains stuck
        // there (8.9, 0.39). With the common linearisation point and the chain started at its first
        // proposal: 0.78 and 0.14 — the mean is right but the samples are ≈ 12 % too narrow in std
        // (plain split-Gibbs with the same moves: 0.94 and 0.12). That narrowing is a known limit of
        // SMC with a non-affine transform (README, Calibration); this test guards the two gross
        // failures, not calibration: the variance ratio must lie within a factor 1.5 of 1 (its
        // standard error is ≈ 0.045) and the mean error below 0.2 posterior std.
        let n = 16
        let shape = ImageShape(channels: 1, height: 4, width: 4)
        let transform = AsinhTransform(softening: 0.3, gain: 1, offset: 0)
        let prior = try IIDGaussianDenoiser(shape: shape, mu: 0, variance: 1, transform: transform)
        let yv = testUniforms(n, seed: 21).map { 2.4 * $0 - 0.6 }
        let sigma = 0.15
        let prob = try PosteriorProblem(observation: try ImageBatch(count: 1, shape: shape, data: yv.map { Float($0) }),
                                        forwardOperator: DenseOperator.identity(shape),
                                        noise: ScalarNoise(shape: shape, sigma: Float(sigma)), fluxScale: 1)
        // Quadrature per pixel: p(u | y) ∝ N(u; 0, 1) N(y; 0.3·sinh(u), σ²).
        let exact = yv.map { asinhPixelPosterior(y: $0, mu: 0, variance: 1, softening: 0.3, gain: 1, sigma: sigma) }
        let smc = try SMCSplitGibbsSampler(prior: prior, problem: prob,
                                           settings: SMCSettings(gibbs: SplitGibbsSettings(iterations: 60),
                                                                 particles: 8, samplesPerPopulation: 1))
        let k = 64
        let draws = try smc.sample(indices: 0..<k, seed: 4)
        var st = RunningStatistics(valueCount: n)
        for i in 0..<k { st.add(Array(draws.data[(i * n)..<((i + 1) * n)])) }
        let varianceRatio = (0..<n).map { st.variance[$0] / exact[$0].variance }.reduce(0, +) / Double(n)
        let meanError = ((0..<n).map { pow((st.mean[$0] - exact[$0].mean) / exact[$0].variance.squareRoot(), 2) }
                            .reduce(0, +) / Double(n)).squareRoot()
        #expect(varianceRatio > 1 / 1.5 && varianceRatio < 1.5, "pooled variance ratio \(varianceRatio)")
        // 64 independent draws: the RMS mean error of exact draws is 1/8 = 0.125.
        #expect(meanError < 0.2, "RMS mean error \(meanError) posterior std")
    }

    @Test func conditionalESSByHand() {
        // Equal current weights: the conditional ESS is the ESS of the increments.
        let inc: [Double] = [0, log(3.0), -.infinity, 0]
        #expect(abs(SMCSplitGibbsSampler.conditionalESS(logW: [Double](repeating: 2, count: 4), increment: inc)
                    - SMCSplitGibbsSampler.effectiveSampleSize(inc)) < 1e-12)
        // W = (1/2, 1/2, 0, 0), w = (1, 3, ·, ·): P (Σ W w)² / Σ W w² = 4 · 2² / 5.
        let logW: [Double] = [0, 0, -.infinity, -.infinity]
        #expect(abs(SMCSplitGibbsSampler.conditionalESS(logW: logW, increment: [0, log(3.0), 7, 7]) - 16.0 / 5) < 1e-12)
        // A constant increment changes nothing: conditional ESS = P whatever W holds.
        #expect(abs(SMCSplitGibbsSampler.conditionalESS(logW: [0, -1, -2, -5], increment: [1.5, 1.5, 1.5, 1.5]) - 4) < 1e-12)
    }

    /// A stationary Gaussian prior on size×size pixels seen through a periodic Gaussian PSF (FWHM 2 px)
    /// at SNR 50: one observation drawn from the prior.
    static func gaussianPSFProblem(size: Int, psfSize: Int, seed: UInt64) throws -> (prior: any AnalyticPrior, problem: PosteriorProblem) {
        let prior = try AnalyticPriorSpec.parseAnalytic("gaussian:n=\(size),amplitude=1,slope=3,k0=0.3")
        let psf = try GaussianPSF(fwhm: 2).render(pixelScale: 1, height: psfSize, width: psfSize)
        let op = try PSFConvolution(psf: psf, imageShape: prior.imageShape, boundary: .periodic)
        let setup = try CalibrationSetup(prior: prior, priorName: "g\(size)", forwardOperator: op, operatorName: "psf",
                                         noise: .snr(50), observations: 1, seed: seed)
        let problem = try PosteriorProblem(observation: setup.observations[0], forwardOperator: op,
                                           noise: try DiagonalGaussianNoise(sigma: setup.sigma, shape: op.outputShape), fluxScale: 1)
        return (prior, problem)
    }

    @Test func adaptiveTemperingWalksDownWithoutCollapse() throws {
        // 16×16 stationary Gaussian prior, periodic PSF, SNR 50: 256 data values. The planned 30-level
        // schedule's first reweighting already leaves a 16-particle population below half its size
        // (4.6 here); adaptive tempering walks down from the top of the schedule instead.
        let (prior, problem) = try Self.gaussianPSFProblem(size: 16, psfSize: 7, seed: 3)
        let gibbs = SplitGibbsSettings(iterations: 30, rhoMax: 10, priorSteps: 10)
        let smc = try SMCSplitGibbsSampler(prior: prior, problem: problem,
                                           settings: SMCSettings(gibbs: gibbs, particles: 16, adaptive: true, stepESS: 0.9))
        // The fixed schedule's first step, from prior draws to ρ_0 = 10: weights of 16 prior samples.
        var draws = ImageBatch(count: 16, shape: prior.imageShape)
        draws.data = prior.samples(count: 16, seed: 11).data
        let first = try smc.logMarginalLikelihood(draws, rho: smc.kernel.coupling(smc.kernel.levels[0]))
        #expect(SMCSplitGibbsSampler.effectiveSampleSize(first) < 8, "fixed schedule's first ESS \(SMCSplitGibbsSampler.effectiveSampleSize(first))")

        let (out, trace) = try smc.samplePopulationAdaptive(0, seed: 1)
        #expect(out.count == 16 && out.allFinite)
        #expect(trace.levels.last == 0)
        // Strictly decreasing timesteps, never below the planned levels' pace: each step ends at or
        // above the next planned level under the previous one.
        var previous = smc.kernel.schedule.count - 1
        for t in trace.levels {
            #expect(t < previous)
            let floor = smc.kernel.levels.first { $0 < previous } ?? 0
            #expect(t >= floor, "step to \(t) below the planned level \(floor)")
            previous = t
        }
        // More, smaller steps than planned (the point of adapting), and ESS never collapses to one
        // particle at any step.
        #expect(trace.levels.count > smc.kernel.levels.count)
        #expect(trace.ess.allSatisfy { $0 > 2 }, "ESS per step \(trace.ess)")
        // Copies from resampling are separated by the final move: no two samples are identical.
        let per = prior.imageShape.count
        var rows = Set<[Float]>()
        for k in 0..<16 { rows.insert(Array(out.data[(k * per)..<((k + 1) * per)])) }
        #expect(rows.count == 16)
    }

    @Test func adaptivePopulationResumesFromItsCheckpoint() throws {
        let (prior, problem) = try Self.gaussianPSFProblem(size: 8, psfSize: 5, seed: 5)
        func sampler(maxSteps: Int, checkpoint: URL?) throws -> SMCSplitGibbsSampler {
            var s = try SMCSplitGibbsSampler(prior: prior, problem: problem,
                                             settings: SMCSettings(gibbs: SplitGibbsSettings(iterations: 10, rhoMax: 10, priorSteps: 5),
                                                                   particles: 8, adaptive: true, maxSteps: maxSteps))
            s.populationCheckpointURL = checkpoint
            s.populationCheckpointInterval = 0
            return s
        }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tweedie-smc-ckpt-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("population.ckpt")

        let (reference, referenceTrace) = try sampler(maxSteps: 1000, checkpoint: nil).samplePopulationAdaptive(0, seed: 4)
        let n = referenceTrace.levels.count
        try #require(n >= 6, "too few tempering steps (\(n)) to cut the run")
        // Stopped by its step limit after n/2 steps: the file holds the state after those steps.
        #expect(throws: TweedieError.self) { try sampler(maxSteps: n / 2, checkpoint: url).samplePopulationAdaptive(0, seed: 4) }
        let saved = try #require(try SMCPopulationCheckpoint.read(url))
        #expect(saved.header.traceLevels == Array(referenceTrace.levels.prefix(n / 2)))
        #expect(saved.header.level == referenceTrace.levels[n / 2 - 1])

        // Resumed with the full step limit: bit-identical to the uninterrupted population.
        let (resumed, resumedTrace) = try sampler(maxSteps: 1000, checkpoint: url).samplePopulationAdaptive(0, seed: 4)
        #expect(resumed.data == reference.data)
        #expect(resumedTrace.levels == referenceTrace.levels && resumedTrace.resamplings == referenceTrace.resamplings)
        // …and the state really came from the file: the same file with its particles nudged gives others.
        var nudged = saved
        for j in nudged.z.indices { nudged.z[j] += 0.01 }
        try nudged.write(to: url)
        let (fromNudged, _) = try sampler(maxSteps: 1000, checkpoint: url).samplePopulationAdaptive(0, seed: 4)
        #expect(fromNudged.data != reference.data)

        // The file is population 0's with seed 4: another seed or population starts afresh.
        let s = try sampler(maxSteps: 1000, checkpoint: url)
        #expect(try s.resumableCheckpoint(0, seed: 5) == nil)
        #expect(try s.resumableCheckpoint(1, seed: 4) == nil)
        #expect(try s.resumableCheckpoint(0, seed: 4) != nil)

        // A damaged file is an error naming it, not a silent restart.
        let bytes = try Data(contentsOf: url)
        try bytes.prefix(bytes.count - 3).write(to: url)
        do {
            _ = try SMCPopulationCheckpoint.read(url)
            Issue.record("a truncated checkpoint was read")
        } catch let error as TweedieError {
            #expect("\(error)".contains(url.path) && "\(error)".contains("truncated"))
        }
    }
}
