// A pickle virtual machine for the subset of Python's pickle protocol (0–5)
// that PyTorch checkpoints use (Python's Lib/pickle.py and pickletools.py
// document the opcodes). It never imports or runs Python code: GLOBAL names
// stay names, and REDUCE / NEWOBJ apply only the few callables a state dict
// needs (OrderedDict, torch._utils._rebuild_tensor_v2, _rebuild_parameter, …);
// any other class becomes an inert `PickleObject`.
//
// Persistent ids (BINPERSID) are resolved by the caller (PyTorch's storages).
// Safety: every read is bounds-checked; each opcode consumes at least one byte,
// so the machine always terminates; lengths are checked against the bytes left
// before anything is allocated.

import Foundation
import TweedieCore

struct Unpickler {
    private let bytes: Data
    private var position: Int
    /// Where errors say the pickle came from, e.g. "model.pt: data.pkl".
    private let source: String
    private let path: String
    private var stack: [PickleValue] = []
    private var metastack: [[PickleValue]] = []
    private var memo: [Int: PickleValue] = [:]
    private let persistentLoad: (PickleValue) throws -> PickleValue

    init(_ bytes: Data, start: Int = 0, path: String, source: String,
         persistentLoad: @escaping (PickleValue) throws -> PickleValue) {
        self.bytes = bytes
        self.position = bytes.startIndex + start
        self.path = path
        self.source = source
        self.persistentLoad = persistentLoad
    }

    private func fail(_ problem: String) -> TweedieError {
        .model(path: path, problem: "\(source): \(problem)")
    }

