// A scripted posterior study (issue 7 item 1): a grid of cases, each a set of
// named parameters, expanded from a spec file. The spec (YAML) is
//
//   name: magnitude-sweep
//   prior: ../../Priors/Models/galaxy-gri-64            # relative to the spec file
//   truths: ../../Priors/Models/galaxy-gri-64/heldout.fits   # cube [N][band][y][x], unit flux
//   fixed:   {zero_point: 27, redshift: 0.2, psf: gaussian, psf_fwhm: 0.7, samples: 64, …}
//   grid:    {magnitude: [18, 19, 20, 21, 22, 23], truth: [0, 1, 2, 3]}   # product of lists
//   cases:   [{magnitude: 18, truth: 0}, …]            # or an explicit list (merged over fixed)
//   catalogue: radio/heldout_catalogue.csv              # optional: true sources of the truths (radio study)
//
// Case parameters = fixed ∪ (one grid point | one listed case). The grid is
// expanded with the keys in sorted order and the last key varying fastest, so a
// case's index — and its directory name — does not depend on YAML key order.
// Parameter meanings are those of `tweedie study run --help`.

import Foundation
import TweedieCore

/// One parameter value: a number, a string, or a list of numbers (e.g. σ per band).
public enum StudyValue: Codable, Sendable, Equatable, CustomStringConvertible {
    case number(Double)
    case string(String)
    case numbers([Double])

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let d = try? c.decode(Double.self) { self = .number(d); return }
        if let a = try? c.decode([Double].self) { self = .numbers(a); return }
        if let s = try? c.decode(String.self) { self = .string(s); return }
        if let b = try? c.decode(Bool.self) { self = .string(b ? "true" : "false"); return }
        throw DecodingError.dataCorruptedError(in: c, debugDescription: "expected a number, a string or a list of numbers")
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .number(let d): try c.encode(d)
        case .string(let s): try c.encode(s)
        case .numbers(let a): try c.encode(a)
        }
    }

    public var description: String {
        switch self {
        case .number(let d): return d == d.rounded() && abs(d) < 1e15 ? String(Int(d)) : String(d)
        case .string(let s): return s
        case .numbers(let a): return a.map { StudyValue.number($0).description }.joined(separator: ";")
        }
    }

    public var number: Double? { if case .number(let d) = self { return d }; return nil }
    public var numbers: [Double]? {
        switch self {
        case .number(let d): return [d]
        case .numbers(let a): return a
        case .string: return nil
        }
    }
}

/// A grid entry: a list of values (a single value is a list of one).
public struct StudyAxis: Codable, Sendable, Equatable {
    public var values: [StudyValue]
    public init(values: [StudyValue]) { self.values = values }
    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let list = try? c.decode([StudyValue].self) { values = list } else { values = [try c.decode(StudyValue.self)] }
    }
    public func encode(to encoder: Encoder) throws { var c = encoder.singleValueContainer(); try c.encode(values) }
}

public struct StudySpec: Codable, Sendable, Equatable {
    public var name: String
    public var prior: String
    public var truths: String?
    /// CSV of the true sources of the truths (columns sky, x, y, flux_jy, fwhm_major_arcsec, fwhm_minor_arcsec, …).
    public var catalogue: String?
    public var fixed: [String: StudyValue]
    public var grid: [String: StudyAxis]
    public var cases: [[String: StudyValue]]?

    enum CodingKeys: String, CodingKey { case name, prior, truths, catalogue, fixed, grid, cases }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        prior = try c.decode(String.self, forKey: .prior)
        truths = try c.decodeIfPresent(String.self, forKey: .truths)
        catalogue = try c.decodeIfPresent(String.self, forKey: .catalogue)
        fixed = try c.decodeIfPresent([String: StudyValue].self, forKey: .fixed) ?? [:]
        grid = try c.decodeIfPresent([String: StudyAxis].self, forKey: .grid) ?? [:]
        cases = try c.decodeIfPresent([[String: StudyValue]].self, forKey: .cases)
    }

    /// The cases in a fixed order: fixed ∪ grid point (sorted keys, last fastest) or fixed ∪ listed case.
    public func expandedCases() throws -> [[String: StudyValue]] {
        if let list = cases {
            guard grid.isEmpty else {
                throw TweedieError.invalidInput(what: "study spec", problem: "give either grid: or cases:, not both")
            }
            guard !list.isEmpty else { throw TweedieError.invalidInput(what: "study spec cases", problem: "is empty") }
            return list.map { fixed.merging($0) { _, new in new } }
        }
        let keys = grid.keys.sorted()
        for k in keys where grid[k]!.values.isEmpty {
            throw TweedieError.invalidInput(what: "study spec grid.\(k)", problem: "is an empty list")
        }
        var out: [[String: StudyValue]] = [fixed]
        for k in keys {
            var next: [[String: StudyValue]] = []
            for base in out {
                for v in grid[k]!.values { var c = base; c[k] = v; next.append(c) }
            }
            out = next
        }
        return out
    }
}

/// The tidy results table: one row per finished case, every parameter and score a column.
public enum StudyTable {
    /// CSV with a header row; columns in the given order; values quoted when needed.
    public static func csv(columns: [String], rows: [[String: String]]) -> String {
        func q(_ s: String) -> String {
            s.contains(",") || s.contains("\"") || s.contains("\n") ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
        }
        var lines = [columns.map(q).joined(separator: ",")]
        for r in rows { lines.append(columns.map { q(r[$0] ?? "") }.joined(separator: ",")) }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Groups rows by `by` (the other parameters' values must agree within a group for a clean
    /// table) and returns mean, standard deviation and count of `value` per group, sorted by `by`
    /// numerically when possible.
    public static func aggregate(_ rows: [[String: String]], by: String, value: String)
        -> [(key: String, mean: Double, std: Double, count: Int)] {
        var groups: [String: [Double]] = [:]
        for r in rows {
            guard let k = r[by], let v = r[value].flatMap(Double.init), v.isFinite else { continue }
            groups[k, default: []].append(v)
        }
        let keys = groups.keys.sorted { (Double($0) ?? .infinity, $0) < (Double($1) ?? .infinity, $1) }
        return keys.map { k in
            let v = groups[k]!
            let m = v.reduce(0, +) / Double(v.count)
            let s = v.count > 1 ? (v.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(v.count - 1)).squareRoot() : 0
            return (k, m, s, v.count)
        }
    }
}
