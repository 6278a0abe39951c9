// Complex 2-D FFTs through FFTW (single precision), the c2c companion of `RealFFT2D`.
//
// Conventions (as FFTPlanCache.swift): a complex plane is row-major [y][x], x fastest,
// h × w values stored as interleaved (re, im) Float pairs; forward is
// e^{−2πi(ky·y/h + kx·x/w)}, backward e^{+2πi…}, both UNNORMALISED (FFTW's
// convention): backward(forward(z)) = h·w·z.
//
// FFTW rules (PLATFORM.md): the two plans of a size are made once, under
// `FFTWPlanner.withLock`, on scratch buffers of their own (FFTW_MEASURE overwrites
// them), with the process's plan rigor (`FFTPlanRigor.processDefault`), and kept
// for the life of the process. Transforms run in place through the new-array
// interface (fftwf_execute_dft, thread-safe) on a buffer allocated with
// fftwf_alloc_complex for each call, so every call has the alignment the plans
// were made for and concurrent callers never share memory.

import CFFTW
import Foundation

/// The forward and backward in-place complex plans of one h × w size.
///
/// Invariant for `@unchecked Sendable`: the plans are immutable after creation and only
/// executed through the new-array interface on buffers owned by the calling thread.
public final class ComplexFFT2D: @unchecked Sendable {
    public let height: Int
    public let width: Int
    private let forwardPlan: fftwf_plan
    private let backwardPlan: fftwf_plan

    private static let cache = FFTSizeCache<ComplexFFT2D>()

    /// The shared plans for an h × w complex transform, created on first use.
    public static func shared(height: Int, width: Int) -> ComplexFFT2D {
        cache.plans(height: height, width: width) { ComplexFFT2D(height: $0, width: $1, rigor: FFTPlanRigor.processDefault) }
    }

    private init(height: Int, width: Int, rigor: FFTPlanRigor) {
        self.height = height
        self.width = width
        guard let scratch = fftwf_alloc_complex(height * width) else {
            fatalError("fftwf_alloc failed (out of memory)")
        }
        defer { fftwf_free(scratch) }
        let plans: (fftwf_plan?, fftwf_plan?) = FFTWPlanner.withLock {
            (fftwf_plan_dft_2d(Int32(height), Int32(width), scratch, scratch, FFTW_FORWARD, rigor.flags),
             fftwf_plan_dft_2d(Int32(height), Int32(width), scratch, scratch, FFTW_BACKWARD, rigor.flags))
        }
        guard let f = plans.0, let b = plans.1 else {
            fatalError("FFTW could not plan a \(height)×\(width) complex transform")
        }
        forwardPlan = f
        backwardPlan = b
    }

    deinit {
        FFTWPlanner.withLock {
            fftwf_destroy_plan(forwardPlan)
            fftwf_destroy_plan(backwardPlan)
        }
    }

    /// The unnormalised transform of `plane` (h·w interleaved (re, im) pairs, 2·h·w Floats).
    public func transform(_ plane: [Float], forward: Bool) -> [Float] {
        let n = height * width
        precondition(plane.count == 2 * n, "plane has \(plane.count) Floats, expected \(2 * n)")
        guard let buffer = fftwf_alloc_complex(n) else { fatalError("fftwf_alloc failed (out of memory)") }
        defer { fftwf_free(buffer) }
        let floats = UnsafeMutableRawPointer(buffer).bindMemory(to: Float.self, capacity: 2 * n)
        plane.withUnsafeBufferPointer { src in floats.update(from: src.baseAddress!, count: 2 * n) }
        fftwf_execute_dft(forward ? forwardPlan : backwardPlan, buffer, buffer)
        return Array(UnsafeBufferPointer(start: floats, count: 2 * n))
    }
}
