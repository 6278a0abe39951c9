// A branch-free exp for Float32 that LLVM vectorises, and SiLU built on it
// (PLATFORM.md: Foundation's exp in a loop stops vectorisation, ~3.7 ns/value;
// this one ~1 ns).
//
// exp(x) = 2^n · e^u with n = round(x·log2 e) and u = x − n·ln2 ∈ [−ln2/2, ln2/2]
// (Cody–Waite: ln2 split into a short high part, exact in n·ln2_hi, and a low
// part, so u keeps full precision even at |x| ≈ 88); e^u by its Taylor series
// to u⁷ (truncation < 5e-9 relative), 2^n built in the exponent bits. x is clamped to [−87.3, 88.3], so the result
// is a finite normal number (exp(−87.3) ≈ 1.2e-38, exp(88.3) ≈ 2.2e38).
// Relative error ≈ 2 ulp against the correctly rounded value.
//
// SiLU(a) = a·σ(a), σ(a) = 1/(1+e^(−a)); SiLU'(a) = σ(a)·(1 + a·(1 − σ(a))).

@inline(__always)
func fastExp(_ x: Float) -> Float {
    let xc = min(max(x, -87.3), 88.3)
    let t = xc * 1.442695040888963  // log2(e)
    // Round to nearest via the 1.5·2^23 trick (|t| < 2^22).
    let magic: Float = 12582912
    let r = t + magic
    let n = Int32(bitPattern: r.bitPattern) &- Int32(bitPattern: magic.bitPattern)
    let nf = r - magic
    let u = (xc - nf * 0.693359375) - nf * -2.12194440e-4  // ln2 = 0.693359375 − 2.12194440e-4
    var p: Float = 1.0 / 5040
    p = p * u + 1.0 / 720
    p = p * u + 1.0 / 120
    p = p * u + 1.0 / 24
    p = p * u + 1.0 / 6
    p = p * u + 0.5
    p = p * u + 1
    p = p * u + 1
    return Float(bitPattern: UInt32(bitPattern: Int32(bitPattern: p.bitPattern) &+ (n &<< 23)))
}

/// Logistic sigmoid σ(a) = 1/(1+e^(−a)).
@inline(__always)
func fastSigmoid(_ a: Float) -> Float { 1 / (1 + fastExp(-a)) }

/// SiLU(a) = a·σ(a).
@inline(__always)
func silu(_ a: Float) -> Float { a * fastSigmoid(a) }

/// dSiLU/da = σ(a)·(1 + a·(1 − σ(a))).
@inline(__always)
func siluDerivative(_ a: Float) -> Float {
    let s = fastSigmoid(a)
    return s * (1 + a * (1 - s))
}

/// Element-wise SiLU kernels over buffers (the standalone layer; the network fuses SiLU into GroupNorm).
enum SiLUKernel {
    /// y[i] = SiLU(x[i]) for i < count (x and y may alias).
    static func forward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        ParallelLoop.run(count, minimumChunk: 1 << 14) { r in
            for i in r { y[i] = silu(x[i]) }
        }
    }

    /// dx[i] = dy[i]·SiLU'(x[i]) (dx and dy may alias).
    static func backward(_ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>,
                         count: Int) {
        ParallelLoop.run(count, minimumChunk: 1 << 14) { r in
            for i in r { dx[i] = dy[i] * siluDerivative(x[i]) }
        }
    }
}
