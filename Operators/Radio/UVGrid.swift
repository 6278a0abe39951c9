// Gridding of uv samples and visibility weighting (DESIGN §3 "UV masking").
//
// Grids. The image is N×N pixels of Δl radians, phase centre on pixel (N/2, N/2)
// (0-based, integer division). So that nothing wraps, the operator works on the
// image zero-padded to M = 2N: its uv grid has M×M cells of Δu = 1/(M·Δl)
// wavelengths, and A x followed by the dirty-imaging back-projection is a
// linear (not circular) convolution of the N×N image with the dirty beam.
// Visibility weighting (uniform, Briggs) counts density on cells of the
// un-padded size, Δu_w = 1/(N·Δl), i.e. a weighting field of view equal to the
// image (CASA's default, npixels = 0). Samples beyond the grid (|fx| or |fy|
// ≥ M/2, i.e. finer than the pixel Nyquist limit) are dropped and counted.
//
// Cells. Sample (u, v) falls in cell fx = round(−u/Δu), fy = round(v/Δu)
// (rounding half away from zero, so (−u, −v) falls exactly in (−fx, −fy)).
// The minus on u makes fx the frequency conjugate to the pixel x axis, which
// runs west (east is to the left, FITS CDELT1 < 0): then
// V(fx, fy) = Σ_pixels I e^{−2πi(fx·dx + fy·dy)/M}, an ordinary DFT of the image.
// Every measurement also stands for its Hermitian partner, so the grid is kept
// on the half plane fx > 0, or fx = 0 and fy ≥ 0: a sample in the other half is
// stored at (−fx, −fy) with its visibility conjugated. Each measurement is
// counted once per cell.
//
// Per cell c (sums over the measurements k in it; w_k data weights):
//   natural weight   N_c = Σ w_k              (1/σ_c² up to the unit-weight variance)
//   visibility       V_c = Σ w_k V_k / N_c    (the natural-weighted mean; DC cell: real part)
//   imaging weight   W_c = Σ w_k · g_k, where g_k is
//     natural  g = 1
//     uniform  g = 1 / D_k
//     Briggs   g = 1 / (1 + D_k f²),  f² = (5·10^{−R})² / (Σ_k w_k D_k / Σ_k w_k)
//   with D_k the summed weight (sample and mirror points) in the weighting cell of k.
// The Briggs form is Briggs (1995, PhD thesis, §3.2) as used by CASA's
// weighting='briggs'; R = −2 is close to uniform, R = +2 close to natural.

import Foundation
import TweedieCore

/// Visibility weighting scheme.
public enum UVWeighting: Sendable, Equatable, CustomStringConvertible {
    case natural
    case uniform
    /// Briggs robust weighting with robustness R (typically −2 … 2).
    case briggs(robust: Double)

    public var description: String {
        switch self {
        case .natural: return "natural"
        case .uniform: return "uniform"
        case let .briggs(r): return "briggs(R=\(r))"
        }
    }
}

/// Visibilities gridded on the half uv plane of the padded M×M grid.
public struct UVGrid: Sendable {
    /// Image size N (pixels per side) and pixel size Δl (radians).
    public let imageSize: Int
    public let cell: Double
    /// Padded grid size M = 2N and its cell Δu = 1/(M·Δl), wavelengths.
    public let gridSize: Int
    public let cellWavelengths: Double
    public let weighting: UVWeighting
    /// Sampled cells, in storage order: signed frequencies (fx, fy), half plane.
    public private(set) var fx: [Int32] = []
    public private(set) var fy: [Int32] = []
    /// Per cell: natural weight Σw, imaging weight, number of measurements.
    public private(set) var naturalWeight: [Double] = []
    public private(set) var imagingWeight: [Double] = []
    public private(set) var sampleCount: [Int32] = []
    /// Per cell gridded visibility (natural-weighted mean), empty for coverage only.
    public private(set) var real: [Float] = []
    public private(set) var imag: [Float] = []
    /// Imaging weight per input sample (0 for samples dropped off the grid).
    public private(set) var sampleImagingWeight: [Double] = []
    /// Measurements gridded and dropped (outside the grid).
    public private(set) var griddedSamples = 0
    public private(set) var droppedSamples = 0
    /// Briggs f² (nil unless Briggs weighting).
    public private(set) var briggsF2: Double?
    /// Where the samples came from.
    public let origin: String
    /// The mean frequency of the samples, Hz.
    public let frequency: Double

