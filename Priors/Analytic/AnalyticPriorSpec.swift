// Selecting an analytic prior by a short spec (DESIGN §4.5: analytic priors are
// usable wherever a neural prior is, e.g. `--prior gaussian:…`).
//
// Three forms, one set of keys:
//   inline   gaussian:n=16,channels=1,amplitude=1,slope=3,k0=0.1
//            gaussian:height=8,width=12,spectrum=gaussian,variance=1,length=2,mean=0.5
//            mixture:n=8,weights=0.3;0.7,means=-1;1,variances=0.5;0.2
//            (lists separated by ';'; inline mixture means / variances are one number per component)
//   JSON     a path to a .json file holding an object with the same keys, plus
//            "kind": "gaussian" | "mixture", "spectrum": {"model": "powerlaw" | "gaussian" | "array", …}
//            and, for mixtures, "components": [{"weight": w, "mean": number or image, "variance": number or image}]
//            (images flattened [c][y][x], or nested arrays);
//   any decoded dictionary (e.g. a YAML file read by the CLI with Yams) via `init(dictionary:source:)`.
//
// Keys (all forms): n | height + width, channels (1), bands, mean (0), schedule (cosine | linear, default
// cosine), steps (T, default 1000); gaussian: spectrum = powerlaw (amplitude | variance, slope, k0),
// gaussian (variance, length), array (values, layout = fft | centred) or file (path; read by `arrayLoader`).
// Unknown keys, missing keys and bad values are errors that name the key and say what to write.

import Foundation
import TweedieCore

/// A parsed, validated analytic-prior description; `makePrior()` builds it.
public struct AnalyticPriorSpec: Sendable, Equatable {
    /// Where a Gaussian prior's power spectrum comes from.
    public enum SpectrumSource: Sendable, Equatable {
        /// A formula; `pixelVariance` rescales it so the mean of P is that value.
        case model(PowerSpectrumModel, pixelVariance: Double?)
        /// An array `[c][ky][kx]` or `[ky][kx]`.
        case array([Double], layout: SpectrumLayout)
        /// An image file (FITS) read by the `arrayLoader` given to `makePrior`.
        case file(path: String, layout: SpectrumLayout)
    }

    public enum Family: Sendable, Equatable {
        case gaussian(spectrum: SpectrumSource, mean: [Double])
        case mixture(components: [MixtureComponent])
    }

    /// Reads an array image (e.g. a FITS file): values `[c][y][x]` and its shape.
    public typealias ArrayLoader = @Sendable (String) throws -> (values: [Double], shape: ImageShape)

    public var shape: ImageShape
    public var family: Family
    public var scheduleKind: ScheduleKind
    public var steps: Int
    public var bands: [String]
    /// The text or file the spec came from (for error messages and provenance).
    public var source: String

