// The Python objects an unpickled PyTorch checkpoint is made of, as far as
// Tweedie needs to understand them (see Unpickler.swift).
//
// Mutable containers (list, dict, unknown objects) are classes, because the
// pickle memo and the stack must share them: an APPEND or SETITEM after a
// BINPUT changes the object everywhere it is referenced. Dicts keep insertion
// order (OrderedDict semantics); only string keys can be looked up.

/// A Python value from a pickle.
enum PickleValue {
    case none
    case bool(Bool)
    case int(Int)
    /// An integer that does not fit Int64: little-endian two's-complement bytes.
    case bigInt([UInt8])
    case float(Double)
    case string(String)
    case bytes([UInt8])
    case tuple([PickleValue])
    case list(PickleList)
    case dict(PickleDict)
    /// A module-level name (`GLOBAL module name`), e.g. a class or function.
    case global(module: String, name: String)
    /// An instance of a class Tweedie does not interpret.
    case object(PickleObject)
    /// A PyTorch storage (from a persistent id).
    case storage(TorchStorageRef)
    /// A PyTorch tensor (a view of a storage).
    case tensor(TorchTensorRef)

    /// A short description for error messages ("a str", "an OrderedDict of 12 items").
    var kindDescription: String {
        switch self {
        case .none: return "None"
        case .bool: return "a bool"
        case .int, .bigInt: return "an int"
        case .float: return "a float"
        case .string: return "a str"
        case .bytes: return "bytes"
        case .tuple(let t): return "a tuple of \(t.count)"
        case .list(let l): return "a list of \(l.items.count)"
        case .dict(let d): return "a dict of \(d.items.count) items"
        case .global(let m, let n): return "the name \(m).\(n)"
        case .object(let o): return "an object of class \(o.className)"
        case .storage: return "a storage"
        case .tensor: return "a tensor"
        }
    }

    var asString: String? { if case .string(let s) = self { return s }; return nil }
    var asInt: Int? {
        switch self {
        case .int(let i): return i
        case .bool(let b): return b ? 1 : 0
        default: return nil
        }
    }
    var asTuple: [PickleValue]? {
        switch self {
        case .tuple(let t): return t
        case .list(let l): return l.items
        default: return nil
        }
    }
}

/// A Python list.
final class PickleList {
    var items: [PickleValue]
    init(_ items: [PickleValue] = []) { self.items = items }
}

/// A Python dict (insertion-ordered).
final class PickleDict {
    private(set) var items: [(key: PickleValue, value: PickleValue)] = []
    private var stringIndex: [String: Int] = [:]

    func set(_ key: PickleValue, _ value: PickleValue) {
        if case .string(let s) = key {
            if let i = stringIndex[s] { items[i].value = value; return }
            stringIndex[s] = items.count
        }
        items.append((key, value))
    }

    subscript(_ key: String) -> PickleValue? { stringIndex[key].map { items[$0].value } }
}

/// An instance of a class Tweedie does not interpret (kept so that unrelated
/// parts of a training checkpoint — optimiser state, argparse namespaces — load).
final class PickleObject {
    let className: String
    var arguments: [PickleValue]
    var state: PickleValue?
    var listItems: [PickleValue] = []
    var dictItems = PickleDict()
    init(className: String, arguments: [PickleValue]) {
        self.className = className; self.arguments = arguments
    }
}

/// A PyTorch storage named by a persistent id: raw elements of one dtype, stored
/// under `key` (zip: `<archive>/data/<key>`; legacy: in the trailing storage blob).
struct TorchStorageRef {
    var key: String
    var dtype: TensorDType
    /// Number of elements of the (root) storage.
    var elementCount: Int
    /// Legacy views of a larger storage: element offset into the root storage.
    var elementOffset: Int = 0
}

/// A tensor: a strided view of a storage (offset and strides in elements).
struct TorchTensorRef {
    var storage: TorchStorageRef
    var storageOffset: Int
    var shape: [Int]
    var strides: [Int]
}
