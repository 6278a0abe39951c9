// Reductions over Float32 rows accumulated in Float64 (DESIGN §2), written
// with eight-lane SIMD accumulators so they vectorise (a single scalar Double
// accumulator is latency-bound at one add per four cycles).

@inline(__always)
private func load8(_ p: UnsafePointer<Float>) -> SIMD8<Double> {
    SIMD8<Double>(UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self))
}

enum Reduce {
    /// Σ x[i], i < n.
    @inline(__always)
    static func sum(_ x: UnsafePointer<Float>, _ n: Int) -> Double {
        var a0 = SIMD8<Double>(), a1 = SIMD8<Double>()
        var i = 0
        while i + 16 <= n {
            a0 += load8(x + i); a1 += load8(x + i + 8); i += 16
        }
        var s = (a0 + a1).sum()
        while i < n { s += Double(x[i]); i += 1 }
        return s
    }

    /// Σ (x[i] − c)², i < n.
    @inline(__always)
    static func sumSquaredDeviations(_ x: UnsafePointer<Float>, _ n: Int, from c: Double) -> Double {
        var a0 = SIMD8<Double>(), a1 = SIMD8<Double>()
        let cv = SIMD8<Double>(repeating: c)
        var i = 0
        while i + 16 <= n {
            let d0 = load8(x + i) - cv, d1 = load8(x + i + 8) - cv
            a0 += d0 * d0; a1 += d1 * d1; i += 16
        }
        var s = (a0 + a1).sum()
        while i < n { let d = Double(x[i]) - c; s += d * d; i += 1 }
        return s
    }

    /// Σ a[i]·(x[i] − c), i < n.
    @inline(__always)
    static func dotCentered(_ a: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ n: Int, center c: Double) -> Double {
        var a0 = SIMD8<Double>(), a1 = SIMD8<Double>()
        let cv = SIMD8<Double>(repeating: c)
        var i = 0
        while i + 16 <= n {
            a0 += load8(a + i) * (load8(x + i) - cv)
            a1 += load8(a + i + 8) * (load8(x + i + 8) - cv)
            i += 16
        }
        var s = (a0 + a1).sum()
        while i < n { s += Double(a[i]) * (Double(x[i]) - c); i += 1 }
        return s
    }

    /// Σ a[i]·b[i], i < n.
    @inline(__always)
    static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Double {
        var a0 = SIMD8<Double>(), a1 = SIMD8<Double>()
        var i = 0
        while i + 16 <= n {
            a0 += load8(a + i) * load8(b + i)
            a1 += load8(a + i + 8) * load8(b + i + 8)
            i += 16
        }
        var s = (a0 + a1).sum()
        while i < n { s += Double(a[i]) * Double(b[i]); i += 1 }
        return s
    }
}
