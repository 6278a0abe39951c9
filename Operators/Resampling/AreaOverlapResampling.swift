// Flux-conserving area-overlap resampling between pixel grids covering the same
// field (DESIGN §3 "Redshift / pixel-scale resampling"; paper 003 §2, f_{z,p}).
//
// One axis: n input pixels [i, i+1) and m output pixels covering the same
// extent, output pixel j spanning [j·n/m, (j+1)·n/m) in input-pixel units.
// Output j receives, from each input pixel i, the fraction of i's area it
// overlaps:  out_j = Σ_i w_ji in_i,  w_ji = |[i, i+1) ∩ [jn/m, (j+1)n/m)|.
// The overlaps are computed exactly in integers (lengths in units of 1/m), so
// Σ_j w_ji = 1 for every i: total flux is conserved exactly up to rounding.
// Images are [y][x]; the 2-D operator is separable, R = R_y ⊗ R_x (x first,
// then y), and its adjoint is Rᵀ = R_xᵀ ⊗ R_yᵀ, computed with the transposed
// weight tables (gathers, Double accumulation). It acts on every band alike.
// The effective output pixel is n/m input pixels (the whole field is kept).

import Dispatch
import TweedieCore

/// Sparse weights of one axis: a banded rows × columns matrix stored flat in
/// buffers owned by this object. Row r uses columns first[r] ..< first[r] +
/// (start[r+1] − start[r]) with weights values[start[r] ..< start[r+1]].
/// Invariant for `@unchecked Sendable`: the buffers are written in `init` only
/// and read afterwards; they are freed in `deinit`.
final class OverlapWeights: @unchecked Sendable {
    let first: UnsafeMutableBufferPointer<Int>
    let start: UnsafeMutableBufferPointer<Int>
    let values: UnsafeMutableBufferPointer<Double>
    let rows: Int
    let columns: Int

    private init(first: [Int], start: [Int], values: [Double], rows: Int, columns: Int) {
        self.first = .allocate(capacity: first.count); _ = self.first.initialize(from: first)
        self.start = .allocate(capacity: start.count); _ = self.start.initialize(from: start)
        self.values = .allocate(capacity: max(values.count, 1)); _ = self.values.initialize(from: values)
        self.rows = rows; self.columns = columns
    }
    deinit { first.deallocate(); start.deallocate(); values.deallocate() }

    /// The m × n matrix W of an n → m resampling.
    static func resampling(from n: Int, to m: Int) -> OverlapWeights {
        var first: [Int] = [], start: [Int] = [0], values: [Double] = []
        for j in 0..<m {
            let lo = j * n, hi = (j + 1) * n           // output extent, units of 1/m input pixel
            let i0 = lo / m, i1 = (hi + m - 1) / m       // inputs overlapping [lo, hi)
            for i in i0..<i1 {
                let overlap = min(hi, (i + 1) * m) - max(lo, i * m)
                values.append(Double(overlap) / Double(m))
            }
            first.append(i0); start.append(values.count)
        }
        return OverlapWeights(first: first, start: start, values: values, rows: m, columns: n)
    }

    /// Wᵀ as its own row table.
    var transposed: OverlapWeights {
        var rowsT = [[(Int, Double)]](repeating: [], count: columns)
        for r in 0..<rows {
            for k in start[r]..<start[r + 1] { rowsT[first[r] + k - start[r]].append((r, values[k])) }
        }
        var first: [Int] = [], start: [Int] = [0], values: [Double] = []
        for row in rowsT {
            // The nonzero columns of a row of the transpose of a banded matrix are consecutive.
            first.append(row.first?.0 ?? 0)
            values.append(contentsOf: row.map(\.1))
            start.append(values.count)
        }
        return OverlapWeights(first: first, start: start, values: values, rows: columns, columns: rows)
    }
}

/// Resamples every band of a C × n_y × n_x image to C × m_y × m_x, conserving flux.
public struct AreaOverlapResampling: ForwardOperator {
    public let inputShape: ImageShape
    public let outputShape: ImageShape
    public var isLinear: Bool { true }
    private let wy: OverlapWeights, wx: OverlapWeights
    private let wyT: OverlapWeights, wxT: OverlapWeights

