// The diagonal of the weighted normal matrix H = Aᵀ W A of a linear forward
// operator, h_i = Σ_j W_j (A e_i)_j², by probing (Bekas, Kokiopoulou & Saad 2007,
// "An estimator for the diagonal of a matrix", with lattice probe vectors).
//
// For each channel c and each offset (oy, ox) in an s × s cell, the probe v has
// ones at the pixels of channel c with y ≡ oy, x ≡ ox (mod s); (H v)_i at those
// pixels is h_i plus the couplings H_{ii'} to the other lattice pixels i' of the
// probe, which are ≥ s pixels away. For a PSF convolution (H the PSF's
// autocorrelation, weighted) they are the autocorrelation's tail at s, 2s, …;
// with s larger than the operator's reach the estimate is exact. Channels are
// probed one at a time, so couplings between bands never enter. s² · C probes
// in all, each one operator apply and adjoint.
//
// The split-Gibbs likelihood step uses it for its Jacobi preconditioner,
// diag(P) = D² h + 1/ρ² (ConjugateGradient's file header); a coupling that
// makes an estimate negative (an operator with negative sidelobes, e.g. a dirty
// beam) is clamped to 0, which keeps M positive through the 1/ρ² term. The
// preconditioner changes how many iterations a solve takes, never its solution.

import TweedieCore

public enum NormalMatrixDiagonal {
    /// h = diag(Aᵀ W A) over the operator's input grid (one image's values), W = sqrtWeights².
    /// `spacing`: the probe lattice's period s in pixels (clamped to the image size, where the
    /// probe is a single pixel and the estimate exact).
    public static func estimate(of op: any ForwardOperator, sqrtWeights sw: [Float],
                                spacing: Int = 8, chunk: Int = 64) throws -> [Float] {
        precondition(op.isLinear, "the normal-matrix diagonal of a nonlinear operator")
        let shape = op.inputShape, obsPer = op.outputShape.count
        guard sw.count == obsPer else {
            throw TweedieError.shapeMismatch(what: "noise weights vs operator output (\(op.summary))",
                                             expected: "\(obsPer) values", got: "\(sw.count)")
        }
        let sy = max(1, min(spacing, shape.height)), sx = max(1, min(spacing, shape.width))
        let plane = shape.height * shape.width
        // Every probe as (channel, oy, ox).
        var probes: [(c: Int, oy: Int, ox: Int)] = []
        for c in 0..<shape.channels { for oy in 0..<sy { for ox in 0..<sx { probes.append((c, oy, ox)) } } }
        var h = [Float](repeating: 0, count: shape.count)
        var start = 0
        while start < probes.count {
            let part = probes[start..<min(start + max(1, chunk), probes.count)]
            var v = ImageBatch(count: part.count, shape: shape)
            for (k, p) in part.enumerated() {
                for y in stride(from: p.oy, to: shape.height, by: sy) {
                    for x in stride(from: p.ox, to: shape.width, by: sx) {
                        v.data[k * shape.count + p.c * plane + y * shape.width + x] = 1
                    }
                }
            }
            var av = try op.apply(v)
            for k in 0..<part.count { for j in 0..<obsPer { av.data[k * obsPer + j] *= sw[j] * sw[j] } }
            let hv = try op.adjoint(av)
            for (k, p) in part.enumerated() {
                for y in stride(from: p.oy, to: shape.height, by: sy) {
                    for x in stride(from: p.ox, to: shape.width, by: sx) {
                        let i = p.c * plane + y * shape.width + x
                        h[i] = max(0, hv.data[k * shape.count + i])
                    }
                }
            }
            start += part.count
        }
        return h
    }
}
