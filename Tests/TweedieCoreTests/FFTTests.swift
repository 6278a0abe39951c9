// FFT plan cache, real 2-D transforms and FFT convolution, checked against
// independent code written here: a direct O(N²K²) convolution sum (true
// convolution, kernel centred on (kh/2, kw/2), zero outside the image) and a
// direct O(N⁴) DFT, both accumulated in Double.
import Foundation
import Testing
@testable import TweedieCore

/// Reproducible test values (SplitMix64 → uniform in [−1, 1)).
private func testValues(_ n: Int, seed: UInt64) -> [Float] {
    var s = seed
    return (0..<n).map { _ in
        s = splitMix64(s)
        return Float(Double(s >> 11) / Double(1 << 53) * 2 - 1)
    }
}

/// Direct linear ("same") or periodic convolution, written from the definition.
private func directConvolution(_ img: [Float], h: Int, w: Int, kernel: [Float], kh: Int, kw: Int,
                               periodic: Bool) -> [Double] {
    var out = [Double](repeating: 0, count: h * w)
    let cy = kh / 2, cx = kw / 2
    for y in 0..<h {
        for x in 0..<w {
            var acc = 0.0
            for a in 0..<kh {
                for b in 0..<kw {
                    var sy = y - (a - cy), sx = x - (b - cx)
                    if periodic {
                        sy = ((sy % h) + h) % h; sx = ((sx % w) + w) % w
                    } else if sy < 0 || sy >= h || sx < 0 || sx >= w {
                        continue
                    }
                    acc += Double(kernel[a * kw + b]) * Double(img[sy * w + sx])
                }
            }
            out[y * w + x] = acc
        }
    }
    return out
}

/// max |a − b| / max |b|.
private func relativeMaxError(_ a: [Float], _ b: [Double]) -> Double {
    var num = 0.0, den = 0.0
    for i in b.indices {
        num = max(num, abs(Double(a[i]) - b[i]))
        den = max(den, abs(b[i]))
    }
    return num / den
}

@Suite struct FFTTests {
    @Test func friendlySizes() {
        #expect(FFTSize.friendly(atLeast: 1) == 1)
        #expect(FFTSize.friendly(atLeast: 11) == 12)
        #expect(FFTSize.friendly(atLeast: 276) == 280)
        #expect(FFTSize.friendly(atLeast: 257) == 270)
        for n in 1...500 {
            let m = FFTSize.friendly(atLeast: n)
            #expect(m >= n && FFTSize.isFriendly(m))
            // Nothing friendly was skipped.
            #expect((n..<m).allSatisfy { !FFTSize.isFriendly($0) })
        }
    }

    @Test(arguments: [(kh: 5, kw: 5), (kh: 4, kw: 6), (kh: 7, kw: 2), (kh: 1, kw: 1), (kh: 9, kw: 12)])
    func linearConvolutionMatchesDirectSum(kh: Int, kw: Int) throws {
        let h = 23, w = 31  // non-square, not FFT-friendly
        let img = testValues(h * w, seed: 11)
        let kernel = testValues(kh * kw, seed: UInt64(100 + kh * 13 + kw))
        let batch = try ImageBatch(count: 1, shape: ImageShape(channels: 1, height: h, width: w), data: img)
        let got = try fftConvolve(batch, kernel: kernel, kernelHeight: kh, kernelWidth: kw)
        let want = directConvolution(img, h: h, w: w, kernel: kernel, kh: kh, kw: kw, periodic: false)
        #expect(relativeMaxError(got.data, want) < 1e-5)
    }

    @Test(arguments: [(kh: 5, kw: 3), (kh: 6, kw: 8)])
    func periodicConvolutionMatchesDirectSum(kh: Int, kw: Int) throws {
        let h = 20, w = 17
        let img = testValues(h * w, seed: 5)
        let kernel = testValues(kh * kw, seed: 77)
        let batch = try ImageBatch(count: 1, shape: ImageShape(channels: 1, height: h, width: w), data: img)
        let got = try fftConvolve(batch, kernel: kernel, kernelHeight: kh, kernelWidth: kw, boundary: .periodic)
        let want = directConvolution(img, h: h, w: w, kernel: kernel, kh: kh, kw: kw, periodic: true)
        #expect(relativeMaxError(got.data, want) < 1e-5)
    }

    @Test func convolutionIsNotCorrelation() throws {
        // A delta at (5, 7) convolved with an asymmetric kernel reproduces the kernel
        // unflipped, its centre (kh/2, kw/2) landing on the delta.
        let h = 16, w = 18, kh = 3, kw = 4
        var img = [Float](repeating: 0, count: h * w)
        img[5 * w + 7] = 1
        let kernel: [Float] = (0..<(kh * kw)).map { Float($0 + 1) }
        let batch = try ImageBatch(count: 1, shape: ImageShape(channels: 1, height: h, width: w), data: img)
        let out = try fftConvolve(batch, kernel: kernel, kernelHeight: kh, kernelWidth: kw)
        for a in 0..<kh {
            for b in 0..<kw {
                let v = out.data[(5 + a - kh / 2) * w + (7 + b - kw / 2)]
                #expect(abs(v - kernel[a * kw + b]) < 1e-4)
            }
        }
    }

