// Resolving a `--prior` argument (DESIGN §4.4, §4.5: analytic priors are usable
// wherever a neural one is) to a ready `Denoiser` plus what provenance needs.
//
// The argument is, in this order of recognition:
//   - an inline analytic spec, `gaussian:key=value,…` or `mixture:key=value,…`
//     (AnalyticPriorSpec), or a `.json` file that is not a directory (an analytic
//     spec file);
//   - otherwise a prior directory (config.json + weights.safetensors), opened and
//     validated by PriorDirectory and built as a UNetDenoiser.
// A spectrum given as a FITS file (`spectrum=file,path=…`) is read with FITSReader.

import Foundation
import TweedieCore

/// A prior ready to sample from, with where it came from.
public struct ResolvedPrior: Sendable {
    public enum Source: Sendable {
        /// A prior directory.
        case directory(PriorDirectory)
        /// An analytic prior from a spec.
        case analytic(AnalyticPriorSpec)
    }
    public let denoiser: any Denoiser
    public let source: Source
    /// The text the user gave.
    public let argument: String
    /// The prior's name (config name, or `gaussian` / `mixture`).
    public let name: String
    /// A short identity for provenance: the weights' SHA-256 (as recorded in config.json) or the analytic spec.
    public let identity: String

    /// The prior directory, when the prior is one.
    public var directory: PriorDirectory? {
        if case .directory(let d) = source { return d }
        return nil
    }
    /// The analytic prior (exact sampling, closed-form variance), when the prior is one.
    public var analytic: (any AnalyticPrior)? { denoiser as? any AnalyticPrior }
    public var isAnalytic: Bool { analytic != nil }
}

public enum PriorResolver {
    /// Whether `text` names an analytic prior (inline spec or JSON spec file) rather than a directory.
    public static func isAnalyticSpec(_ text: String) -> Bool {
        let t = text.trimmingCharacters(in: .whitespaces).lowercased()
        if t.hasPrefix("gaussian:") || t.hasPrefix("mixture:") { return true }
        var isDir: ObjCBool = false
        if t.hasSuffix(".json"), !(FileManager.default.fileExists(atPath: text, isDirectory: &isDir) && isDir.boolValue) {
            return true
        }
        return false
    }

    /// Reads an array image for an analytic spec's spectrum file: values `[c][y][x]` and the shape.
    public static let fitsArrayLoader: AnalyticPriorSpec.ArrayLoader = { path in
        let image = try FITSReader.read(path)
        guard image.count == 1 else {
            throw TweedieError.shapeMismatch(what: "power spectrum \(path)", expected: "one image (2-D or one cube)",
                                             got: "\(image.count) images")
        }
        return (image.data.map(Double.init), image.shape)
    }

    /// Resolves `text` (given as option `option`) to a prior.
    /// - Parameters: maxBatch: largest batch the U-Net runs at once (nil: sized from memory).
    public static func resolve(_ text: String, option: String = "--prior", maxBatch: Int? = nil) throws -> ResolvedPrior {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty else {
            throw TweedieError.invalidInput(what: option, problem: "is empty; give a prior directory (e.g. Priors/Models/<name>) or an analytic spec (gaussian:n=16,amplitude=1,slope=3,k0=0.1)")
        }
        if isAnalyticSpec(trimmed) {
            let spec = try AnalyticPriorSpec(parsing: trimmed)
            let prior = try spec.makePrior(arrayLoader: fitsArrayLoader)
            let kind: String
            switch spec.family {
            case .gaussian: kind = "gaussian"
            case .mixture: kind = "mixture"
            }
            return ResolvedPrior(denoiser: prior, source: .analytic(spec), argument: text, name: kind,
                                 identity: prior.summary)
        }
        let url = URL(fileURLWithPath: trimmed)
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir) else {
            throw TweedieError.io(path: trimmed, problem: "no such prior directory; give a prior directory (Priors/Models/<name>/, made by tweedie prior import) or an analytic spec such as gaussian:n=16,amplitude=1,slope=3,k0=0.1")
        }
        let directory = try PriorDirectory.open(url)
        let denoiser = try UNetDenoiser(prior: directory, maxBatch: maxBatch)
        let c = directory.config
        return ResolvedPrior(denoiser: denoiser, source: .directory(directory), argument: text, name: c.name,
                             identity: c.weightsSHA256.map { "weights sha256 \($0)" } ?? "weights sha256 not recorded")
    }
}

extension ResolvedPrior {
    /// Provenance cards naming the prior: PRIOR (name), PRIORSRC (the argument), PRIORID (weights hash or spec).
    public var provenanceCards: [FITSCard] {
        [FITSCard(keyword: "PRIOR", value: .string(name), comment: "prior name"),
         FITSCard(keyword: "PRIORSRC", value: .string(argument), comment: "--prior as given"),
         FITSCard(keyword: "PRIORID", value: .string(identity), comment: "prior identity (weights hash or spec)")]
    }
}
