// Real 2-D FFTs through FFTW (single precision) with a thread-safe plan cache.
//
// Conventions:
// - a real plane is row-major [y][x] (x fastest), height h × width w;
// - its spectrum is FFTW's r2c half spectrum, h × (w/2 + 1) complex values
//   stored as interleaved (re, im) Float pairs, row-major;
// - forward is e^{−2πi(ky·y/h + kx·x/w)}, inverse is e^{+2πi…} and
//   UNNORMALISED (FFTW's convention): inverse(forward(x)) = h·w·x.
//
// FFTW rules followed here (PLATFORM.md): plans are created and destroyed only
// under `FFTWPlanner.withLock`; planning (FFTW_MEASURE) overwrites its arrays,
// so it runs on scratch buffers of its own; only fftwf_execute_dft_r2c / _c2r
// run concurrently, each on its own workspace (buffers from fftwf_alloc_*,
// so every workspace has the SIMD alignment the plan was made with); a c2r
// transform destroys its input, so callers copy spectra into a workspace first.
// A plan pair for a size is made once and kept for the life of the process;
// workspaces are pooled and reused, not reallocated per call.

import CFFTW
import Foundation

/// How hard FFTW searches for a fast plan (FFTW_ESTIMATE / FFTW_MEASURE).
public enum FFTPlanRigor: String, Sendable, CaseIterable {
    case estimate
    case measure

    var flags: UInt32 {
        switch self {
        case .estimate: return UInt32(FFTW_ESTIMATE)
        case .measure: return UInt32(FFTW_MEASURE)
        }
    }

    /// The rigor used for new plans: `EngineSettings.process.fftwRigor` (TWEEDIE_FFTW_RIGOR;
    /// default estimate, deterministic across processes — EngineSettings.swift).
    public static var processDefault: FFTPlanRigor { EngineSettings.process.fftwRigor }
}

/// The process-wide cache of one plan object per 2-D size (plans live as long as the process).
///
/// Invariant for `@unchecked Sendable`: `cache` is read and written only under `lock`.
final class FFTSizeCache<Plans: AnyObject>: @unchecked Sendable {
    private struct Size: Hashable { let h: Int, w: Int }
    private let lock = NSLock()
    private var cache: [Size: Plans] = [:]

    /// The plans for h × w, made by `make(h, w)` on first use.
    func plans(height: Int, width: Int, make: (Int, Int) -> Plans) -> Plans {
        precondition(height >= 1 && width >= 1, "FFT size must be positive")
        let key = Size(h: height, w: width)
        lock.lock(); defer { lock.unlock() }
        if let p = cache[key] { return p }
        let p = make(height, width)
        cache[key] = p
        return p
    }
}

/// Aligned buffers for one transform of a given size: a real plane (h·w Floats)
/// and a half spectrum (h·(w/2+1) complex values = 2·h·(w/2+1) Floats).
/// Owns its memory (freed in deinit). Not thread-safe: one user at a time,
/// enforced by `RealFFT2D.withWorkspace`.
public final class FFTWorkspace {
    public let real: UnsafeMutableBufferPointer<Float>
    /// Interleaved (re, im) pairs.
    public let spectrum: UnsafeMutableBufferPointer<Float>

    init(realCount: Int, complexCount: Int) {
        guard let r = fftwf_alloc_real(realCount), let c = fftwf_alloc_real(2 * complexCount) else {
            fatalError("fftwf_alloc failed (out of memory)")
        }
        real = UnsafeMutableBufferPointer(start: r, count: realCount)
        spectrum = UnsafeMutableBufferPointer(start: c, count: 2 * complexCount)
        real.initialize(repeating: 0)
        spectrum.initialize(repeating: 0)
    }
    deinit {
        fftwf_free(real.baseAddress)
        fftwf_free(spectrum.baseAddress)
    }

    var complexPointer: UnsafeMutablePointer<fftwf_complex> {
        UnsafeMutableRawPointer(spectrum.baseAddress!).assumingMemoryBound(to: fftwf_complex.self)
    }
}

/// The forward (r2c) and inverse (c2r) plans of one 2-D size, plus a pool of workspaces.
///
/// Invariant for `@unchecked Sendable`: the plans are immutable after creation
/// and only executed through the new-array interface (thread-safe in FFTW);
/// the workspace pool is guarded by `poolLock`; a workspace is used by one
/// caller at a time (checked out of the pool for the duration of a closure).
public final class RealFFT2D: @unchecked Sendable {
    public let height: Int
    public let width: Int
    /// Number of complex values in the half spectrum: height · (width/2 + 1).
    public let spectrumCount: Int
    private let forwardPlan: fftwf_plan
    private let inversePlan: fftwf_plan
    private let poolLock = NSLock()
    private var pool: [FFTWorkspace] = []

