// Loads a model's parameters from a checkpoint file of any supported format,
// recognised by its first bytes (not its extension):
// - safetensors: 8-byte header length followed by a JSON object (`{`);
// - PyTorch zip (torch.save since 1.6): a zip archive ("PK\u{3}\u{4}");
// - PyTorch legacy (torch.save with _use_new_zipfile_serialization=False):
//   a protocol-2 pickle of the magic number 0x1950a86a20f9469cfc6c.
// Parameter names are kept exactly as stored (improved-diffusion /
// guided-diffusion naming); all values become Float32 (DESIGN §4.3–4.4).

import Foundation
import TweedieCore

/// The on-disk format of a checkpoint.
public enum CheckpointFormat: String, Sendable {
    case safetensors = "safetensors"
    case torchZip = "PyTorch (zip)"
    case torchLegacy = "PyTorch (legacy)"
}

/// A checkpoint's parameters and what the loader did to get them.
public struct LoadedCheckpoint: Sendable {
    /// Parameter name → Float32 tensor.
    public var tensors: StateDict
    public var format: CheckpointFormat
    /// The element type each tensor was stored in.
    public var storedDTypes: [String: TensorDType]
    /// Decisions worth telling the user (which sub-dict was used, conversions, renamed prefixes).
    public var notes: [String]
    /// safetensors `__metadata__` (empty for PyTorch files).
    public var metadata: [String: String]
    /// The file it came from.
    public var path: String

    /// Total number of scalar parameters.
    public var parameterCount: Int { tensors.values.reduce(0) { $0 + $1.count } }
}

public enum CheckpointLoader {
    /// Detects the format of `data`, nil when it is none of the supported ones.
    public static func detectFormat(_ data: Data) -> CheckpointFormat? {
        let head = Array(data.prefix(16))
        if head.count >= 4 && head[0] == 0x50 && head[1] == 0x4B && (head[2] == 3 || head[2] == 5) {
            return .torchZip
        }
        if TorchCheckpoint.looksLegacy(data) { return .torchLegacy }
        if head.count >= 9 {
            // safetensors: header JSON starts with '{' right after the 8-byte length.
            let n = data.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: 0, as: UInt64.self)) }
            if head[8] == UInt8(ascii: "{") && n > 0 && n < UInt64(1) << 40 { return .safetensors }
        }
        return nil
    }

    /// Loads all parameters of the checkpoint at `url` as Float32.
    /// - Parameter key: for a training checkpoint that wraps state dicts, the one to use
    ///   ("ema", "state_dict", or "a/b" for a nested one); nil picks the obvious one and says so in `notes`.
    public static func load(_ url: URL, key: String? = nil) throws -> LoadedCheckpoint {
        let data = try CheckpointFile.map(url)
        let path = url.path
        guard let format = detectFormat(data) else {
            let hex = data.prefix(8).map { String(format: "%02x", $0) }.joined(separator: " ")
            throw TweedieError.model(path: path, problem: "not a PyTorch (.pt/.pth) or safetensors checkpoint (first bytes: \(hex.isEmpty ? "none, the file is empty" : hex)); give a file written by torch.save or safetensors")
        }
        var tensors: StateDict
        var dtypes: [String: TensorDType]
        var notes: [String] = []
        var metadata: [String: String] = [:]
        switch format {
        case .safetensors:
            if key != nil {
                throw TweedieError.setting(name: "key", problem: "a safetensors file holds a single state dict; give no key")
            }
            let c = try SafeTensors.read(data, path: path)
            (tensors, dtypes, metadata) = (c.tensors, c.storedDTypes, c.metadata)
        case .torchZip:
            (tensors, dtypes, notes) = try TorchCheckpoint.readZip(data, path: path, key: key)
        case .torchLegacy:
            (tensors, dtypes, notes) = try TorchCheckpoint.readLegacy(data, path: path, key: key)
        }
        notes += conversionNotes(dtypes)
        return LoadedCheckpoint(tensors: tensors, format: format, storedDTypes: dtypes, notes: notes,
                                metadata: metadata, path: path)
    }

    /// "converted 12 float16 tensors to float32", one note per non-float32 dtype.
    static func conversionNotes(_ dtypes: [String: TensorDType]) -> [String] {
        var byType: [TensorDType: [String]] = [:]
        for (name, d) in dtypes where d != .float32 { byType[d, default: []].append(name) }
        return byType.keys.sorted { $0.rawValue < $1.rawValue }.map { d in
            let names = byType[d]!.sorted()
            let shown = names.prefix(3).joined(separator: ", ") + (names.count > 3 ? ", …" : "")
            let kind = d.isFloatingPoint ? "" : " (not floating point: not a network weight?)"
            return "converted \(names.count) \(d.rawValue) tensor\(names.count == 1 ? "" : "s") to F32\(kind): \(shown)"
        }
    }
}
