// Reading a spec file (YAML, or JSON which YAML includes) into a Decodable value with one-line
// errors that name the file and the line: a missing or unreadable file, an empty file, a YAML
// syntax error (libyaml's line and column), and a decoding error as where (line, and the key path
// `a.b[2].c` or "top level") and what was expected and found. Operator, calibration, study and SBC
// specs use it.
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
        return try decode(type, text: text, path: path, kind: kind)
    }

    /// `text` (the contents of `path`) decoded as `T`; errors name `path` and the line.
    public static func decode<T: Decodable>(_ type: T.Type, text: String, path: String, kind: String) throws -> T {
        let root: Node?
        do { root = try Yams.compose(yaml: text) } catch {
            throw TweedieError.invalidInput(what: path, problem: "is not valid YAML: \(describe(yaml: error)); fix the \(kind) there")
        }
        guard root != nil else {
            throw TweedieError.invalidInput(what: path, problem: "is empty: a \(kind) is a YAML mapping of `key: value` lines")
        }
        do {
            return try YAMLDecoder().decode(T.self, from: text)
        } catch let e as TweedieError {
            throw TweedieError.invalidInput(what: path, problem: e.description)
        } catch let e as DecodingError {
            throw TweedieError.invalidInput(what: path, problem: describe(e, root: root))
        } catch {
            throw TweedieError.invalidInput(what: path, problem: "is not a valid \(kind): \(describe(yaml: error))")
        }
    }

    /// A YAML syntax error in one line: "line L, column C: problem".
    static func describe(yaml error: Error) -> String {
        guard let e = error as? YamlError else { return "\(error)".split(separator: "\n").first.map(String.init) ?? "\(error)" }
        switch e {
        case let .scanner(context, problem, mark, _), let .parser(context, problem, mark, _), let .composer(context, problem, mark, _):
            let during = context.map { " (\($0.text) at line \($0.mark.line))" } ?? ""
            return "line \(mark.line), column \(mark.column): \(problem)\(during)"
        case let .reader(problem, offset, _, yaml):
            guard let offset else { return problem }
            let before = yaml.utf8.prefix(offset)
            let line = before.reduce(1) { $0 + ($1 == UInt8(ascii: "\n") ? 1 : 0) }
            return "line \(line): \(problem)"
        default:
            return "\(e)".split(separator: "\n").first.map(String.init) ?? "\(e)"
        }
    }

    /// One line for a decoding error: the line of the offending node, where (key path) and what.
    static func describe(_ e: DecodingError, root: Node? = nil) -> String {
        func path(_ p: [CodingKey]) -> String {
            p.isEmpty ? "top level" : p.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
        }
        func at(_ p: [CodingKey]) -> String {
            let node = Self.node(at: p, in: root)
            return (node?.mark.map { "line \($0.line): " } ?? "") + path(p)
        }
        switch e {
        case let .keyNotFound(k, c): return "\(at(c.codingPath)): missing key '\(k.stringValue)'"
        case let .typeMismatch(t, c):
            return "\(at(c.codingPath)): expected \(typeName(t)), found \(found(Self.node(at: c.codingPath, in: root)))"
        case let .valueNotFound(t, c): return "\(at(c.codingPath)): missing \(typeName(t)) value"
        case let .dataCorrupted(c):
            if let t = c.underlyingError as? TweedieError { return "\(at(c.codingPath)): \(t.description)" }
            if let node = Self.node(at: c.codingPath, in: root), node.scalar != nil {
                return "\(at(c.codingPath)): \(found(node)) is not a valid value here"
            }
            return "\(at(c.codingPath)): \(c.debugDescription)\(c.underlyingError.map { " (\($0))" } ?? "")"
        @unknown default: return "\(e)"
        }
    }

    /// The node a coding path leads to (nil where the path leaves the document).
    static func node(at path: [CodingKey], in root: Node?) -> Node? {
        var node = root
        for key in path {
            guard let current = node else { return nil }
            if let i = key.intValue, let seq = current.sequence {
                node = i >= 0 && i < seq.count ? seq[i] : nil
            } else {
                node = current[key.stringValue]
            }
        }
        return node
    }

    /// A type in the words of a spec file.
    static func typeName(_ t: Any.Type) -> String {
        let name = "\(t)"
        if name.hasPrefix("Dictionary") || name == "Mapping" { return "a mapping (`key: value` lines)" }
        if name.hasPrefix("Array") || name == "Sequence" { return "a list" }
        if name == "Scalar" { return "a single value" }
        if name == "String" { return "a string" }
        if name == "Bool" { return "true or false" }
        if ["Int", "Double", "Float", "UInt64", "Int64"].contains(name) { return "a number" }
        return name
    }

    /// What a node holds, in the words of a spec file.
    static func found(_ node: Node?) -> String {
        guard let node else { return "nothing" }
        if let s = node.scalar?.string { return s.isEmpty ? "an empty value" : "'\(s.prefix(60))'" }
        if node.mapping != nil { return "a mapping" }
        if node.sequence != nil { return "a list" }
        return "an alias"
    }
}
