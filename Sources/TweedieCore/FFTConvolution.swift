// FFT convolution of image planes with a fixed kernel (DESIGN §2 "Convolution").
//
// Conventions:
// - true convolution (kernel flipped), never cross-correlation:
//     out[y][x] = Σ_{a,b} k[a][b] · in[y − (a − cy)][x − (b − cx)],
//   with the kernel centred on pixel (cy, cx) = (kh/2, kw/2) (integer division,
//   0-based), so odd and even kernel sizes are both legal;
// - `.linear` (default): the image is zero-padded (nothing wraps around) and the
//   result cropped to the input size ("same"); the padded transform size is the
//   smallest 2^a3^b5^c7^d ≥ n + max(c, k−1−c) per axis (`FFTSize`);
// - `.periodic`: circular convolution on the image's own grid (the kernel must
//   fit in the image);
// - the adjoint (`correlate`) multiplies by the conjugate spectrum in the same
//   padded grid, so ⟨conv(u), v⟩ = ⟨u, correlate(v)⟩ exactly up to rounding.
// The kernel spectrum (scaled by 1/(P·Q), folding in FFTW's unnormalised inverse)
// is computed once; each call checks a workspace out of the shared plan's pool.

import Foundation

/// Boundary handling of a convolution.
public enum ConvolutionBoundary: String, Sendable, CaseIterable, Codable {
    /// Zero padding; output cropped to the input size; nothing wraps around.
    case linear
    /// Circular convolution on the image grid.
    case periodic
}

/// Convolution of h × w planes with one fixed kernel, by FFT.
///
/// Invariant for `@unchecked Sendable`: all stored state is immutable after
/// `init` (the kernel spectrum buffer is written once there and only read
/// afterwards); transforms run on pooled per-call workspaces.
public final class FFTConvolution: @unchecked Sendable {
    public let imageHeight: Int
    public let imageWidth: Int
    public let kernelHeight: Int
    public let kernelWidth: Int
    public let boundary: ConvolutionBoundary
    /// Transform size (P × Q).
    public let paddedHeight: Int
    public let paddedWidth: Int
    private let fft: RealFFT2D
    /// K̂ / (P·Q), interleaved (re, im), P × (Q/2+1) complex values.
    private let kernelSpectrum: UnsafeMutableBufferPointer<Float>

    /// - Parameters:
    ///   - kernel: kh × kw values, row-major [y][x], centred on (kh/2, kw/2).
    ///   - boundary: `.linear` needs no size relation; `.periodic` needs kh ≤ h and kw ≤ w.
    public init(kernel: [Float], kernelHeight kh: Int, kernelWidth kw: Int,
                imageHeight h: Int, imageWidth w: Int, boundary: ConvolutionBoundary = .linear) throws {
        guard kh >= 1, kw >= 1, kernel.count == kh * kw else {
            throw TweedieError.shapeMismatch(what: "convolution kernel", expected: "\(kh)×\(kw) = \(kh * kw) values",
                                             got: "\(kernel.count) values")
        }
        guard h >= 1, w >= 1 else {
            throw TweedieError.invalidInput(what: "convolution image", problem: "has an empty size \(h)×\(w)")
        }
        guard kernel.allSatisfy({ $0.isFinite }) else {
            throw TweedieError.invalidInput(what: "convolution kernel", problem: "contains NaN or infinite values")
        }
        let P: Int, Q: Int
        switch boundary {
        case .linear:
            P = FFTSize.linearConvolutionLength(signal: h, kernel: kh)
            Q = FFTSize.linearConvolutionLength(signal: w, kernel: kw)
        case .periodic:
            guard kh <= h, kw <= w else {
                throw TweedieError.invalidInput(
                    what: "periodic convolution kernel",
                    problem: "is \(kh)×\(kw), larger than the \(h)×\(w) image; crop the kernel or use linear boundaries")
            }
            P = h; Q = w
        }
        imageHeight = h; imageWidth = w; kernelHeight = kh; kernelWidth = kw
        self.boundary = boundary
        paddedHeight = P; paddedWidth = Q
        fft = RealFFT2D.shared(height: P, width: Q)
        let spec = UnsafeMutableBufferPointer<Float>.allocate(capacity: 2 * fft.spectrumCount)
        kernelSpectrum = spec
        let cy = kh / 2, cx = kw / 2
        let scale = 1 / Float(P * Q)
        fft.withWorkspace { ws in
            let r = ws.real
            r.update(repeating: 0)
            // Kernel centre → origin; negative offsets wrap to the far end.
            kernel.withUnsafeBufferPointer { k in
                for a in 0..<kh {
                    let py = ((a - cy) % P + P) % P
                    for b in 0..<kw {
                        let px = ((b - cx) % Q + Q) % Q
                        r[py * Q + px] += k[a * kw + b]
                    }
                }
            }
            fft.forward(ws)
            for i in 0..<spec.count { spec[i] = ws.spectrum[i] * scale }
        }
    }