    // MARK: cache

    private static let cache = FFTSizeCache<RealFFT2D>()

    /// The shared plans for an h × w real transform, created on first use.
    public static func shared(height: Int, width: Int) -> RealFFT2D {
        cache.plans(height: height, width: width) { RealFFT2D(height: $0, width: $1, rigor: FFTPlanRigor.processDefault) }
    }

    private init(height: Int, width: Int, rigor: FFTPlanRigor) {
        self.height = height
        self.width = width
        self.spectrumCount = height * (width / 2 + 1)
        // Plan on scratch buffers: FFTW_MEASURE overwrites them.
        let scratch = FFTWorkspace(realCount: height * width, complexCount: spectrumCount)
        let plans: (fftwf_plan?, fftwf_plan?) = FFTWPlanner.withLock {
            let f = fftwf_plan_dft_r2c_2d(Int32(height), Int32(width), scratch.real.baseAddress,
                                          scratch.complexPointer, rigor.flags)
            let i = fftwf_plan_dft_c2r_2d(Int32(height), Int32(width), scratch.complexPointer,
                                          scratch.real.baseAddress, rigor.flags | UInt32(FFTW_DESTROY_INPUT))
            return (f, i)
        }
        guard let f = plans.0, let i = plans.1 else {
            fatalError("FFTW could not plan a \(height)×\(width) real transform")
        }
        forwardPlan = f
        inversePlan = i
        scratch.real.initialize(repeating: 0)
        pool.append(scratch)
    }

    deinit {
        FFTWPlanner.withLock {
            fftwf_destroy_plan(forwardPlan)
            fftwf_destroy_plan(inversePlan)
        }
    }

    // MARK: execution

    /// Runs `body` with a workspace of this size checked out of the pool (made if none is free).
    /// The workspace's contents on entry are unspecified.
    public func withWorkspace<T>(_ body: (FFTWorkspace) throws -> T) rethrows -> T {
        poolLock.lock()
        let ws = pool.popLast() ?? FFTWorkspace(realCount: height * width, complexCount: spectrumCount)
        poolLock.unlock()
        defer {
            poolLock.lock()
            pool.append(ws)
            poolLock.unlock()
        }
        return try body(ws)
    }

    /// workspace.real → workspace.spectrum (r2c). The real plane is preserved.
    public func forward(_ ws: FFTWorkspace) {
        precondition(ws.real.count == height * width && ws.spectrum.count == 2 * spectrumCount)
        fftwf_execute_dft_r2c(forwardPlan, ws.real.baseAddress, ws.complexPointer)
    }

    /// workspace.spectrum → workspace.real (c2r, unnormalised). Destroys the spectrum.
    public func inverse(_ ws: FFTWorkspace) {
        precondition(ws.real.count == height * width && ws.spectrum.count == 2 * spectrumCount)
        fftwf_execute_dft_c2r(inversePlan, ws.complexPointer, ws.real.baseAddress)
    }

    // MARK: array conveniences

    /// The half spectrum of a real plane (h·w values, row-major), as interleaved (re, im) pairs.
    public func forward(_ plane: [Float]) -> [Float] {
        precondition(plane.count == height * width, "plane has \(plane.count) values, expected \(height * width)")
        return withWorkspace { ws in
            _ = ws.real.update(fromContentsOf: plane)
            forward(ws)
            return Array(ws.spectrum)
        }
    }

    /// The real plane of a half spectrum (interleaved pairs), unnormalised: inverse(forward(x)) = h·w·x.
    /// Pass `normalized: true` to divide by h·w.
    public func inverse(_ spectrum: [Float], normalized: Bool = false) -> [Float] {
        precondition(spectrum.count == 2 * spectrumCount,
                     "spectrum has \(spectrum.count) Floats, expected \(2 * spectrumCount)")
        return withWorkspace { ws in
            _ = ws.spectrum.update(fromContentsOf: spectrum)
            inverse(ws)
            var out = Array(ws.real)
            if normalized {
                let s = 1 / Float(height * width)
                out.withUnsafeMutableBufferPointer { p in for i in p.indices { p[i] *= s } }
            }
            return out
        }
    }
}
