// Creating a prior directory from a checkpoint (`tweedie prior import`):
// reads a PyTorch or safetensors checkpoint and a flags JSON (improved-
// diffusion flags + bands, pixel_scale, pixel_transform), checks the weights
// against the flags, and writes config.json, weights.safetensors (float32,
// names unchanged) and a model card listing the source file and its SHA-256.
//
// Atomic: everything is built in a temporary directory beside the destination
// and renamed into place at the end, so a failure leaves nothing behind.

import Foundation
import TweedieCore

/// What an import did.
public struct PriorImportReport: Sendable {
    public var directory: URL
    public var config: PriorConfig
    public var sourceFormat: CheckpointFormat
    public var sourceSHA256: String
    public var weightsSHA256: String
    public var parameterCount: Int
    public var tensorCount: Int
    /// The loader's decisions (sub-dict chosen, dtype conversions, prefixes removed).
    public var notes: [String]
}

public enum PriorImport {
    /// Imports `checkpoint` with the flags in `flags` into a new prior directory `output`.
    /// - Parameters:
    ///   - key: which state dict of a training checkpoint to use (nil: the obvious one).
    ///   - name: the prior's name (default: the flags file's "name", else the directory name).
    ///   - layout: the network's full expected parameter list; nil checks the stem tensors only.
    ///   - overwrite: replace an existing `output` (atomically) instead of refusing.
    public static func run(checkpoint: URL, flags: URL, output: URL, key: String? = nil, name: String? = nil,
                           layout: ParameterLayout? = nil, overwrite: Bool = false) throws -> PriorImportReport {
        let fm = FileManager.default
        let output = output.standardizedFileURL
        let dirName = output.lastPathComponent
        if fm.fileExists(atPath: output.path) && !overwrite {
            throw TweedieError.io(path: output.path, problem: "already exists; choose another output or allow overwriting it")
        }
        var config = try PriorConfig.read(flags, defaultName: dirName)
        if let name { config.name = name }
        config.weightsFile = "weights.safetensors"
        config.varianceMap = nil  // a new prior has no variance map yet

        let loaded = try CheckpointLoader.load(checkpoint, key: key)
        try ParameterValidation.check(ParameterValidation.shapes(of: loaded.tensors), config: config.unet,
                                      layout: layout, source: checkpoint.path)
        try ParameterValidation.checkFinite(loaded.tensors, source: checkpoint.path)
        let sourceSHA = try SHA256.hex(fileAt: checkpoint)

        let parent = output.deletingLastPathComponent()
        do {
            try fm.createDirectory(at: parent, withIntermediateDirectories: true)
        } catch {
            throw TweedieError.io(path: parent.path, problem: "cannot create the parent directory: \(error.localizedDescription)")
        }
        let staging = parent.appendingPathComponent(".\(dirName).tmp-\(ProcessInfo.processInfo.processIdentifier)-\(UInt32.random(in: 0...UInt32.max))")
        do {
            try fm.createDirectory(at: staging, withIntermediateDirectories: false)
        } catch {
            throw TweedieError.io(path: parent.path, problem: "cannot create a staging directory: \(error.localizedDescription)")
        }
        do {
            let weightsURL = staging.appendingPathComponent(config.weightsFile)
            let weightsSHA = try SafeTensors.write(loaded.tensors, metadata: [
                "source_file": checkpoint.lastPathComponent, "source_sha256": sourceSHA,
                "source_format": loaded.format.rawValue, "written_by": "tweedie \(TweedieVersion.string) prior import",
            ], to: weightsURL)
            config.weightsSHA256 = weightsSHA
            try AtomicFileWrite.write(try config.jsonData(), to: staging.appendingPathComponent(PriorDirectory.configFileName).path)
            let report = PriorImportReport(directory: output, config: config, sourceFormat: loaded.format,
                                           sourceSHA256: sourceSHA, weightsSHA256: weightsSHA,
                                           parameterCount: loaded.parameterCount, tensorCount: loaded.tensors.count,
                                           notes: loaded.notes)
            let card = modelCard(report, checkpoint: checkpoint, dtypes: loaded.storedDTypes)
            try AtomicFileWrite.write(Data(card.utf8), to: staging.appendingPathComponent(PriorDirectory.modelCardFileName).path)
            // Check what was written reads back as a valid prior before it becomes visible.
            _ = try PriorDirectory.open(staging)
            try moveIntoPlace(staging, output, overwrite: overwrite)
            return report
        } catch {
            try? fm.removeItem(at: staging)
            throw error
        }
    }

