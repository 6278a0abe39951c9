// Reading a spec file (YAML, or JSON which YAML includes) into a Decodable value with one-line
// errors that name the file: a missing or unreadable file, and a decoding error as where (the
// key path, `a.b[2].c`, or "top level") and what. Operator specs and calibration specs use it.
import Foundation
import TweedieCore
import Yams

public enum SpecFile {
    /// The `kind` (e.g. "operator spec", for messages) in the file at `path`, decoded as `T`.
    public static func decode<T: Decodable>(_ type: T.Type, from path: String, kind: String) throws -> T {
        guard FileManager.default.fileExists(atPath: path) else {
            throw TweedieError.io(path: path, problem: "no such \(kind) file")
        }
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw TweedieError.io(path: path, problem: "cannot be read as UTF-8 text (\(error.localizedDescription))")
        }
        do {
            return try YAMLDecoder().decode(T.self, from: text)
        } catch let e as TweedieError {
            throw TweedieError.invalidInput(what: path, problem: e.description)
        } catch let e as DecodingError {
            throw TweedieError.invalidInput(what: path, problem: describe(e))
        } catch {
            throw TweedieError.invalidInput(what: path, problem: "is not a valid YAML \(kind) (\(error))")
        }
    }

    /// One line for a decoding error: where (key path) and what.
    static func describe(_ e: DecodingError) -> String {
        func path(_ p: [CodingKey]) -> String {
            p.isEmpty ? "top level" : p.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
        }
        switch e {
        case let .keyNotFound(k, c): return "missing key '\(k.stringValue)' at \(path(c.codingPath))"
        case let .typeMismatch(t, c): return "\(path(c.codingPath)): expected \(t)"
        case let .valueNotFound(t, c): return "\(path(c.codingPath)): missing \(t) value"
        case let .dataCorrupted(c):
            if let t = c.underlyingError as? TweedieError { return t.description }
            return "\(path(c.codingPath)): \(c.debugDescription)\(c.underlyingError.map { " (\($0))" } ?? "")"
        @unknown default: return "\(e)"
        }
    }
}
