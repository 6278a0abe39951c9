// The unconditional sampler (AncestralSampler: DDPM ancestral and DDIM).
//
// Oracle for the moments: with the stationary Gaussian prior every step is linear
// and diagonal in the unitary Fourier basis, so each mode u_k follows a scalar
// recursion u ← A_i u + B_i + σ_i z that this test evaluates in Float64 from P(k)
// and the schedule alone (no library sampler code):
//   x̂0 = M + g_i (u − a_i M),  g_i = a_i P/(ᾱ_i P + 1 − ᾱ_i),  a_i = √ᾱ_i,  s_i = √(1−ᾱ_i),
//   DDPM  u' = c1 x̂0 + c2 u + σ z                         (σ² = β̃_i, 0 at i = 0),
//   DDIM  u' = √ᾱ_{i−1} x̂0 + √(1−ᾱ_{i−1}−σ²)·(u − a_i x̂0)/s_i + σ z,
//         σ = η √((1−ᾱ_{i−1})/(1−ᾱ_i)) √(1−ᾱ_i/ᾱ_{i−1}),
// from u ~ N(0, 1); M = √N μ for k = 0, else 0. Mean m' = A m + B, variance
// v' = A² v + σ². The draws are stationary, so every pixel has mean m_0/√N and
// variance (1/N) Σ_k v_k (Parseval). Sampling error of the pixel-averaged sample
// variance: √(Σ_k 2 v_k²/n)/N for n draws (doubled for conjugate-pair modes);
// tolerance 5 standard errors. The exact moments are also within the respacing's
// discretisation gap (computed) of the prior's own closed form, mean μ and
// pixel variance mean(P).

import Foundation
import Testing
import TweedieCore
import TweediePriors
@testable import TweedieSampling

@Suite("Ancestral (unconditional) sampler")
struct AncestralSamplerTests {
    static let h = 8, w = 8, mu = 0.5

    static func prior() throws -> StationaryGaussianPrior {
        let spectrum = try PowerSpectrum(model: .powerLaw(amplitude: 0.05, slope: 3, k0: 0.1), height: h, width: w)
        return try StationaryGaussianPrior(spectrum: spectrum, mean: [mu], schedule: NoiseSchedule(kind: .cosine, steps: 1000))
    }

    /// Exact (pixel mean, pixel variance) of the sampler's output, mode by mode.
    static func exactMoments(_ prior: StationaryGaussianPrior, _ sampler: AncestralSampler) -> (mean: Double, variance: Double, modeVariances: [Double]) {
        let n = h * w
        let schedule = sampler.schedule
        var v = [Double](repeating: 1, count: n), m = [Double](repeating: 0, count: n)
        for k in 0..<n {
            let p = prior.spectrum.values[k]
            let bigM = k == 0 ? Double(n).squareRoot() * mu : 0
            for i in stride(from: schedule.count - 1, through: 0, by: -1) {
                let ab = schedule.alphasCumprod[i], a = ab.squareRoot(), s = (1 - ab).squareRoot()
                let abPrev = schedule.alphaCumprodPrev(i)
                let g = a * p / (ab * p + 1 - ab)
                // x̂0 = g u + c0
                let c0 = bigM * (1 - g * a)
                var coef: Double, const: Double, sigma2: Double
                switch sampler.method {
                case .ddpm:
                    let (c1, c2, variance) = schedule.posteriorCoefficients(i)
                    coef = c1 * g + c2; const = c1 * c0; sigma2 = i > 0 ? variance : 0
                case .ddim(let eta):
                    let sd = eta * ((1 - abPrev) / (1 - ab)).squareRoot() * max(0, 1 - ab / abPrev).squareRoot()
                    let ap = abPrev.squareRoot(), bp = max(0, 1 - abPrev - sd * sd).squareRoot()
                    coef = ap * g + bp * (1 - a * g) / s
                    const = ap * c0 - bp * a * c0 / s
                    sigma2 = sd * sd
                }
                m[k] = coef * m[k] + const
                v[k] = coef * coef * v[k] + sigma2
            }
        }
        return (m[0] / Double(n).squareRoot(), v.reduce(0, +) / Double(n), v)
    }

