// Exact posterior draws for an analytic prior (stationary Gaussian or Gaussian
// mixture) under a linear operator with one noise σ for every observed value
// and flux scale 1: the CalibrationOracle's closed form (Fourier for a periodic
// PSF, dense linear algebra otherwise) behind the PosteriorSampler protocol, so
// that every study that takes a sampler can take the reference too
// (simulation-based calibration's control: exact draws must pass it).
// Sample k is drawn from stream (seed, k), whatever the batch.

import TweedieCore
import TweedieOperators
import TweediePriors

public struct ExactPosteriorSampler: PosteriorSampler {
    public let oracle: CalibrationOracle
    public let shape: ImageShape

    public init(prior: any AnalyticPrior, problem: PosteriorProblem) throws {
        guard problem.fluxScale == 1 else {
            throw TweedieError.invalidInput(what: "exact sampler", problem: "needs flux scale 1 (the analytic prior is in physical units), got \(problem.fluxScale)")
        }
        let sw = problem.noise.sqrtWeights
        guard let w = sw.first(where: { $0 > 0 }), sw.allSatisfy({ $0 == 0 || $0 == w }) else {
            throw TweedieError.invalidInput(what: "exact sampler", problem: "needs one noise σ for every observed value; give one σ")
        }
        guard sw.allSatisfy({ $0 > 0 }) else {
            throw TweedieError.invalidInput(what: "exact sampler", problem: "does not take masked values; give an unmasked observation")
        }
        oracle = try CalibrationOracle(prior: prior, operator: problem.forwardOperator, sigma: 1 / Double(w),
                                       observation: problem.observation)
        shape = prior.imageShape
    }

    public var name: String { "exact" }
    public var summary: String { "exact posterior draws (\(oracle.route.rawValue) closed form)" }

    public func sample(indices: Range<Int>, seed: UInt64) throws -> ImageBatch {
        var out = ImageBatch(count: indices.count, shape: shape)
        for (k, i) in indices.enumerated() {
            let x = oracle.sample(using: SampleStream(seed: seed, index: i))
            for j in 0..<shape.count { out.data[k * shape.count + j] = Float(x[j]) }
        }
        return out
    }
}
