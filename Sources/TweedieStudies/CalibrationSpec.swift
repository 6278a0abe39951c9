// The calibration study as data (issue 8; DESIGN §4.5, §5.2): which analytic
// priors, forward operators, noise levels and samplers to cross, and how many
// observations and samples per case. Decodable from YAML (the CLI uses Yams)
// or JSON; keys are snake_case; unknown keys are errors.
//
//   seed: 2024
//   observations: 24          # truths (and observations) per case
//   samples: 100              # posterior samples per observation
//   pixel_scale_arcsec: 1     # prior pixel scale; PSF FWHMs in arcsec are then pixels
//   levels: [0.5, 0.68, 0.95] # optional (default 0.1 … 0.99 incl. 0.5, 0.68, 0.95)
//   priors:
//     - {name: gauss8, spec: "gaussian:n=8,amplitude=1,slope=3,k0=0.3"}
//     - {name: mix8, spec: "mixture:n=8,weights=0.3;0.7,means=-0.15;0.15,variances=1;0.4"}
//   operators:
//     - name: gpsf-periodic
//       chain: [{psf: {gaussian_fwhm: 2, size: 7, boundary: periodic}}]   # an OperatorSpec chain
//     - name: uv
//       uv: {antennas: [[0,0,0],[0,180,1],…], dish: 13.5, latitude: -30.7, declination: -45,
//            hour_angles: [-1, 1], integration: 600, frequency: 1.4e9, cell_arcsec: 25}
//   noise: {snr: [10, 40]}    # or sigma: [0.1, 0.3]
//   samplers:
//     - {kind: exact}                                        # exact posterior draws (the reference)
//     - {kind: dps, steps: [100, 1000], guidance: [0.1, 0.3, 1]}   # lists expand to a grid
//     - {kind: split-gibbs, iterations: 30, prior_steps: 20, rho_max: 1, final_iterations: 1}
//     - {kind: smc, iterations: 60, particles: 8, keep: 1}   # one sample per population of 8
//   # a `kind:` is one of SamplerChoice.kinds; each kind's keys, defaults and checks are its
//   # SamplerSettingsGrid, in the sampler's own file (e.g. DPSSettingsGrid.swift)
//
// A mixture prior's exact row also writes cases/<group>__exact.weight_path.csv: the exact mode
// weights of split-Gibbs's ρ-smoothed targets for every observation on a ρ grid (10 … 0.01, 0).
//
// SNR is defined against the prior, not the truth: σ = √(E_prior ‖A x‖²) / SNR,
// E estimated from 256 prior draws of a dedicated stream. A σ that depended on
// each truth would make the truth no longer a draw from p(x | y) and bias the
// coverage the study measures.

import Foundation
import TweedieCore
import TweedieOperators
import TweediePriors
import TweedieSampling

/// Any key, to list what a mapping holds.
private struct CalibrationAnyKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

/// Throws when a mapping holds a key that is not allowed (nothing is silently ignored).
private func rejectUnknown(_ decoder: Decoder, _ allowed: [String], in what: String) throws {
    let c = try decoder.container(keyedBy: CalibrationAnyKey.self)
    for k in c.allKeys where !allowed.contains(k.stringValue) {
        throw TweedieError.invalidInput(what: "calibration spec \(what)",
                                        problem: "unknown key '\(k.stringValue)'; expected one of \(allowed.joined(separator: ", "))")
    }
}

public struct CalibrationSpec: Decodable, Sendable, Equatable {
    public struct PriorEntry: Codable, Sendable, Equatable {
        public var name: String
        /// An analytic prior spec: `gaussian:…`, `mixture:…` or a JSON spec file (AnalyticPriorSpec).
        public var spec: String
        enum CodingKeys: String, CodingKey, CaseIterable { case name, spec }
        public init(name: String, spec: String) { self.name = name; self.spec = spec }
        public init(from decoder: Decoder) throws {
            try rejectUnknown(decoder, CodingKeys.allCases.map(\.rawValue), in: "prior")
            let c = try decoder.container(keyedBy: CodingKeys.self)
            name = try c.decode(String.self, forKey: .name); spec = try c.decode(String.self, forKey: .spec)
        }
    }

