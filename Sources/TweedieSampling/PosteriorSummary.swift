// summary.json (DESIGN §6), the typed record of one posterior run; docs/summary.schema.json is
// its JSON Schema (draft 2020-12) and docs/usage.md explains it. What it holds: provenance (the
// command, seed, the sampler request and the sampler it resolved to, prior, observation, forward
// operator, noise model, background, flux scale), the scores (PosteriorScores: headline values over
// the observed bands, per prior band, per observation band, against a truth) and the files written.
// Conventions of the file:
// - every number is a JSON number; a value that is not finite (a mean with nothing to average, the
//   PSNR of an exact estimate) is written as null (FiniteOrNull), never as a string;
// - an object holding dimensional numbers carries `units`, a map from those fields' names to their
//   unit strings (FITS / astropy spelling: "s", "pix", "dB", the observation's BUNIT); a unit of
//   null means the observation declares no BUNIT, so the value is in its pixel units. Fields absent
//   from `units` are dimensionless (variance ratios, reduced χ², coverage fractions, flux scale
//   ratios of prior to observed units are documented per field in the schema);
// - `schemaVersion` changes when a field changes meaning or goes away.
import Foundation
import TweedieCore

/// A Double written as a JSON number, or as null when it is not finite (NaN, ±∞); null reads back as NaN.
@propertyWrapper
public struct FiniteOrNull: Codable, Sendable, Equatable {
    public var wrappedValue: Double
    public init(wrappedValue: Double) { self.wrappedValue = wrappedValue }
    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        wrappedValue = c.decodeNil() ? .nan : try c.decode(Double.self)
    }
    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        if wrappedValue.isFinite { try c.encode(wrappedValue) } else { try c.encodeNil() }
    }
}

/// An optional Double written as a JSON number, or as null when absent or not finite; the key is
/// always written (null or missing reads back as nil).
@propertyWrapper
public struct OptionalFiniteOrNull: Codable, Sendable, Equatable {
    public var wrappedValue: Double?
    public init(wrappedValue: Double?) { self.wrappedValue = wrappedValue }
    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        wrappedValue = c.decodeNil() ? nil : try c.decode(Double.self)
    }
    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        if let v = wrappedValue, v.isFinite { try c.encode(v) } else { try c.encodeNil() }
    }
}

extension KeyedDecodingContainer {
    /// A missing key reads as nil (summaries written before the field existed).
    public func decode(_ type: OptionalFiniteOrNull.Type, forKey key: Key) throws -> OptionalFiniteOrNull {
        try decodeIfPresent(type, forKey: key) ?? OptionalFiniteOrNull(wrappedValue: nil)
    }
}

/// Numbers of an array written as JSON numbers, non-finite ones as null.
func finiteOrNull(_ values: [Double]) -> [Double?] { values.map { $0.isFinite ? $0 : nil } }

/// The unit of the square of values in `unit` (nil: no unit declared).
func squaredUnit(_ unit: String?) -> String? {
    unit.map { u in u.allSatisfy { $0.isLetter || $0.isNumber } ? "\(u)^2" : "(\(u))^2" }
}

/// The observation a run conditioned on.
public struct ObservationDescription: Codable, Sendable, Equatable {
    public var path: String
    /// 0-based HDU number (astropy's `hdul[i]`).
    public var hdu: Int
    /// Axis lengths, bands first.
    public var channels: Int
    public var height: Int
    public var width: Int
    public var bands: [String]
    /// BUNIT; null when the file declares none.
    public var unit: String?

    public init(path: String, hdu: Int, shape: ImageShape, bands: [String], unit: String?) {
        self.path = path; self.hdu = hdu; channels = shape.channels; height = shape.height; width = shape.width
        self.bands = bands; self.unit = unit
    }

    private enum CodingKeys: String, CodingKey { case path, hdu, channels, height, width, bands, unit }
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(path, forKey: .path); try c.encode(hdu, forKey: .hdu)
        try c.encode(channels, forKey: .channels); try c.encode(height, forKey: .height); try c.encode(width, forKey: .width)
        try c.encode(bands, forKey: .bands); try c.encode(unit, forKey: .unit)   // null written, not omitted
    }
}

/// The sky background taken off the observation before sampling.
public struct BackgroundDescription: Codable, Sendable, Equatable {
    public enum Method: String, Codable, Sendable { case none, sigmaClippedMedian = "sigma-clipped median", given }
    public var method: Method
    /// The value subtracted per observation band (empty for `none`), in the observation's unit.
    public var values: [Double]
    public init(method: Method, values: [Double]) { self.method = method; self.values = values }
}

