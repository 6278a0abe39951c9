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

    /// Adds `nanoseconds` to `category` (from the driving thread, e.g. per-worker averages).
    static func add(_ category: String, nanoseconds: UInt64) {
        if enabled { totals[category, default: 0] += nanoseconds }
    }

    /// Nanoseconds since boot (for per-worker accounting).
    @inline(__always)
    static var now: UInt64 { DispatchTime.now().uptimeNanoseconds }

    /// Runs `body`, adding its wall time to `category` when profiling. Only called from the thread
    /// that drives the model (nil: not measured, for calls made from inside parallel workers).
    @inline(__always)
    static func measure<R>(_ category: String?, _ body: () throws -> R) rethrows -> R {
        guard enabled, let category else { return try body() }
        let t0 = DispatchTime.now().uptimeNanoseconds
        let r = try body()
        totals[category, default: 0] += DispatchTime.now().uptimeNanoseconds - t0
        return r
    }
}
