// Per-sample random streams (DESIGN §2 "Randomness"): the normals of sample k
// depend only on (seed, k) — identical drawn alone, in a batch of 7, and on
// several threads at once; different k (or seeds) give different streams; a saved
// generator state put back into a fresh stream continues the original exactly.
import Foundation
import Testing
@testable import TweedieCore

@Suite struct RandomnessTests {
    let seed: UInt64 = 20240607
    let count = 1000

    @Test func sampleKIsIdenticalAloneInABatchAndConcurrently() {
        let k = 4
        let alone = SampleStream(seed: seed, index: k).normals(count)

        // A batch of 7: streams for indices 0..<7 drawn interleaved, value by value.
        let streams = (0..<7).map { SampleStream(seed: seed, index: $0) }
        var batch = Array(repeating: [Float](), count: 7)
        for _ in 0..<count {
            for j in 0..<7 { batch[j].append(Float(streams[j].normal())) }
        }
        #expect(batch[k] == alone)

        // Concurrently: each thread draws its own index's stream.
        let slots = Slots(7)
        DispatchQueue.concurrentPerform(iterations: 7) { j in
            slots.set(j, SampleStream(seed: seed, index: j).normals(count))
        }
        #expect(slots.get(k) == alone)
        for j in 0..<7 { #expect(slots.get(j) == batch[j]) }
    }

    @Test func differentIndicesAndSeedsGiveDifferentStreams() {
        let a = SampleStream(seed: seed, index: 0).normals(count)
        let b = SampleStream(seed: seed, index: 1).normals(count)
        let c = SampleStream(seed: seed + 1, index: 0).normals(count)
        #expect(a != b && a != c && b != c)
        // Not merely shifted copies: the streams are uncorrelated (|r| < 4/√n).
        var sab = 0.0, saa = 0.0, sbb = 0.0
        for i in 0..<count {
            sab += Double(a[i]) * Double(b[i]); saa += Double(a[i] * a[i]); sbb += Double(b[i] * b[i])
        }
        #expect(abs(sab / (saa * sbb).squareRoot()) < 4 / Double(count).squareRoot())
        // And they look standard normal.
        let mean = a.reduce(0.0) { $0 + Double($1) } / Double(count)
        #expect(abs(mean) < 4 / Double(count).squareRoot())
        #expect(abs(saa / Double(count) - 1) < 0.15)
    }

    @Test func savedStateContinuesTheStream() throws {
        let a = SampleStream(seed: seed, index: 3)
        _ = a.normals(17); _ = a.uniform()
        let state = a.stateBytes()
        let next = a.normals(50) + [Float(a.uniform())]
        // A fresh stream of another index, given the state, draws what `a` drew after the save.
        let b = SampleStream(seed: seed + 1, index: 9)
        try b.restoreState(state)
        #expect(b.normals(50) + [Float(b.uniform())] == next)
        // A state of the wrong size is refused.
        #expect(throws: TweedieError.self) { try b.restoreState(Array(state.dropLast())) }
    }
}

private final class Slots: @unchecked Sendable {
    private let lock = NSLock()
    private var v: [[Float]]
    init(_ n: Int) { v = Array(repeating: [], count: n) }
    func set(_ i: Int, _ x: [Float]) { lock.lock(); v[i] = x; lock.unlock() }
    func get(_ i: Int) -> [Float] { lock.lock(); defer { lock.unlock() }; return v[i] }
}
