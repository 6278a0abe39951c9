// PyTorch `.pt` / `.pth` files read without Python (torch/serialization.py
// describes both layouts):
//
// - zip format (torch ≥ 1.6, the default): a zip archive with
//   `<archive>/data.pkl` (the pickled object), `<archive>/data/<key>` (raw
//   storage bytes, one file per storage), `<archive>/byteorder` ("little" or
//   "big"; absent means little) and `<archive>/version`. Tensors in the pickle
//   are `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, …)`
//   calls whose storage is the persistent id
//   `('storage', torch.FloatStorage|HalfStorage|…, key, location, numel)`.
// - legacy format (`_use_new_zipfile_serialization=False`): consecutive
//   pickles — magic number 0x1950a86a20f9469cfc6c, protocol version 1001,
//   system info, the object (persistent ids carry a sixth field, the view
//   metadata), the list of storage keys — then for each key an 8-byte element
//   count and the raw elements.
//
// Offsets, sizes and strides are in elements of the storage's dtype;
// non-contiguous tensors (transposes, slices, expanded views) are gathered
// into PyTorch's row-major order. Every offset is checked against the storage
// before it is read.

import Foundation
import TweedieCore

enum TorchCheckpoint {
    /// The legacy format's magic number 0x1950a86a20f9469cfc6c as a LONG1 payload (little-endian).
    static let legacyMagic: [UInt8] = [0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19]

    /// Whether the bytes start like a legacy torch.save file (PROTO 2, LONG1 of 10 bytes, the magic),
    /// as far as they go: a truncated legacy file is still recognised, so that the reader can say it is truncated.
    static func looksLegacy(_ data: Data) -> Bool {
        let expected: [UInt8] = [0x80, 0x02, 0x8a, 0x0a] + legacyMagic
        let head = Array(data.prefix(expected.count))
        return head.count >= 2 && head[...] == expected[..<head.count]
    }

    /// Storages met while unpickling, by key.
    final class StorageTable {
        var storages: [String: TorchStorageRef] = [:]
    }

    /// A persistent-id resolver: ('storage', StorageClass, key, location, numel[, view_metadata]).
    static func persistentLoader(path: String, source: String, table: StorageTable) -> (PickleValue) throws -> PickleValue {
        { pid in
            func fail(_ p: String) -> TweedieError { .model(path: path, problem: "\(source): \(p)") }
            guard let t = pid.asTuple, t.count >= 5, t[0].asString == "storage" else {
                throw fail("persistent id is \(pid.kindDescription), not a ('storage', …) tuple; not a PyTorch tensor file")
            }
            guard case .global(_, let className) = t[1] else { throw fail("storage type is \(t[1].kindDescription)") }
            let dtype: TensorDType
            if let d = TensorDType(torchStorageClass: className) {
                dtype = d
            } else if className == "UntypedStorage" {
                dtype = .uint8
            } else {
                throw fail("storage type torch.\(className) is not supported (supported: Float, Half, BFloat16, Double and integer storages)")
            }
            guard let key = t[2].asString, let numel = t[4].asInt, numel >= 0 else {
                throw fail("malformed storage persistent id")
            }
            var ref = TorchStorageRef(key: key, dtype: dtype, elementCount: numel)
            // Legacy view metadata: (view_key, offset, view_size) into the root storage `key`.
            if t.count >= 6, let view = t[5].asTuple, view.count >= 3, let viewKey = view[0].asString,
               let offset = view[1].asInt, let viewSize = view[2].asInt {
                guard offset >= 0, viewSize >= 0, offset + viewSize <= numel else {
                    throw fail("storage view '\(viewKey)' [\(offset), \(offset + viewSize)) exceeds its root storage of \(numel) elements")
                }
                ref.elementOffset = offset
            }
            table.storages[key] = ref
            return .storage(ref)
        }
    }

    // MARK: - Zip format