    func checkMoments(_ method: AncestralMethod, steps: Int, count: Int, seed: UInt64) throws {
        let prior = try Self.prior()
        let sampler = try AncestralSampler(prior: prior, steps: steps, method: method)
        let x = try sampler.sample(indices: 0..<count, seed: seed)
        #expect(x.count == count && x.allFinite)
        let n = Self.h * Self.w
        var stats = RunningStatistics(valueCount: n)
        for k in 0..<count { stats.add(x.data[(k * n)..<((k + 1) * n)]) }
        let sampleMean = stats.mean.reduce(0, +) / Double(n)
        let sampleVariance = stats.variance.reduce(0, +) / Double(n)
        let exact = Self.exactMoments(prior, sampler)
        let seMean = (exact.modeVariances[0] / Double(count)).squareRoot() / Double(n).squareRoot()
        let seVar = (exact.modeVariances.reduce(0) { $0 + 4 * $1 * $1 } / Double(count)).squareRoot() / Double(n)
        #expect(abs(sampleMean - exact.mean) < 5 * seMean, "\(method): mean \(sampleMean) vs exact \(exact.mean) (SE \(seMean))")
        #expect(abs(sampleVariance - exact.variance) < 5 * seVar,
                "\(method): pixel variance \(sampleVariance) vs exact \(exact.variance) (SE \(seVar))")
        // The sampler's exact moments against the prior's closed form: only the discretisation gap.
        let priorVariance = prior.spectrum.pixelVariance(channel: 0)
        #expect(abs(exact.mean - Self.mu) < 0.02, "\(method): exact sampler mean \(exact.mean) vs μ = \(Self.mu)")
        #expect(abs(exact.variance / priorVariance - 1) < 0.12,
                "\(method): exact sampler pixel variance \(exact.variance) vs prior \(priorVariance)")
        // And the draws against the prior's closed form, within sampling error plus that gap.
        #expect(abs(sampleVariance - priorVariance) < 5 * seVar + abs(exact.variance - priorVariance))
    }

    @Test("DDPM draws reproduce the exact sampler moments and the prior's mean and pixel variance")
    func ddpmMoments() throws { try checkMoments(.ddpm(useBetaVariance: false), steps: 100, count: 1500, seed: 11) }

    @Test("DDIM (η = 0) draws reproduce the exact sampler moments and the prior's mean and pixel variance")
    func ddimMoments() throws { try checkMoments(.ddim(eta: 0), steps: 100, count: 1500, seed: 12) }

    @Test("DDIM (η = 0.7) draws reproduce the exact sampler moments")
    func ddimEtaMoments() throws { try checkMoments(.ddim(eta: 0.7), steps: 100, count: 1500, seed: 13) }

    @Test("sample k is bit-identical in batches of 1, 4 and 7 (analytic prior, DDPM and DDIM)")
    func batchInvarianceAnalytic() throws {
        let prior = try Self.prior()
        for method in [AncestralMethod.ddpm(useBetaVariance: false), .ddim(eta: 0.5)] {
            let sampler = try AncestralSampler(prior: prior, steps: 20, method: method)
            try Self.expectBatchInvariant(sampler, count: 7, seed: 99)
        }
    }

    @Test("sample k is bit-identical in batches of 1, 4 and 7 with a random-weight U-Net")
    func batchInvarianceUNet() throws {
        // The PyTorch parity fixture network of the priors' tests (32 px, 3 channels, random weights).
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("TweediePriorsTests/Fixtures/unet")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("improved.json"))) as? [String: Any])
        var config = try JSONDecoder().decode(UNetConfig.self, from: JSONSerialization.data(withJSONObject: try #require(json["config"])))
        // Half the image size, attention at the same downsampling factor: the same weights, 4× cheaper.
        config.imageSize /= 2
        config.attentionResolutions = config.attentionResolutions.map { $0 / 2 }
        let weights = try SafeTensors.read(contentsOf: dir.appendingPathComponent("improved.safetensors")).tensors
        var reference: [[Float]] = []
        for batch in [1, 4, 7] {
            let model = try UNetModel(config: config, stateDict: weights, source: "improved.safetensors")
            let denoiser = UNetDenoiser(model: model, schedule: try NoiseSchedule(kind: .cosine, steps: 1000), maxBatch: batch)
            let sampler = try AncestralSampler(prior: denoiser, steps: 2)
            var drawn: [[Float]] = []
            for start in stride(from: 0, to: 7, by: batch) {
                let x = try sampler.sample(indices: start..<min(7, start + batch), seed: 5)
                for k in 0..<x.count { drawn.append(Array(x.image(k).data)) }
            }
            if reference.isEmpty { reference = drawn } else {
                for k in 0..<7 { #expect(drawn[k] == reference[k], "U-Net sample \(k) differs in batches of \(batch)") }
            }
        }
    }

    static func expectBatchInvariant(_ sampler: AncestralSampler, count: Int, seed: UInt64) throws {
        var reference: [[Float]] = []
        for batch in [1, 4, 7] {
            var drawn: [[Float]] = []
            for start in stride(from: 0, to: count, by: batch) {
                let x = try sampler.sample(indices: start..<min(count, start + batch), seed: seed)
                for k in 0..<x.count { drawn.append(Array(x.image(k).data)) }
            }
            if reference.isEmpty { reference = drawn } else {
                for k in 0..<count { #expect(drawn[k] == reference[k], "\(sampler.method): sample \(k) differs in batches of \(batch)") }
            }
        }
    }

    @Test("a non-finite prediction stops the sampler with the step and the sample named")
    func nonFiniteIsReported() throws {
        let prior = try BrokenDenoiser(shape: ImageShape(channels: 1, height: 4, width: 4), badSample: 2)
        let sampler = try AncestralSampler(prior: prior, steps: 10)
        #expect {
            _ = try sampler.sample(indices: 0..<4, seed: 1)
        } throws: { error in
            let text = "\(error)"
            return text.contains("step 1 of 10") && text.contains("sample 2")
        }
        #expect(throws: TweedieError.self) { _ = try AncestralSampler(prior: prior, steps: 10, method: .ddim(eta: -1)) }
        #expect(throws: TweedieError.self) { _ = try AncestralSampler(prior: prior, steps: 0) }
    }

    @Test("DPS's ancestral step is the shared update: with ζ = 0 DPS equals the unconditional DDPM sampler")
    func dpsWithoutGuidanceIsAncestral() throws {
        let prior = try IIDGaussianDenoiser(shape: ImageShape(channels: 1, height: 4, width: 4), mu: 0.3, variance: 0.5)
        let shape = prior.imageShape, n = shape.count
        var identity = [Double](repeating: 0, count: n * n)
        for j in 0..<n { identity[j * n + j] = 1 }
        let problem = try PosteriorProblem(observation: ImageBatch(count: 1, shape: shape, repeating: 0.1),
                                           forwardOperator: DenseOperator(inputShape: shape, outputShape: shape, matrix: identity),
                                           noise: ScalarNoise(shape: shape, sigma: 0.1), fluxScale: 1)
        let dps = try DPSSampler(prior: prior, problem: problem, settings: DPSSettings(steps: 25, guidanceScale: 0))
        let plain = try AncestralSampler(prior: prior, steps: 25)
        #expect(try dps.sample(indices: 3..<6, seed: 8).data == plain.sample(indices: 3..<6, seed: 8).data)
    }
}

/// ε̂ = NaN for one sample (by its x_T value), finite otherwise.
final class BrokenDenoiser: Denoiser, @unchecked Sendable {
    let imageShape: ImageShape
    let schedule: NoiseSchedule
    let pixelTransform: any PixelTransform = AffinePixelTransform()
    let bands: [String] = []
    let summary = "broken"
    let badSample: Int
    init(shape: ImageShape, badSample: Int) throws {
        imageShape = shape; self.badSample = badSample; schedule = try NoiseSchedule(kind: .linear, steps: 100)
    }
    func predict(_ xt: ImageBatch, timesteps t: [Int]) throws -> DenoiserPrediction {
        var x0 = xt
        let per = imageShape.count
        // The sampler draws sample k's x_T from stream (1, k): mark the bad one by comparing with it.
        let marker = SampleStream(seed: 1, index: badSample).normals(per)
        for k in 0..<xt.count where Array(xt.data[(k * per)..<((k + 1) * per)]) == marker {
            for j in 0..<per { x0.data[k * per + j] = .nan }
        }
        return DenoiserPrediction(x0: x0, eps: xt)
    }
    func predictWithPullback(_ xt: ImageBatch, timesteps t: [Int]) throws -> (DenoiserPrediction, DenoiserPullback) {
        (try predict(xt, timesteps: t), { $0 })
    }
}
