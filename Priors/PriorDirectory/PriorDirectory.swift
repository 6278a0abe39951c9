// A prior on disk (DESIGN §4.4): a directory holding
//   config.json          network flags + prior metadata (PriorConfig.swift),
//   weights.safetensors  the network's parameters (float32, PyTorch names),
//   README.md            the model card (optional),
//   variance.fits        the prior variance map (optional; declared in config.json with its N).
// Opening a directory validates the config and the weights header (cheap: the
// weights themselves are read only by `loadWeights`); the checksum is the
// SHA-256 of the weights file, as `sha256sum` prints it.

import Foundation
import TweedieCore

public struct PriorDirectory: Sendable {
    public let url: URL
    public let config: PriorConfig
    /// The weights file's validated header (names, shapes, dtypes, offsets).
    public let weightsHeader: SafeTensorsHeader

    public static let configFileName = "config.json"
    public static let modelCardFileName = "README.md"

    public var configURL: URL { url.appendingPathComponent(Self.configFileName) }
    public var weightsURL: URL { url.appendingPathComponent(config.weightsFile) }
    /// The model card, when the directory has one.
    public var modelCardURL: URL? {
        let u = url.appendingPathComponent(Self.modelCardFileName)
        return FileManager.default.fileExists(atPath: u.path) ? u : nil
    }
    /// The prior variance map, when config.json declares one.
    public var varianceMapURL: URL? { config.varianceMap.map { url.appendingPathComponent($0.file) } }

    /// Opens and validates a prior directory.
    public static func open(_ url: URL) throws -> PriorDirectory {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir) else {
            throw TweedieError.io(path: url.path, problem: "no such prior directory; check the path (priors live in Priors/Models/<name>/)")
        }
        guard isDir.boolValue else {
            throw TweedieError.io(path: url.path, problem: "is a file; a prior is a directory with config.json and weights.safetensors")
        }
        let configURL = url.appendingPathComponent(configFileName)
        guard FileManager.default.fileExists(atPath: configURL.path) else {
            throw TweedieError.model(path: url.path, problem: "not a prior directory: config.json is missing (create one with tweedie prior import)")
        }
        let config = try PriorConfig.read(configURL, defaultName: url.standardizedFileURL.lastPathComponent)
        let weightsURL = url.appendingPathComponent(config.weightsFile)
        guard FileManager.default.fileExists(atPath: weightsURL.path) else {
            throw TweedieError.model(path: url.path, problem: "weights file '\(config.weightsFile)' named by config.json is missing")
        }
        let header = try SafeTensors.readHeader(contentsOf: weightsURL)
        if let v = config.varianceMap, !FileManager.default.fileExists(atPath: url.appendingPathComponent(v.file).path) {
            throw TweedieError.model(path: configURL.path, problem: "declares the variance map '\(v.file)' but the file is missing; recompute it with tweedie prior variance or remove 'variance_map'")
        }
        return PriorDirectory(url: url, config: config, weightsHeader: header)
    }

    /// Parameter name → shape, from the weights header.
    public var parameterShapes: ParameterShapes {
        Dictionary(uniqueKeysWithValues: weightsHeader.entries.map { ($0.name, $0.shape) })
    }
    /// Number of tensors in the weights.
    public var tensorCount: Int { weightsHeader.entries.count }
    /// Total number of scalar parameters.
    public var parameterCount: Int { weightsHeader.entries.reduce(0) { $0 + $1.elementCount } }
    /// Stored dtypes and how many tensors of each ("F32": 552).
    public var storedDTypeCounts: [TensorDType: Int] {
        weightsHeader.entries.reduce(into: [:]) { $0[$1.dtype, default: 0] += 1 }
    }

    /// SHA-256 of the weights file (lower-case hex, as sha256sum prints it).
    public func weightsChecksum() throws -> String { try SHA256.hex(fileAt: weightsURL) }

    /// Computes the weights checksum and compares it with the one config.json records (if any).
    /// - Returns: the checksum and whether a recorded one was there to compare with.
    public func verifyWeightsChecksum() throws -> (sha256: String, verified: Bool) {
        let sha = try weightsChecksum()
        if let recorded = config.weightsSHA256 {
            guard recorded == sha else {
                throw TweedieError.model(path: weightsURL.path, problem: "SHA-256 \(sha) differs from the \(recorded) recorded in config.json; the weights were changed or damaged (re-import the prior, or update weights_sha256 if the change is intended)")
            }
            return (sha, true)
        }
        return (sha, false)
    }

    /// Checks the weights' names and shapes against the config: the full layout when given, else the stem tensors.
    public func validateWeights(layout: ParameterLayout? = nil) throws {
        try ParameterValidation.check(parameterShapes, config: config.unet, layout: layout, source: weightsURL.path)
    }

    /// Loads the weights as Float32, after checking them against the config.
    public func loadWeights(layout: ParameterLayout? = nil) throws -> StateDict {
        try validateWeights(layout: layout)
        let contents = try SafeTensors.read(contentsOf: weightsURL)
        try ParameterValidation.checkFinite(contents.tensors, source: weightsURL.path)
        return contents.tensors
    }

    /// The model card text, when there is one.
    public func modelCard() throws -> String? {
        guard let u = modelCardURL else { return nil }
        do { return try String(contentsOf: u, encoding: .utf8) } catch {
            throw TweedieError.io(path: u.path, problem: "cannot read the model card: \(error.localizedDescription)")
        }
    }

    /// Records a variance map written into the directory (its file must exist), rewriting config.json atomically.
    public func recordingVarianceMap(_ info: VarianceMapInfo) throws -> PriorDirectory {
        let file = url.appendingPathComponent(info.file)
        guard FileManager.default.fileExists(atPath: file.path) else {
            throw TweedieError.io(path: file.path, problem: "variance map to record does not exist; write it first")
        }
        guard info.samples >= 2 else {
            throw TweedieError.invalidInput(what: "variance map samples", problem: "need at least 2 samples, got \(info.samples)")
        }
        var config = self.config
        config.varianceMap = info
        try AtomicFileWrite.write(try config.jsonData(), to: configURL.path)
        return try PriorDirectory.open(url)
    }

    /// 369547779 → "369,547,779".
    public static func formatCount(_ n: Int) -> String {
        let digits = String(n.magnitude)
        var out = ""
        for (i, ch) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(ch)
        }
        return (n < 0 ? "-" : "") + out
    }
}
