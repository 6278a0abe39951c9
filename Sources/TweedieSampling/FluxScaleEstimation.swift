// The observation's flux scale s in y = A(s·T(u)) + n (DESIGN §4.4: the prior
// does not know it). PSF convolution and resampling conserve flux, so the total
// observed flux equals s times the total flux of A(T(u)); with the prior's mean
// physical image m̄ = E[T(u)] standing in for the unknown T(u):
//     s = Σ_j y_j / Σ_j (A m̄)_j      over the usable (unmasked) values j.
// For a per-image normalised prior (e.g. the galaxy prior's r-band sum = 1) this
// is exact up to the noise and the prior's colour spread between bands.

import TweedieCore

public enum FluxScaleEstimation {
    public static func estimate(observation y: ImageBatch, noise: any NoiseModel, forwardOperator A: any ForwardOperator,
                                priorMeanPhysical m: [Float]) throws -> Double {
        guard m.count == A.inputShape.count else {
            throw TweedieError.shapeMismatch(what: "prior mean image vs operator input", expected: "\(A.inputShape.count) values",
                                             got: "\(m.count)")
        }
        var mean = ImageBatch(count: 1, shape: A.inputShape)
        mean.data = m
        let am = try A.apply(mean)
        let w = noise.sqrtWeights
        var num = 0.0, den = 0.0
        for j in 0..<y.data.count where w[j] > 0 && y.data[j].isFinite {
            num += Double(y.data[j]); den += Double(am.data[j])
        }
        guard den > 0 else {
            throw TweedieError.numerical(problem: "cannot estimate the flux scale: the prior's mean image has no flux in the observed pixels; give the flux scale")
        }
        let s = num / den
        guard s.isFinite && s > 0 else {
            throw TweedieError.invalidInput(what: "observation", problem: "its total flux is \(num) (≤ 0), so the flux scale cannot be estimated; subtract the sky (a background of auto or a value) or give the flux scale")
        }
        return s
    }
}