/// The noise model of a run, with the numbers it was made from.
public struct NoiseDescription: Codable, Sendable, Equatable {
    /// Where σ came from, in words (given, estimated, a variance or weight map, a uv spec's noise_rms).
    public var source: String
    /// The model's one-line summary.
    public var model: String
    /// σ per observation band, when the model has one σ per band (given or estimated); the uv
    /// chain's unit-weight σ (a cell's σ is this / √N_c); null for variance / weight maps.
    public var sigma: [Double]?
    /// The uv spec's natural-weighted dirty-image rms (Jy/beam); null otherwise.
    public var noiseRMS: Double?
    public var background: BackgroundDescription
    /// Values with zero weight (non-finite or masked data) and with positive weight.
    public var maskedValues: Int
    public var usableValues: Int
    /// Units of `sigma`, `background` (its values) and `noiseRMS`.
    public var units: [String: String?]

    public init(source: String, model: String, sigma: [Double]?, noiseRMS: Double?, background: BackgroundDescription,
                maskedValues: Int, usableValues: Int, unit: String?) {
        self.source = source; self.model = model; self.sigma = sigma; self.noiseRMS = noiseRMS
        self.background = background; self.maskedValues = maskedValues; self.usableValues = usableValues
        units = ["sigma": unit, "background": unit]
        if noiseRMS != nil { units["noiseRMS"] = "Jy/beam" }
    }

    private enum CodingKeys: String, CodingKey { case source, model, sigma, noiseRMS, background, maskedValues, usableValues, units }
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(source, forKey: .source); try c.encode(model, forKey: .model)
        try c.encode(sigma.map(finiteOrNull), forKey: .sigma); try c.encode(noiseRMS, forKey: .noiseRMS)
        try c.encode(background, forKey: .background)
        try c.encode(maskedValues, forKey: .maskedValues); try c.encode(usableValues, forKey: .usableValues)
        try c.encode(units, forKey: .units)
    }
}

/// Everything about a run that is not a score: provenance for summary.json and FITS keywords.
public struct PosteriorRunDescription: Codable, Sendable {
    public var command: String
    public var seed: UInt64
    public var samples: Int
    public var batch: Int
    /// The sampler as the request named it (kind and the settings given) …
    public var samplerRequest: SamplerRequest
    /// … and the sampler it resolved to against the prior: its name and every setting, in words.
    public var sampler: String
    public var samplerSettings: String
    public var networkEvaluationsPerSample: Int?
    /// The prior's provenance (name, path or analytic form, weights SHA-256, pixel transform, …), as text.
    public var prior: [String: String]
    public var observation: ObservationDescription
    public var forwardOperator: String
    public var noise: NoiseDescription
    /// s in x = s·T(u): prior units → observation units (1 for analytic priors and uv chains).
    public var fluxScale: Double
    public var fluxScaleSource: String
    public var notes: [String]
    /// What the sampler measured about itself over the samples this process drew (e.g. split-Gibbs's
    /// Metropolis–Hastings acceptance), one line each; nil when it measures nothing.
    public var samplerDiagnostics: [String]?

    public init(command: String, seed: UInt64, samples: Int, batch: Int, samplerRequest: SamplerRequest, sampler: String,
                samplerSettings: String, networkEvaluationsPerSample: Int?, prior: [String: String],
                observation: ObservationDescription, forwardOperator: String, noise: NoiseDescription,
                fluxScale: Double, fluxScaleSource: String, notes: [String]) {
        self.command = command; self.seed = seed; self.samples = samples; self.batch = batch
        self.samplerRequest = samplerRequest; self.sampler = sampler; self.samplerSettings = samplerSettings
        self.networkEvaluationsPerSample = networkEvaluationsPerSample
        self.prior = prior; self.observation = observation; self.forwardOperator = forwardOperator
        self.noise = noise; self.fluxScale = fluxScale; self.fluxScaleSource = fluxScaleSource; self.notes = notes
    }
}

/// summary.json.
public struct PosteriorSummary: Codable, Sendable {
    /// The version of summary.json's layout (docs/summary.schema.json).
    public static let currentSchemaVersion = 2
    public var schemaVersion: Int
    public var tool: String
    public var run: PosteriorRunDescription
    public var samplesDrawn: Int
    @FiniteOrNull public var wallSeconds: Double
    @FiniteOrNull public var secondsPerSample: Double
    public var scores: PosteriorScores
    public var files: [String]
    /// Units of `wallSeconds` and `secondsPerSample`.
    public var units: [String: String?]

    public init(tool: String, run: PosteriorRunDescription, samplesDrawn: Int, wallSeconds: Double,
                secondsPerSample: Double, scores: PosteriorScores, files: [String]) {
        schemaVersion = Self.currentSchemaVersion
        self.tool = tool; self.run = run; self.samplesDrawn = samplesDrawn; self.wallSeconds = wallSeconds
        self.secondsPerSample = secondsPerSample; self.scores = scores; self.files = files
        units = ["wallSeconds": "s", "secondsPerSample": "s"]
    }
}
