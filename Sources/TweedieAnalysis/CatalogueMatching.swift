// Positional matching of a predicted catalogue against a true one and the
// source-level metrics of paper 000 §3.5.2–3.5.3 (Eqs. 14–16):
//
//   purity = TP / (TP + FP),  completeness = TP / (TP + FN),
//   F1 = 2 · purity · completeness / (purity + completeness).
//
// Matching is one-to-one, nearest first: every (predicted, true) pair closer
// than the radius r is a candidate; candidates are taken in order of
// increasing distance (ties: lower true index, then lower predicted index) and
// kept when neither member is matched yet. TP = matched pairs, FP = predicted
// sources left unmatched, FN = true sources left unmatched. (The paper counts a
// prediction as TP when a true source is within r; one-to-one matching keeps
// two predictions of one source from both counting, the usual reading.)
//
// Flux accuracy (§3.5.3): a flux is "accurate" when |flux_pred − flux_true| ≤
// the noise level (the paper: rms noise, 50 µJy in its simulations). The paper's
// text divides the count by the number of true sources, its Table 3 by the
// number of detected sources; both are reported: `fluxAccuracy` over the
// matched pairs and `fluxAccuracyOfTrue` over all true sources.
//
// Positions are in whatever units the two catalogues share (pixels here; the
// paper uses RA/Dec with r = 5·10⁻⁵ deg). Empty denominators give NaN.

import Foundation
import TweedieCore

/// A catalogue entry to match: position and flux.
public struct CatalogueEntry: Sendable, Equatable {
    public var x: Double
    public var y: Double
    public var flux: Double
    public init(x: Double, y: Double, flux: Double = 0) {
        self.x = x; self.y = y; self.flux = flux
    }
}

extension DetectedSource {
    public var entry: CatalogueEntry { CatalogueEntry(x: x, y: y, flux: flux) }
}

/// The result of matching predictions to truths.
public struct CatalogueMatch: Sendable, Equatable {
    /// Matched pairs (index into predicted, index into truth, distance), nearest first.
    public var pairs: [(predicted: Int, truth: Int, distance: Double)]
    public var predictedCount: Int
    public var truthCount: Int

    public var truePositives: Int { pairs.count }
    public var falsePositives: Int { predictedCount - pairs.count }
    public var falseNegatives: Int { truthCount - pairs.count }
    public var purity: Double { predictedCount == 0 ? .nan : Double(truePositives) / Double(predictedCount) }
    public var completeness: Double { truthCount == 0 ? .nan : Double(truePositives) / Double(truthCount) }
    public var f1: Double {
        let p = purity, c = completeness
        return p + c > 0 ? 2 * p * c / (p + c) : (p.isNaN || c.isNaN ? .nan : 0)
    }
    /// Predicted indices left unmatched, and true ones.
    public var unmatchedPredicted: [Int] {
        let m = Set(pairs.map(\.predicted)); return (0..<predictedCount).filter { !m.contains($0) }
    }
    public var unmatchedTruth: [Int] {
        let m = Set(pairs.map(\.truth)); return (0..<truthCount).filter { !m.contains($0) }
    }

    public static func == (a: CatalogueMatch, b: CatalogueMatch) -> Bool {
        a.predictedCount == b.predictedCount && a.truthCount == b.truthCount && a.pairs.count == b.pairs.count
            && zip(a.pairs, b.pairs).allSatisfy { $0.predicted == $1.predicted && $0.truth == $1.truth && $0.distance == $1.distance }
    }
}

/// Flux accuracy of the matched pairs (see the file comment).
public struct FluxAccuracy: Sendable, Equatable {
    public var accurate: Int
    public var matched: Int
    public var truthCount: Int
    /// Fraction of matched sources with |Δflux| ≤ noise.
    public var fluxAccuracy: Double { matched == 0 ? .nan : Double(accurate) / Double(matched) }
    /// Fraction of all true sources with a match whose |Δflux| ≤ noise.
    public var fluxAccuracyOfTrue: Double { truthCount == 0 ? .nan : Double(accurate) / Double(truthCount) }
}

public enum CatalogueMatching {
    /// One-to-one nearest-first matching within `radius`.
    public static func match(predicted: [CatalogueEntry], truth: [CatalogueEntry], radius: Double) throws -> CatalogueMatch {
        guard radius.isFinite, radius > 0 else {
            throw TweedieError.invalidInput(what: "matching radius", problem: "\(radius) must be > 0")
        }
        var candidates: [(predicted: Int, truth: Int, distance: Double)] = []
        let r2 = radius * radius
        for (j, t) in truth.enumerated() {
            for (i, p) in predicted.enumerated() {
                let dx = p.x - t.x, dy = p.y - t.y, d2 = dx * dx + dy * dy
                if d2 <= r2 { candidates.append((i, j, d2.squareRoot())) }
            }
        }
        candidates.sort { a, b in
            a.distance != b.distance ? a.distance < b.distance : (a.truth != b.truth ? a.truth < b.truth : a.predicted < b.predicted)
        }
        var usedP = Set<Int>(), usedT = Set<Int>()
        var pairs: [(predicted: Int, truth: Int, distance: Double)] = []
        for c in candidates where !usedP.contains(c.predicted) && !usedT.contains(c.truth) {
            usedP.insert(c.predicted); usedT.insert(c.truth)
            pairs.append(c)
        }
        return CatalogueMatch(pairs: pairs, predictedCount: predicted.count, truthCount: truth.count)
    }

    /// For each entry of `from`, the distance to the nearest entry of `to` (+∞ when `to` is empty),
    /// whether or not the two are matched: what a matching radius would have to be to pair them.
    public static func nearestDistances(from: [CatalogueEntry], to: [CatalogueEntry]) -> [Double] {
        from.map { a in
            to.reduce(Double.infinity) { best, b in
                let dx = a.x - b.x, dy = a.y - b.y
                return min(best, (dx * dx + dy * dy).squareRoot())
            }
        }
    }

    /// Counts matched pairs whose flux error is within `noise`.
    public static func fluxAccuracy(_ match: CatalogueMatch, predicted: [CatalogueEntry], truth: [CatalogueEntry],
                                    noise: Double) throws -> FluxAccuracy {
        guard noise.isFinite, noise > 0 else {
            throw TweedieError.invalidInput(what: "flux noise level", problem: "\(noise) must be > 0")
        }
        let accurate = match.pairs.filter { abs(predicted[$0.predicted].flux - truth[$0.truth].flux) <= noise }.count
        return FluxAccuracy(accurate: accurate, matched: match.pairs.count, truthCount: truth.count)
    }
}