    deinit { kernelSpectrum.deallocate() }

    /// out = kernel ⊛ input for one plane (h·w values each, row-major).
    public func convolve(_ input: UnsafeBufferPointer<Float>, into output: UnsafeMutableBufferPointer<Float>) {
        run(input, output, conjugate: false)
    }

    /// The adjoint of `convolve`: out = kernel ⋆ input (correlation, i.e. convolution
    /// with the flipped kernel), for one plane.
    public func correlate(_ input: UnsafeBufferPointer<Float>, into output: UnsafeMutableBufferPointer<Float>) {
        run(input, output, conjugate: true)
    }

    /// Convolves (or, with `adjoint`, correlates) every plane of a batch with this
    /// kernel. Planes are processed concurrently.
    public func apply(to batch: ImageBatch, adjoint: Bool = false) throws -> ImageBatch {
        guard batch.shape.height == imageHeight, batch.shape.width == imageWidth else {
            throw TweedieError.shapeMismatch(what: "convolution input plane",
                                             expected: "\(imageHeight)×\(imageWidth)",
                                             got: "\(batch.shape.height)×\(batch.shape.width)")
        }
        var out = batch
        let planes = batch.count * batch.shape.channels
        let hw = imageHeight * imageWidth
        batch.data.withUnsafeBufferPointer { src in
            out.data.withUnsafeMutableBufferPointer { dst in
                let s = UnsafeBufferPointerBox(src), d = UnsafeMutableBufferPointerBox(dst)
                concurrentForEach(planes) { p in
                    let i = UnsafeBufferPointer(rebasing: s.p[(p * hw)..<((p + 1) * hw)])
                    let o = UnsafeMutableBufferPointer(rebasing: d.p[(p * hw)..<((p + 1) * hw)])
                    run(i, o, conjugate: adjoint)
                }
            }
        }
        return out
    }

    private func run(_ input: UnsafeBufferPointer<Float>, _ output: UnsafeMutableBufferPointer<Float>,
                     conjugate: Bool) {
        let h = imageHeight, w = imageWidth, Q = paddedWidth
        precondition(input.count == h * w && output.count == h * w,
                     "convolution plane must have \(h)×\(w) values")
        fft.withWorkspace { ws in
            let r = ws.real
            if Q != w || paddedHeight != h { r.update(repeating: 0) }
            for y in 0..<h {
                for x in 0..<w { r[y * Q + x] = input[y * w + x] }
            }
            fft.forward(ws)
            let c = ws.spectrum, k = kernelSpectrum
            let sign: Float = conjugate ? -1 : 1
            var j = 0
            while j < c.count {
                let ar = c[j], ai = c[j + 1]
                let br = k[j], bi = sign * k[j + 1]
                c[j] = ar * br - ai * bi
                c[j + 1] = ar * bi + ai * br
                j += 2
            }
            fft.inverse(ws)
            for y in 0..<h {
                for x in 0..<w { output[y * w + x] = r[y * Q + x] }
            }
        }
    }
}

/// Sendable carriers for buffer pointers handed to `concurrentPerform`, whose
/// iterations touch disjoint ranges (the invariant that makes this safe).
struct UnsafeBufferPointerBox: @unchecked Sendable {
    let p: UnsafeBufferPointer<Float>
    init(_ p: UnsafeBufferPointer<Float>) { self.p = p }
}
struct UnsafeMutableBufferPointerBox: @unchecked Sendable {
    let p: UnsafeMutableBufferPointer<Float>
    init(_ p: UnsafeMutableBufferPointer<Float>) { self.p = p }
}

/// Linear ("same") or periodic convolution of every plane of `batch` with
/// `kernel` (a kh × kw plane, centred on (kh/2, kw/2)). Plans are cached; for
/// repeated use with the same kernel keep an `FFTConvolution`.
public func fftConvolve(_ batch: ImageBatch, kernel: [Float], kernelHeight: Int, kernelWidth: Int,
                        boundary: ConvolutionBoundary = .linear) throws -> ImageBatch {
    let conv = try FFTConvolution(kernel: kernel, kernelHeight: kernelHeight, kernelWidth: kernelWidth,
                                  imageHeight: batch.shape.height, imageWidth: batch.shape.width,
                                  boundary: boundary)
    return try conv.apply(to: batch)
}
