// Threshold segmentation and multi-threshold deblending (paper 000 §3.4 uses
// Photutils' segmentation + deblending on sky models; the scheme here is
// SExtractor's, Bertin & Arnouts 1996 §2.3, written from its description).
//
// Segmentation: pixels with background-subtracted value v > t₀ = k·σ are
// grouped into 8-connected segments (a pixel touches its 8 neighbours);
// segments with fewer than `minimumPixels` pixels are dropped. NaN pixels are
// never part of a segment.
//
// Deblending of one segment with peak p > t₀: N levels
// t_i = t₀ · (p/t₀)^{i/N}, i = 1…N−1 (exponential spacing, as SExtractor's
// DEBLEND_NTHRESH), build the tree of 8-connected components of the pixels
// above each level. Walking up from t₀, a node splits when at least two of its
// children are *significant*: Σ v over the child's pixels (its pixels above its
// level) ≥ `contrast` · Σ v over the whole segment (SExtractor's
// DEBLEND_MINCONT), and the child has at least `minimumPixels` pixels. The
// significant children are deblended recursively; a node with one significant
// child that does not split further, or with none, is one source. The
// resulting seeds (the pixel sets of the leaves) then grow back over the rest
// of the segment by descending value: each unassigned pixel joins the seed of
// its brightest already-assigned 8-neighbour (a watershed on −v), so the
// segment's pixels are shared out without overlap and every deblended source
// keeps its own wings. Insignificant peaks are absorbed by their surroundings.
//
// Conventions: images are row-major `[y][x]`, 0-based pixel indices; index
// i = y·width + x. Segments are returned as arrays of such indices.

import Foundation

/// Calls `body(q)` for each 8-neighbour q of pixel p inside the width × height image, row by row
/// (dy = −1, 0, 1), left to right within a row.
@inline(__always)
func forEachNeighbour(of p: Int, width: Int, height: Int, _ body: (Int) -> Void) {
    let x = p % width, y = p / width
    for dy in -1...1 {
        let yy = y + dy
        if yy < 0 || yy >= height { continue }
        for dx in -1...1 where dx != 0 || dy != 0 {
            let xx = x + dx
            if xx < 0 || xx >= width { continue }
            body(yy * width + xx)
        }
    }
}

/// 8-connected components of a set of pixels of a width × height image.
struct ConnectedComponents {
    let width: Int
    let height: Int
    /// Per pixel: the stamp of the set it is in (scratch, reused between calls).
    private var stamp: [Int32]
    private var token: Int32 = 0
    private var stack: [Int] = []

    init(width: Int, height: Int) {
        self.width = width
        self.height = height
        stamp = [Int32](repeating: 0, count: width * height)
    }

    /// The 8-connected components of `pixels` (indices into the image), each as a list of indices.
    mutating func components(of pixels: [Int]) -> [[Int]] {
        // Members carry `token`; visited members `token + 1`.
        token &+= 2
        if token <= 0 {   // wrapped around: reset the scratch
            for i in stamp.indices { stamp[i] = 0 }
            token = 2
        }
        let member = token, visited = token + 1
        for p in pixels { stamp[p] = member }
        var out: [[Int]] = []
        for start in pixels where stamp[start] == member {
            var comp: [Int] = []
            stamp[start] = visited
            stack.removeAll(keepingCapacity: true)
            stack.append(start)
            while let p = stack.popLast() {
                comp.append(p)
                forEachNeighbour(of: p, width: width, height: height) { q in
                    if stamp[q] == member {
                        stamp[q] = visited
                        stack.append(q)
                    }
                }
            }
            out.append(comp)
        }
        return out
    }
}

/// Deblending parameters (see the file comment).
public struct DeblendSettings: Sendable, Equatable {
    /// Number of levels N between the detection threshold and the peak (SExtractor: 32).
    public var levels: Int
    /// Minimum flux fraction of a branch to count as a separate source (SExtractor: 0.005).
    public var contrast: Double
    public init(levels: Int = 32, contrast: Double = 0.005) {
        self.levels = levels
        self.contrast = contrast
    }
    /// No deblending: every segment is one source.
    public static let off = DeblendSettings(levels: 1, contrast: 1)
}

enum Segmentation {
    /// Segments of pixels with `v > threshold` (8-connected, ≥ minimumPixels pixels).
    static func segments(_ v: [Float], width: Int, height: Int, threshold: Float,
                         minimumPixels: Int, labeller: inout ConnectedComponents) -> [[Int]] {
        var above: [Int] = []
        for i in 0..<v.count where v[i] > threshold { above.append(i) }   // NaN compares false
        return labeller.components(of: above).filter { $0.count >= minimumPixels }
    }

    /// Splits one segment into sources (lists of pixel indices covering the segment).
    static func deblend(_ segment: [Int], values v: [Float], threshold t0: Float, minimumPixels: Int,
                        settings: DeblendSettings, labeller: inout ConnectedComponents) -> [[Int]] {
        guard settings.levels > 1, settings.contrast < 1, segment.count >= 2 * minimumPixels else { return [segment] }
        var peak = -Float.infinity, total = 0.0
        for p in segment {
            peak = max(peak, v[p])
            total += Double(v[p])
        }
        guard peak > t0, t0 > 0 else { return [segment] }
        let ratio = Double(peak) / Double(t0)
        let levels = (1..<settings.levels).map { Float(Double(t0) * pow(ratio, Double($0) / Double(settings.levels))) }
        let minimumFlux = settings.contrast * total

        // Recursive descent of the component tree.
        func seeds(_ node: [Int], level: Int, labeller: inout ConnectedComponents) -> [[Int]] {
            guard level < levels.count else { return [node] }
            let t = levels[level]
            let above = node.filter { v[$0] > t }
            if above.isEmpty { return [node] }
            let children = labeller.components(of: above)
            let significant = children.filter { c in
                c.count >= minimumPixels && c.reduce(0.0) { $0 + Double(v[$1]) } >= minimumFlux
            }
            switch significant.count {
            case 0:
                return [node]
            case 1:
                let deeper = seeds(significant[0], level: level + 1, labeller: &labeller)
                return deeper.count == 1 ? [node] : deeper
            default:
                return significant.flatMap { seeds($0, level: level + 1, labeller: &labeller) }
            }
        }
        let found = seeds(segment, level: 0, labeller: &labeller)
        if found.count <= 1 { return [segment] }
        return grow(seeds: found, over: segment, values: v, width: labeller.width, height: labeller.height)
    }

    /// Shares the segment's pixels out among the seeds by descending value (see the file comment).
    static func grow(seeds: [[Int]], over segment: [Int], values v: [Float], width: Int, height: Int) -> [[Int]] {
        var owner = [Int: Int](minimumCapacity: segment.count)
        for (k, s) in seeds.enumerated() { for p in s { owner[p] = k } }
        var pending = segment.filter { owner[$0] == nil }.sorted { v[$0] > v[$1] }
        while !pending.isEmpty {
            var next: [Int] = []
            for p in pending {
                var best = -1, bestValue = -Float.infinity
                forEachNeighbour(of: p, width: width, height: height) { q in
                    if let k = owner[q], v[q] > bestValue { best = k; bestValue = v[q] }
                }
                if best >= 0 { owner[p] = best } else { next.append(p) }
            }
            // The segment is connected, so every pass assigns at least one pixel.
            if next.count == pending.count { break }
            pending = next
        }
        var out = [[Int]](repeating: [], count: seeds.count)
        for p in segment { if let k = owner[p] { out[k].append(p) } }
        return out.filter { !$0.isEmpty }
    }
}
