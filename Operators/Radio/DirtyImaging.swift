// Dirty beam and dirty image, the derived products of a UV grid (DESIGN §3
// "UV masking"; paper 000 Fig. 1):
//
//   dirty beam   B = F⁻¹[W] / ΣW          (peak 1 at the phase centre)
//   dirty image  D = F⁻¹[W ⊙ V] / ΣW
//
// with W the imaging weights and V the gridded visibilities on the full padded
// M×M plane (both Hermitian halves). On the half-plane storage of UVGrid this is
// D(d) = Re Σ_c W_c V_c e^{+2πi f_c·d/M} / Σ_c W_c (sums over stored cells; the
// mirror cells double numerator and denominator alike), i.e. the UV operator's
// back-projection without the primary beam. Images are N×N, `[y][x]`, phase
// centre on pixel (N/2, N/2); the padded grid makes D the linear convolution of
// the (beam-weighted) sky with B, with no wrap-around.
//
// `fullPlaneDirtyImage` is an independent construction used as a check: it grids
// every sample and its mirror separately onto the full complex plane and applies
// a complex inverse FFT; its imaginary part measures how Hermitian the gridding is.

import CFFTW
import Foundation
import TweedieCore

extension UVGrid {
    /// The dirty beam on the N×N image (peak 1 at (N/2, N/2)).
    public func dirtyBeam() throws -> [Float] {
        let op = try UVSamplingOperator(grid: self)
        var z = [Float](repeating: 0, count: 2 * cellCount)
        for c in 0..<cellCount { z[2 * c] = Float(imagingWeight[c]) }
        return op.backProjectNormalised(z, weightSum: imagingWeightSum)
    }

    /// The dirty beam on the whole padded M×M grid (M = 2N), peak 1 on pixel (M/2, M/2) = (N, N):
    /// B at every offset −N…N−1, so it can be shifted to any pixel of the N×N image (Högbom CLEAN).
    /// The dirty image is exactly Σ_q x(q) B(p − q) with this B (the M-periodic beam, no wrap inside).
    public func paddedDirtyBeam() throws -> [Float] {
        let op = try UVSamplingOperator(grid: self)
        var z = [Float](repeating: 0, count: 2 * cellCount)
        for c in 0..<cellCount { z[2 * c] = Float(imagingWeight[c]) }
        let m = gridSize
        var full = [Float](repeating: 0, count: m * m)
        op.paddedFFT.withWorkspace { buffers in
            z.withUnsafeBufferPointer { src in
                full.withUnsafeMutableBufferPointer { dst in
                    op.backProjectPadded(src.baseAddress!, into: dst.baseAddress!, buffers: buffers)
                }
            }
        }
        let scale = Float(1 / imagingWeightSum)
        var out = [Float](repeating: 0, count: m * m)
        for y in 0..<m {
            for x in 0..<m { out[y * m + x] = scale * full[Self.wrap(y - m / 2, m) * m + Self.wrap(x - m / 2, m)] }
        }
        return out
    }

    /// The dirty image of the gridded data (throws for coverage-only grids).
    public func dirtyImage() throws -> [Float] {
        guard hasVisibilities else {
            throw TweedieError.invalidInput(what: "dirty image (\(origin))",
                                            problem: "the uv grid has coverage only, no visibilities")
        }
        var z = [Float](repeating: 0, count: 2 * cellCount)
        for c in 0..<cellCount {
            let w = Float(imagingWeight[c])
            z[2 * c] = w * real[c]; z[2 * c + 1] = w * imag[c]
        }
        return try UVSamplingOperator(grid: self).backProjectNormalised(z, weightSum: imagingWeightSum)
    }

    /// The dirty image of visibilities `vis` on this grid's cells (K interleaved (re, im),
    /// e.g. one plane of a UV operator's output), with this grid's imaging weights.
    public func dirtyImage(of vis: [Float]) throws -> [Float] {
        guard vis.count == 2 * cellCount else {
            throw TweedieError.shapeMismatch(what: "visibilities for the dirty image",
                                             expected: "\(2 * cellCount) values (\(cellCount) cells × re, im)", got: "\(vis.count)")
        }
        var z = [Float](repeating: 0, count: 2 * cellCount)
        for c in 0..<cellCount {
            let w = Float(imagingWeight[c])
            z[2 * c] = w * vis[2 * c]; z[2 * c + 1] = w * vis[2 * c + 1]
        }
        return try UVSamplingOperator(grid: self).backProjectNormalised(z, weightSum: imagingWeightSum)
    }

