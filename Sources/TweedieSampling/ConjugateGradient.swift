// Batched conjugate gradients for symmetric positive-definite systems P u = b,
// one independent system per image of a batch (Hestenes & Stiefel 1952).
// Scalars (α, β, residual norms) are per image and accumulated in Double, so
// images never couple and the result for image k does not depend on the batch.
//
// Positive definiteness by construction. The samplers' systems have the form
// P = BᵀWB + λI (λ = 1/ρ² > 0). Their operator returns, with P p, the curvature
// pᵀPp computed as the sum of squares ‖√W B p‖² + λ‖p‖² (the CGLS form), not as
// the dot product pᵀ(P p): in Float32 the latter carries the rounding of the
// adjoint and can come out ≤ 0 for directions the data pin down when W is large
// (high SNR) — the sum of squares is > 0 for every p ≠ 0 at any SNR and any ρ.
// An image whose search direction is exactly zero has converged and stops.
// Vectors are Double and each pass restarts from the true residual (iterative
// refinement, `solveReporting`), so an ill-conditioned system is solved to what
// Float32 operator products can resolve instead of stalling where a Float32
// recursion drifts; a pass that does not lower the true residual is discarded.

import TweedieCore

/// P v and the curvature vᵀPv per image (computed as a sum of squares where P = BᵀWB + λI).
public typealias SPDOperator = (ImageBatch) throws -> (product: ImageBatch, curvature: [Double])

public enum ConjugateGradient {
    /// What one solve did, per image.
    public struct Report: Sendable, Equatable {
        /// Iterations of the longest-running image.
        public var iterations: Int
        /// Per image: whether ‖r‖ ≤ tolerance·‖b‖ was reached.
        public var converged: [Bool]
        /// Per image: the final ‖r‖/‖b‖ (recursively updated residual).
        public var relativeResidual: [Double]
    }

    /// Solves P u = b per image, starting from `initial`. Stops image k when
    /// ‖r_k‖ ≤ tolerance·‖b_k‖, after `maxIterations`, or when its residual stops decreasing
    /// (kept at its best iterate). Throws only on a non-finite value (a non-finite input).
    /// `preconditioner`: M⁻¹ (symmetric positive definite, per image) for preconditioned CG.
    /// `errorTolerance`: stop on the estimated energy-norm error instead of the relative residual.
    public static func solve(_ applyP: SPDOperator, rhs b: ImageBatch, initial: ImageBatch,
                             tolerance: Double, maxIterations: Int,
                             preconditioner: Preconditioner? = nil,
                             errorTolerance: Double? = nil) throws -> (solution: ImageBatch, iterations: Int) {
        let r = try solveReporting(applyP, rhs: b, initial: initial, tolerance: tolerance, maxIterations: maxIterations,
                                   preconditioner: preconditioner, errorTolerance: errorTolerance)
        return (r.solution, r.report.iterations)
    }

    static func dots(_ a: ImageBatch, _ c: ImageBatch, count n: Int, per: Int) -> [Double] {
        (0..<n).map { k in
            var s = 0.0
            for j in (k * per)..<((k + 1) * per) { s += Double(a.data[j]) * Double(c.data[j]) }
            return s
        }
    }

    /// Per-image dot products of Double vectors.
    static func dots(_ a: [Double], _ c: [Double], count n: Int, per: Int) -> [Double] {
        (0..<n).map { k in
            var s = 0.0
            for j in (k * per)..<((k + 1) * per) { s += a[j] * c[j] }
            return s
        }
    }