    /// Number of sampled cells K.
    public var cellCount: Int { fx.count }
    /// Whether gridded visibilities are present.
    public var hasVisibilities: Bool { !real.isEmpty }
    /// Σ_c imaging weight.
    public var imagingWeightSum: Double { imagingWeight.reduce(0, +) }

    /// Grids `samples` for an N×N image with pixels of `cell` radians.
    public init(samples: UVSamples, imageSize n: Int, cell: Double, weighting: UVWeighting = .natural) throws {
        guard n >= 4 else {
            throw TweedieError.invalidInput(what: "image size", problem: "\(n) px must be ≥ 4")
        }
        guard n <= 16384 else {
            throw TweedieError.invalidInput(what: "image size", problem: "\(n) px makes a \(2 * n)² padded grid of \(8 * 4 * n * n / 1_048_576) MiB per plane; use ≤ 16384")
        }
        guard cell.isFinite, cell > 0, cell < 0.1 else {
            throw TweedieError.invalidInput(what: "cell size", problem: "\(cell * 180 / .pi * 3600)″ must be > 0 and small (< 0.1 rad)")
        }
        if case let .briggs(r) = weighting, !(r.isFinite && abs(r) <= 10) {
            throw TweedieError.invalidInput(what: "robust", problem: "R = \(r) must be finite, typically between −2 and 2")
        }
        guard samples.count > 0 else {
            throw TweedieError.invalidInput(what: "uv samples (\(samples.origin))", problem: "there are none to grid")
        }
        guard samples.weight.allSatisfy({ $0 > 0 && $0.isFinite }) else {
            throw TweedieError.invalidInput(what: "uv samples (\(samples.origin))", problem: "weights must be finite and > 0 (drop flagged data first)")
        }
        imageSize = n
        self.cell = cell
        gridSize = 2 * n
        cellWavelengths = 1 / (Double(2 * n) * cell)
        self.weighting = weighting
        origin = samples.origin
        frequency = samples.meanFrequency
        try grid(samples)
    }

