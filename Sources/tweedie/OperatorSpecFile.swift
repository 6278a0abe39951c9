// Reading an operator spec file (YAML, or JSON which YAML includes) into the
// library's `OperatorSpec`, with one-line errors that name the file.
import Foundation
import TweedieCore
import TweedieOperators
import Yams

func loadOperatorSpec(_ path: String) throws -> OperatorSpec {
    guard FileManager.default.fileExists(atPath: path) else {
        throw TweedieError.io(path: path, problem: "no such operator spec file")
    }
    let text: String
    do {
        text = try String(contentsOfFile: path, encoding: .utf8)
    } catch {
        throw TweedieError.io(path: path, problem: "cannot be read as UTF-8 text (\(error.localizedDescription))")
    }
    do {
        return try YAMLDecoder().decode(OperatorSpec.self, from: text)
    } catch let e as TweedieError {
        throw TweedieError.invalidInput(what: path, problem: e.description)
    } catch let e as DecodingError {
        throw TweedieError.invalidInput(what: path, problem: describe(e))
    } catch {
        throw TweedieError.invalidInput(what: path, problem: "is not a valid YAML operator spec (\(error))")
    }
}

/// One line for a decoding error: where (key path) and what.
private func describe(_ e: DecodingError) -> String {
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

/// The chain a spec file describes, PSF files read from the spec's folder.
func buildOperatorChain(specPath: String) throws -> BuiltOperatorChain {
    try loadOperatorSpec(specPath).build(psfLoader: OperatorSpec.psfLoader(relativeTo: specPath),
                                         antennaLoader: OperatorSpec.antennaLoader(relativeTo: specPath))
}

/// Reads one image (or a batch, NAXIS4) for an operator and checks it against the shape it must have.
func readOperatorImage(_ path: String, hdu: String?, expected: ImageShape, role: String) throws -> ImageBatch {
    let x = try FITSReader.read(path, hdu: hdu.map(FITSHDUSelector.init(parsing:)) ?? .firstImage)
    guard x.shape == expected else {
        let what = x.shape.channels != expected.channels ? "band count" : "size"
        throw TweedieError.shapeMismatch(
            what: "\(path) (\(what)) vs the operator's \(role)",
            expected: "\(expected.channels) band(s) of \(expected.width)×\(expected.height) px (NAXIS1×NAXIS2)",
            got: "\(x.shape.channels) band(s) of \(x.shape.width)×\(x.shape.height) px")
    }
    let bad = x.data.reduce(0) { $0 + ($1.isFinite ? 0 : 1) }
    guard bad == 0 else {
        throw TweedieError.invalidInput(
            what: path, problem: "has \(bad) NaN/BLANK or infinite values; an operator needs finite input (fill or crop them first)")
    }
    return x
}