    /// Earth-rotation synthesis of a small array, gridded for the prior image (DESIGN §3 "UV masking").
    public struct UVSetup: Codable, Sendable, Equatable {
        /// Antenna positions as local (east, north, up) metres.
        public var antennas: [[Double]]
        public var dish: Double
        public var latitude: Double
        public var declination: Double
        /// Hour-angle range [start, end] in hours.
        public var hourAngles: [Double]
        /// Integration step in seconds.
        public var integration: Double
        /// Observing frequency in Hz.
        public var frequency: Double
        /// Image pixel size in arcsec.
        public var cellArcsec: Double
        /// Primary beam: none (default) or gaussian.
        public var primaryBeam: String?
        enum CodingKeys: String, CodingKey, CaseIterable {
            case antennas, dish, latitude, declination, integration, frequency
            case hourAngles = "hour_angles", cellArcsec = "cell_arcsec", primaryBeam = "primary_beam"
        }
        public init(from decoder: Decoder) throws {
            try rejectUnknown(decoder, CodingKeys.allCases.map(\.rawValue), in: "uv")
            let c = try decoder.container(keyedBy: CodingKeys.self)
            antennas = try c.decode([[Double]].self, forKey: .antennas)
            dish = try c.decode(Double.self, forKey: .dish)
            latitude = try c.decode(Double.self, forKey: .latitude)
            declination = try c.decode(Double.self, forKey: .declination)
            hourAngles = try c.decode([Double].self, forKey: .hourAngles)
            integration = try c.decode(Double.self, forKey: .integration)
            frequency = try c.decode(Double.self, forKey: .frequency)
            cellArcsec = try c.decode(Double.self, forKey: .cellArcsec)
            primaryBeam = try c.decodeIfPresent(String.self, forKey: .primaryBeam)
        }
    }

    public struct OperatorEntry: Codable, Sendable, Equatable {
        public var name: String
        /// An operator chain (resample / bands / psf steps, as in `--spec` files) …
        public var chain: [OperatorSpec.Step]?
        /// … or a UV sampling operator.
        public var uv: UVSetup?
        enum CodingKeys: String, CodingKey, CaseIterable { case name, chain, uv }
        public init(from decoder: Decoder) throws {
            try rejectUnknown(decoder, CodingKeys.allCases.map(\.rawValue), in: "operator")
            let c = try decoder.container(keyedBy: CodingKeys.self)
            name = try c.decode(String.self, forKey: .name)
            chain = try c.decodeIfPresent([OperatorSpec.Step].self, forKey: .chain)
            uv = try c.decodeIfPresent(UVSetup.self, forKey: .uv)
            guard (chain == nil) != (uv == nil) else {
                throw TweedieError.invalidInput(what: "calibration spec operator '\(name)'",
                                                problem: "give exactly one of chain: or uv:")
            }
        }
    }

    public struct NoiseEntry: Codable, Sendable, Equatable {
        public var sigma: [Double]?
        public var snr: [Double]?
        enum CodingKeys: String, CodingKey, CaseIterable { case sigma, snr }
        public init(sigma: [Double]? = nil, snr: [Double]? = nil) { self.sigma = sigma; self.snr = snr }
        public init(from decoder: Decoder) throws {
            try rejectUnknown(decoder, CodingKeys.allCases.map(\.rawValue), in: "noise")
            let c = try decoder.container(keyedBy: CodingKeys.self)
            sigma = try c.decodeIfPresent(OneOrMany<Double>.self, forKey: .sigma)?.values
            snr = try c.decodeIfPresent(OneOrMany<Double>.self, forKey: .snr)?.values
        }
    }

