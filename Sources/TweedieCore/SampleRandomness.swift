// Per-sample random streams (DESIGN §2, "Randomness").
//
// Sample k of a run with seed s draws every random number it needs from its own
// GSL Mersenne-Twister stream (gsl_rng_mt19937), seeded with a 64-bit hash of
// (s, k) (SplitMix64 finaliser over both words; Steele, Lea & Flood 2014), and
// Gaussian variates from GSL's ziggurat (gsl_ran_gaussian_ziggurat). The
// stream depends only on (s, k): sample k is bit-identical whether it is drawn
// alone, in a batch of any size, on any thread, or after a resume.

@preconcurrency import CGSL

/// SplitMix64's output function: a bijective 64-bit mixer.
@inlinable
public func splitMix64(_ z0: UInt64) -> UInt64 {
    var z = z0 &+ 0x9E37_79B9_7F4A_7C15
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
}

/// The GSL seed of stream (seed, index): both words mixed, never 0 (mt19937 maps 0 to its default seed).
public func streamSeed(seed: UInt64, index: UInt64) -> UInt64 {
    let s = splitMix64(splitMix64(seed) ^ (index &* 0xD1B5_4A32_D192_ED03))
    return s == 0 ? 0x5DEE_CE66_D : s
}

/// An independent normal / uniform stream owned by one sample. Not thread-safe:
/// one stream per sample, used by one thread at a time (it may move between threads).
public final class SampleStream: @unchecked Sendable {
    // Invariant for @unchecked Sendable: the gsl_rng is only touched through this
    // object's methods, and a stream is used by one thread at a time.
    private let rng: UnsafeMutablePointer<gsl_rng>
    public let seed: UInt64
    public let index: Int

    public init(seed: UInt64, index: Int) {
        GSL.configure()
        guard let r = gsl_rng_alloc(gsl_rng_mt19937) else { fatalError("gsl_rng_alloc failed (out of memory)") }
        rng = r
        self.seed = seed
        self.index = index
        gsl_rng_set(rng, UInt(streamSeed(seed: seed, index: UInt64(index))))
    }
    deinit { gsl_rng_free(rng) }

    /// One standard normal variate.
    @inlinable public func normal() -> Double { gaussian() }
    @usableFromInline func gaussian() -> Double { gsl_ran_gaussian_ziggurat(rng, 1.0) }

    /// Fills `buffer` with standard normal Float32 variates, in order.
    public func fillNormal(_ buffer: UnsafeMutableBufferPointer<Float>) {
        for i in buffer.indices { buffer[i] = Float(gsl_ran_gaussian_ziggurat(rng, 1.0)) }
    }
    /// `count` standard normal variates.
    public func normals(_ count: Int) -> [Float] {
        var out = [Float](repeating: 0, count: count)
        out.withUnsafeMutableBufferPointer { fillNormal($0) }
        return out
    }
    /// A uniform variate in [0, 1).
    public func uniform() -> Double { gsl_rng_uniform(rng) }
    /// A uniform integer in 0..<n.
    public func uniformInt(_ n: Int) -> Int { Int(gsl_rng_uniform_int(rng, UInt(n))) }

    /// The generator's whole state (gsl_rng_state, gsl_rng_size bytes: mt19937's 624 words and
    /// position), for checkpoints inside a long computation. Same machine and GSL build only.
    public func stateBytes() -> [UInt8] {
        let n = gsl_rng_size(rng)
        guard let p = gsl_rng_state(rng) else { return [] }
        return Array(UnsafeRawBufferPointer(start: p, count: n))
    }

    /// Puts back a state from `stateBytes()`; the stream then continues exactly where that one was.
    public func restoreState(_ bytes: [UInt8]) throws {
        let n = gsl_rng_size(rng)
        guard bytes.count == n, let p = gsl_rng_state(rng) else {
            throw TweedieError.invalidInput(what: "random stream state",
                                            problem: "has \(bytes.count) bytes, the generator needs \(n) (a checkpoint from another GSL build?); start the run again")
        }
        bytes.withUnsafeBytes { p.copyMemory(from: $0.baseAddress!, byteCount: n) }
    }
}

/// One-time GSL setup: turn off the default error handler (it calls abort());
/// callers check return codes instead.
public enum GSL {
    private static let once: Void = { _ = gsl_set_error_handler_off() }()
    public static func configure() { _ = once }
}