    public var summary: String {
        "area-overlap resampling \(inputShape.height)×\(inputShape.width) → \(outputShape.height)×\(outputShape.width)"
    }

    public init(inputShape: ImageShape, outputHeight: Int, outputWidth: Int) throws {
        guard inputShape.height >= 1, inputShape.width >= 1, inputShape.channels >= 1 else {
            throw TweedieError.invalidInput(what: "resampling input", problem: "has an empty shape \(inputShape)")
        }
        guard outputHeight >= 1, outputWidth >= 1 else {
            throw TweedieError.invalidInput(what: "resampling output size",
                                            problem: "must be at least 1×1 pixel, got \(outputHeight)×\(outputWidth)")
        }
        guard outputHeight <= 16384, outputWidth <= 16384 else {
            throw TweedieError.invalidInput(what: "resampling output size",
                                            problem: "\(outputHeight)×\(outputWidth) pixels is too large (at most 16384 per axis)")
        }
        self.inputShape = inputShape
        self.outputShape = ImageShape(channels: inputShape.channels, height: outputHeight, width: outputWidth)
        wy = .resampling(from: inputShape.height, to: outputHeight)
        wx = .resampling(from: inputShape.width, to: outputWidth)
        wyT = wy.transposed
        wxT = wx.transposed
    }

    public func apply(_ x: ImageBatch) throws -> ImageBatch {
        try checkInput(x)
        return run(x, rowsY: wy, rowsX: wx, to: outputShape)
    }

    public func vjp(_ v: ImageBatch, at x: ImageBatch?) throws -> ImageBatch {
        try checkOutput(v)
        return run(v, rowsY: wyT, rowsX: wxT, to: inputShape)
    }

    /// out = Y · in · Xᵀ per plane (x axis first, then y), Y and X given as row tables.
    private func run(_ x: ImageBatch, rowsY: OverlapWeights, rowsX: OverlapWeights, to shape: ImageShape) -> ImageBatch {
        // The input header (its WCS) does not describe the resampled grid: it is not carried over.
        var out = ImageBatch(count: x.count, shape: shape, bands: x.bands, unit: x.unit)
        let hin = rowsY.columns, win = rowsX.columns, hout = rowsY.rows, wout = rowsX.rows
        let planes = x.count * shape.channels
        x.data.withUnsafeBufferPointer { src in
            out.data.withUnsafeMutableBufferPointer { dst in
                let s = SendableFloatPointer(src.baseAddress!), d = SendableMutableFloatPointer(dst.baseAddress!)
                concurrentForEach(planes) { p in
                    let (fx, sx, vx) = (rowsX.first, rowsX.start, rowsX.values)
                    let (fy, sy, vy) = (rowsY.first, rowsY.start, rowsY.values)
                    let input = s.p + p * hin * win, output = d.p + p * hout * wout
                    // Along x: tmp[y][j] = Σ_i X[j][i] in[y][i]   (hin × wout), then one accumulator row.
                    let t = UnsafeMutableBufferPointer<Double>.allocate(capacity: hin * wout + wout)
                    defer { t.deallocate() }
                    for y in 0..<hin {
                        let row = input + y * win
                        for j in 0..<wout {
                            let f = fx[j] - sx[j]
                            var acc = 0.0
                            for k in sx[j]..<sx[j + 1] { acc += vx[k] * Double(row[f + k]) }
                            t[y * wout + j] = acc
                        }
                    }
                    // Along y: out[j][x] = Σ_i Y[j][i] tmp[i][x]
                    let acc = t.baseAddress! + hin * wout
                    for j in 0..<hout {
                        for xx in 0..<wout { acc[xx] = 0 }
                        let f = fy[j] - sy[j]
                        for k in sy[j]..<sy[j + 1] {
                            let w = vy[k], base = (f + k) * wout
                            for xx in 0..<wout { acc[xx] += w * t[base + xx] }
                        }
                        for xx in 0..<wout { output[j * wout + xx] = Float(acc[xx]) }
                    }
                }
            }
        }
        return out
    }
}