    private mutating func grid(_ s: UVSamples) throws {
        let n = imageSize, m = gridSize
        let du = cellWavelengths
        let half = m / 2
        let count = s.count

        // Weighting density on the un-padded N×N cells (sample and its mirror).
        var density: [Double] = []
        var gw = [Int](repeating: 0, count: count)
        if weighting != .natural {
            density = [Double](repeating: 0, count: n * n)
            let duw = 1 / (Double(n) * cell)
            for k in 0..<count {
                let gx = Int((-s.u[k] / duw).rounded()), gy = Int((s.v[k] / duw).rounded())
                let i1 = Self.wrap(gy, n) * n + Self.wrap(gx, n)
                let i2 = Self.wrap(-gy, n) * n + Self.wrap(-gx, n)
                density[i1] += s.weight[k]; density[i2] += s.weight[k]
                gw[k] = i1
            }
        }
        var factor = [Double](repeating: 1, count: count)
        switch weighting {
        case .natural: break
        case .uniform:
            for k in 0..<count { factor[k] = 1 / density[gw[k]] }
        case let .briggs(r):
            var num = 0.0, den = 0.0
            for k in 0..<count { num += s.weight[k] * density[gw[k]]; den += s.weight[k] }
            let f2 = pow(5 * pow(10, -r), 2) / (num / den)
            briggsF2 = f2
            for k in 0..<count { factor[k] = 1 / (1 + density[gw[k]] * f2) }
        }

        // Half-plane cells, dense slot map over the M × (M/2+1) half grid.
        var slot = [Int32](repeating: -1, count: m * (half + 1))
        var sumRe: [Double] = [], sumIm: [Double] = []
        let withVis = s.hasVisibilities
        sampleImagingWeight = [Double](repeating: 0, count: count)
        for k in 0..<count {
            var cx = Int((-s.u[k] / du).rounded()), cy = Int((s.v[k] / du).rounded())
            guard abs(cx) < half, abs(cy) < half else { droppedSamples += 1; continue }
            var sign = 1.0
            if cx < 0 || (cx == 0 && cy < 0) { cx = -cx; cy = -cy; sign = -1 }
            let key = Self.wrap(cy, m) * (half + 1) + cx
            var c = Int(slot[key])
            if c < 0 {
                c = fx.count
                slot[key] = Int32(c)
                fx.append(Int32(cx)); fy.append(Int32(cy))
                naturalWeight.append(0); imagingWeight.append(0); sampleCount.append(0)
                if withVis { sumRe.append(0); sumIm.append(0) }
            }
            let wk = s.weight[k]
            naturalWeight[c] += wk
            imagingWeight[c] += wk * factor[k]
            sampleImagingWeight[k] = wk * factor[k]
            sampleCount[c] += 1
            if withVis {
                sumRe[c] += wk * Double(s.real[k])
                sumIm[c] += wk * sign * Double(s.imag[k])
            }
            griddedSamples += 1
        }
        guard !fx.isEmpty else {
            throw TweedieError.invalidInput(
                what: "uv gridding (\(origin))",
                problem: "all \(count) samples lie beyond the grid edge \(String(format: "%.3g", Double(half) * du)) λ; use smaller cells (the longest baseline is \(String(format: "%.3g", s.maxBaseline)) λ)")
        }
        // Cell visibilities (natural-weighted means; the DC cell holds V and V*, so its mean is real).
        if withVis {
            real = (0..<fx.count).map { Float(sumRe[$0] / naturalWeight[$0]) }
            imag = (0..<fx.count).map { (fx[$0] == 0 && fy[$0] == 0) ? 0 : Float(sumIm[$0] / naturalWeight[$0]) }
        }
        // Storage order: by half-grid position (memory locality for the FFT gathers).
        let keys = (0..<fx.count).map { Self.wrap(Int(fy[$0]), m) * (half + 1) + Int(fx[$0]) }
        let order = (0..<fx.count).sorted { keys[$0] < keys[$1] }
        fx = order.map { fx[$0] }; fy = order.map { fy[$0] }
        naturalWeight = order.map { naturalWeight[$0] }
        imagingWeight = order.map { imagingWeight[$0] }
        sampleCount = order.map { sampleCount[$0] }
        if withVis { real = order.map { real[$0] }; imag = order.map { imag[$0] } }
    }

    @inline(__always) static func wrap(_ i: Int, _ n: Int) -> Int { ((i % n) + n) % n }

    /// The imaging weights on the full M×M plane (both halves), `[fy][fx]` with the
    /// centre (fx = fy = 0) at (M/2, M/2); fx increases with −u (FITS-style, u to the left).
    public var coverageMap: [Float] {
        let m = gridSize, h = m / 2
        var out = [Float](repeating: 0, count: m * m)
        for c in 0..<cellCount {
            let x = Int(fx[c]), y = Int(fy[c])
            let wgt = Float(imagingWeight[c])
            if x == 0 && y == 0 { out[h * m + h] += 2 * wgt; continue }
            out[(y + h) * m + (x + h)] += wgt
            out[(-y + h) * m + (-x + h)] += wgt
        }
        return out
    }

    /// One line for provenance.
    public var summary: String {
        "\(gridSize)² uv grid (N = \(imageSize) padded ×2), Δu = \(String(format: "%.4g", cellWavelengths)) λ, \(cellCount) cells from \(griddedSamples) samples (\(droppedSamples) off-grid), \(weighting) weighting"
    }
}
