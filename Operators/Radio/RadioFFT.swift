// Square 2-D single-precision FFTs for the UV operator: real-to-half-complex
// (r2c), its inverse (c2r) and full complex (c2c), with a process-wide plan cache.
//
// FFTW rules (PLATFORM.md): plans are created under `FFTWPlanner.withLock` (the
// global planner lock) and never destroyed (the cache lives as long as the
// process); `fftwf_execute_dft*` on new arrays is thread-safe, so plans are
// shared and every call brings its own buffers, allocated with fftwf_malloc so
// they have the alignment the plans were made for. Plans use FFTW_ESTIMATE:
// planning is instant and nothing is overwritten while planning.
// Transforms are unnormalised: forward e^{−2πi k·n/M}, backward e^{+2πi k·n/M}.
// Layout: real M×M `[y][x]`; half-complex M × (M/2 + 1) interleaved (re, im).
//
// (Radio-local: a general FFT core for TweedieCore is written elsewhere; this
// file can move onto it when it lands.)

import CFFTW
import Foundation
import TweedieCore

/// Aligned scratch buffers for one M×M transform pair.
final class RadioFFTBuffers {
    let size: Int
    /// M×M real values.
    let real: UnsafeMutablePointer<Float>
    /// M × (M/2 + 1) complex values, interleaved (re, im).
    let half: UnsafeMutablePointer<Float>

    init(size m: Int) {
        size = m
        let hc = m * (m / 2 + 1)
        real = fftwf_alloc_real(m * m)!
        half = UnsafeMutableRawPointer(fftwf_alloc_complex(hc)!).bindMemory(to: Float.self, capacity: 2 * hc)
    }
    deinit {
        fftwf_free(real)
        fftwf_free(half)
    }
    var halfComplex: UnsafeMutablePointer<fftwf_complex> {
        UnsafeMutableRawPointer(half).assumingMemoryBound(to: fftwf_complex.self)
    }
}

/// The process-wide cache of FFTW plans keyed by (kind, size).
final class RadioFFTPlans: @unchecked Sendable {
    // Invariant making @unchecked Sendable sound: `plans` is read and written
    // only under `lock`; plans themselves are immutable once created and FFTW's
    // new-array execute functions are thread-safe.
    enum Kind: Hashable { case r2c, c2r, c2cForward, c2cBackward }
    private struct Key: Hashable { var kind: Kind; var size: Int }

    static let shared = RadioFFTPlans()
    private var plans: [Key: OpaquePointer] = [:]
    private let lock = NSLock()
    private static let estimate: UInt32 = 1 << 6   // FFTW_ESTIMATE

    func plan(_ kind: Kind, size m: Int) -> OpaquePointer {
        lock.lock(); defer { lock.unlock() }
        let key = Key(kind: kind, size: m)
        if let p = plans[key] { return p }
        let p: OpaquePointer = FFTWPlanner.withLock {
            let n = Int32(m)
            switch kind {
            case .r2c, .c2r:
                let b = RadioFFTBuffers(size: m)
                return kind == .r2c
                    ? fftwf_plan_dft_r2c_2d(n, n, b.real, b.halfComplex, Self.estimate)!
                    : fftwf_plan_dft_c2r_2d(n, n, b.halfComplex, b.real, Self.estimate)!
            case .c2cForward, .c2cBackward:
                let a = fftwf_alloc_complex(m * m)!
                defer { fftwf_free(a) }
                return fftwf_plan_dft_2d(n, n, a, a, kind == .c2cForward ? -1 : 1, Self.estimate)!
            }
        }
        plans[key] = p
        return p
    }

    /// r2c of `buffers.real` into `buffers.half`.
    func forward(_ b: RadioFFTBuffers) {
        fftwf_execute_dft_r2c(plan(.r2c, size: b.size), b.real, b.halfComplex)
    }
    /// c2r of `buffers.half` into `buffers.real` (destroys `half`).
    func backward(_ b: RadioFFTBuffers) {
        fftwf_execute_dft_c2r(plan(.c2r, size: b.size), b.halfComplex, b.real)
    }
    /// In-place complex transform of M×M interleaved values (allocated with fftwf_alloc_complex).
    func complex(_ data: UnsafeMutablePointer<fftwf_complex>, size m: Int, forward: Bool) {
        let p = plan(forward ? .c2cForward : .c2cBackward, size: m)
        fftwf_execute_dft(p, data, data)
    }
}
