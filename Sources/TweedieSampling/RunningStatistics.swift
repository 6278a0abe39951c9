// One-pass pixel-wise mean and variance of posterior samples (Welford 1962;
// Chan, Golub & LeVeque 1979 for merging), accumulated in Double (DESIGN §2).
//
// Samples are added in sample-index order, so the result does not depend on
// how samples were batched or on a resume point. The state (count, mean, M2)
// is what a checkpoint stores.

/// Running pixel-wise mean / variance over images of a fixed size.
public struct RunningStatistics: Equatable, Sendable {
    public private(set) var count: Int
    public private(set) var mean: [Double]
    /// Sum of squared deviations from the running mean.
    public private(set) var m2: [Double]

    public init(valueCount: Int) {
        count = 0
        mean = [Double](repeating: 0, count: valueCount)
        m2 = [Double](repeating: 0, count: valueCount)
    }

    /// Restores a checkpointed state.
    public init(count: Int, mean: [Double], m2: [Double]) throws {
        guard mean.count == m2.count, count >= 0 else {
            throw TweedieError.invalidInput(what: "statistics checkpoint", problem: "inconsistent sizes")
        }
        self.count = count; self.mean = mean; self.m2 = m2
    }

    public var valueCount: Int { mean.count }

    /// Adds one image (`valueCount` values).
    public mutating func add<C: Collection>(_ image: C) where C.Element == Float {
        precondition(image.count == mean.count)
        count += 1
        let n = Double(count)
        mean.withUnsafeMutableBufferPointer { mu in
            m2.withUnsafeMutableBufferPointer { s in
                var j = 0
                for v in image {
                    let x = Double(v)
                    let d = x - mu[j]
                    mu[j] += d / n
                    s[j] += d * (x - mu[j])
                    j += 1
                }
            }
        }
    }

    /// Unbiased sample variance (n − 1 denominator); zeros when fewer than 2 samples.
    public var variance: [Double] {
        guard count > 1 else { return [Double](repeating: 0, count: mean.count) }
        let d = Double(count - 1)
        return m2.map { $0 / d }
    }

    /// Merges another accumulator (Chan et al.); used to combine shards.
    public mutating func merge(_ other: RunningStatistics) {
        precondition(other.valueCount == valueCount)
        guard other.count > 0 else { return }
        guard count > 0 else { self = other; return }
        let na = Double(count), nb = Double(other.count), n = na + nb
        for j in 0..<mean.count {
            let d = other.mean[j] - mean[j]
            mean[j] += d * nb / n
            m2[j] += other.m2[j] + d * d * na * nb / n
        }
        count += other.count
    }
}

import TweedieCore
