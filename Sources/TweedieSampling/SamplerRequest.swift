// A sampler as a posterior request names it: a kind of `SamplerChoice.kinds` and the settings
// given, by the keys of that kind's spec entry (its `SamplerSettingsGrid.keys`, e.g. dps `steps`,
// `guidance`, `clip`, `eta`; split-gibbs `iterations`, `rho_max`, `prior_steps`, …), one value each.
// The kind resolves what is unset against the prior (`SamplerSettingsGrid.resolved`): the settings
// the prior declares, else the kind's defaults. So `tweedie sample`, a study case and an SBC spec
// choose a sampler the same way, and a new kind is reachable from all of them through its spec
// keys (`tweedie sample --sampler KIND --sampler-setting KEY=VALUE`, a study's `sampler.KEY:`
// parameters) without touching them. Codable: run.json records the request, kind and settings as given.
import Foundation
import TweedieCore

/// One sampler setting's value, as a spec, a command line or a study writes it.
public enum SamplerSettingValue: Sendable, Equatable, Codable, CustomStringConvertible {
    case number(Double)
    case flag(Bool)
    case text(String)
    case numbers([Double])

    /// A command-line or study word: true/false, a number, comma-separated numbers, else text.
    public init(parsing word: String) {
        let w = word.trimmingCharacters(in: .whitespaces)
        if w == "true" || w == "false" { self = .flag(w == "true"); return }
        if let d = Double(w) { self = .number(d); return }
        let parts = w.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
        if parts.count > 1, parts.allSatisfy({ $0 != nil }) { self = .numbers(parts.map { $0! }); return }
        self = .text(w)
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let b = try? c.decode(Bool.self) { self = .flag(b); return }
        if let d = try? c.decode(Double.self) { self = .number(d); return }
        if let a = try? c.decode([Double].self) { self = .numbers(a); return }
        self = .text(try c.decode(String.self))
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case let .number(d): try c.encode(d)
        case let .flag(b): try c.encode(b)
        case let .text(s): try c.encode(s)
        case let .numbers(a): try c.encode(a)
        }
    }

    public var description: String {
        switch self {
        case let .number(d): return shortNumber(d)
        case let .flag(b): return b ? "true" : "false"
        case let .text(s): return s
        case let .numbers(a): return "[" + a.map(shortNumber).joined(separator: ", ") + "]"
        }
    }
}

public struct SamplerRequest: Sendable, Equatable, Codable {
    /// The kind's name (`SamplerSettings.kind`).
    public var kind: String
    /// The settings given, by spec key; the rest are resolved against the prior.
    public var settings: [String: SamplerSettingValue]

    public init(kind: String, settings: [String: SamplerSettingValue] = [:]) {
        self.kind = kind.lowercased(); self.settings = settings
    }

    /// The common settings as `tweedie sample` options (`--dps-eta`) and study parameters (`dps_eta`)
    /// name them, by the key each sets in the kinds that have it.
    public static let commonSettings: [(name: String, key: String)] = [
        ("steps", "steps"), ("guidance", "guidance"), ("clip", "clip"), ("dps_eta", "eta"),
        ("gibbs_iterations", "iterations"), ("gibbs_rho_max", "rho_max"), ("gibbs_prior_steps", "prior_steps"),
        ("particles", "particles"), ("samples_per_population", "keep"), ("smc_tempering", "adaptive"),
    ]

    /// A request of `kind` from the common settings by name (`common`; those that do not apply to the
    /// kind are not read, so a study grid can vary the sampler with them fixed; `smc_tempering` is
    /// adaptive or planned), then `settings` by key, which must all be the kind's (`validate`).
    /// `name` turns a common setting's name into the caller's word for it in messages.
    public init(kind: String, common: [String: SamplerSettingValue], settings: [String: SamplerSettingValue],
                what: String, name: (String) -> String) throws {
        self.init(kind: kind)
        let keys = Self.keys(of: self.kind) ?? []
        for (n, key) in Self.commonSettings where keys.contains(key) {
            guard var v = common[n] else { continue }
            if n == "smc_tempering" {
                guard v == .text("adaptive") || v == .text("planned") else {
                    throw TweedieError.invalidInput(what: name(n), problem: "must be adaptive or planned, got '\(v)'")
                }
                v = .flag(v == .text("adaptive"))
            }
            self.settings[key] = v
        }
        for (k, v) in settings { self.settings[k] = v }
        try validate(what: what)
    }

    /// The kind names, in the order messages list them.
    public static var kindNames: [String] {
        var names: [String] = []
        for t in SamplerChoice.kinds { names.append(t.kindName) }
        return names
    }

