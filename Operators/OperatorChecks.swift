// Checks any ForwardOperator can be put through (DESIGN §3; `tweedie operator check`):
// the dot-product test ⟨A u, v⟩ = ⟨u, Aᵀ v⟩ for random u, v (Float64
// accumulation), and the operator norm ‖A‖₂ by power iteration on AᵀA.
// Random vectors come from per-sample streams (`SampleStream`), so a check is
// reproducible from its seed.

import TweedieCore

public struct DotProductTestResult: Sendable, CustomStringConvertible {
    /// ⟨A u, v⟩ and ⟨u, Aᵀ v⟩, accumulated in Double.
    public let forward: Double
    public let adjoint: Double
    /// ‖A u‖ · ‖v‖: the Cauchy–Schwarz bound of both inner products.
    public let normProduct: Double
    /// |⟨A u, v⟩ − ⟨u, Aᵀ v⟩| / (‖A u‖ ‖v‖): the error on the scale of the vectors, meaningful
    /// also when a draw happens to make ⟨A u, v⟩ nearly 0 (then `relativeError` measures
    /// Float32 rounding against a cancelled sum, not the adjoint).
    public var scaledError: Double { normProduct == 0 ? 0 : abs(forward - adjoint) / normProduct }
    /// The dot-product test's verdict: relative error ≤ `tolerance`, or — for a nearly
    /// orthogonal draw, |⟨A u, v⟩| < 1e-2 ‖A u‖ ‖v‖ — scaled error ≤ `tolerance` · 1e-2.
    public func passes(tolerance: Double = 1e-5) -> Bool {
        if relativeError <= tolerance { return true }
        return max(abs(forward), abs(adjoint)) < 1e-2 * normProduct && scaledError <= tolerance * 1e-2
    }
    /// |⟨A u, v⟩ − ⟨u, Aᵀ v⟩| / max(|⟨A u, v⟩|, |⟨u, Aᵀ v⟩|).
    public var relativeError: Double {
        let d = max(abs(forward), abs(adjoint))
        return d == 0 ? 0 : abs(forward - adjoint) / d
    }
    public var description: String {
        "⟨Au,v⟩=\(forward) ⟨u,Aᵀv⟩=\(adjoint) relative error \(relativeError), scaled by ‖Au‖‖v‖ \(scaledError)"
    }
}

public enum OperatorChecks {
    /// Σ a_i b_i in Double.
    public static func innerProduct(_ a: [Float], _ b: [Float]) -> Double {
        precondition(a.count == b.count)
        var acc = 0.0
        for i in a.indices { acc += Double(a[i]) * Double(b[i]) }
        return acc
    }

    /// The dot-product test on a batch of `count` standard-normal u (input) and v (output).
    public static func dotProductTest(_ op: any ForwardOperator, seed: UInt64 = 1, count: Int = 1) throws
        -> DotProductTestResult {
        guard op.isLinear else {
            throw TweedieError.invalidInput(what: "dot-product test", problem: "\(op.summary) is not linear")
        }
        let u = try ImageBatch(count: count, shape: op.inputShape,
                               data: SampleStream(seed: seed, index: 0).normals(count * op.inputShape.count))
        let v = try ImageBatch(count: count, shape: op.outputShape,
                               data: SampleStream(seed: seed, index: 1).normals(count * op.outputShape.count))
        let au = try op.apply(u), atv = try op.adjoint(v)
        return DotProductTestResult(forward: innerProduct(au.data, v.data), adjoint: innerProduct(u.data, atv.data),
                                    normProduct: (innerProduct(au.data, au.data) * innerProduct(v.data, v.data)).squareRoot())
    }

    /// ‖A‖₂ estimated by `iterations` rounds of power iteration on AᵀA from a random start.
    public static func operatorNorm(_ op: any ForwardOperator, iterations: Int = 50, seed: UInt64 = 2) throws -> Double {
        var x = try ImageBatch(count: 1, shape: op.inputShape,
                               data: SampleStream(seed: seed, index: 0).normals(op.inputShape.count))
        var lambda = 0.0
        for _ in 0..<max(1, iterations) {
            let norm = innerProduct(x.data, x.data).squareRoot()
            guard norm > 0 else { return 0 }
            let inv = Float(1 / norm)
            for j in x.data.indices { x.data[j] *= inv }
            let y = try op.vjp(op.apply(x), at: op.isLinear ? nil : x)
            lambda = innerProduct(x.data, y.data)  // Rayleigh quotient of AᵀA
            x = y
        }
        return max(lambda, 0).squareRoot()
    }
}