    /// Runs the machine to STOP; returns the value and the offset just past STOP (relative to the data's start).
    mutating func load() throws -> (value: PickleValue, end: Int) {
        while true {
            let opAt = position
            let op = try readByte()
            switch op {
            case 0x80: _ = try readByte()                                  // PROTO n
            case 0x95: _ = try read(8)                                     // FRAME (length, ignored)
            case 0x2E:                                                     // STOP '.'
                let v = try pop(opAt)
                return (v, position - bytes.startIndex)
            case 0x28: metastack.append(stack); stack = []                 // MARK '('
            case 0x30: _ = try pop(opAt)                                   // POP '0'
            case 0x31: _ = try popMark(opAt)                               // POP_MARK '1'
            case 0x32: stack.append(try top(opAt))                         // DUP '2'
            case 0x4E: stack.append(.none)                                 // NONE 'N'
            case 0x88: stack.append(.bool(true))                           // NEWTRUE
            case 0x89: stack.append(.bool(false))                          // NEWFALSE
            case 0x4B: stack.append(.int(Int(try readByte())))             // BININT1 'K'
            case 0x4D: stack.append(.int(Int(try readUInt(2))))            // BININT2 'M'
            case 0x4A: stack.append(.int(Int(Int32(truncatingIfNeeded: try readUInt(4)))))  // BININT 'J'
            case 0x8A: stack.append(try readLong(Int(try readByte())))     // LONG1
            case 0x8B:                                                     // LONG4
                let n = Int(Int32(truncatingIfNeeded: try readUInt(4)))
                guard n >= 0 else { throw fail("negative LONG4 length at byte \(opAt)") }
                stack.append(try readLong(n))
            case 0x47:                                                     // BINFLOAT 'G' (big-endian double)
                let raw = try read(8)
                let bits = raw.reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
                stack.append(.float(Double(bitPattern: bits)))
            case 0x49: stack.append(try parseTextInt(try readLine(), at: opAt))   // INT 'I'
            case 0x4C:                                                     // LONG 'L'
                var line = try readLine()
                if line.hasSuffix("L") { line.removeLast() }
                stack.append(try parseTextInt(line, at: opAt))
            case 0x46:                                                     // FLOAT 'F'
                let line = try readLine()
                guard let d = Double(line) else { throw fail("bad FLOAT literal '\(line)' at byte \(opAt)") }
                stack.append(.float(d))
            case 0x58: stack.append(.string(try readUTF8(Int(try readUInt(4)), at: opAt)))  // BINUNICODE 'X'
            case 0x8C: stack.append(.string(try readUTF8(Int(try readByte()), at: opAt)))   // SHORT_BINUNICODE
            case 0x8D: stack.append(.string(try readUTF8(try readLength8(opAt), at: opAt))) // BINUNICODE8
            case 0x54, 0x42:                                               // BINSTRING 'T', BINBYTES 'B'
                stack.append(.bytes(Array(try read(Int(try readUInt(4))))))
            case 0x55, 0x43: stack.append(.bytes(Array(try read(Int(try readByte())))))  // SHORT_BINSTRING, SHORT_BINBYTES
            case 0x8E, 0x96: stack.append(.bytes(Array(try read(try readLength8(opAt)))))  // BINBYTES8, BYTEARRAY8
            case 0x29: stack.append(.tuple([]))                            // EMPTY_TUPLE ')'
            case 0x74: stack.append(.tuple(try popMark(opAt)))             // TUPLE 't'
            case 0x85, 0x86, 0x87:                                         // TUPLE1/2/3
                let n = Int(op - 0x84)
                guard stack.count >= n else { throw stackUnderflow(opAt) }
                let items = Array(stack.suffix(n))
                stack.removeLast(n)
                stack.append(.tuple(items))
            case 0x5D: stack.append(.list(PickleList()))                   // EMPTY_LIST ']'
            case 0x6C: stack.append(.list(PickleList(try popMark(opAt))))  // LIST 'l'
            case 0x7D: stack.append(.dict(PickleDict()))                   // EMPTY_DICT '}'
            case 0x64:                                                     // DICT 'd'
                let items = try popMark(opAt)
                let d = PickleDict()
                try setItems(d, items, opAt)
                stack.append(.dict(d))
            case 0x8F: stack.append(.list(PickleList()))                   // EMPTY_SET (as a list)
            case 0x90:                                                     // ADDITEMS
                let items = try popMark(opAt)
                guard case .list(let l) = try top(opAt) else { throw fail("ADDITEMS on a non-set at byte \(opAt)") }
                l.items.append(contentsOf: items)
            case 0x91: stack.append(.list(PickleList(try popMark(opAt))))  // FROZENSET
            case 0x61:                                                     // APPEND 'a'
                let v = try pop(opAt)
                try append([v], to: try top(opAt), opAt)
            case 0x65:                                                     // APPENDS 'e'
                let items = try popMark(opAt)
                try append(items, to: try top(opAt), opAt)
            case 0x73:                                                     // SETITEM 's'
                let v = try pop(opAt), k = try pop(opAt)
                try setItems(on: try top(opAt), [k, v], opAt)
            case 0x75:                                                     // SETITEMS 'u'
                let items = try popMark(opAt)
                try setItems(on: try top(opAt), items, opAt)
            case 0x71: memo[Int(try readByte())] = try top(opAt)           // BINPUT 'q'
            case 0x72: memo[Int(try readUInt(4))] = try top(opAt)          // LONG_BINPUT 'r'
            case 0x94: memo[memo.count] = try top(opAt)                    // MEMOIZE
            case 0x70:                                                     // PUT 'p'
                guard let i = Int(try readLine()) else { throw fail("bad PUT index at byte \(opAt)") }
                memo[i] = try top(opAt)
            case 0x68: stack.append(try memoGet(Int(try readByte()), opAt))   // BINGET 'h'
            case 0x6A: stack.append(try memoGet(Int(try readUInt(4)), opAt))  // LONG_BINGET 'j'
            case 0x67:                                                     // GET 'g'
                guard let i = Int(try readLine()) else { throw fail("bad GET index at byte \(opAt)") }
                stack.append(try memoGet(i, opAt))
            case 0x63:                                                     // GLOBAL 'c' module\nname\n
                let module = try readLine(), name = try readLine()
                stack.append(.global(module: module, name: name))
            case 0x93:                                                     // STACK_GLOBAL
                let name = try pop(opAt), module = try pop(opAt)
                guard let m = module.asString, let n = name.asString else {
                    throw fail("STACK_GLOBAL needs two strings at byte \(opAt)")
                }
                stack.append(.global(module: m, name: n))
            case 0x52:                                                     // REDUCE 'R'
                let args = try pop(opAt), callable = try pop(opAt)
                guard let a = args.asTuple else { throw fail("REDUCE arguments are \(args.kindDescription) at byte \(opAt)") }
                stack.append(try call(callable, a, opAt))
            case 0x81:                                                     // NEWOBJ
                let args = try pop(opAt), cls = try pop(opAt)
                guard let a = args.asTuple else { throw fail("NEWOBJ arguments are \(args.kindDescription) at byte \(opAt)") }
                stack.append(try call(cls, a, opAt))
            case 0x92:                                                     // NEWOBJ_EX
                _ = try pop(opAt)
                let args = try pop(opAt), cls = try pop(opAt)
                guard let a = args.asTuple else { throw fail("NEWOBJ_EX arguments are \(args.kindDescription) at byte \(opAt)") }
                stack.append(try call(cls, a, opAt))
            case 0x62:                                                     // BUILD 'b'
                let state = try pop(opAt)
                if case .object(let o) = try top(opAt) { o.state = state }
                // Dicts (an OrderedDict's `_metadata`) and tensors (Python attributes) keep no state here.
            case 0x51:                                                     // BINPERSID 'Q'
                stack.append(try persistentLoad(try pop(opAt)))
            case 0x50:                                                     // PERSID 'P'
                stack.append(try persistentLoad(.string(try readLine())))
            default:
                throw fail("unsupported pickle opcode 0x\(String(op, radix: 16)) at byte \(opAt - bytes.startIndex); the file is corrupt or not a PyTorch checkpoint")
            }
        }
    }

