// NaN-aware image statistics and the sigma-clipped robust noise estimate
// (DESIGN §3: "when σ is not given it is estimated from the observation —
// sigma-clipped MAD of the background").
//
// Definitions (all over the finite values; NaN and ±∞ are counted and skipped):
// - median: the middle value, or the mean of the two middle values for an even count (numpy's);
// - MAD = median |x − median|; robust σ = 1.4826 · MAD, the standard deviation
//   of a Gaussian with that MAD (1/Φ⁻¹(3/4) = 1.482602…);
// - mean: Σx / n accumulated in Double (DESIGN §2);
// - sigma clipping: repeat { m = median, σ = 1.4826·MAD of the kept values;
//   keep |x − m| ≤ κσ } until nothing more is removed or `maxIterations`
//   passes; the result reports median, MAD and σ of the final kept set.
// Medians use a selection (Hoare partition, expected O(n)) on a Double copy.

/// Summary statistics of a set of Float32 values, NaN-aware.
public struct ImageStatistics: Equatable, Sendable {
    /// Number of values looked at (finite or not).
    public var count: Int
    /// Number of NaN values.
    public var nanCount: Int
    /// Number of ±∞ values.
    public var infiniteCount: Int
    /// Number of finite values the statistics describe.
    public var finiteCount: Int { count - nanCount - infiniteCount }
    /// Minimum, maximum, mean, median and median absolute deviation of the finite values (NaN when there are none).
    public var min: Double
    public var max: Double
    public var mean: Double
    public var median: Double
    public var mad: Double
    /// 1.4826 · MAD: the σ of a Gaussian with this MAD.
    public var robustSigma: Double { ImageStatistics.madToSigma * mad }

    /// The factor turning a MAD into a Gaussian σ.
    public static let madToSigma = 1.4826

    /// Statistics of `values`.
    public init<C: Collection>(_ values: C) where C.Element == Float {
        var finite: [Double] = []
        finite.reserveCapacity(values.count)
        var nan = 0, inf = 0
        var lo = Double.infinity, hi = -Double.infinity, sum = 0.0
        for v in values {
            if v.isNaN { nan += 1; continue }
            if v.isInfinite { inf += 1; continue }
            let d = Double(v)
            finite.append(d)
            sum += d
            if d < lo { lo = d }
            if d > hi { hi = d }
        }
        count = values.count
        nanCount = nan
        infiniteCount = inf
        if finite.isEmpty {
            min = .nan; max = .nan; mean = .nan; median = .nan; mad = .nan
            return
        }
        min = lo
        max = hi
        mean = sum / Double(finite.count)
        (median, mad) = ImageStatistics.medianAndMAD(&finite)
    }

    /// Median and MAD of `values` (finite, non-empty); reorders `values`.
    static func medianAndMAD(_ values: inout [Double]) -> (median: Double, mad: Double) {
        let m = median(&values)
        for i in values.indices { values[i] = abs(values[i] - m) }
        return (m, median(&values))
    }

    /// Median of `values` (non-empty), by selection; reorders `values`.
    static func median(_ values: inout [Double]) -> Double {
        let n = values.count
        precondition(n > 0, "median of no values")
        return values.withUnsafeMutableBufferPointer { b -> Double in
            let k = n / 2
            select(b, k)
            if n % 2 == 1 { return b[k] }
            // After selection everything left of k is ≤ b[k]: the lower middle is their maximum.
            var lower = b[0]
            for i in 1..<k where b[i] > lower { lower = b[i] }
            return 0.5 * (lower + b[k])
        }
    }

    /// Rearranges `b` so that b[k] is the k-th smallest, smaller-or-equal values before it,
    /// greater-or-equal after (Hoare partition with a median-of-three pivot).
    static func select(_ b: UnsafeMutableBufferPointer<Double>, _ k: Int) {
        var lo = 0, hi = b.count - 1
        while hi > lo {
            let mid = lo + (hi - lo) / 2
            // Median of three into b[mid].
            if b[mid] < b[lo] { b.swapAt(mid, lo) }
            if b[hi] < b[lo] { b.swapAt(hi, lo) }
            if b[hi] < b[mid] { b.swapAt(hi, mid) }
            let pivot = b[mid]
            var i = lo, j = hi
            while i <= j {
                while b[i] < pivot { i += 1 }
                while b[j] > pivot { j -= 1 }
                if i <= j { b.swapAt(i, j); i += 1; j -= 1 }
            }
            // Now b[lo...j] ≤ pivot ≤ b[i...hi], and j < i.
            if k <= j { hi = j } else if k >= i { lo = i } else { return }
        }
    }
}

/// The result of iterative κσ clipping around the median.
public struct SigmaClippedStatistics: Equatable, Sendable {
    /// Median, MAD and 1.4826·MAD of the values kept in the end.
    public var median: Double
    public var mad: Double
    public var robustSigma: Double { ImageStatistics.madToSigma * mad }
    /// Finite values before clipping, and kept after it.
    public var finiteCount: Int
    public var keptCount: Int
    /// Clipping passes made; `converged` is false when `maxIterations` stopped it.
    public var iterations: Int
    public var converged: Bool
}

extension ImageStatistics {
    /// Median and MAD after iterative κσ clipping (κ = `kappa`, σ = 1.4826·MAD)
    /// of the finite values of `values`. Returns nil when there is no finite value.
    public static func sigmaClipped<C: Collection>(_ values: C, kappa: Double = 3,
                                                   maxIterations: Int = 10) -> SigmaClippedStatistics? where C.Element == Float {
        var kept: [Double] = []
        kept.reserveCapacity(values.count)
        for v in values where v.isFinite { kept.append(Double(v)) }
        let finiteCount = kept.count
        guard finiteCount > 0 else { return nil }
        var scratch = kept
        var (m, mad) = medianAndMAD(&scratch)
        var iterations = 0
        var converged = false
        while iterations < maxIterations {
            // (m, mad) describe `kept`; clip around them.
            let limit = kappa * madToSigma * mad
            let center = m
            let clipped = kept.filter { abs($0 - center) <= limit }
            iterations += 1
            if clipped.count == kept.count { converged = true; break }
            // Half the values lie within one MAD of the median, so only κ < 0.68 can empty the set:
            // then stop at the last non-empty one.
            if clipped.isEmpty { break }
            kept = clipped
            scratch = kept
            (m, mad) = medianAndMAD(&scratch)
        }
        return SigmaClippedStatistics(median: m, mad: mad, finiteCount: finiteCount, keptCount: kept.count,
                                      iterations: iterations, converged: converged)
    }
}
