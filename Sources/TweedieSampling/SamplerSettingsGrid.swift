// What every posterior sampler kind provides so that the code around samplers (the calibration
// spec's `samplers:` entries and their grid expansion, the calibration results' columns, the SBC
// spec's `sampler:`, the network-evaluation count) knows no kind by name:
// - `SamplerSettings`, on the sampler's settings type: its `kind`, its file-name-safe label, how it
//   builds the sampler, how a calibration result describes it, and its spec entry (`Grid`);
// - `SamplerSettingsGrid`, the spec entry: the kind's keys, each one value or a list (an axis of the
//   grid), read and checked; expanded to every setting in the order written (calibration table),
//   or read as one setting whose unset keys come from the prior (SBC spec, SamplerRequest).
// `SamplerChoice.kinds` lists the kinds; a sampler's conformances live in its own file(s).
import Foundation
import TweedieCore
import TweediePriors

/// A sampler's settings, as `SamplerChoice` holds them.
public protocol SamplerSettings: Sendable {
    /// The kind's spec entry.
    associatedtype Grid: SamplerSettingsGrid
    /// The name on the command line and in calibration specs (`kind:`).
    static var kind: String { get }
    /// A file-name-safe label that names every setting, starting with the kind (e.g. `dps-s100-g0.3`).
    var label: String { get }
    /// Builds the sampler for `problem` with `prior` as its prior.
    func makeSampler(prior: any Denoiser, problem: PosteriorProblem) throws -> any PosteriorSampler
    /// How a calibration result describes the settings; `route` is the exact posterior's route
    /// (CalibrationOracle), for the settings that name it.
    func calibrationDescription(route: String) -> SamplerSettingsDescription
    /// Network evaluations per sample of `sampler` when it is this kind's sampler and the count is
    /// known before running (SamplerChoice.networkEvaluationsPerSample); nil otherwise.
    static func networkEvaluationsPerSample(of sampler: any PosteriorSampler) -> Int?
    /// The samples one sampler call returns when the settings fix it (an SMC population's kept
    /// samples); nil (the default) when the caller chooses.
    var samplesPerCall: Int? { get }
}

extension SamplerSettings {
    public var samplesPerCall: Int? { nil }
    public static func networkEvaluationsPerSample(of sampler: any PosteriorSampler) -> Int? { nil }
}

/// A calibration result's account of a sampler's settings: one line, and the columns it fills.
public struct SamplerSettingsDescription: Sendable, Equatable {
    public var summary: String
    public var steps: Int? = nil
    public var guidance: Double? = nil
    public var iterations: Int? = nil
    public var priorSteps: Int? = nil
    public var rhoMax: Double? = nil
    public var finalIterations: Int? = nil

    public init(summary: String, steps: Int? = nil, guidance: Double? = nil, iterations: Int? = nil,
                priorSteps: Int? = nil, rhoMax: Double? = nil, finalIterations: Int? = nil) {
        self.summary = summary; self.steps = steps; self.guidance = guidance; self.iterations = iterations
        self.priorSteps = priorSteps; self.rhoMax = rhoMax; self.finalIterations = finalIterations
    }
}

/// A kind's entry in a spec: its keys, each one value or a list.
public protocol SamplerSettingsGrid: Sendable, Equatable {
    /// The keys besides `kind`, in the order messages list them (`batch` where samples per call apply).
    static var keys: [String] { get }
    /// Reads the keys of `entry` (only those in `keys` are present), checking what needs no other key.
    init(reading entry: SamplerSpecEntry) throws
    /// Checks that need the study (`samples`: posterior samples per observation); messages name
    /// "sampler setting <kind> <key>".
    func validate(samples: Int) throws
    /// Every setting, lists expanded in the order written (`samples`: per observation).
    func choices(samples: Int) -> [SamplerChoice]
    /// The one setting of a posterior request or an SBC spec (each key at most one value,
    /// `SamplerSpecEntry.single`), unset keys from what `prior` declares, else the kind's defaults
    /// (the same for `tweedie sample`, studies and SBC); `what` names the entry in messages
    /// ("--sampler dps", "<spec> sbc.sampler"); `warn` receives what the user should know.
    func resolved(prior: SamplingPrior, what: String, warn: (String) -> Void) throws -> SamplerChoice
}

extension SamplerSettingsGrid {
    public func validate(samples: Int) throws {}
}

/// A value written either as one item or as a list of items.
public struct OneOrMany<T: Codable & Sendable & Equatable>: Codable, Sendable, Equatable {
    public var values: [T]
    public init(_ values: [T]) { self.values = values }
    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let one = try? c.decode(T.self) { values = [one] } else { values = try c.decode([T].self) }
    }
    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        if values.count == 1 { try c.encode(values[0]) } else { try c.encode(values) }
    }
}

/// The keys of one sampler entry of a spec, read as one value or a list each.
public struct SamplerSpecEntry {
    /// Any key, to read what a mapping holds.
    public struct Key: CodingKey {
        public var stringValue: String
        public var intValue: Int? { nil }
        public init(stringValue: String) { self.stringValue = stringValue }
        public init?(intValue: Int) { nil }
    }