    /// The keys a request of `kind` takes (its spec keys but `batch`, which a run sets itself).
    public static func keys(of kind: String) -> [String]? {
        (try? SamplerSpecEntry.settingsType(kind))?.gridKeys.filter { $0 != "batch" }
    }

    /// Checks the kind and that every setting is one of its keys; `what` names the sampler in messages
    /// (a command line passes "--sampler").
    public func validate(what: String) throws {
        guard let keys = Self.keys(of: kind) else {
            throw TweedieError.invalidInput(what: what, problem: "'\(kind)' is not a sampler; choose one of \(Self.kindNames.joined(separator: ", "))")
        }
        for k in settings.keys.sorted() where !keys.contains(k) {
            throw TweedieError.invalidInput(what: "\(what) \(kind)", problem: "has no setting '\(k)'; its settings are \(keys.joined(separator: ", "))")
        }
    }

    /// The sampler with its settings: the given ones, the rest from the prior and the kind's
    /// defaults; `warn` receives what the resolution wants the user to know (an extrapolated ζ).
    public func choice(prior: SamplingPrior, what: String, warn: (String) -> Void = { _ in }) throws -> SamplerChoice {
        try validate(what: what)
        var entry: [String: SamplerSettingValue] = settings
        entry["kind"] = .text(kind)
        let json = try JSONEncoder().encode(entry)
        let grid: any SamplerSettingsGrid
        do {
            grid = try JSONDecoder().decode(GridReading.self, from: json).grid
        } catch let e as TweedieError {
            throw e
        } catch DecodingError.typeMismatch(_, let context), DecodingError.dataCorrupted(let context) {
            let key = context.codingPath.first?.stringValue ?? "?"
            throw TweedieError.invalidInput(what: "\(what) \(kind) setting '\(key)'",
                                            problem: "has the wrong type (\(settings[key].map { "\($0)" } ?? "?")): \(context.debugDescription)")
        }
        return try grid.resolved(prior: prior, what: "\(what) \(kind)", warn: warn)
    }

    // MARK: run.json

    private enum CodingKeys: String, CodingKey { case kind, settings }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(kind, forKey: .kind)
        try c.encode(settings, forKey: .settings)
    }

    /// The current form {kind, settings}, or the form run.json files had before requests named
    /// their sampler this way: one key per sampler (`dps`, `splitGibbs`, `smc`) holding its
    /// overrides, read into the same kind and settings.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        if c.contains(.kind) {
            self.init(kind: try c.decode(String.self, forKey: .kind),
                      settings: try c.decodeIfPresent([String: SamplerSettingValue].self, forKey: .settings) ?? [:])
            return
        }
        let old = try decoder.container(keyedBy: SamplerSpecEntry.Key.self)
        guard let key = old.allKeys.first else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "a sampler needs a kind"))
        }
        let body = try old.decode([String: LegacyValue].self, forKey: key)
        var settings: [String: SamplerSettingValue] = [:]
        func copy(_ from: [String: LegacyValue], _ names: [(String, String)]) {
            for (name, setting) in names { if case let .value(v)? = from[name] { settings[setting] = v } }
        }
        let gibbsNames = [("iterations", "iterations"), ("rhoMax", "rho_max"), ("priorSteps", "prior_steps")]
        if case let .object(o)? = body["_0"] { copy(o, gibbsNames) }
        switch key.stringValue {
        case "dps":
            copy(body, [("steps", "steps"), ("guidance", "guidance"), ("ddimEta", "eta")])
            if case let .object(clip)? = body["clip"] {
                if clip["none"] != nil { settings["clip"] = .text("none") }
                if case let .object(r)? = clip["range"], case let .value(.number(lo))? = r["lo"], case let .value(.number(hi))? = r["hi"] {
                    settings["clip"] = .numbers([lo, hi])
                }
            }
            self.init(kind: "dps", settings: settings)
        case "splitGibbs":
            self.init(kind: "split-gibbs", settings: settings)
        case "smc":
            copy(body, [("particles", "particles"), ("adaptive", "adaptive"), ("samplesPerPopulation", "keep")])
            self.init(kind: "smc", settings: settings)
        default:
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "unknown sampler '\(key.stringValue)'"))
        }
    }

    /// A value of the old form: a setting, or a nested object.
    private enum LegacyValue: Decodable {
        case value(SamplerSettingValue)
        case object([String: LegacyValue])
        init(from decoder: Decoder) throws {
            if let o = try? [String: LegacyValue](from: decoder) { self = .object(o) } else { self = .value(try SamplerSettingValue(from: decoder)) }
        }
    }

    /// Reads the kind's grid from the entry inside the decode (the entry's decoder lives there).
    private struct GridReading: Decodable {
        let grid: any SamplerSettingsGrid
        init(from decoder: Decoder) throws { grid = try SamplerSpecEntry(from: decoder).grid() }
    }
}
