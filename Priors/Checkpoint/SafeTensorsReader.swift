// Reader for the safetensors format (huggingface/safetensors, format v1).
//
// Layout: an unsigned 64-bit little-endian header length N; N bytes of UTF-8
// JSON (possibly padded with spaces) mapping each tensor name to
// {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]} plus an
// optional "__metadata__" object of string → string; then the byte buffer.
// Offsets are relative to the start of the buffer (byte 8 + N), end exclusive,
// little-endian row-major elements.
//
// Validation follows the reference implementation: every tensor's byte range
// must equal shape × dtype size, the ranges sorted by offset must tile the
// buffer exactly (no gap, no overlap, nothing left over), and nothing may lie
// beyond the end of the file. Any inconsistency is a `TweedieError.model`
// naming the file and the tensor.

import Foundation
import TweedieCore

/// One tensor as the header describes it.
public struct SafeTensorsEntry: Sendable, Equatable {
    public var name: String
    public var dtype: TensorDType
    public var shape: [Int]
    /// Byte range [begin, end) within the data buffer.
    public var begin: Int
    public var end: Int
    public var elementCount: Int { checkedElementCount(shape) ?? 0 }  // checked when the header is read
}

/// The parsed, validated header of a safetensors file.
public struct SafeTensorsHeader: Sendable {
    /// Tensors in file order (ascending offsets).
    public var entries: [SafeTensorsEntry]
    /// The `__metadata__` map (empty when absent).
    public var metadata: [String: String]
    /// Byte offset of the data buffer in the file (8 + header length).
    public var dataStart: Int
}

/// The tensors and metadata of a safetensors file, converted to Float32.
public struct SafeTensorsContents: Sendable {
    public var tensors: StateDict
    public var metadata: [String: String]
    /// The stored dtype of each tensor (before conversion to Float32).
    public var storedDTypes: [String: TensorDType]
}

public enum SafeTensors {
    /// Largest header accepted (the reference implementation's limit).
    static let maximumHeaderLength = 100_000_000

    /// Reads and validates a whole file, converting every tensor to Float32.
    public static func read(contentsOf url: URL) throws -> SafeTensorsContents {
        let data = try CheckpointFile.map(url)
        return try read(data, path: url.path)
    }

    /// Reads and validates the header only (cheap: for listings and checks).
    public static func readHeader(contentsOf url: URL) throws -> SafeTensorsHeader {
        let data = try CheckpointFile.map(url)
        return try parseHeader(data, path: url.path)
    }

