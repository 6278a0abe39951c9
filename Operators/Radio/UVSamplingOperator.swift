// The radio UV sampling operator (DESIGN §3 "UV masking"; paper 000 §2, Fig. 1:
// sky × primary beam → Fourier transform → sampled on the gridded uv plane).
//
//   (A x)_c = Σ_d A_pb(d) x(d) e^{−2πi (fx_c·dx + fy_c·dy)/M},  c = 1…K sampled cells,
//
// d = (dx, dy) the pixel offset from the phase centre (N/2, N/2), A_pb the
// primary beam, M = 2N the padded grid (UVGrid.swift: nothing wraps). Cells are
// the half-plane cells of a UVGrid; each output value is one complex visibility
// stored as an interleaved (re, im) Float pair, so one output image has shape
// C × K × 2 (channels × cells × {re, im}), and the inner product is the real one
// (ForwardOperator.swift). The exact adjoint under that inner product is
//
//   (Aᵀ z)(d) = A_pb(d) · Re Σ_c z_c e^{+2πi (fx_c·dx + fy_c·dy)/M},
//
// computed with one c2r transform: cells with fx > 0 are placed as they are
// (c2r adds their Hermitian partners, giving 2 Re), cells on the fx = 0 column
// are placed with their mirrors (z at fy, z* at −fy) and the DC cell as 2 Re z,
// then the result is halved. Forward is one r2c transform of the zero-padded,
// beam-weighted image, gathered at the cells. Channels are independent planes
// sharing the coverage. Derived products (DirtyImaging.swift) use the same
// back-projection without the primary beam. The transforms run on the core's shared plans
// (`RealFFT2D`, FFTPlanCache.swift) with its pooled, FFTW-aligned workspaces.

import Foundation
import TweedieCore

/// Sky image → gridded visibilities on the sampled cells of a UVGrid.
public struct UVSamplingOperator: ForwardOperator {
    public let grid: UVGrid
    public let primaryBeam: PrimaryBeam
    public let channels: Int
    /// The primary beam on the N×N image (`[y][x]`).
    public let beamImage: [Float]
    /// Per cell: index of the cell in the half-complex r2c layout, and of its
    /// mirror on the fx = 0 column (−1 elsewhere; −2 for the DC cell).
    let halfIndex: [Int32]
    let mirrorIndex: [Int32]
    /// Per image pixel: its index in the padded, wrapped M×M array.
    let paddedIndex: [Int32]
    /// The core's shared r2c / c2r plans of the padded M×M grid (FFTPlanCache.swift);
    /// its workspaces are the scratch planes of `forwardPlane` / `backProjectPlane`.
    let paddedFFT: RealFFT2D

    public init(grid: UVGrid, primaryBeam: PrimaryBeam = .unity, channels: Int = 1) throws {
        guard channels >= 1 else {
            throw TweedieError.invalidInput(what: "UV operator channels", problem: "\(channels) must be ≥ 1")
        }
        self.grid = grid
        self.primaryBeam = primaryBeam
        self.channels = channels
        let n = grid.imageSize, m = grid.gridSize, hc = m / 2 + 1
        paddedFFT = RealFFT2D.shared(height: m, width: m)
        beamImage = primaryBeam.image(size: n, cell: grid.cell)
        var hi = [Int32](repeating: 0, count: grid.cellCount)
        var mi = [Int32](repeating: -1, count: grid.cellCount)
        for c in 0..<grid.cellCount {
            let x = Int(grid.fx[c]), y = Int(grid.fy[c])
            hi[c] = Int32(UVGrid.wrap(y, m) * hc + x)
            if x == 0 { mi[c] = y == 0 ? -2 : Int32(UVGrid.wrap(-y, m) * hc) }
        }
        halfIndex = hi; mirrorIndex = mi
        var pi = [Int32](repeating: 0, count: n * n)
        for y in 0..<n {
            for x in 0..<n { pi[y * n + x] = Int32(UVGrid.wrap(y - n / 2, m) * m + UVGrid.wrap(x - n / 2, m)) }
        }
        paddedIndex = pi
    }

    public var inputShape: ImageShape { ImageShape(channels: channels, height: grid.imageSize, width: grid.imageSize) }
    public var outputShape: ImageShape { ImageShape(channels: channels, height: grid.cellCount, width: 2) }
    public var isLinear: Bool { true }
    public var summary: String { "UV sampling: \(grid.summary), \(primaryBeam.summary)" }

    public func apply(_ x: ImageBatch) throws -> ImageBatch {
        try checkInput(x)
        // Visibilities of a sky in flux per pixel are in that flux unit (Jy/px → Jy); the unit is left unset.
        return mapPlanes(x, to: outputShape) { src, dst, buffers in
            forwardPlane(src, into: dst, buffers: buffers, beam: true)
        }
    }

    public func vjp(_ v: ImageBatch, at x: ImageBatch?) throws -> ImageBatch {
        try checkOutput(v)
        return mapPlanes(v, to: inputShape) { src, dst, buffers in
            backProjectPlane(src, into: dst, buffers: buffers, beam: true)
        }
    }