    /// Independent full-plane construction of the dirty image (complex inverse FFT of the
    /// M×M plane gridded sample by sample, mirrors included): real and imaginary parts, N×N.
    /// With `samples.hasVisibilities == false` it is the dirty beam.
    public func fullPlaneDirtyImage(samples s: UVSamples) -> (real: [Float], imag: [Float]) {
        let m = gridSize, n = imageSize
        var wSum = [Double](repeating: 0, count: m * m)
        var nat = [Double](repeating: 0, count: m * m)
        var vRe = [Double](repeating: 0, count: m * m), vIm = [Double](repeating: 0, count: m * m)
        for k in 0..<s.count where sampleImagingWeight[k] > 0 {
            let cx = Int((-s.u[k] / cellWavelengths).rounded()), cy = Int((s.v[k] / cellWavelengths).rounded())
            let re = s.hasVisibilities ? Double(s.real[k]) : 1, im = s.hasVisibilities ? Double(s.imag[k]) : 0
            for (x, y, sgn) in [(cx, cy, 1.0), (-cx, -cy, -1.0)] {
                let i = Self.wrap(y, m) * m + Self.wrap(x, m)
                wSum[i] += sampleImagingWeight[k]
                nat[i] += s.weight[k]
                vRe[i] += s.weight[k] * re; vIm[i] += s.weight[k] * sgn * im
            }
        }
        var plane = [Float](repeating: 0, count: 2 * m * m)
        var total = 0.0
        for i in 0..<(m * m) {
            total += wSum[i]
            plane[2 * i] = nat[i] > 0 ? Float(wSum[i] * vRe[i] / nat[i]) : 0
            plane[2 * i + 1] = nat[i] > 0 ? Float(wSum[i] * vIm[i] / nat[i]) : 0
        }
        let f = ComplexFFT2D.shared(height: m, width: m).transform(plane, forward: false)
        var re = [Float](repeating: 0, count: n * n), im = [Float](repeating: 0, count: n * n)
        for y in 0..<n {
            for x in 0..<n {
                let i = Self.wrap(y - n / 2, m) * m + Self.wrap(x - n / 2, m)
                re[y * n + x] = Float(Double(f[2 * i]) / total)
                im[y * n + x] = Float(Double(f[2 * i + 1]) / total)
            }
        }
        return (re, im)
    }
}

extension UVSamplingOperator {
    /// Re Σ_c z_c e^{+iθ_c} / weightSum on the N×N image, without the primary beam.
    func backProjectNormalised(_ z: [Float], weightSum: Double) -> [Float] {
        let n = grid.imageSize
        var out = [Float](repeating: 0, count: n * n)
        paddedFFT.withWorkspace { buffers in
            z.withUnsafeBufferPointer { src in
                out.withUnsafeMutableBufferPointer { dst in
                    backProjectPlane(src.baseAddress!, into: dst.baseAddress!, buffers: buffers, beam: false)
                }
            }
        }
        let scale = Float(1 / weightSum)
        for i in 0..<out.count { out[i] *= scale }
        return out
    }
}

/// Measurements on beam and dirty images.
public enum BeamMeasurement {
    /// Main-lobe full width at half maximum along x and along y through pixel (cx, cy),
    /// in pixels: the half-maximum crossings on each side, linearly interpolated.
    public static func mainLobeFWHM(_ image: [Float], size n: Int, centre: (x: Int, y: Int)? = nil) -> (x: Double, y: Double) {
        let c = centre ?? (n / 2, n / 2)
        let peak = Double(image[c.y * n + c.x])
        func width(_ value: (Int) -> Double?) -> Double {
            var total = 0.0
            for step in [1, -1] {
                var i = 0
                while let next = value(i + step), next > 0.5 * peak { i += step }
                guard let a = value(i), let b = value(i + step) else { return .nan }
                total += Double(abs(i)) + (a - 0.5 * peak) / (a - b)
            }
            return total
        }
        let wx = width { k in (0..<n).contains(c.x + k) ? Double(image[c.y * n + c.x + k]) : nil }
        let wy = width { k in (0..<n).contains(c.y + k) ? Double(image[(c.y + k) * n + c.x]) : nil }
        return (wx, wy)
    }

    /// The position (x, y) and value of the largest pixel.
    public static func peak(_ image: [Float], size n: Int) -> (x: Int, y: Int, value: Float) {
        var best = 0
        for i in 1..<image.count where image[i] > image[best] { best = i }
        return (best % n, best / n, image[best])
    }
}
