// Detect-aggregate over posterior samples (paper 000 §3.4.1): sources are
// extracted from every sample independently, then detections are merged across
// samples by position; each merged source is reported with its mean position
// and flux and their spread over the samples, and its *reliability*, the
// fraction of samples in which it was found. Sources with reliability below a
// threshold (the paper: 30 %, §4.4 and Fig. 11) are dropped.
//
// Merging: samples are taken in order; the detections of sample k are matched
// one-to-one, nearest first (CatalogueMatching), to the current clusters' mean
// positions within the radius r; a matched detection joins its cluster (whose
// mean moves), an unmatched one starts a new cluster. So a cluster holds at
// most one detection per sample and reliability = detections / samples ≤ 1.
// Spreads are sample standard deviations (divisor n − 1; 0 for one detection),
// accumulated in Double.

import Foundation
import TweedieCore

/// One source merged over samples.
public struct AggregatedSource: Sendable, Equatable {
    public var x: Double
    public var y: Double
    public var xStd: Double
    public var yStd: Double
    public var flux: Double
    public var fluxStd: Double
    /// Samples in which the source was detected, and that count over the number of samples.
    public var detections: Int
    public var reliability: Double
    /// (sample index, index of the detection in that sample's list).
    public var members: [Members]
    public struct Members: Sendable, Equatable {
        public var sample: Int
        public var source: Int
    }
}

public struct DetectAggregateResult: Sendable {
    /// Sources with reliability ≥ the threshold, most reliable first (then brightest).
    public var kept: [AggregatedSource]
    /// Sources below it.
    public var dropped: [AggregatedSource]
    public var sampleCount: Int
    public var minimumReliability: Double
}

public enum DetectAggregate {
    /// The paper's reliability threshold.
    public static let paperReliability = 0.3

    /// Merges per-sample catalogues (`catalogues[k]` = detections in sample k).
    public static func aggregate(_ catalogues: [[CatalogueEntry]], radius: Double,
                                 minimumReliability: Double = paperReliability) throws -> DetectAggregateResult {
        guard !catalogues.isEmpty else {
            throw TweedieError.invalidInput(what: "detect-aggregate", problem: "no samples given")
        }
        guard minimumReliability.isFinite, (0...1).contains(minimumReliability) else {
            throw TweedieError.invalidInput(what: "reliability threshold", problem: "\(minimumReliability) must be in [0, 1]")
        }
        struct Cluster {
            var members: [AggregatedSource.Members] = []
            var sx = 0.0, sy = 0.0, sxx = 0.0, syy = 0.0, sf = 0.0, sff = 0.0
            var n: Double { Double(members.count) }
            var centre: CatalogueEntry { CatalogueEntry(x: sx / n, y: sy / n) }
            mutating func add(_ e: CatalogueEntry, _ m: AggregatedSource.Members) {
                members.append(m)
                sx += e.x; sy += e.y; sxx += e.x * e.x; syy += e.y * e.y; sf += e.flux; sff += e.flux * e.flux
            }
        }
        var clusters: [Cluster] = []
        for (k, detections) in catalogues.enumerated() {
            let match = try CatalogueMatching.match(predicted: detections, truth: clusters.map(\.centre), radius: radius)
            var matched = Set<Int>()
            for p in match.pairs {
                clusters[p.truth].add(detections[p.predicted], .init(sample: k, source: p.predicted))
                matched.insert(p.predicted)
            }
            for (i, d) in detections.enumerated() where !matched.contains(i) {
                var c = Cluster()
                c.add(d, .init(sample: k, source: i))
                clusters.append(c)
            }
        }
        func std(_ s: Double, _ ss: Double, _ n: Double) -> Double {
            n > 1 ? (max(ss - s * s / n, 0) / (n - 1)).squareRoot() : 0
        }
        let total = Double(catalogues.count)
        var all = clusters.map { c in
            AggregatedSource(x: c.sx / c.n, y: c.sy / c.n, xStd: std(c.sx, c.sxx, c.n), yStd: std(c.sy, c.syy, c.n),
                             flux: c.sf / c.n, fluxStd: std(c.sf, c.sff, c.n), detections: c.members.count,
                             reliability: c.n / total, members: c.members)
        }
        all.sort { $0.detections != $1.detections ? $0.detections > $1.detections : $0.flux > $1.flux }
        // Compare counts, not rounded fractions, so 30 % of 10 samples keeps a source seen 3 times.
        let needed = (minimumReliability * total - 1e-9).rounded(.up)
        return DetectAggregateResult(kept: all.filter { Double($0.detections) >= needed },
                                     dropped: all.filter { Double($0.detections) < needed },
                                     sampleCount: catalogues.count, minimumReliability: minimumReliability)
    }

    /// Extracts sources from every sample image (width × height, `[y][x]`) and merges them.
    public static func detectAndAggregate(samples: [[Float]], width: Int, height: Int, settings: DetectionSettings,
                                          radius: Double, minimumReliability: Double = paperReliability) throws -> DetectAggregateResult {
        let catalogues = try samples.enumerated().map { k, image in
            try SourceExtractor.extract(image, width: width, height: height, settings: settings, name: "sample \(k)")
                .sources.map(\.entry)
        }
        return try aggregate(catalogues, radius: radius, minimumReliability: minimumReliability)
    }
}
