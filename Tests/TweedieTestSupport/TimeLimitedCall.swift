// Running a piece of test work on its own thread with a time limit, so that a hang (a reader
// looping on a damaged file) is reported as a failure instead of stopping the test run.
import Foundation

public enum TimeLimitedCall {
    public enum Outcome { case value(String), failed(any Error), timedOut }

    /// The result box the worker thread fills; read only after `done` is signalled (the semaphore
    /// orders the write before the read), or never when the wait timed out.
    final class Box: @unchecked Sendable {
        let done = DispatchSemaphore(value: 0)
        var outcome: Outcome = .timedOut
    }

    /// `body`'s result or error, or `.timedOut` after `seconds` (its thread is then left running).
    public static func run(limit seconds: Double, _ body: @escaping @Sendable () throws -> String) -> Outcome {
        let box = Box()
        Thread.detachNewThread {
            do { box.outcome = .value(try body()) } catch { box.outcome = .failed(error) }
            box.done.signal()
        }
        return box.done.wait(timeout: .now() + seconds) == .timedOut ? .timedOut : box.outcome
    }
}