    /// One `samplers:` entry: its kind, the samples per sampler call, and the kind's own keys
    /// (`SamplerSettingsGrid`, from the kind's SamplerSettings in SamplerChoice.kinds).
    public struct SamplerEntry: Decodable, Sendable, Equatable {
        /// One of SamplerChoice.kinds' names (exact, dps, split-gibbs, …).
        public var kind: String
        /// Samples per sampler call (they share each prior evaluation); default 50.
        public var batch: Int?
        /// The kind's keys, one value or a list each.
        public var grid: any SamplerSettingsGrid

        public init(from decoder: Decoder) throws {
            try rejectUnknown(decoder, SamplerSpecEntry.allKeys, in: "sampler")
            let entry = try SamplerSpecEntry(from: decoder)
            kind = entry.kind
            batch = try entry.value("batch")
            grid = try entry.grid()
        }

        public static func == (a: Self, b: Self) -> Bool {
            func same<G: SamplerSettingsGrid>(_ g: G, _ other: any SamplerSettingsGrid) -> Bool { (other as? G) == g }
            return a.kind == b.kind && a.batch == b.batch && same(a.grid, b.grid)
        }
    }

    /// Nominal levels when the spec gives none (the table's 50 / 68 / 95 % and a curve for the plots).
    public static let defaultLevels = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.68, 0.7, 0.8, 0.9, 0.95, 0.99]

    public var seed: UInt64
    public var observations: Int
    public var samples: Int
    public var pixelScaleArcsec: Double
    public var levels: [Double]
    public var priors: [PriorEntry]
    public var operators: [OperatorEntry]
    public var noise: NoiseEntry
    public var samplers: [SamplerEntry]

    enum CodingKeys: String, CodingKey, CaseIterable {
        case seed, observations, samples, levels, priors, operators, noise, samplers
        case pixelScaleArcsec = "pixel_scale_arcsec"
    }

    public init(from decoder: Decoder) throws {
        try rejectUnknown(decoder, CodingKeys.allCases.map(\.rawValue), in: "top level")
        let c = try decoder.container(keyedBy: CodingKeys.self)
        seed = try c.decodeIfPresent(UInt64.self, forKey: .seed) ?? 0
        observations = try c.decode(Int.self, forKey: .observations)
        samples = try c.decode(Int.self, forKey: .samples)
        pixelScaleArcsec = try c.decodeIfPresent(Double.self, forKey: .pixelScaleArcsec) ?? 1
        levels = try c.decodeIfPresent([Double].self, forKey: .levels) ?? CalibrationSpec.defaultLevels
        priors = try c.decode([PriorEntry].self, forKey: .priors)
        operators = try c.decode([OperatorEntry].self, forKey: .operators)
        noise = try c.decode(NoiseEntry.self, forKey: .noise)
        samplers = try c.decode([SamplerEntry].self, forKey: .samplers)
        try validate()
    }

    /// Checks counts, names and ranges; every message names the key and says what to write.
    public func validate() throws {
        func bad(_ what: String, _ problem: String) -> TweedieError {
            .invalidInput(what: "calibration spec \(what)", problem: problem)
        }
        guard observations >= 2 else { throw bad("observations", "must be ≥ 2 (coverage is pooled over observations), got \(observations)") }
        guard samples >= 4 else { throw bad("samples", "must be ≥ 4 per observation (empirical credible intervals), got \(samples)") }
        guard pixelScaleArcsec.isFinite && pixelScaleArcsec > 0 else { throw bad("pixel_scale_arcsec", "must be > 0, got \(pixelScaleArcsec)") }
        guard !levels.isEmpty, levels.allSatisfy({ $0 > 0 && $0 < 1 }) else { throw bad("levels", "each level must be strictly between 0 and 1, got \(levels)") }
        guard !priors.isEmpty else { throw bad("priors", "is empty; list at least one analytic prior") }
        guard !operators.isEmpty else { throw bad("operators", "is empty; list at least one operator") }
        guard !samplers.isEmpty else { throw bad("samplers", "is empty; list at least one sampler") }
        for (what, names) in [("priors", priors.map(\.name)), ("operators", operators.map(\.name))] {
            if let dup = names.first(where: { n in names.filter { $0 == n }.count > 1 }) {
                throw bad(what, "the name '\(dup)' is used twice; names must be unique")
            }
            if let n = names.first(where: { $0.isEmpty || $0.contains(where: { !($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) }) {
                throw bad(what, "name '\(n)' must be non-empty and use only letters, digits, - and _")
            }
        }
        switch (noise.sigma, noise.snr) {
        case let (s?, nil): guard !s.isEmpty, s.allSatisfy({ $0.isFinite && $0 > 0 }) else { throw bad("noise.sigma", "needs values > 0, got \(s)") }
        case let (nil, r?): guard !r.isEmpty, r.allSatisfy({ $0.isFinite && $0 > 0 }) else { throw bad("noise.snr", "needs values > 0, got \(r)") }
        default: throw bad("noise", "give exactly one of sigma: [..] or snr: [..]")
        }
        for s in samplers {
            if let b = s.batch, b < 1 { throw bad("sampler batch", "must be ≥ 1, got \(b)") }
            try s.grid.validate(samples: samples)
        }
    }

    /// The noise levels of the study.
    public var noiseLevels: [CalibrationNoise] {
        if let s = noise.sigma { return s.map { .sigma($0) } }
        return (noise.snr ?? []).map { .snr($0) }
    }

    /// Every sampler setting, lists expanded to their grid (in the order written).
    public func samplerSettings() -> [CalibrationSampler] {
        samplers.flatMap { s in s.grid.choices(samples: samples).map { CalibrationSampler($0, batch: s.batch ?? 50) } }
    }
}

/// A noise level: σ directly, or an SNR against the prior (σ = √(E‖A x‖²)/SNR).
extension CalibrationSpec {
    /// The calibration spec (YAML or JSON) in the file at `path`, checked (`validate()`).
    public static func load(_ path: String) throws -> CalibrationSpec {
        try SpecFile.decode(CalibrationSpec.self, from: path, kind: "calibration spec")
    }
}

public enum CalibrationNoise: Sendable, Equatable, Codable {
    case sigma(Double)
    case snr(Double)

    /// File-name-safe tag, e.g. `sigma0.1` or `snr20`.
    public var tag: String {
        switch self {
        case let .sigma(s): return "sigma\(shortNumber(s))"
        case let .snr(r): return "snr\(shortNumber(r))"
        }
    }
}

/// A sampler and its settings, as one row of the study, with the samples drawn per call.
public struct CalibrationSampler: Sendable, Equatable {
    public var choice: SamplerChoice
    /// Samples per sampler call: `batch`, unless the settings fix it (an SMC population's kept samples).
    public var batch: Int

    public init(_ choice: SamplerChoice, batch: Int) {
        self.choice = choice
        self.batch = choice.settings.samplesPerCall ?? batch
    }
    /// Shorthands for tests and callers that build a row by hand (any kind works through `init`).
    public static func exact(batch: Int) -> Self { Self(.exact, batch: batch) }
    public static func dps(_ s: DPSSettings, batch: Int) -> Self { Self(.dps(s), batch: batch) }
    public static func splitGibbs(_ s: SplitGibbsSettings, batch: Int) -> Self { Self(.splitGibbs(s), batch: batch) }
    /// SMC split-Gibbs: one call per population (its `kept` samples).
    public static func smc(_ s: SMCSettings) -> Self { Self(.smc(s), batch: s.kept) }

    public var kind: String { choice.kind }
    /// A file-name-safe label that names every setting (SamplerChoice.label).
    public var label: String { choice.label }
}

/// FNV-1a 64-bit hash of a string, to derive per-case seeds from names.
func calibrationHash(_ s: String) -> UInt64 {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for b in s.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
    return h
}
