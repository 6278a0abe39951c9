// Optional wall-clock accounting of the U-Net's kernels by category (GEMM,
// im2col, GroupNorm, …) for `tweedie bench unet --profile`. Off by default;
// when off, each instrumented call costs one branch.

import Dispatch

public enum KernelProfile {
    nonisolated(unsafe) public private(set) static var enabled = false
    nonisolated(unsafe) private static var totals: [String: UInt64] = [:]

    /// Starts accounting from zero.
    public static func start() { totals = [:]; enabled = true }

    /// Stops accounting and returns seconds per category, largest first.
    public static func stop() -> [(String, Double)] {
        enabled = false
        return totals.map { ($0.key, Double($0.value) / 1e9) }.sorted { $0.1 > $1.1 }
    }

    /// Runs `body`, adding its wall time to `category` when profiling.
    @inline(__always)
    static func measure<R>(_ category: String, _ body: () throws -> R) rethrows -> R {
        if !enabled { return try body() }
        let t0 = DispatchTime.now().uptimeNanoseconds
        let r = try body()
        totals[category, default: 0] += DispatchTime.now().uptimeNanoseconds - t0
        return r
    }
}
