// Parallel loop over independent work items (image planes): GCD's
// concurrentPerform for two or more items, inline for one — waking a worker
// thread for a single plane costs more than the plane on a busy machine.
import Dispatch

/// Runs `body(i)` for i in 0..<iterations, concurrently when there is more than one.
/// The iterations must touch disjoint data.
public func concurrentForEach(_ iterations: Int, _ body: @Sendable (Int) -> Void) {
    if iterations <= 0 { return }
    if iterations == 1 { body(0); return }
    DispatchQueue.concurrentPerform(iterations: iterations, execute: body)
}