    static func readZip(_ data: Data, path: String, key: String?) throws -> (StateDict, [String: TensorDType], [String]) {
        let zip = try ZipArchive(data: data, path: path)
        let pickles = zip.entries.filter { $0.name.hasSuffix("data.pkl") }
            .sorted { $0.name.split(separator: "/").count < $1.name.split(separator: "/").count }
        guard let pkl = pickles.first else {
            throw TweedieError.model(path: path, problem: "zip archive has no data.pkl record; it is not a checkpoint written by torch.save")
        }
        let prefix = String(pkl.name.dropLast("data.pkl".count))
        var bigEndian = false
        if let bo = zip.entry(named: prefix + "byteorder") {
            let text = String(decoding: try zip.contents(of: bo), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard text == "little" || text == "big" else {
                throw TweedieError.model(path: path, problem: "byteorder record says '\(text)', expected 'little' or 'big'")
            }
            bigEndian = text == "big"
        }
        let table = StorageTable()
        var unpickler = Unpickler(try zip.contents(of: pkl), path: path, source: pkl.name,
                                  persistentLoad: persistentLoader(path: path, source: pkl.name, table: table))
        let root = try unpickler.load().value
        let (entries, notes) = try selectStateDict(root, key: key, path: path)

        // Materialise, one storage record at a time (shared storages are read once).
        var out = StateDict(minimumCapacity: entries.count)
        var dtypes: [String: TensorDType] = [:]
        let byStorage = Dictionary(grouping: entries, by: { $0.tensor.storage.key })
        for storageKey in byStorage.keys.sorted() {
            let group = byStorage[storageKey]!
            guard let record = zip.entry(named: prefix + "data/" + storageKey) else {
                throw TweedieError.model(path: path, problem: "tensor '\(group[0].name)': storage record '\(prefix)data/\(storageKey)' is missing from the archive; the file is incomplete")
            }
            try zip.withContents(of: record) { bytes in
                for (name, tensor) in group {
                    out[name] = try materialize(tensor, name: name, storageBytes: bytes, bigEndian: bigEndian, path: path)
                    dtypes[name] = tensor.storage.dtype
                }
            }
        }
        return (out, dtypes, notes)
    }

    // MARK: - Legacy format

    static func readLegacy(_ data: Data, path: String, key: String?) throws -> (StateDict, [String: TensorDType], [String]) {
        func fail(_ p: String) -> TweedieError { .model(path: path, problem: p) }
        let table = StorageTable()
        let noPersistent: (PickleValue) throws -> PickleValue = { _ in
            throw fail("legacy checkpoint header holds a persistent id; the file is corrupt")
        }
        var offset = 0
        func next(_ what: String, _ loader: @escaping (PickleValue) throws -> PickleValue) throws -> PickleValue {
            var u = Unpickler(data, start: offset, path: path, source: "legacy \(what) pickle", persistentLoad: loader)
            let (v, end) = try u.load()
            offset = end
            return v
        }
        guard case .bigInt(let magic) = try next("magic-number", noPersistent), magic == legacyMagic else {
            throw fail("not a PyTorch checkpoint (legacy magic number missing)")
        }
        guard let version = try next("protocol-version", noPersistent).asInt, version == 1001 else {
            throw fail("legacy PyTorch checkpoint with an unknown protocol version; re-save it with a current PyTorch")
        }
        guard case .dict(let sysInfo) = try next("system-info", noPersistent) else {
            throw fail("legacy PyTorch checkpoint without its system-info record; the file is corrupt")
        }
        var littleEndian = true
        if case .bool(let b)? = sysInfo["little_endian"] { littleEndian = b }
        let root = try next("object", persistentLoader(path: path, source: "legacy object pickle", table: table))
        guard let keyList = try next("storage-keys", noPersistent).asTuple else {
            throw fail("legacy PyTorch checkpoint without its storage-key list; the file is truncated or corrupt")
        }
        // The storage blob: per key, an 8-byte element count (in the writer's byte order) and the elements.
        var blobs: [String: Range<Int>] = [:]
        for k in keyList {
            guard let sk = k.asString, let ref = table.storages[sk] else {
                throw fail("legacy storage list names a storage the object never uses; the file is corrupt")
            }
            guard offset + 8 <= data.count else {
                throw fail("legacy storage '\(sk)' is missing: the file ends at byte \(data.count); the file is truncated")
            }
            var n = data.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: UInt64.self) }
            n = littleEndian ? UInt64(littleEndian: n) : UInt64(bigEndian: n)
            guard n == UInt64(ref.elementCount) else {
                throw fail("legacy storage '\(sk)' records \(n) elements but its tensors say \(ref.elementCount); the file is corrupt")
            }
            let bytes = ref.elementCount * ref.dtype.byteSize
            guard bytes <= data.count - offset - 8 else {
                throw fail("legacy storage '\(sk)' needs \(bytes) bytes at offset \(offset + 8) but the file ends at \(data.count); the file is truncated")
            }
            blobs[sk] = (offset + 8)..<(offset + 8 + bytes)
            offset += 8 + bytes
        }
        let (entries, notes) = try selectStateDict(root, key: key, path: path)
        var out = StateDict(minimumCapacity: entries.count)
        var dtypes: [String: TensorDType] = [:]
        try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            for (name, tensor) in entries {
                guard let range = blobs[tensor.storage.key] else {
                    throw fail("tensor '\(name)': its storage '\(tensor.storage.key)' is not in the file; the file is truncated or corrupt")
                }
                let bytes = UnsafeRawBufferPointer(rebasing: raw[range])
                out[name] = try materialize(tensor, name: name, storageBytes: bytes, bigEndian: !littleEndian, path: path)
                dtypes[name] = tensor.storage.dtype
            }
        }
        return (out, dtypes, notes)
    }

    // MARK: - Tensors

    /// The row-major Float32 values of a strided view of a storage.
    static func materialize(_ t: TorchTensorRef, name: String, storageBytes: UnsafeRawBufferPointer,
                            bigEndian: Bool, path: String) throws -> ParameterTensor {
        func fail(_ p: String) -> TweedieError { .model(path: path, problem: "tensor '\(name)': \(p)") }
        let es = t.storage.dtype.byteSize
        let root = t.storage.elementCount
        guard storageBytes.count >= root * es else {
            throw fail("its storage holds \(storageBytes.count) bytes but declares \(root) elements of \(es) bytes; the file is truncated or corrupt")
        }
        guard t.shape.count == t.strides.count, t.shape.allSatisfy({ $0 >= 0 }), t.strides.allSatisfy({ $0 >= 0 }),
              t.storageOffset >= 0, let count = checkedElementCount(t.shape) else {
            throw fail("invalid size \(t.shape) / stride \(t.strides) / offset \(t.storageOffset)")
        }
        if count == 0 { return ParameterTensor(shape: t.shape, values: []) }
        // Highest element reached, checked against the storage before anything is read.
        var last = t.storage.elementOffset + t.storageOffset
        for (s, st) in zip(t.shape, t.strides) {
            let (p, o1) = (s - 1).multipliedReportingOverflow(by: st)
            let (q, o2) = last.addingReportingOverflow(p)
            guard !o1, !o2 else { throw fail("size \(t.shape) with stride \(t.strides) overflows") }
            last = q
        }
        guard last < root else {
            throw fail("size \(t.shape), stride \(t.strides), offset \(t.storageOffset) reach element \(last) of a storage of \(root) elements; the file is corrupt")
        }
        let first = t.storage.elementOffset + t.storageOffset
        // Row-major contiguous (dimensions of extent 1 have arbitrary strides)?
        var expected = 1, contiguous = true
        for (s, st) in zip(t.shape, t.strides).reversed() where s != 1 {
            if st != expected { contiguous = false; break }
            expected *= s
        }
        if contiguous {
            let slice = UnsafeRawBufferPointer(rebasing: storageBytes[(first * es)..<((first + count) * es)])
            return ParameterTensor(shape: t.shape, values: decodeElements(slice, dtype: t.storage.dtype, count: count, bigEndian: bigEndian))
        }
        // Strided gather: decode the span once, then walk the index space in row-major order.
        let span = last - first + 1
        let source = decodeElements(UnsafeRawBufferPointer(rebasing: storageBytes[(first * es)..<((last + 1) * es)]),
                                    dtype: t.storage.dtype, count: span, bigEndian: bigEndian)
        let rank = t.shape.count
        var values = [Float](repeating: 0, count: count)
        var index = [Int](repeating: 0, count: rank)
        let inner = t.shape[rank - 1], innerStride = t.strides[rank - 1]
        source.withUnsafeBufferPointer { src in
            values.withUnsafeMutableBufferPointer { dst in
                var o = 0
                while o < count {
                    var base = 0
                    for d in 0..<(rank - 1) { base += index[d] * t.strides[d] }
                    for i in 0..<inner { dst[o + i] = src[base + i * innerStride] }
                    o += inner
                    var d = rank - 2
                    while d >= 0 {
                        index[d] += 1
                        if index[d] < t.shape[d] { break }
                        index[d] = 0
                        d -= 1
                    }
                }
            }
        }
        return ParameterTensor(shape: t.shape, values: values)
    }

    // MARK: - Which dict is the state dict

    /// Keys under which training checkpoints keep a state dict, most preferred first (EMA weights are what a sampler wants).
    static let preferredKeys = ["ema", "ema_model", "model_ema", "ema_state_dict", "state_dict", "model_state_dict",
                                "model", "net", "network", "module", "params"]

    /// The (name, tensor) pairs of a dict whose values are all tensors (non-empty, string keys), else nil.
    static func tensorEntries(_ v: PickleValue) -> [(name: String, tensor: TorchTensorRef)]? {
        guard case .dict(let d) = v, !d.items.isEmpty else { return nil }
        var out: [(name: String, tensor: TorchTensorRef)] = []
        out.reserveCapacity(d.items.count)
        for (k, value) in d.items {
            guard let name = k.asString, case .tensor(let t) = value else { return nil }
            out.append((name, t))
        }
        return out
    }

    /// Finds the state dict in the unpickled object: the object itself, the sub-dict named by `key`
    /// ("a/b" for nested), or the obvious sub-dict of a training checkpoint. Returns notes on what was chosen.
    static func selectStateDict(_ root: PickleValue, key: String?, path: String)
        throws -> (entries: [(name: String, tensor: TorchTensorRef)], notes: [String]) {
        func fail(_ p: String) -> TweedieError { .model(path: path, problem: p) }
        var notes: [String] = []
        var chosen: [(name: String, tensor: TorchTensorRef)]

        // Candidate state dicts one and two levels down, by path.
        var candidates: [(path: String, entries: [(name: String, tensor: TorchTensorRef)])] = []
        if case .dict(let top) = root {
            for (k, v) in top.items {
                guard let name = k.asString else { continue }
                if let e = tensorEntries(v) { candidates.append((name, e)); continue }
                if case .dict(let inner) = v {
                    for (k2, v2) in inner.items {
                        if let n2 = k2.asString, let e = tensorEntries(v2) { candidates.append(("\(name)/\(n2)", e)) }
                    }
                }
            }
        }
        let candidateList = candidates.map { "'\($0.path)'" }.joined(separator: ", ")

        if let key {
            guard let found = candidates.first(where: { $0.path == key }) else {
                let available = candidates.isEmpty ? "the file holds no nested state dict" : "state dicts in the file: \(candidateList)"
                throw fail("no state dict under key '\(key)' (\(available))")
            }
            chosen = found.entries
            notes.append("used the state dict under '\(key)' as asked")
        } else if let direct = tensorEntries(root) {
            chosen = direct
        } else {
            switch root {
            case .dict(let top):
                let topKeys = top.items.compactMap { $0.key.asString }.prefix(12).map { "'\($0)'" }.joined(separator: ", ")
                if candidates.isEmpty {
                    // A state dict with some entries that are not plain tensors: name them.
                    let odd = top.items.filter { if case .tensor = $0.value { return false }; return true }
                    if odd.count < top.items.count {
                        let shown = odd.prefix(3).map { "'\($0.key.asString ?? "?")' (\($0.value.kindDescription))" }.joined(separator: ", ")
                        throw fail("holds a state dict whose entries \(shown)\(odd.count > 3 ? " and \(odd.count - 3) more" : "") are not plain tensors (quantized, sparse or Python objects are not supported)")
                    }
                    throw fail("holds a dict with keys \(topKeys) but none of them is a state dict (a dict of tensors)")
                }
                if candidates.count == 1 {
                    chosen = candidates[0].entries
                    notes.append("picked the state dict under '\(candidates[0].path)' (top-level keys: \(topKeys))")
                } else {
                    func rank(_ p: String) -> Int? {
                        let leaf = String(p.split(separator: "/").last ?? "")
                        if let i = preferredKeys.firstIndex(of: leaf) { return i }
                        return leaf.lowercased().hasPrefix("ema") ? 0 : nil
                    }
                    let ranked = candidates.compactMap { c in rank(c.path).map { (c, $0) } }.sorted { $0.1 < $1.1 }
                    guard let best = ranked.first, ranked.filter({ $0.1 == best.1 }).count == 1 else {
                        throw fail("holds several state dicts (\(candidateList)); choose one by its key")
                    }
                    chosen = best.0.entries
                    notes.append("picked the state dict under '\(best.0.path)' among \(candidateList) (EMA weights first; a key chooses another)")
                }
            case .object(let o):
                if o.className.hasPrefix("torch.nn") || o.className.contains("Model") || o.className.contains("UNet") {
                    throw fail("holds a whole pickled model (class \(o.className)), not a state dict; re-save it with torch.save(model.state_dict(), path)")
                }
                throw fail("holds \(root.kindDescription), not a state dict")
            default:
                throw fail("holds \(root.kindDescription), not a state dict (a dict of parameter name → tensor)")
            }
        }

        // DataParallel / DistributedDataParallel prefix every name with "module.".
        if chosen.count > 0 && chosen.allSatisfy({ $0.name.hasPrefix("module.") }) {
            chosen = chosen.map { (String($0.name.dropFirst("module.".count)), $0.tensor) }
            notes.append("removed the 'module.' prefix (DataParallel) from every parameter name")
        }
        var seen = Set<String>()
        for e in chosen where !seen.insert(e.name).inserted {
            throw fail("parameter '\(e.name)' appears twice")
        }
        return (chosen, notes)
    }
}