    // MARK: - Callables

    /// Applies the callables a state dict needs; anything else becomes an inert object.
    private func call(_ callable: PickleValue, _ args: [PickleValue], _ at: Int) throws -> PickleValue {
        guard case .global(let module, let name) = callable else {
            throw fail("call of \(callable.kindDescription), not a class or function, at byte \(at)")
        }
        switch (module, name) {
        case ("collections", "OrderedDict"), ("builtins", "dict"), ("__builtin__", "dict"),
             ("collections", "defaultdict"):
            let d = PickleDict()
            // OrderedDict(iterable of pairs) — pickles pass items by SETITEMS, but accept the argument form too.
            if module == "collections" && name == "OrderedDict", let first = args.first?.asTuple {
                for pair in first { if let kv = pair.asTuple, kv.count == 2 { d.set(kv[0], kv[1]) } }
            }
            return .dict(d)
        case ("torch._utils", "_rebuild_tensor_v2"), ("torch._utils", "_rebuild_tensor"):
            // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
            guard args.count >= 4, case .storage(let storage) = args[0], let offset = args[1].asInt,
                  let size = args[2].asTuple?.compactMap(\.asInt), let stride = args[3].asTuple?.compactMap(\.asInt),
                  size.count == args[2].asTuple?.count, stride.count == args[3].asTuple?.count, size.count == stride.count else {
                throw fail("malformed \(module).\(name) call at byte \(at)")
            }
            return .tensor(TorchTensorRef(storage: storage, storageOffset: offset, shape: size, strides: stride))
        case ("torch._utils", "_rebuild_parameter"), ("torch._utils", "_rebuild_parameter_with_state"):
            guard let data = args.first else { throw fail("malformed \(name) call at byte \(at)") }
            return data
        case ("torch._tensor", "_rebuild_from_type_v2"), ("torch.tensor", "_rebuild_from_type_v2"):
            // (func, new_type, args, state): the tensor is func(*args); the subclass and state are dropped.
            guard args.count >= 3, let inner = args[2].asTuple else { throw fail("malformed \(name) call at byte \(at)") }
            return try call(args[0], inner, at)
        case ("torch", "Size"):
            return args.first ?? .tuple([])
        case ("_codecs", "encode"):
            // Protocol 2 pickles bytes as _codecs.encode(str, 'latin1').
            if let s = args.first?.asString { return .bytes(s.unicodeScalars.map { UInt8(truncatingIfNeeded: $0.value) }) }
            return .bytes([])
        default:
            return .object(PickleObject(className: "\(module).\(name)", arguments: args))
        }
    }

    // MARK: - Containers

    private func append(_ items: [PickleValue], to target: PickleValue, _ at: Int) throws {
        switch target {
        case .list(let l): l.items.append(contentsOf: items)
        case .object(let o): o.listItems.append(contentsOf: items)
        default: throw fail("APPEND to \(target.kindDescription) at byte \(at)")
        }
    }

