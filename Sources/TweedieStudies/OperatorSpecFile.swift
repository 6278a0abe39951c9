// Reading an operator spec file (YAML, or JSON which YAML includes) into the
// library's `OperatorSpec` (SpecFile: one-line errors that name the file); the chain it
// describes (PSF and antenna files relative to the spec's folder); and an image
// read for an operator, checked against the shape the operator takes or gives.
import Foundation
import TweedieCore
import TweedieOperators

/// The operator spec in the YAML (or JSON) file at `path`.
public func loadOperatorSpec(_ path: String) throws -> OperatorSpec {
    try SpecFile.decode(OperatorSpec.self, from: path, kind: "operator spec")
}

/// The chain a spec file describes, PSF files read from the spec's folder.
public func buildOperatorChain(specPath: String) throws -> BuiltOperatorChain {
    try loadOperatorSpec(specPath).build(psfLoader: OperatorSpec.psfLoader(relativeTo: specPath),
                                         antennaLoader: OperatorSpec.antennaLoader(relativeTo: specPath))
}

/// Reads one image (or a batch, NAXIS4) for an operator and checks it against the shape it must have.
public func readOperatorImage(_ path: String, hdu: String?, expected: ImageShape, role: String) throws -> ImageBatch {
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