    /// Renames the finished staging directory to `output`; an existing one is replaced only after the new one is in place.
    private static func moveIntoPlace(_ staging: URL, _ output: URL, overwrite: Bool) throws {
        let fm = FileManager.default
        var displaced: URL?
        if fm.fileExists(atPath: output.path) {
            guard overwrite else { throw TweedieError.io(path: output.path, problem: "already exists; choose another output or allow overwriting it") }
            let old = output.deletingLastPathComponent()
                .appendingPathComponent(".\(output.lastPathComponent).old-\(ProcessInfo.processInfo.processIdentifier)")
            guard rename(output.path, old.path) == 0 else {
                throw TweedieError.io(path: output.path, problem: "cannot move the existing directory aside: \(String(cString: strerror(errno)))")
            }
            displaced = old
        }
        guard rename(staging.path, output.path) == 0 else {
            let reason = String(cString: strerror(errno))
            if let displaced { _ = rename(displaced.path, output.path) }
            throw TweedieError.io(path: output.path, problem: "cannot move the new prior into place: \(reason)")
        }
        if let displaced { try? fm.removeItem(at: displaced) }
    }

    /// The model card of an imported prior: only facts known at import time.
    static func modelCard(_ r: PriorImportReport, checkpoint: URL, dtypes: [String: TensorDType]) -> String {
        let c = r.config
        let formatter = ISO8601DateFormatter()
        let dtypeSummary = Dictionary(grouping: dtypes.values, by: { $0 }).map { "\($0.value.count) \($0.key.rawValue)" }
            .sorted().joined(separator: ", ")
        var lines = [
            "# Prior `\(c.name)`",
            "",
            "Imported with `tweedie prior import` on \(formatter.string(from: Date())) from a \(r.sourceFormat.rawValue) checkpoint.",
            "A checkpoint carries no record of its training data, training steps, loss or evaluation;",
            "whoever knows them should add them to this card.",
            "",
            "## Source",
            "",
            "- file: `\(checkpoint.lastPathComponent)` (imported from `\(checkpoint.standardizedFileURL.path)`)",
            "- SHA-256: `\(r.sourceSHA256)`",
            "- stored tensor types: \(dtypeSummary.isEmpty ? "none" : dtypeSummary)",
        ]
        for note in r.notes { lines.append("- loader: \(note)") }
        lines += [
            "",
            "## Network",
            "",
            "- \(c.architectureSummary)",
            "- parameters: \(PriorDirectory.formatCount(r.parameterCount)) in \(r.tensorCount) tensors",
            "- weights: `\(c.weightsFile)` (float32), SHA-256 `\(r.weightsSHA256)`",
            "- schedule: \(c.unet.noiseSchedule.rawValue), \(c.unet.diffusionSteps) steps; the network predicts \(c.predictionType.rawValue)",
            "",
            "## Prior",
            "",
            "- bands: \(c.bands.joined(separator: ", "))",
            "- image size: \(c.unet.imageSize) × \(c.unet.imageSize) px",
            "- pixel scale: \(c.pixelScale)",
            "- pixel transform (network u ↔ physical x): \(c.pixelTransform)",
            "- prior variance map: none yet (`tweedie prior variance` adds one, with its sample count)",
            "",
        ]
        return lines.joined(separator: "\n")
    }
}
