// Writer for the safetensors format (float32 only), readable by huggingface
// `safetensors` (`safe_open`, `load_file`) and by `SafeTensors.read`.
//
// Layout written: 8-byte little-endian header length N, then N bytes of JSON
// — `__metadata__` first, then the tensors in ascending name order, each
// {"dtype":"F32","shape":[..],"data_offsets":[begin,end]} — padded with
// spaces so that the data buffer starts on an 8-byte boundary (as the
// reference writer does), then the tensors' little-endian Float32 values in
// the same order, contiguous. The file is written atomically.

import Foundation
import TweedieCore

extension SafeTensors {
    /// The header JSON and the tensor order for `tensors` (names ascending).
    static func headerJSON(for tensors: StateDict, metadata: [String: String]) -> (json: Data, order: [String]) {
        let order = tensors.keys.sorted()
        var parts: [String] = []
        if !metadata.isEmpty {
            let items = metadata.keys.sorted().map { "\(jsonString($0)):\(jsonString(metadata[$0]!))" }
            parts.append("\"__metadata__\":{\(items.joined(separator: ","))}")
        }
        var offset = 0
        for name in order {
            let t = tensors[name]!
            let bytes = t.count * 4
            let shape = t.shape.map(String.init).joined(separator: ",")
            parts.append("\(jsonString(name)):{\"dtype\":\"F32\",\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(offset + bytes)]}")
            offset += bytes
        }
        var json = "{" + parts.joined(separator: ",") + "}"
        let length = json.utf8.count
        let padded = (length + 7) / 8 * 8
        json += String(repeating: " ", count: padded - length)
        return (Data(json.utf8), order)
    }

    /// Writes `tensors` as float32 safetensors to `url` (atomically: temporary file, then rename).
    /// - Returns: the SHA-256 of the file written (hashed as it is written), lower-case hex.
    @discardableResult
    public static func write(_ tensors: StateDict, metadata: [String: String] = [:], to url: URL) throws -> String {
        let (header, order) = headerJSON(for: tensors, metadata: metadata)
        var hash = SHA256()
        try AtomicFileWrite.writeStream(to: url.path) { handle in
            var length = UInt64(header.count).littleEndian
            let lengthBytes = Data(bytes: &length, count: 8)
            try handle.write(contentsOf: lengthBytes)
            try handle.write(contentsOf: header)
            hash.update(lengthBytes)
            hash.update(header)
            for name in order {
                let values = tensors[name]!.values
                // Host order is little-endian on every platform Tweedie builds for (x86-64, arm64).
                try values.withUnsafeBytes { raw in
                    // Chunked so that huge tensors are not copied whole into a second buffer.
                    let chunk = 1 << 24
                    var start = 0
                    while start < raw.count {
                        let end = min(start + chunk, raw.count)
                        let piece = UnsafeRawBufferPointer(rebasing: raw[start..<end])
                        try handle.write(contentsOf: Data(bytesNoCopy: UnsafeMutableRawPointer(mutating: piece.baseAddress!),
                                                          count: piece.count, deallocator: .none))
                        hash.update(piece)
                        start = end
                    }
                }
            }
        }
        return hash.hexDigest()
    }

    /// Serialises `tensors` to safetensors bytes in memory (for tests and small files).
    public static func encode(_ tensors: StateDict, metadata: [String: String] = [:]) -> Data {
        let (header, order) = headerJSON(for: tensors, metadata: metadata)
        var out = Data()
        var length = UInt64(header.count).littleEndian
        out.append(Data(bytes: &length, count: 8))
        out.append(header)
        for name in order { tensors[name]!.values.withUnsafeBytes { out.append(contentsOf: $0) } }
        return out
    }

    /// A JSON string literal for `s` (quotes, backslashes and control characters escaped).
    static func jsonString(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    out += String(format: "\\u%04x", scalar.value)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}