    @Test func adjointIsCorrelation() throws {
        let h = 19, w = 24, kh = 6, kw = 5
        let conv = try FFTConvolution(kernel: testValues(kh * kw, seed: 3), kernelHeight: kh, kernelWidth: kw,
                                      imageHeight: h, imageWidth: w)
        let u = try ImageBatch(count: 1, shape: ImageShape(channels: 1, height: h, width: w),
                               data: testValues(h * w, seed: 8))
        let v = try ImageBatch(count: 1, shape: ImageShape(channels: 1, height: h, width: w),
                               data: testValues(h * w, seed: 9))
        let au = try conv.apply(to: u), atv = try conv.apply(to: v, adjoint: true)
        var lhs = 0.0, rhs = 0.0
        for i in 0..<(h * w) {
            lhs += Double(au.data[i]) * Double(v.data[i])
            rhs += Double(u.data[i]) * Double(atv.data[i])
        }
        #expect(abs(lhs - rhs) / max(abs(lhs), abs(rhs)) < 1e-5)
    }

    @Test func forwardMatchesDirectDFTAndRoundTrips() {
        let h = 6, w = 9
        let x = testValues(h * w, seed: 21)
        let fft = RealFFT2D.shared(height: h, width: w)
        let spec = fft.forward(x)
        #expect(spec.count == 2 * h * (w / 2 + 1))
        // Direct DFT with the e^{−2πi…} sign.
        var maxErr = 0.0
        for ky in 0..<h {
            for kx in 0...(w / 2) {
                var re = 0.0, im = 0.0
                for y in 0..<h {
                    for xx in 0..<w {
                        let ph = -2 * Double.pi * (Double(ky * y) / Double(h) + Double(kx * xx) / Double(w))
                        re += Double(x[y * w + xx]) * cos(ph)
                        im += Double(x[y * w + xx]) * sin(ph)
                    }
                }
                let j = 2 * (ky * (w / 2 + 1) + kx)
                maxErr = max(maxErr, abs(Double(spec[j]) - re), abs(Double(spec[j + 1]) - im))
            }
        }
        #expect(maxErr < 1e-4)
        let back = fft.inverse(spec)
        let backN = fft.inverse(spec, normalized: true)
        for i in x.indices {
            #expect(abs(back[i] - Float(h * w) * x[i]) < 1e-4)  // unnormalised inverse
            #expect(abs(backN[i] - x[i]) < 1e-5)
        }
    }

    /// The complex transform against a direct O(N²) DFT in Double, both signs, and its
    /// unnormalised round trip (backward(forward(z)) = h·w·z).
    @Test func complexTransformMatchesDirectDFT() {
        let h = 5, w = 8
        let z = testValues(2 * h * w, seed: 23)
        let fft = ComplexFFT2D.shared(height: h, width: w)
        for forward in [true, false] {
            let spec = fft.transform(z, forward: forward)
            let sign = forward ? -1.0 : 1.0
            var maxErr = 0.0
            for ky in 0..<h {
                for kx in 0..<w {
                    var re = 0.0, im = 0.0
                    for y in 0..<h {
                        for x in 0..<w {
                            let ph = sign * 2 * Double.pi * (Double(ky * y) / Double(h) + Double(kx * x) / Double(w))
                            let a = Double(z[2 * (y * w + x)]), b = Double(z[2 * (y * w + x) + 1])
                            re += a * cos(ph) - b * sin(ph)
                            im += a * sin(ph) + b * cos(ph)
                        }
                    }
                    let j = 2 * (ky * w + kx)
                    maxErr = max(maxErr, abs(Double(spec[j]) - re), abs(Double(spec[j + 1]) - im))
                }
            }
            #expect(maxErr < 1e-4, "forward \(forward): max |FFT − DFT| \(maxErr)")
        }
        let back = fft.transform(fft.transform(z, forward: true), forward: false)
        for i in z.indices { #expect(abs(back[i] - Float(h * w) * z[i]) < 1e-4) }
    }

    @Test func concurrentUseGivesIdenticalResults() throws {
        let h = 40, w = 33, kh = 7, kw = 8
        let img = testValues(h * w, seed: 99)
        let kernel = testValues(kh * kw, seed: 98)
        let batch = try ImageBatch(count: 1, shape: ImageShape(channels: 1, height: h, width: w), data: img)
        let reference = try fftConvolve(batch, kernel: kernel, kernelHeight: kh, kernelWidth: kw).data
        let threads = 8
        let results = ResultSlots(threads)
        // Each thread makes its own convolution (plans from the shared cache, new
        // kernel spectrum, pooled workspaces) and runs it repeatedly.
        DispatchQueue.concurrentPerform(iterations: threads) { t in
            var last: [Float] = []
            for _ in 0..<5 {
                last = (try? fftConvolve(batch, kernel: kernel, kernelHeight: kh, kernelWidth: kw).data) ?? []
            }
            results.set(t, last)
        }
        for t in 0..<threads { #expect(results.get(t) == reference) }
    }
}

/// Thread-safe result slots for the concurrency test.
private final class ResultSlots: @unchecked Sendable {
    private let lock = NSLock()
    private var slots: [[Float]]
    init(_ n: Int) { slots = Array(repeating: [], count: n) }
    func set(_ i: Int, _ v: [Float]) { lock.lock(); slots[i] = v; lock.unlock() }
    func get(_ i: Int) -> [Float] { lock.lock(); defer { lock.unlock() }; return slots[i] }
}
