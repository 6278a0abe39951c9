// Reusable Float32 workspaces and the parallel loop the U-Net's element-wise
// kernels use.
//
// A `FloatBuffer` owns a 64-byte aligned allocation that grows on demand and
// is never shrunk, so the same memory serves every call of the same (or a
// smaller) batch: allocation happens only when a batch larger than any before
// arrives, never inside a loop. Contents are not preserved when it grows.
//
// `ParallelLoop` splits an index range into one contiguous chunk per worker
// (DispatchQueue.concurrentPerform). The worker count is `UNetThreading`'s.

import COpenBLAS
import Dispatch
import Foundation
import Synchronization

/// A growable, aligned Float32 buffer owned by one layer or workspace.
/// Not thread-safe: one owner uses it at a time (the model is serialised by its denoiser's lock).
final class FloatBuffer {
    private(set) var pointer: UnsafeMutablePointer<Float>
    private(set) var capacity: Int

    init(capacity: Int = 0) {
        self.capacity = max(capacity, 16)
        pointer = FloatBuffer.allocate(self.capacity)
    }

    deinit { pointer.deinitialize(count: capacity); UnsafeMutableRawPointer(pointer).deallocate() }

    private static func allocate(_ n: Int) -> UnsafeMutablePointer<Float> {
        let raw = UnsafeMutableRawPointer.allocate(byteCount: n * MemoryLayout<Float>.stride, alignment: 64)
        let p = raw.bindMemory(to: Float.self, capacity: n)
        p.initialize(repeating: 0, count: n)
        return p
    }

    /// Makes room for `n` values and returns the pointer (contents undefined after growth).
    @discardableResult
    func reserve(_ n: Int) -> UnsafeMutablePointer<Float> {
        if n > capacity {
            pointer.deinitialize(count: capacity)
            UnsafeMutableRawPointer(pointer).deallocate()
            capacity = n
            pointer = FloatBuffer.allocate(n)
        }
        return pointer
    }
}

/// Threads of the U-Net. The U-Net parallelises itself — Winograd tile chunks per worker, column
/// slices of the other GEMMs, (image, head) pairs of attention, channel groups of the element-wise
/// loops — and calls OpenBLAS single-threaded from each worker: OpenBLAS's own threads would
/// synchronise on every one of the many small GEMMs and spin on cores the element-wise loops need.
public enum UNetThreading {
    nonisolated(unsafe) private static var workers = max(1, min(ProcessInfo.processInfo.activeProcessorCount, 64))
    nonisolated(unsafe) private static var blasConfigured = false

    /// Sets the worker count (call before using a model; not while one runs).
    public static func setThreads(_ n: Int) {
        workers = max(1, n)
        configureBLAS()
    }

    /// Puts OpenBLAS in single-threaded mode (idempotent; called when a model is built).
    static func configureBLAS() {
        if !blasConfigured { openblas_set_num_threads(1); blasConfigured = true }
    }

    /// Worker count.
    public static var threads: Int { workers }
    /// OpenBLAS's thread count per call (1 once a model exists).
    public static var blasThreads: Int { Int(openblas_get_num_threads()) }
}

/// A parallel loop over 0..<count in contiguous chunks, one per worker.
enum ParallelLoop {
    /// Calls `body(range)` on disjoint ranges covering 0..<count; runs inline when the work is small.
    @inline(__always)
    static func run(_ count: Int, minimumChunk: Int = 1, _ body: (Range<Int>) -> Void) {
        runIndexed(count, workers: UNetThreading.threads, minimumChunk: minimumChunk) { range, _ in body(range) }
    }

    /// Like `run`, also passing the chunk's worker index (0..<workers), for per-worker scratch memory:
    /// callers size that memory with the same `workers` they pass here.
    @inline(__always)
    static func runIndexed(_ count: Int, workers: Int, minimumChunk: Int = 1, _ body: (Range<Int>, Int) -> Void) {
        if workers <= 1 || count < 2 * minimumChunk || count < 2 {
            if count > 0 { body(0..<count, 0) }
            return
        }
        let chunks = min(workers, count / max(minimumChunk, 1))
        withoutActuallyEscaping(body) { body in
            let box = UncheckedSendableBox(body)
            DispatchQueue.concurrentPerform(iterations: chunks) { i in
                let lo = count * i / chunks, hi = count * (i + 1) / chunks
                if hi > lo { box.value(lo..<hi, i) }
            }
        }
    }
}

extension ParallelLoop {
    /// Calls `body(item, worker)` for every item in 0..<count, the workers taking the next item as they
    /// become free (so a worker slowed by another process on its core takes fewer items). Per-worker
    /// memory is indexed by `worker` ∈ 0..<workers.
    static func runDynamic(_ count: Int, workers: Int, _ body: (Int, Int) -> Void) {
        if workers <= 1 || count < 2 {
            for i in 0..<count { body(i, 0) }
            return
        }
        let next = NextItem()
        withoutActuallyEscaping(body) { body in
            let box = UncheckedSendableBox(body)
            DispatchQueue.concurrentPerform(iterations: min(workers, count)) { w in
                while true {
                    let i = next.value.add(1, ordering: .relaxed).oldValue
                    if i >= count { break }
                    box.value(i, w)
                }
            }
        }
    }
}

/// The shared item counter of `runDynamic`.
private final class NextItem: Sendable {
    let value = Atomic<Int>(0)
}

/// Carries a loop body into concurrentPerform. Invariant that makes this sound: every ParallelLoop body
/// writes only the elements of its own index range (or its own worker's scratch), and concurrentPerform
/// returns after all chunks finish, so no memory is shared mutably between the chunks.
private struct UncheckedSendableBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
