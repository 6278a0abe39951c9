// FFTW's planner is not thread-safe: only fftw(f)_execute* may run
// concurrently. Every plan creation and destruction in Tweedie (single or
// double precision, real or complex) happens while holding this one lock.

import Foundation

public enum FFTWPlanner {
    private static let lock = NSLock()
    /// Runs `body` (plan creation / destruction) under the global planner lock.
    public static func withLock<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock(); defer { lock.unlock() }
        return try body()
    }
}
