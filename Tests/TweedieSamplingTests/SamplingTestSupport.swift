// Small exact building blocks for sampler tests, independent of the library's
// operators and priors:
// - IIDGaussianDenoiser: x0 ~ N(μ, s²) i.i.d. per pixel, whose exact Tweedie
//   estimate is x̂0 = μ + √ᾱ s²/(ᾱ s² + 1 − ᾱ)·(x_t − √ᾱ μ) (a scalar Wiener filter);
// - DenseOperator: y = M x for a dense matrix M (adjoint Mᵀ);
// - ScalarNoise: σ everywhere.
import Foundation
import TweedieCore
@testable import TweedieSampling

final class IIDGaussianDenoiser: Denoiser, @unchecked Sendable {
    let imageShape: ImageShape
    let schedule: NoiseSchedule
    let pixelTransform: any PixelTransform
    let bands: [String]
    let mu: Double, s2: Double
    var summary: String { "iid-gaussian(μ=\(mu), s²=\(s2))" }

    init(shape: ImageShape, mu: Double, variance: Double, transform: any PixelTransform = AffinePixelTransform(),
         steps: Int = 1000) throws {
        imageShape = shape; self.mu = mu; s2 = variance; pixelTransform = transform
        bands = (0..<shape.channels).map { "b\($0)" }
        schedule = try NoiseSchedule(kind: .cosine, steps: steps)
    }

    func gain(_ t: Int) -> (g: Double, ab: Double) {
        let ab = schedule.alphasCumprod[t]
        return (ab.squareRoot() * s2 / (ab * s2 + 1 - ab), ab)
    }

    func predict(_ xt: ImageBatch, timesteps t: [Int]) throws -> DenoiserPrediction {
        var x0 = xt, eps = xt
        let per = imageShape.count
        for k in 0..<xt.count {
            let (g, ab) = gain(t[k])
            for j in 0..<per {
                let v = Double(xt.data[k * per + j])
                let e = mu + g * (v - ab.squareRoot() * mu)
                x0.data[k * per + j] = Float(e)
                eps.data[k * per + j] = Float((v - ab.squareRoot() * e) / (1 - ab).squareRoot())
            }
        }
        return DenoiserPrediction(x0: x0, eps: eps)
    }

    func predictWithPullback(_ xt: ImageBatch, timesteps t: [Int]) throws -> (DenoiserPrediction, DenoiserPullback) {
        let p = try predict(xt, timesteps: t)
        let per = imageShape.count
        let gains = t.map { Float(gain($0).g) }
        return (p, { v in
            var out = v
            for k in 0..<v.count { for j in 0..<per { out.data[k * per + j] *= gains[k] } }
            return out
        })
    }
}

struct DenseOperator: ForwardOperator {
    let inputShape: ImageShape
    let outputShape: ImageShape
    let matrix: [Double]  // outputShape.count × inputShape.count, row-major
    var isLinear: Bool { true }
    var summary: String { "dense \(outputShape.count)×\(inputShape.count)" }

    func apply(_ x: ImageBatch) throws -> ImageBatch {
        let (m, n) = (outputShape.count, inputShape.count)
        var y = ImageBatch(count: x.count, shape: outputShape)
        for k in 0..<x.count {
            for i in 0..<m {
                var acc = 0.0
                for j in 0..<n { acc += matrix[i * n + j] * Double(x.data[k * n + j]) }
                y.data[k * m + i] = Float(acc)
            }
        }
        return y
    }
    func vjp(_ v: ImageBatch, at x: ImageBatch?) throws -> ImageBatch {
        let (m, n) = (outputShape.count, inputShape.count)
        var out = ImageBatch(count: v.count, shape: inputShape)
        for k in 0..<v.count {
            for j in 0..<n {
                var acc = 0.0
                for i in 0..<m { acc += matrix[i * n + j] * Double(v.data[k * m + i]) }
                out.data[k * n + j] = Float(acc)
            }
        }
        return out
    }
}

extension DenseOperator {
    /// The identity on `shape` (every pixel measured once).
    static func identity(_ shape: ImageShape) -> DenseOperator {
        let n = shape.count
        return DenseOperator(inputShape: shape, outputShape: shape, matrix: (0..<(n * n)).map { $0 % (n + 1) == 0 ? 1 : 0 })
    }
}

/// Posterior mean and variance of one network value u with prior N(u; μ, s²), observed as
/// y = a·c·sinh(u) + N(0, σ²) (an asinh pixel transform with softening c, gain 1, offset 0, then a
/// gain a): 1-D quadrature on [−8, 8] with step 10⁻⁴.
func asinhPixelPosterior(y: Double, mu: Double, variance s2: Double, softening c: Double, gain a: Double,
                         sigma: Double) -> (mean: Double, variance: Double) {
    var z0 = 0.0, z1 = 0.0, z2 = 0.0
    var u = -8.0
    while u <= 8 {
        let r = y - a * c * sinh(u)
        let w = exp(-0.5 * (u - mu) * (u - mu) / s2 - 0.5 * r * r / (sigma * sigma))
        z0 += w; z1 += w * u; z2 += w * u * u
        u += 1e-4
    }
    return (z1 / z0, z2 / z0 - (z1 / z0) * (z1 / z0))
}

struct ScalarNoise: NoiseModel {
    let shape: ImageShape
    let sigma: Float
    var sqrtWeights: [Float] { [Float](repeating: 1 / sigma, count: shape.count) }
    var summary: String { "σ=\(sigma)" }
}

/// A deterministic pseudo-random matrix / vector for tests (SplitMix64 → uniform in [−1, 1)).
func testUniforms(_ n: Int, seed: UInt64) -> [Double] {
    var s = seed
    return (0..<n).map { _ in
        s = splitMix64(s)
        return Double(s >> 11) / Double(1 << 53) * 2 - 1
    }
}