    private func setItems(on target: PickleValue, _ items: [PickleValue], _ at: Int) throws {
        switch target {
        case .dict(let d): try setItems(d, items, at)
        case .object(let o): try setItems(o.dictItems, items, at)
        default: throw fail("SETITEM on \(target.kindDescription) at byte \(at)")
        }
    }

    private func setItems(_ d: PickleDict, _ items: [PickleValue], _ at: Int) throws {
        guard items.count % 2 == 0 else { throw fail("odd number of items for SETITEMS at byte \(at)") }
        var i = 0
        while i < items.count { d.set(items[i], items[i + 1]); i += 2 }
    }

    // MARK: - Stack

    private func stackUnderflow(_ at: Int) -> TweedieError {
        fail("pickle stack underflow at byte \(at - bytes.startIndex); the file is corrupt")
    }
    private mutating func pop(_ at: Int) throws -> PickleValue {
        guard let v = stack.popLast() else { throw stackUnderflow(at) }
        return v
    }
    private func top(_ at: Int) throws -> PickleValue {
        guard let v = stack.last else { throw stackUnderflow(at) }
        return v
    }
    private mutating func popMark(_ at: Int) throws -> [PickleValue] {
        guard let previous = metastack.popLast() else {
            throw fail("pickle MARK missing at byte \(at - bytes.startIndex); the file is corrupt")
        }
        let items = stack
        stack = previous
        return items
    }
    private func memoGet(_ i: Int, _ at: Int) throws -> PickleValue {
        guard let v = memo[i] else {
            throw fail("pickle refers to memo entry \(i) that was never stored (byte \(at - bytes.startIndex)); the file is corrupt")
        }
        return v
    }

    // MARK: - Reading

    private func truncated() -> TweedieError {
        fail("pickle data ends before its STOP opcode (at byte \(position - bytes.startIndex)); the file is truncated")
    }
    private mutating func readByte() throws -> UInt8 {
        guard position < bytes.endIndex else { throw truncated() }
        defer { position += 1 }
        return bytes[position]
    }
    private mutating func read(_ n: Int) throws -> Data {
        guard n >= 0, n <= bytes.endIndex - position else { throw truncated() }
        defer { position += n }
        return bytes[position..<(position + n)]
    }
    /// An unsigned little-endian integer of `n` ≤ 8 bytes.
    private mutating func readUInt(_ n: Int) throws -> UInt64 {
        let raw = try read(n)
        var v: UInt64 = 0
        for (i, b) in raw.enumerated() { v |= UInt64(b) << (8 * UInt64(i)) }
        return v
    }
    private mutating func readLength8(_ at: Int) throws -> Int {
        let n = try readUInt(8)
        guard n <= UInt64(bytes.endIndex - position) else { throw truncated() }
        return Int(n)
    }
    private mutating func readUTF8(_ n: Int, at: Int) throws -> String {
        let raw = try read(n)
        guard let s = String(data: raw, encoding: .utf8) else {
            throw fail("string at byte \(at - bytes.startIndex) is not valid UTF-8; the file is corrupt")
        }
        return s
    }
    /// A newline-terminated ASCII line (text opcodes, GLOBAL names).
    private mutating func readLine() throws -> String {
        guard let nl = bytes[position...].firstIndex(of: 0x0A) else { throw truncated() }
        let line = String(decoding: bytes[position..<nl], as: UTF8.self)
        position = nl + 1
        return line
    }
    private func parseTextInt(_ line: String, at: Int) throws -> PickleValue {
        if line == "00" { return .bool(false) }
        if line == "01" { return .bool(true) }
        guard let v = Int(line) else { throw fail("bad integer literal '\(line)' at byte \(at - bytes.startIndex)") }
        return .int(v)
    }
    /// LONG1 / LONG4 payload: little-endian two's complement.
    private mutating func readLong(_ n: Int) throws -> PickleValue {
        let raw = Array(try read(n))
        if raw.isEmpty { return .int(0) }
        if raw.count <= 8 {
            var v: UInt64 = 0
            for (i, b) in raw.enumerated() { v |= UInt64(b) << (8 * UInt64(i)) }
            let negative = raw.last! & 0x80 != 0
            if negative && raw.count < 8 { v |= ~UInt64(0) << (8 * UInt64(raw.count)) }
            return .int(Int(Int64(bitPattern: v)))
        }
        return .bigInt(raw)
    }
}
