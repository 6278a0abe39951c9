// Double-precision 2-D real FFTs for the analytic priors (DESIGN §4.5).
//
// The analytic priors are oracles, so they filter in Float64: FFTW's double
// r2c / c2r transforms of one h×w plane. This is deliberately a small private
// plan cache inside Priors/Analytic, separate from the Float32 FFT core that the
// forward operators use.
//
// Conventions:
// - a plane is row-major `[y][x]`, x fastest (DESIGN §2); FFTW's 2-D r2c of an
//   h×w plane gives the half spectrum `[ky][kx]`, ky ∈ 0..<h, kx ∈ 0...w/2,
//   stored here as interleaved (re, im) Doubles, h·(w/2+1) complex values;
// - forward transform: X(k) = Σ_r x(r) e^{−2πi k·r}, inverse unnormalised
//   (FFTW's convention), so a round trip multiplies by N = h·w;
// - frequency of index j on an axis of length n, in cycles per pixel, is
//   numpy's fftfreq: j/n for j < (n+1)/2, else (j−n)/n (the half spectrum's
//   last x index w/2 is taken as +1/2; only |k| matters to the priors).
//
// Plans are made with FFTW_ESTIMATE | FFTW_UNALIGNED under the global planner
// lock (`FFTWPlanner.withLock`) and executed with the new-array interface
// (fftw_execute_dft_r2c / _c2r), which is thread-safe and — with UNALIGNED —
// valid on any caller buffer. Plans live as long as the process (one per grid
// size; the cache is tiny).

import CFFTW
import Foundation
import TweedieCore

/// Frequency (cycles per pixel) of FFT index `j` on an axis of length `n` (numpy's fftfreq).
@inlinable
func fftFrequency(_ j: Int, _ n: Int) -> Double {
    j < (n + 1) / 2 ? Double(j) / Double(n) : Double(j - n) / Double(n)
}

/// An r2c / c2r plan pair for one h×w plane, double precision.
final class RealFFT2D: @unchecked Sendable {
    // Invariant for @unchecked Sendable: the plans are immutable after init and only
    // executed through FFTW's new-array functions, which FFTW documents as thread-safe.
    let height: Int
    let width: Int
    /// Number of complex values along x in the half spectrum (w/2 + 1).
    let halfWidth: Int
    private let forwardPlan: fftw_plan
    private let inversePlan: fftw_plan

    /// Real values in one plane.
    var planeCount: Int { height * width }
    /// Complex values in one half spectrum.
    var spectrumCount: Int { height * halfWidth }

    private init(height: Int, width: Int) {
        self.height = height
        self.width = width
        self.halfWidth = width / 2 + 1
        let flags = UInt32(FFTW_ESTIMATE) | UInt32(FFTW_UNALIGNED)
        let plans: (fftw_plan, fftw_plan) = FFTWPlanner.withLock {
            // Planning arrays only; ESTIMATE does not touch them and new-array execution never uses them.
            let real = fftw_alloc_real(height * width)!
            let cplx = fftw_alloc_complex(height * (width / 2 + 1))!
            defer { fftw_free(real); fftw_free(cplx) }
            guard let f = fftw_plan_dft_r2c_2d(Int32(height), Int32(width), real, cplx, flags),
                  let i = fftw_plan_dft_c2r_2d(Int32(height), Int32(width), cplx, real, flags)
            else { fatalError("FFTW could not plan a \(height)×\(width) double transform (out of memory)") }
            return (f, i)
        }
        forwardPlan = plans.0
        inversePlan = plans.1
    }

    private static let cacheLock = NSLock()
    nonisolated(unsafe) private static var cache: [Int: RealFFT2D] = [:]  // guarded by cacheLock

    /// The shared plan pair for an h×w plane.
    static func shared(height: Int, width: Int) -> RealFFT2D {
        precondition(height > 0 && width > 0 && height < (1 << 20) && width < (1 << 20))
        let key = height << 20 | width
        cacheLock.lock(); defer { cacheLock.unlock() }
        if let p = cache[key] { return p }
        let p = RealFFT2D(height: height, width: width)
        cache[key] = p
        return p
    }

    /// Half spectrum of one real plane: `input` has h·w values, `spectrum` 2·h·(w/2+1) (re, im).
    func forward(_ input: UnsafePointer<Double>, _ spectrum: UnsafeMutablePointer<Double>) {
        spectrum.withMemoryRebound(to: fftw_complex.self, capacity: spectrumCount) { out in
            fftw_execute_dft_r2c(forwardPlan, UnsafeMutablePointer(mutating: input), out)
        }
    }

    /// Unnormalised inverse of a half spectrum (multiplies a round trip by h·w).
    /// `spectrum` is destroyed (FFTW's c2r overwrites its input).
    func inverse(_ spectrum: UnsafeMutablePointer<Double>, _ output: UnsafeMutablePointer<Double>) {
        spectrum.withMemoryRebound(to: fftw_complex.self, capacity: spectrumCount) { inp in
            fftw_execute_dft_c2r(inversePlan, inp, output)
        }
    }

    /// output = F⁻¹[ filter ⊙ spectrum ] / N for a real half-spectrum `filter` (h·(w/2+1) values,
    /// symmetric under k → −k so the result is real). `scratch` holds 2·h·(w/2+1) Doubles and is
    /// overwritten; `spectrum` is left intact.
    func applyFilter(_ filter: UnsafePointer<Double>, to spectrum: UnsafePointer<Double>,
                     scratch: UnsafeMutablePointer<Double>, output: UnsafeMutablePointer<Double>) {
        let inv = 1.0 / Double(planeCount)
        for j in 0..<spectrumCount {
            let f = filter[j] * inv
            scratch[2 * j] = spectrum[2 * j] * f
            scratch[2 * j + 1] = spectrum[2 * j + 1] * f
        }
        inverse(scratch, output)
    }

    /// Frequencies (ky, kx) in cycles per pixel of half-spectrum entry j.
    func frequencies(ofHalfIndex j: Int) -> (ky: Double, kx: Double) {
        (fftFrequency(j / halfWidth, height), Double(j % halfWidth) / Double(width))
    }
}