    /// Reads safetensors bytes; `path` names the source in errors.
    public static func read(_ data: Data, path: String) throws -> SafeTensorsContents {
        let header = try parseHeader(data, path: path)
        var tensors = StateDict(minimumCapacity: header.entries.count)
        var dtypes: [String: TensorDType] = [:]
        data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            for e in header.entries {
                let start = header.dataStart + e.begin
                let bytes = UnsafeRawBufferPointer(rebasing: raw[start..<(header.dataStart + e.end)])
                let values = decodeElements(bytes, dtype: e.dtype, count: e.elementCount)
                tensors[e.name] = ParameterTensor(shape: e.shape, values: values)
                dtypes[e.name] = e.dtype
            }
        }
        return SafeTensorsContents(tensors: tensors, metadata: header.metadata, storedDTypes: dtypes)
    }

    /// Parses and validates the header of safetensors bytes.
    public static func parseHeader(_ data: Data, path: String) throws -> SafeTensorsHeader {
        func fail(_ problem: String) -> TweedieError { .model(path: path, problem: problem) }
        let fileSize = data.count
        guard fileSize >= 8 else {
            throw fail("file is \(fileSize) bytes, too short for a safetensors header (8-byte length + JSON); the file is truncated or not safetensors")
        }
        let n64 = data.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: 0, as: UInt64.self)) }
        guard n64 <= UInt64(fileSize - 8) else {
            throw fail("safetensors header length \(n64) bytes runs past the end of the file (\(fileSize) bytes); the file is truncated or not safetensors")
        }
        let n = Int(n64)
        guard n <= maximumHeaderLength else {
            throw fail("safetensors header length \(n) bytes exceeds the \(maximumHeaderLength)-byte limit; not a safetensors file")
        }
        guard n >= 2 else { throw fail("safetensors header of \(n) bytes cannot hold a JSON object; not a safetensors file") }
        let headerBytes = data.subdata(in: (data.startIndex + 8)..<(data.startIndex + 8 + n))
        guard let json = try? JSONSerialization.jsonObject(with: headerBytes, options: []) else {
            throw fail("safetensors header is not valid JSON; the file is corrupt or not safetensors")
        }
        guard let object = json as? [String: Any] else {
            throw fail("safetensors header is not a JSON object; not a safetensors file")
        }
        let dataStart = 8 + n
        let bufferSize = fileSize - dataStart

        var metadata: [String: String] = [:]
        var entries: [SafeTensorsEntry] = []
        entries.reserveCapacity(object.count)
        for (name, value) in object {
            if name == "__metadata__" {
                guard let m = value as? [String: Any] else {
                    throw fail("safetensors __metadata__ is not a JSON object of strings")
                }
                for (k, v) in m {
                    guard let s = v as? String else {
                        throw fail("safetensors __metadata__ key '\(k)' is not a string")
                    }
                    metadata[k] = s
                }
                continue
            }
            entries.append(try parseEntry(name: name, value: value, bufferSize: bufferSize, fail: fail))
        }
        // Sorted by offsets, the ranges must tile the buffer: no overlap, no gap, no trailing bytes.
        entries.sort { ($0.begin, $0.end, $0.name) < ($1.begin, $1.end, $1.name) }
        var cursor = 0
        var previous: String?
        for e in entries {
            if e.begin < cursor {
                throw fail("tensor '\(e.name)': data_offsets [\(e.begin), \(e.end)] overlap tensor '\(previous ?? "")' (which ends at \(cursor)); the header is corrupt")
            }
            if e.begin > cursor {
                throw fail("tensor '\(e.name)': data_offsets start at \(e.begin) but the previous tensor ends at \(cursor) (a \(e.begin - cursor)-byte gap); the header is corrupt")
            }
            cursor = e.end
            previous = e.name
        }
        if cursor != bufferSize {
            throw fail("tensors cover \(cursor) bytes of the \(bufferSize)-byte data buffer; \(bufferSize - cursor) trailing bytes belong to no tensor (header and data disagree)")
        }
        return SafeTensorsHeader(entries: entries, metadata: metadata, dataStart: dataStart)
    }

    private static func parseEntry(name: String, value: Any, bufferSize: Int,
                                   fail: (String) -> TweedieError) throws -> SafeTensorsEntry {
        guard let info = value as? [String: Any] else {
            throw fail("tensor '\(name)': header entry is not a JSON object")
        }
        guard let dtypeName = info["dtype"] as? String else {
            throw fail("tensor '\(name)': header entry has no \"dtype\" string")
        }
        guard let dtype = TensorDType(rawValue: dtypeName) else {
            let known = TensorDType.allCases.map(\.rawValue).joined(separator: ", ")
            throw fail("tensor '\(name)': dtype \(dtypeName) is not supported (supported: \(known))")
        }
        guard let shapeAny = info["shape"] as? [Any], let shape = integers(shapeAny), shape.allSatisfy({ $0 >= 0 }) else {
            throw fail("tensor '\(name)': \"shape\" is not a list of non-negative integers")
        }
        guard let offAny = info["data_offsets"] as? [Any], let off = integers(offAny), off.count == 2 else {
            throw fail("tensor '\(name)': \"data_offsets\" is not a pair of integers")
        }
        let (begin, end) = (off[0], off[1])
        guard begin >= 0, end >= begin else {
            throw fail("tensor '\(name)': data_offsets [\(begin), \(end)] are not an ascending pair of non-negative offsets")
        }
        guard end <= bufferSize else {
            throw fail("tensor '\(name)': data_offsets [\(begin), \(end)] lie beyond the end of the \(bufferSize)-byte data buffer; the file is truncated or the header is wrong")
        }
        guard let count = checkedElementCount(shape),
              case let (bytes, overflow) = count.multipliedReportingOverflow(by: dtype.byteSize), !overflow else {
            throw fail("tensor '\(name)': shape \(shape) is too large")
        }
        guard bytes == end - begin else {
            throw fail("tensor '\(name)': shape \(shape) of \(dtype.rawValue) needs \(bytes) bytes but data_offsets [\(begin), \(end)] span \(end - begin); the header lies about sizes")
        }
        return SafeTensorsEntry(name: name, dtype: dtype, shape: shape, begin: begin, end: end)
    }

    /// JSON numbers that are all exact integers, or nil.
    private static func integers(_ values: [Any]) -> [Int]? {
        var out: [Int] = []
        out.reserveCapacity(values.count)
        for v in values {
            if let i = v as? Int {
                out.append(i)
            } else if let d = v as? Double, d == d.rounded(), abs(d) < 9.0e15 {
                out.append(Int(d))
            } else {
                return nil
            }
        }
        return out
    }
}

/// Opening checkpoint files with errors that name them.
enum CheckpointFile {
    /// The file's bytes, memory-mapped.
    static func map(_ url: URL) throws -> Data {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir) else {
            throw TweedieError.io(path: url.path, problem: "no such file; check the path")
        }
        guard !isDir.boolValue else {
            throw TweedieError.io(path: url.path, problem: "is a directory, expected a checkpoint file")
        }
        do {
            return try Data(contentsOf: url, options: .alwaysMapped)
        } catch {
            throw TweedieError.io(path: url.path, problem: "cannot read the file: \(error.localizedDescription)")
        }
    }
}