    /// A batch of `shape` (bands kept, unit unset) whose plane p is `plane` of `batch`'s plane p,
    /// one channel of one image at a time through one set of FFT buffers.
    private func mapPlanes(_ batch: ImageBatch, to shape: ImageShape,
                           _ plane: (UnsafePointer<Float>, UnsafeMutablePointer<Float>, FFTWorkspace) -> Void) -> ImageBatch {
        var out = ImageBatch(count: batch.count, shape: shape, bands: batch.bands)
        let inPlane = batch.shape.planeCount, outPlane = shape.planeCount
        paddedFFT.withWorkspace { buffers in
            batch.data.withUnsafeBufferPointer { src in
                out.data.withUnsafeMutableBufferPointer { dst in
                    for p in 0..<(batch.count * channels) {
                        plane(src.baseAddress! + p * inPlane, dst.baseAddress! + p * outPlane, buffers)
                    }
                }
            }
        }
        return out
    }

    /// One plane: (beam ×) image → padded r2c → K interleaved visibilities.
    func forwardPlane(_ image: UnsafePointer<Float>, into vis: UnsafeMutablePointer<Float>,
                      buffers b: FFTWorkspace, beam: Bool) {
        let n2 = grid.imageSize * grid.imageSize
        b.real.update(repeating: 0)
        paddedIndex.withUnsafeBufferPointer { pad in
            beamImage.withUnsafeBufferPointer { pb in
                if beam {
                    for i in 0..<n2 { b.real[Int(pad[i])] = image[i] * pb[i] }
                } else {
                    for i in 0..<n2 { b.real[Int(pad[i])] = image[i] }
                }
            }
        }
        paddedFFT.forward(b)
        halfIndex.withUnsafeBufferPointer { hi in
            for c in 0..<hi.count {
                let j = 2 * Int(hi[c])
                vis[2 * c] = b.spectrum[j]
                vis[2 * c + 1] = b.spectrum[j + 1]
            }
        }
    }

    /// One plane: K interleaved values z → Re Σ z e^{+iθ} on the N×N image (× beam if asked).
    func backProjectPlane(_ vis: UnsafePointer<Float>, into image: UnsafeMutablePointer<Float>,
                          buffers b: FFTWorkspace, beam: Bool) {
        let n2 = grid.imageSize * grid.imageSize
        backProjectToBuffer(vis, buffers: b)
        paddedIndex.withUnsafeBufferPointer { pad in
            beamImage.withUnsafeBufferPointer { pb in
                if beam {
                    for i in 0..<n2 { image[i] = 0.5 * b.real[Int(pad[i])] * pb[i] }
                } else {
                    for i in 0..<n2 { image[i] = 0.5 * b.real[Int(pad[i])] }
                }
            }
        }
    }

    /// K interleaved values z → Re Σ z e^{+iθ} on the whole padded M×M plane, wrapped
    /// layout (offset 0 at index 0), no primary beam.
    func backProjectPadded(_ vis: UnsafePointer<Float>, into plane: UnsafeMutablePointer<Float>, buffers b: FFTWorkspace) {
        let m = grid.gridSize
        backProjectToBuffer(vis, buffers: b)
        for i in 0..<(m * m) { plane[i] = 0.5 * b.real[i] }
    }

    /// Places z (and the fx = 0 mirrors) on the half-complex plane and runs the c2r into `b.real` (2 Re Σ …).
    private func backProjectToBuffer(_ vis: UnsafePointer<Float>, buffers b: FFTWorkspace) {
        b.spectrum.update(repeating: 0)
        halfIndex.withUnsafeBufferPointer { hi in
            mirrorIndex.withUnsafeBufferPointer { mi in
                for c in 0..<hi.count {
                    let j = 2 * Int(hi[c])
                    let re = vis[2 * c], im = vis[2 * c + 1]
                    switch mi[c] {
                    case -1:
                        b.spectrum[j] += re; b.spectrum[j + 1] += im
                    case -2:
                        b.spectrum[j] += 2 * re
                    default:
                        let jm = 2 * Int(mi[c])
                        b.spectrum[j] += re; b.spectrum[j + 1] += im
                        b.spectrum[jm] += re; b.spectrum[jm + 1] -= im
                    }
                }
            }
        }
        paddedFFT.inverse(b)
    }

    /// The observed gridded visibilities as an observation batch (1 × C × K × 2; every
    /// channel gets the same data). Throws when the grid was made from coverage only.
    public func observedVisibilities() throws -> ImageBatch {
        guard grid.hasVisibilities else {
            throw TweedieError.invalidInput(what: "UV operator (\(grid.origin))",
                                            problem: "has coverage only, no measured visibilities; read a UVFITS file for data")
        }
        var out = ImageBatch(count: 1, shape: outputShape, unit: "Jy")
        for ch in 0..<channels {
            for c in 0..<grid.cellCount {
                out.data[(ch * grid.cellCount + c) * 2] = grid.real[c]
                out.data[(ch * grid.cellCount + c) * 2 + 1] = grid.imag[c]
            }
        }
        return out
    }
}
