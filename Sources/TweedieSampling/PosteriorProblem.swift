// The inverse problem a posterior sampler solves (DESIGN §3, §4.4):
//   y = A(s · T(u)) + n,  n ~ N(0, Σ),
// with u the image in the prior's network space, T the prior's pixel
// transform (network → physical), s the observation's flux scale (estimated
// from the data or given; the prior does not know it), A the forward operator
// and Σ the diagonal noise model (masked values carry zero weight).

import TweedieCore

public struct PosteriorProblem: Sendable {
    /// The observation y: one image in observation space.
    public let observation: ImageBatch
    /// The forward operator A (prior grid → observation space).
    public let forwardOperator: any ForwardOperator
    /// The noise model (√W per observed value).
    public let noise: any NoiseModel
    /// The flux scale s: physical flux = s · T(u).
    public let fluxScale: Double

    public init(observation: ImageBatch, forwardOperator: any ForwardOperator,
                noise: any NoiseModel, fluxScale: Double) throws {
        guard observation.count == 1 else {
            throw TweedieError.invalidInput(what: "observation", problem: "expected one image, got \(observation.count)")
        }
        guard observation.shape == forwardOperator.outputShape else {
            throw TweedieError.shapeMismatch(what: "observation vs operator output (\(forwardOperator.summary))",
                                             expected: "\(forwardOperator.outputShape)", got: "\(observation.shape)")
        }
        guard noise.shape == observation.shape else {
            throw TweedieError.shapeMismatch(what: "noise model vs observation",
                                             expected: "\(observation.shape)", got: "\(noise.shape)")
        }
        guard fluxScale.isFinite && fluxScale > 0 else {
            throw TweedieError.setting(name: "flux_scale", problem: "must be a positive finite number, got \(fluxScale)")
        }
        guard noise.usableCount > 0 else {
            throw TweedieError.invalidInput(what: "observation",
                                            problem: "every value is masked (NaN, BLANK or zero weight); nothing to fit")
        }
        self.observation = observation
        self.forwardOperator = forwardOperator
        self.noise = noise
        self.fluxScale = fluxScale
    }

    /// Physical images s · T(u) of a batch in network space.
    public func physical(_ u: ImageBatch, transform: any PixelTransform) -> ImageBatch {
        var out = u
        let s = Float(fluxScale)
        out.data.withUnsafeMutableBufferPointer { p in
            for j in p.indices { p[j] = s * transform.toPhysical(p[j]) }
        }
        return out
    }

    /// Whitened residuals r = √W (y − A(x)) of a batch of physical images, and ‖r‖² per image (Double).
    public func whitenedResiduals(ofPhysical x: ImageBatch) throws -> (residual: ImageBatch, chiSquared: [Double]) {
        var r = try forwardOperator.apply(x)
        let per = observation.shape.count
        var chi2 = [Double](repeating: 0, count: x.count)
        let w = noise.sqrtWeights
        observation.data.withUnsafeBufferPointer { y in
            w.withUnsafeBufferPointer { sw in
                r.data.withUnsafeMutableBufferPointer { rp in
                    for k in 0..<x.count {
                        var acc = 0.0
                        let base = k * per
                        for j in 0..<per {
                            // Masked values have sw = 0 (and y may be NaN there): set the residual to exactly 0.
                            let v: Float = sw[j] > 0 ? sw[j] * (y[j] - rp[base + j]) : 0
                            rp[base + j] = v
                            acc += Double(v) * Double(v)
                        }
                        chi2[k] = acc
                    }
                }
            }
        }
        return (r, chi2)
    }
}
