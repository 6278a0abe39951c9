// Simulated observations y = A x + n, n ~ N(0, σ²) i.i.d. (DESIGN §3; `tweedie simulate`).
//
// σ is given directly, or from a target signal-to-noise ratio defined as
// SNR = ‖A x‖₂ / σ over all values of the noise-free observation (the
// matched-filter SNR of a source of known shape, GalSim's convention), so one
// σ serves every band. Noise is drawn from the per-sample stream (seed, 0)
// (`SampleStream`): the same seed gives the same observation on any machine
// and thread count. With a noise model instead of a level (a UV chain's
// VisibilityNoiseModel), value j gets σ_j = 1/√W_j and masked values (√W = 0)
// get no noise: y_j = (A x)_j + z_j/√W_j, z from the same stream.

import TweedieCore

public struct SimulatedObservation: Sendable {
    /// y = A x + n.
    public let noisy: ImageBatch
    /// A x.
    public let clean: ImageBatch
    /// The noise σ used.
    public let sigma: Double
    /// ‖A x‖₂ / σ.
    public let snr: Double
    public let seed: UInt64
}

public enum NoiseLevel: Sendable, Equatable {
    case sigma(Double)
    case snr(Double)
}

public enum ObservationSimulator {
    /// Applies `op` to the truth (one image) and adds Gaussian noise of the given level.
    public static func simulate(truth: ImageBatch, operator op: any ForwardOperator, noise: NoiseLevel,
                                seed: UInt64) throws -> SimulatedObservation {
        guard truth.count == 1 else {
            throw TweedieError.invalidInput(what: "truth image", problem: "expected one image, got \(truth.count)")
        }
        guard truth.allFinite else {
            throw TweedieError.invalidInput(what: "truth image", problem: "contains NaN or infinite values; a truth must be finite")
        }
        var clean = try op.apply(truth)
        clean.unit = truth.unit
        var norm2 = 0.0
        for v in clean.data { norm2 += Double(v) * Double(v) }
        let sigma: Double
        switch noise {
        case let .sigma(s):
            guard s.isFinite, s > 0 else {
                throw TweedieError.setting(name: "sigma", problem: "the noise σ must be a positive finite number, got \(s)")
            }
            sigma = s
        case let .snr(r):
            guard r.isFinite, r > 0 else {
                throw TweedieError.setting(name: "snr", problem: "must be a positive finite number, got \(r)")
            }
            guard norm2 > 0 else {
                throw TweedieError.setting(name: "snr", problem: "the noise-free observation is all zeros, so no σ gives an SNR; give σ instead")
            }
            sigma = norm2.squareRoot() / r
        }
        var noisy = clean
        let stream = SampleStream(seed: seed, index: 0)
        let s = Float(sigma)
        noisy.data.withUnsafeMutableBufferPointer { p in
            for j in p.indices { p[j] += s * Float(stream.normal()) }
        }
        return SimulatedObservation(noisy: noisy, clean: clean, sigma: sigma, snr: norm2.squareRoot() / sigma, seed: seed)
    }

    /// y = A x + n with n_j ~ N(0, 1/W_j) from the noise model (0 where masked); `sigma` is reported
    /// as the rms of the per-value σ_j over the usable values, `snr` as ‖A x‖₂ / √(Σ σ_j²).
    public static func simulate(truth: ImageBatch, operator op: any ForwardOperator, noiseModel: any NoiseModel,
                                seed: UInt64) throws -> SimulatedObservation {
        guard truth.count == 1 else {
            throw TweedieError.invalidInput(what: "truth image", problem: "expected one image, got \(truth.count)")
        }
        guard truth.allFinite else {
            throw TweedieError.invalidInput(what: "truth image", problem: "contains NaN or infinite values; a truth must be finite")
        }
        guard noiseModel.shape == op.outputShape else {
            throw TweedieError.shapeMismatch(what: "noise model vs operator output", expected: "\(op.outputShape)", got: "\(noiseModel.shape)")
        }
        var clean = try op.apply(truth)
        clean.unit = truth.unit
        var noisy = clean
        let stream = SampleStream(seed: seed, index: 0)
        let sw = noiseModel.sqrtWeights
        var norm2 = 0.0, var2 = 0.0, usable = 0
        for j in noisy.data.indices {
            let z = stream.normal()
            norm2 += Double(clean.data[j]) * Double(clean.data[j])
            guard sw[j] > 0 else { continue }
            let s = 1 / Double(sw[j])
            noisy.data[j] += Float(s * z)
            var2 += s * s; usable += 1
        }
        let rms = (var2 / Double(max(usable, 1))).squareRoot()
        return SimulatedObservation(noisy: noisy, clean: clean, sigma: rms, snr: norm2.squareRoot() / var2.squareRoot(), seed: seed)
    }
}
