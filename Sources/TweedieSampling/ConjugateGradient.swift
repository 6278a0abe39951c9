// Batched conjugate gradients for symmetric positive-definite systems P u = b,
// one independent system per image of a batch (Hestenes & Stiefel 1952).
// Scalars (α, β, residual norms) are per image and accumulated in Double, so
// images never couple and the result for image k does not depend on the batch.

import TweedieCore

public enum ConjugateGradient {
    /// Solves P u = b per image, starting from `initial`. Stops image k when
    /// ‖r_k‖ ≤ tolerance·‖b_k‖ or after `maxIterations`. Returns u and the iterations used.
    public static func solve(_ applyP: (ImageBatch) throws -> ImageBatch, rhs b: ImageBatch, initial: ImageBatch,
                             tolerance: Double, maxIterations: Int) throws -> (solution: ImageBatch, iterations: Int) {
        let n = b.count, per = b.shape.count
        var u = initial
        var r = b
        let pu = try applyP(u)
        for j in 0..<r.valueCount { r.data[j] -= pu.data[j] }
        var p = r
        func dots(_ a: ImageBatch, _ c: ImageBatch) -> [Double] {
            (0..<n).map { k in
                var s = 0.0
                for j in (k * per)..<((k + 1) * per) { s += Double(a.data[j]) * Double(c.data[j]) }
                return s
            }
        }
        var rr = dots(r, r)
        let bb = dots(b, b)
        var active = (0..<n).map { rr[$0] > tolerance * tolerance * bb[$0] && bb[$0] > 0 }
        var it = 0
        while it < maxIterations && active.contains(true) {
            it += 1
            let ap = try applyP(p)
            let pap = dots(p, ap)
            for k in 0..<n where active[k] {
                guard pap[k] > 0 else {
                    throw TweedieError.numerical(problem: "conjugate gradients: the system is not positive definite (image \(k))")
                }
                let alpha = rr[k] / pap[k]
                for j in (k * per)..<((k + 1) * per) {
                    u.data[j] += Float(alpha) * p.data[j]
                    r.data[j] -= Float(alpha) * ap.data[j]
                }
            }
            let rrNew = dots(r, r)
            for k in 0..<n where active[k] {
                let beta = rrNew[k] / rr[k]
                for j in (k * per)..<((k + 1) * per) { p.data[j] = r.data[j] + Float(beta) * p.data[j] }
                rr[k] = rrNew[k]
                if rr[k] <= tolerance * tolerance * bb[k] { active[k] = false }
            }
            // Inactive images keep p = 0 so they cost nothing and cannot drift.
            for k in 0..<n where !active[k] {
                for j in (k * per)..<((k + 1) * per) { p.data[j] = 0 }
            }
        }
        return (u, it)
    }
}