    /// Parses an inline spec (`gaussian:…`, `mixture:…`) or reads a JSON spec file.
    public init(parsing text: String) throws {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        for kind in ["gaussian", "mixture"] where trimmed.lowercased().hasPrefix(kind + ":") {
            let body = String(trimmed.dropFirst(kind.count + 1))
            var dict: [String: Any] = ["kind": kind]
            for item in body.split(separator: ",", omittingEmptySubsequences: true) {
                let parts = item.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                    throw TweedieError.invalidInput(what: "prior spec '\(text)'",
                                                    problem: "'\(item)' is not key=value; write e.g. \(kind):n=16,…")
                }
                let key = parts[0].lowercased()
                guard dict[key] == nil else {
                    throw TweedieError.invalidInput(what: "prior spec '\(text)'", problem: "key '\(key)' is given twice")
                }
                dict[key] = parts[1]
            }
            try self.init(dictionary: dict, source: "prior spec '\(text)'")
            return
        }
        guard trimmed.lowercased().hasSuffix(".json") else {
            throw TweedieError.invalidInput(
                what: "prior spec '\(text)'",
                problem: "is neither gaussian:key=value,… nor mixture:key=value,… nor a .json spec file; e.g. gaussian:n=16,amplitude=1,slope=3,k0=0.1")
        }
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: trimmed)) } catch {
            throw TweedieError.io(path: trimmed, problem: "cannot read the prior spec file (\(error.localizedDescription))")
        }
        let object: Any
        do { object = try JSONSerialization.jsonObject(with: data) } catch {
            throw TweedieError.io(path: trimmed, problem: "is not valid JSON (\(error.localizedDescription))")
        }
        guard let dict = object as? [String: Any] else {
            throw TweedieError.io(path: trimmed, problem: "must hold a JSON object {\"kind\": \"gaussian\" | \"mixture\", …}")
        }
        try self.init(dictionary: dict, source: trimmed)
    }

    /// Reads a decoded spec dictionary (JSON / YAML values: numbers, strings, arrays, objects).
    public init(dictionary raw: [String: Any], source: String) throws {
        var d = SpecReader(values: Dictionary(uniqueKeysWithValues: raw.map { ($0.key.lowercased(), $0.value) }), source: source)
        let kind = try d.string("kind").lowercased()
        let height: Int, width: Int
        if d.has("n") {
            guard !d.has("height") && !d.has("width") else {
                throw d.error("n", "give either n or height and width, not both")
            }
            height = try d.int("n", range: 1...4096); width = height
        } else {
            guard d.has("height") && d.has("width") else { throw d.error("n", "is missing; give n=16 (or height= and width=)") }
            height = try d.int("height", range: 1...4096); width = try d.int("width", range: 1...4096)
        }
        let channels = d.has("channels") ? try d.int("channels", range: 1...64) : 1
        shape = ImageShape(channels: channels, height: height, width: width)
        bands = d.has("bands") ? try d.stringList("bands") : []
        if !bands.isEmpty && bands.count != channels {
            throw d.error("bands", "has \(bands.count) names for \(channels) channels")
        }
        scheduleKind = .cosine
        if d.has("schedule") {
            let name = try d.string("schedule").lowercased()
            guard let k = ScheduleKind(rawValue: name) else {
                throw d.error("schedule", "'\(name)' is not one of \(ScheduleKind.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            scheduleKind = k
        }
        steps = d.has("steps") ? try d.int("steps", range: 2...100_000) : 1000
        self.source = source

        switch kind {
        case "gaussian":
            let mean = d.has("mean") ? try d.numbers("mean") : [0]
            var spectrumReader: SpecReader
            let nestedSpectrum = d.values["spectrum"] is [String: Any]
            if let nested = d.values["spectrum"] as? [String: Any] {
                d.used.insert("spectrum")
                spectrumReader = SpecReader(values: Dictionary(uniqueKeysWithValues: nested.map { ($0.key.lowercased(), $0.value) }),
                                            source: "\(source) spectrum")
                spectrumReader.values["model"] = spectrumReader.values["model"] ?? "powerlaw"
            } else {
                // Inline: the spectrum keys sit next to the others; `spectrum=` names the model.
                spectrumReader = d
                spectrumReader.values["model"] = d.values["spectrum"] ?? "powerlaw"
                d.used.insert("spectrum")
            }
            let spectrum = try Self.readSpectrum(&spectrumReader)
            if nestedSpectrum { try spectrumReader.rejectUnused() } else { d.used.formUnion(spectrumReader.used) }
            family = .gaussian(spectrum: spectrum, mean: mean)
        case "mixture":
            var components: [MixtureComponent] = []
            if let list = d.values["components"] {
                d.used.insert("components")
                guard let items = list as? [Any], !items.isEmpty else {
                    throw d.error("components", "must be a non-empty list of {\"weight\", \"mean\", \"variance\"} objects")
                }
                for (k, item) in items.enumerated() {
                    guard let obj = item as? [String: Any] else {
                        throw d.error("components", "entry \(k) is not an object {\"weight\", \"mean\", \"variance\"}")
                    }
                    var c = SpecReader(values: Dictionary(uniqueKeysWithValues: obj.map { ($0.key.lowercased(), $0.value) }),
                                       source: "\(source) component \(k)")
                    components.append(MixtureComponent(weight: c.has("weight") ? try c.number("weight") : 1,
                                                       mean: try c.numbers("mean"), variance: try c.numbers("variance")))
                    try c.rejectUnused()
                }
            } else {
                let means = try d.numbers("means")
                let variances = try d.numbers("variances")
                let weights = d.has("weights") ? try d.numbers("weights") : [Double](repeating: 1, count: means.count)
                guard variances.count == means.count && weights.count == means.count else {
                    throw d.error("means", "means (\(means.count)), variances (\(variances.count)) and weights (\(weights.count)) need one value per component")
                }
                components = (0..<means.count).map { MixtureComponent(weight: weights[$0], mean: [means[$0]], variance: [variances[$0]]) }
            }
            family = .mixture(components: components)
        default:
            throw d.error("kind", "'\(kind)' is not gaussian or mixture")
        }
        try d.rejectUnused()
    }

    private static func readSpectrum(_ s: inout SpecReader) throws -> SpectrumSource {
        let model = try s.string("model").lowercased()
        switch model {
        case "powerlaw", "power-law":
            let slope = try s.number("slope"), k0 = try s.number("k0")
            switch (s.has("amplitude"), s.has("variance")) {
            case (true, false): return .model(.powerLaw(amplitude: try s.number("amplitude"), slope: slope, k0: k0), pixelVariance: nil)
            case (false, true): return .model(.powerLaw(amplitude: 1, slope: slope, k0: k0), pixelVariance: try s.number("variance"))
            default: throw s.error("amplitude", "give exactly one of amplitude= (P(k)=A·(k²+k0²)^(−slope/2)) or variance= (pixel variance)")
            }
        case "gaussian", "gaussian-correlation":
            return .model(.gaussianCorrelation(variance: try s.number("variance"), length: try s.number("length")), pixelVariance: nil)
        case "array", "file":
            var layout = SpectrumLayout.centred
            if s.has("layout") {
                let name = try s.string("layout").lowercased()
                guard let l = SpectrumLayout(rawValue: name) else {
                    throw s.error("layout", "'\(name)' is not fft or centred")
                }
                layout = l
            }
            return model == "array" ? .array(try s.numbers("values"), layout: layout) : .file(path: try s.string("path"), layout: layout)
        default:
            throw s.error("spectrum", "model '\(model)' is not powerlaw, gaussian, array or file")
        }
    }

    /// Builds the prior. `arrayLoader` reads a spectrum file (FITS) when the spec names one.
    public func makePrior(arrayLoader: ArrayLoader? = nil) throws -> any AnalyticPrior {
        do {
            return try build(arrayLoader: arrayLoader)
        } catch let TweedieError.invalidInput(what, problem) where !what.hasPrefix(source) {
            throw TweedieError.invalidInput(what: "\(source): \(what)", problem: problem)
        } catch let TweedieError.shapeMismatch(what, expected, got) where !what.contains(source) {
            throw TweedieError.shapeMismatch(what: "\(source): \(what)", expected: expected, got: got)
        }
    }

    private func build(arrayLoader: ArrayLoader?) throws -> any AnalyticPrior {
        let schedule = try NoiseSchedule(kind: scheduleKind, steps: steps)
        switch family {
        case let .gaussian(spectrumSource, mean):
            let spectrum: PowerSpectrum
            switch spectrumSource {
            case let .model(model, variance):
                let base = try PowerSpectrum(model: model, height: shape.height, width: shape.width, channels: shape.channels)
                spectrum = try variance.map { try base.normalised(toPixelVariance: $0) } ?? base
            case let .array(values, layout):
                spectrum = try PowerSpectrum(values: values, height: shape.height, width: shape.width,
                                             channels: shape.channels, layout: layout, source: "in \(source)")
            case let .file(path, layout):
                guard let load = arrayLoader else {
                    throw TweedieError.invalidInput(what: source, problem: "names the spectrum file \(path), but no file reader was given; give the spectrum as an array instead")
                }
                let (values, fileShape) = try load(path)
                guard fileShape.height == shape.height && fileShape.width == shape.width
                        && (fileShape.channels == 1 || fileShape.channels == shape.channels) else {
                    throw TweedieError.shapeMismatch(what: "power spectrum \(path) for \(source)",
                                                     expected: "\(shape.height)×\(shape.width) with 1 or \(shape.channels) planes",
                                                     got: "\(fileShape)")
                }
                spectrum = try PowerSpectrum(values: values, height: shape.height, width: shape.width,
                                             channels: shape.channels, layout: layout, source: path)
            }
            return try StationaryGaussianPrior(spectrum: spectrum, mean: mean, schedule: schedule, bands: bands)
        case let .mixture(components):
            return try GaussianMixturePrior(shape: shape, components: components, schedule: schedule, bands: bands)
        }
    }

    /// Parses `text` (inline spec or JSON file) into a ready denoiser.
    public static func parse(_ text: String) throws -> any Denoiser {
        try AnalyticPriorSpec(parsing: text).makePrior()
    }

    /// As `parse`, keeping the analytic interface (exact x̂0 in Float64, exact sampling and posteriors).
    public static func parseAnalytic(_ text: String, arrayLoader: ArrayLoader? = nil) throws -> any AnalyticPrior {
        try AnalyticPriorSpec(parsing: text).makePrior(arrayLoader: arrayLoader)
    }
}

/// Typed access to a spec dictionary, remembering which keys were read so that unknown ones are reported.
private struct SpecReader {
    var values: [String: Any]
    let source: String
    var used: Set<String> = []

    init(values: [String: Any], source: String) { self.values = values; self.source = source }

    func has(_ key: String) -> Bool { values[key] != nil && !(values[key] is NSNull) }

    func error(_ key: String, _ problem: String) -> TweedieError {
        .invalidInput(what: "\(source): key '\(key)'", problem: problem)
    }

    private mutating func value(_ key: String) throws -> Any {
        guard let v = values[key], !(v is NSNull) else { throw error(key, "is missing") }
        used.insert(key)
        return v
    }

    mutating func string(_ key: String) throws -> String {
        let v = try value(key)
        guard let s = v as? String else { throw error(key, "must be text, got \(v)") }
        return s
    }

    private func toDouble(_ v: Any, _ key: String) throws -> Double {
        if type(of: v) == Bool.self { throw error(key, "must be a number, got \(v)") }
        if let d = v as? Double { return d }
        if let i = v as? Int { return Double(i) }
        if let n = v as? NSNumber { return n.doubleValue }
        if let s = v as? String, let d = Double(s.trimmingCharacters(in: .whitespaces)) { return d }
        throw error(key, "must be a number, got '\(v)'")
    }

    mutating func number(_ key: String) throws -> Double {
        let d = try toDouble(try value(key), key)
        guard d.isFinite else { throw error(key, "must be finite, got \(d)") }
        return d
    }

    mutating func int(_ key: String, range: ClosedRange<Int>) throws -> Int {
        let d = try number(key)
        guard d == d.rounded(), let i = Int(exactly: d), range.contains(i) else {
            throw error(key, "must be a whole number in \(range.lowerBound)…\(range.upperBound), got \(d)")
        }
        return i
    }

    /// A number, a list of numbers (nested lists flattened in order), or text "a;b;c".
    mutating func numbers(_ key: String) throws -> [Double] {
        let v = try value(key)
        var out: [Double] = []
        func collect(_ x: Any) throws {
            if let list = x as? [Any] {
                for e in list { try collect(e) }
            } else if let s = x as? String {
                for part in s.split(separator: ";") { out.append(try toDouble(String(part), key)) }
            } else {
                out.append(try toDouble(x, key))
            }
        }
        try collect(v)
        guard !out.isEmpty else { throw error(key, "is empty") }
        if let bad = out.first(where: { !$0.isFinite }) { throw error(key, "holds a non-finite value \(bad)") }
        return out
    }

    /// A list of names, or text "g;r;i".
    mutating func stringList(_ key: String) throws -> [String] {
        let v = try value(key)
        if let s = v as? String { return s.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) } }
        if let list = v as? [Any] {
            return try list.map { e in
                guard let s = e as? String else { throw error(key, "must list names, got \(e)") }
                return s
            }
        }
        throw error(key, "must be a list of names (e.g. g;r;i)")
    }

    func rejectUnused() throws {
        let unknown = Set(values.keys).subtracting(used).sorted()
        guard unknown.isEmpty else {
            throw TweedieError.invalidInput(
                what: source,
                problem: "unknown key\(unknown.count > 1 ? "s" : "") \(unknown.map { "'\($0)'" }.joined(separator: ", ")); known keys: kind, n, height, width, channels, bands, mean, schedule, steps, spectrum, amplitude, variance, slope, k0, length, values, layout, path, means, variances, weights, components")
        }
    }
}
