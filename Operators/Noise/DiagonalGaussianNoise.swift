// Diagonal Gaussian noise models (DESIGN §3): n ~ N(0, Σ), Σ diagonal, given as
// a scalar σ (per band or for all), a per-pixel variance map, or a per-pixel
// inverse-variance (weight) map; plus a mask of unusable values.
//
// The model is stored as √W per value of one observation image ([c][y][x]),
// W = 1/σ² on usable values and 0 on masked ones (NaN / BLANK in the
// observation, NaN or infinite variance, zero or NaN weight): masked values
// drop out of the likelihood ‖√W (y − A x)‖². σ ≤ 0 (or a zero / negative
// variance) is an error, never silently masked.

import TweedieCore

public struct DiagonalGaussianNoise: NoiseModel {
    public let shape: ImageShape
    public let sqrtWeights: [Float]
    public let summary: String
    /// σ of each band when the model is a scalar per band (given or estimated); nil for maps.
    public let bandSigmas: [Double]?

    /// The same σ for every value of a `shape` observation.
    public init(sigma: Double, shape: ImageShape) throws {
        try self.init(bandSigmas: Array(repeating: sigma, count: shape.channels), shape: shape)
    }

    /// One σ per band.
    public init(bandSigmas: [Double], shape: ImageShape) throws {
        guard bandSigmas.count == shape.channels else {
            throw TweedieError.shapeMismatch(what: "noise σ per band vs observation bands",
                                             expected: "\(shape.channels) value(s)", got: "\(bandSigmas.count)")
        }
        for s in bandSigmas where !(s.isFinite && s > 0) {
            throw TweedieError.setting(name: "sigma", problem: "the noise σ must be a positive finite number, got \(s)")
        }
        var w = [Float](repeating: 0, count: shape.count)
        for c in 0..<shape.channels {
            let v = Float(1 / bandSigmas[c])
            for j in (c * shape.planeCount)..<((c + 1) * shape.planeCount) { w[j] = v }
        }
        self.shape = shape
        self.sqrtWeights = w
        self.bandSigmas = bandSigmas
        let uniq = Set(bandSigmas)
        self.summary = uniq.count == 1 ? "gaussian noise σ=\(bandSigmas[0])"
                                       : "gaussian noise σ per band [\(bandSigmas.map { "\($0)" }.joined(separator: ", "))]"
    }

    /// From a per-pixel variance map (one image, the observation's shape). NaN or
    /// +∞ variance masks the value; a variance ≤ 0 is an error.
    public init(variance map: ImageBatch, source: String = "variance map") throws {
        try Self.checkMap(map, source: source)
        var w = [Float](repeating: 0, count: map.shape.count)
        var bad = 0
        for (j, v) in map.data.enumerated() {
            if v.isNaN || v == .infinity { continue }
            if v <= 0 { bad += 1; continue }
            w[j] = Float(1 / Double(v).squareRoot())
        }
        guard bad == 0 else {
            throw TweedieError.invalidInput(
                what: source,
                problem: "has \(bad) values ≤ 0; a variance must be positive (mark unusable pixels NaN, or give an inverse-variance map with weight 0)")
        }
        try self.init(shape: map.shape, sqrtWeights: w, summary: "gaussian noise from \(source) (variance)")
    }

    /// From a per-pixel inverse-variance (weight) map. Weight 0 or NaN masks the value;
    /// a negative or infinite weight is an error.
    public init(inverseVariance map: ImageBatch, source: String = "weight map") throws {
        try Self.checkMap(map, source: source)
        var w = [Float](repeating: 0, count: map.shape.count)
        var bad = 0
        for (j, v) in map.data.enumerated() {
            if v.isNaN || v == 0 { continue }
            if v < 0 || !v.isFinite { bad += 1; continue }
            w[j] = Float(Double(v).squareRoot())
        }
        guard bad == 0 else {
            throw TweedieError.invalidInput(
                what: source,
                problem: "has \(bad) negative or infinite weights; an inverse variance must be ≥ 0 (0 masks a pixel)")
        }
        try self.init(shape: map.shape, sqrtWeights: w, summary: "gaussian noise from \(source) (inverse variance)")
    }

    /// A model from √W values directly (each ≥ 0 and finite; 0 = masked).
    public init(shape: ImageShape, sqrtWeights: [Float], summary: String, bandSigmas: [Double]? = nil) throws {
        guard sqrtWeights.count == shape.count else {
            throw TweedieError.shapeMismatch(what: "noise weights", expected: "\(shape.count) values (\(shape))",
                                             got: "\(sqrtWeights.count)")
        }
        guard sqrtWeights.allSatisfy({ $0.isFinite && $0 >= 0 }) else {
            throw TweedieError.invalidInput(what: "noise weights", problem: "must be finite and ≥ 0")
        }
        self.shape = shape; self.sqrtWeights = sqrtWeights; self.summary = summary; self.bandSigmas = bandSigmas
    }

    private static func checkMap(_ map: ImageBatch, source: String) throws {
        guard map.count == 1 else {
            throw TweedieError.invalidInput(what: source, problem: "expected one image, got \(map.count)")
        }
    }

    /// Number of masked (zero-weight) values.
    public var maskedCount: Int { sqrtWeights.count - usableCount }

    /// σ per value (+∞ where masked).
    public var sigmas: [Float] { sqrtWeights.map { $0 > 0 ? 1 / $0 : .infinity } }

    /// This model with `usable[j] == false` values masked.
    public func masking(usable: [Bool]) throws -> DiagonalGaussianNoise {
        guard usable.count == shape.count else {
            throw TweedieError.shapeMismatch(what: "mask", expected: "\(shape.count) values (\(shape))", got: "\(usable.count)")
        }
        var w = sqrtWeights
        var newly = 0
        for j in w.indices where !usable[j] && w[j] > 0 { w[j] = 0; newly += 1 }
        return try DiagonalGaussianNoise(shape: shape, sqrtWeights: w,
                                         summary: newly == 0 ? summary : summary + ", \(newly) values masked",
                                         bandSigmas: bandSigmas)
    }

    /// This model with the observation's NaN / infinite values (NaN stands for BLANK) masked.
    /// Throws if the observation's shape differs or nothing usable is left.
    public func masking(nonFiniteOf observation: ImageBatch) throws -> DiagonalGaussianNoise {
        guard observation.count == 1, observation.shape == shape else {
            throw TweedieError.shapeMismatch(what: "noise model vs observation",
                                             expected: "1 image of \(shape)", got: "\(observation.count) of \(observation.shape)")
        }
        let m = try masking(usable: observation.data.map { $0.isFinite })
        guard m.usableCount > 0 else {
            throw TweedieError.invalidInput(what: "observation",
                                            problem: "every value is masked (NaN, BLANK or zero weight); nothing to fit")
        }
        return m
    }
}