    /// The entry's `kind:` (lowercased).
    public let kind: String
    /// The entry's mapping, for a grid that decodes itself (`Decodable` with `OneOrMany` values).
    public let decoder: Decoder
    let container: KeyedDecodingContainer<Key>

    /// Reads `kind:` and checks it names a kind of `SamplerChoice.kinds` and that every other key is
    /// one of that kind's keys; each message is one line naming the key and what to write.
    public init(from decoder: Decoder) throws {
        self.decoder = decoder
        container = try decoder.container(keyedBy: Key.self)
        kind = try container.decode(String.self, forKey: Key(stringValue: "kind")).lowercased()
        let keys = ["kind"] + (try Self.settingsType(kind).gridKeys)
        for k in container.allKeys where !keys.contains(k.stringValue) {
            throw TweedieError.invalidInput(what: "calibration spec sampler '\(kind)'",
                                            problem: "key '\(k.stringValue)' does not apply; allowed: \(keys.joined(separator: ", "))")
        }
    }

    /// The settings type of `kind`.
    static func settingsType(_ kind: String) throws -> any SamplerSettings.Type {
        for t in SamplerChoice.kinds where t.kindName == kind { return t }
        throw TweedieError.invalidInput(what: "calibration spec sampler kind",
                                        problem: "'\(kind)' is not one of \(SamplerRequest.kindNames.joined(separator: ", "))")
    }

    /// Every key any kind takes, `kind` first (to name them when a key is unknown).
    public static var allKeys: [String] {
        SamplerChoice.kinds.reduce(into: ["kind"]) { all, t in for k in t.gridKeys where !all.contains(k) { all.append(k) } }
    }

    /// The kind's grid, read from this entry.
    public func grid() throws -> any SamplerSettingsGrid { try Self.settingsType(kind).readGrid(self) }

    /// The one value of `key`; nil when the key is absent.
    public func value<T: Decodable>(_ key: String) throws -> T? {
        try container.decodeIfPresent(T.self, forKey: Key(stringValue: key))
    }

    /// The values of `key`: one value or a list; nil when the key is absent.
    public func list<T: Decodable>(_ key: String) throws -> [T]? {
        let k = Key(stringValue: key)
        guard container.contains(k) else { return nil }
        if let one = try? container.decode(T.self, forKey: k) { return [one] }
        return try container.decode([T].self, forKey: k)
    }

    /// The values of `key` as cases of `T` named by their raw values; a name that is none says which are.
    public func names<T: RawRepresentable & CaseIterable>(_ key: String) throws -> [T]? where T.RawValue == String {
        try (list(key) as [String]?)?.map { n in
            guard let v = T(rawValue: n) else {
                throw TweedieError.invalidInput(what: "sampler setting \(key)",
                                                problem: "'\(n)' is not one of \(T.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return v
        }
    }

    /// The one value of a key of an SBC spec's sampler (nil when unset); more than one is an error.
    public static func single<T>(_ values: [T]?, _ key: String, what: String) throws -> T? {
        guard let values else { return nil }
        guard values.count == 1 else {
            throw TweedieError.invalidInput(what: "\(what).\(key)", problem: "takes one value in an SBC spec, got \(values.count)")
        }
        return values[0]
    }
}

extension SamplerSettings {
    static var kindName: String { kind }
    static var gridKeys: [String] { Grid.keys }
    static func readGrid(_ entry: SamplerSpecEntry) throws -> any SamplerSettingsGrid { try Grid(reading: entry) }
}

/// A check of a sampler setting in a spec or a request: "sampler setting <what>: <problem>".
public func samplerSpecError(_ what: String, _ problem: String) -> TweedieError {
    .invalidInput(what: "sampler setting \(what)", problem: problem)
}

/// A sampler whose calibration runs report a diagnostic of each observation's draws (on stderr).
public protocol CalibrationDiagnosedSampler: PosteriorSampler {
    /// A fresh record for one observation's `samples` draws.
    func makeCalibrationDiagnostic(samples: Int) -> any CalibrationDiagnostic
}

/// One observation's draws, recorded for a diagnostic.
public protocol CalibrationDiagnostic: AnyObject {
    /// Draws `indices` as the sampler's sample(indices:seed:) does, recording what the report needs.
    func sample(indices: Range<Int>, seed: UInt64) throws -> ImageBatch
    /// The report (one or more lines, no final newline) on the draws, with the problem they solve.
    func report(_ context: CalibrationDiagnosticContext) throws -> String
}

/// What a diagnostic may compare the draws with: the analytic prior, the operator, σ and the
/// observation (number `index` of its case).
public struct CalibrationDiagnosticContext {
    public var prior: any AnalyticPrior
    public var forwardOperator: any ForwardOperator
    public var sigma: Double
    public var observation: ImageBatch
    public var index: Int
    public init(prior: any AnalyticPrior, forwardOperator: any ForwardOperator, sigma: Double, observation: ImageBatch, index: Int) {
        self.prior = prior; self.forwardOperator = forwardOperator; self.sigma = sigma; self.observation = observation; self.index = index
    }
}