    /// Solves P u = b per image: conjugate gradients with Double vectors (u, r, p; the operator
    /// sees Float32 images) inside iterative refinement — after each CG pass the true residual
    /// b − P u is recomputed and a new pass solves for the correction, up to `refinements` passes.
    /// In Float32 the recursively updated residual of one long CG drifts from the true one by
    /// ≈ ε·κ and the solve stalls far from u* when P is ill-conditioned (high SNR: κ ≈ W‖B‖²/λ);
    /// a pass from the true residual removes that drift. Image k stops when its true residual is
    /// ≤ tolerance·‖b_k‖ (or, with `errorTolerance` ε, when the estimated ‖u − u*‖_P is ≤ ε; file
    /// header) or stops shrinking; the returned u is its best iterate.
    public static func solveReporting(_ applyP: SPDOperator, rhs b: ImageBatch, initial: ImageBatch,
                                      tolerance: Double, maxIterations: Int,
                                      refinements: Int = 4, preconditioner: Preconditioner? = nil,
                                      errorTolerance: Double? = nil, errorDelay: Int = 8) throws -> (solution: ImageBatch, report: Report) {
        let n = b.count, per = b.shape.count
        if let e = errorTolerance { precondition(e > 0 && errorDelay >= 1, "conjugate gradients: the error tolerance must be > 0") }
        /// z = M⁻¹ r (the identity without a preconditioner).
        func preconditioned(_ r: [Double]) throws -> [Double] {
            guard let m = preconditioner else { return r }
            var x = initial
            for j in 0..<x.valueCount { x.data[j] = Float(r[j]) }
            let z = try m(x)
            return z.data.map(Double.init)
        }
        // Each image's system is solved for u/‖b_k‖ with right-hand side b_k/‖b_k‖ (P is linear), so
        // the Float32 images the operator sees stay O(1) whatever the data's dynamic range (an asinh
        // pixel transform at high SNR puts ‖b‖ beyond 10³⁰, and P·b overflows Float32).
        var scale = [Double](repeating: 1, count: n)
        for k in 0..<n {
            var s = 0.0
            for j in (k * per)..<((k + 1) * per) { s += Double(b.data[j]) * Double(b.data[j]) }
            if s > 0 && s.isFinite { scale[k] = s.squareRoot() }
        }
        var u = [Double](repeating: 0, count: initial.valueCount)
        var bd = [Double](repeating: 0, count: b.valueCount)
        for k in 0..<n {
            for j in (k * per)..<((k + 1) * per) { u[j] = Double(initial.data[j]) / scale[k]; bd[j] = Double(b.data[j]) / scale[k] }
        }
        func norms(_ v: [Double]) -> [Double] {
            (0..<n).map { k in var s = 0.0; for j in (k * per)..<((k + 1) * per) { s += v[j] * v[j] }; return s }
        }
        let bb = norms(bd)
        guard bb.allSatisfy(\.isFinite), u.allSatisfy(\.isFinite) else {
            throw TweedieError.numerical(problem: "conjugate gradients: the right-hand side or the start is not finite")
        }
        func trueResidual() throws -> [Double] {
            var x = initial
            for j in 0..<x.valueCount { x.data[j] = Float(u[j]) }
            let (pu, _) = try applyP(x)
            return (0..<bd.count).map { bd[$0] - Double(pu.data[$0]) }
        }
        var r = try trueResidual()
        var rr = norms(r)
        var active = (0..<n).map { (errorTolerance != nil || rr[$0] > tolerance * tolerance * bb[$0]) && bb[$0] > 0 }
        var converged = active.map { !$0 }
        var it = 0
        var pass = 0
        while pass < refinements && it < maxIterations && active.contains(true) {
            pass += 1
            // One (preconditioned) CG pass on P d = r from d = 0 (Double vectors).
            var d = [Double](repeating: 0, count: u.count)
            var z = try preconditioned(r)
            var p = z
            for k in 0..<n where !active[k] { for j in (k * per)..<((k + 1) * per) { p[j] = 0 } }
            var rrPass = rr
            var rzPass = dots(r, z, count: n, per: per)
            var inner = active
            // A pass aims at the tolerance relative to its own start, bounded below by what Float32
            // products can resolve; the outer loop takes it the rest of the way.
            let passTarget = (0..<n).map { max(errorTolerance == nil ? tolerance * tolerance * bb[$0] : 0, 1e-10 * rr[$0]) }
            // The last `errorDelay` terms α_i r_iᵀz_i per image (the energy-norm error estimate) and
            // whether an image has met the error tolerance in this pass.
            var terms = [[Double]](repeating: [], count: n)
            var errorMet = [Bool](repeating: false, count: n)
            var probe = initial
            while it < maxIterations && inner.contains(true) {
                it += 1
                for j in 0..<probe.valueCount { probe.data[j] = Float(p[j]) }
                let (ap, pap) = try applyP(probe)
                var rrNew = [Double](repeating: 0, count: n)
                for k in 0..<n where inner[k] {
                    guard pap[k].isFinite else {
                        throw TweedieError.numerical(problem: "conjugate gradients: a non-finite value in the system (image \(k))")
                    }
                    guard pap[k] > 0 else { inner[k] = false; continue }  // p = 0: nothing left to solve
                    let alpha = rzPass[k] / pap[k]
                    if let e = errorTolerance {
                        terms[k].append(alpha * rzPass[k] * scale[k] * scale[k])
                        if terms[k].count > errorDelay { terms[k].removeFirst() }
                        if terms[k].count == errorDelay && terms[k].reduce(0, +) <= e * e { errorMet[k] = true }
                    }
                    var s = 0.0
                    for j in (k * per)..<((k + 1) * per) {
                        d[j] += alpha * Double(probe.data[j])
                        r[j] -= alpha * Double(ap.data[j])
                        s += r[j] * r[j]
                    }
                    rrNew[k] = s
                }
                z = try preconditioned(r)
                let rzNew = dots(r, z, count: n, per: per)
                for k in 0..<n where inner[k] {
                    let beta = rzNew[k] / rzPass[k]
                    for j in (k * per)..<((k + 1) * per) { p[j] = z[j] + beta * p[j] }
                    rrPass[k] = rrNew[k]; rzPass[k] = rzNew[k]
                    if rrPass[k] <= passTarget[k] || errorMet[k] { inner[k] = false }
                }
                for k in 0..<n where !inner[k] { for j in (k * per)..<((k + 1) * per) { p[j] = 0 } }
            }
            // Accept the correction per image if the true residual shrank.
            let before = u
            for k in 0..<n where active[k] { for j in (k * per)..<((k + 1) * per) { u[j] += d[j] } }
            let rTrue = try trueResidual()
            let rrTrue = norms(rTrue)
            for k in 0..<n where active[k] {
                if rrTrue[k] < rr[k] {
                    let previous = rr[k]
                    rr[k] = rrTrue[k]
                    for j in (k * per)..<((k + 1) * per) { r[j] = rTrue[j] }
                    if errorMet[k] || rr[k] <= tolerance * tolerance * bb[k] {
                        active[k] = false; converged[k] = true
                    }
                    else if rrTrue[k] > 0.25 * previous && pass > 1 { active[k] = false }  // refinement no longer pays
                } else {
                    for j in (k * per)..<((k + 1) * per) { u[j] = before[j] }  // keep the better iterate
                    active[k] = false
                }
            }
        }
        var out = initial
        for k in 0..<n { for j in (k * per)..<((k + 1) * per) { out.data[j] = Float(u[j] * scale[k]) } }
        let rel = (0..<n).map { bb[$0] > 0 ? (rr[$0] / bb[$0]).squareRoot() : 0 }
        return (out, Report(iterations: it, converged: converged, relativeResidual: rel))
    }
}
