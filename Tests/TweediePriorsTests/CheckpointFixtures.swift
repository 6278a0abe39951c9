// Access to the checkpoint fixtures written by PyTorch / safetensors
// (Fixtures/make_checkpoint_fixtures.py) and to the oracle values in
// Fixtures/checkpoint/expected.json.
import Foundation
import TweediePriors

enum CheckpointFixtures {
    /// Fixtures/checkpoint inside the test bundle.
    static var directory: URL {
        Bundle.module.resourceURL!.appendingPathComponent("Fixtures/checkpoint")
    }

    static func url(_ name: String) -> URL { directory.appendingPathComponent(name) }

    struct Tensor {
        var shape: [Int]
        var dtype: String
        var values: [Double]
    }

    /// expected.json parsed.
    static var expected: [String: Any] {
        let data = try! Data(contentsOf: url("expected.json"))
        return try! JSONSerialization.jsonObject(with: data) as! [String: Any]
    }

    static func tensors(_ key: String = "tensors") -> [String: Tensor] {
        let raw = expected[key] as! [String: Any]
        var out: [String: Tensor] = [:]
        for (name, v) in raw {
            let d = v as! [String: Any]
            let values: [Double] = (d["values"] as! [Any]).map { x in
                if let s = x as? String {
                    switch s {
                    case "inf": return .infinity
                    case "-inf": return -.infinity
                    default: return .nan
                    }
                }
                return (x as! NSNumber).doubleValue
            }
            out[name] = Tensor(shape: (d["shape"] as! [Any]).map { ($0 as! NSNumber).intValue },
                               dtype: d["dtype"] as! String, values: values)
        }
        return out
    }

    static var sha256: [String: String] { expected["sha256"] as! [String: String] }

    /// Whether `loaded` equals the torch values exactly (after the same Float32 rounding), with its shape.
    static func matches(_ loaded: ParameterTensor?, _ want: Tensor) -> Bool {
        guard let loaded, loaded.shape == want.shape, loaded.values.count == want.values.count else { return false }
        for (a, b) in zip(loaded.values, want.values) {
            let w = Float(b)
            if a.isNaN != w.isNaN { return false }
            if !a.isNaN && (a != w || a.sign != w.sign) { return false }
        }
        return true
    }

    /// A fresh empty temporary directory.
    static func temporaryDirectory() throws -> URL {
        let dir = FileManager.default.temporaryDirectory
            .appendingPathComponent("tweedie-ckpt-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }
}
