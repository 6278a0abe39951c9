// Sinusoidal timestep embedding of improved-/guided-diffusion (DESIGN §4.3):
// for an embedding of width C with half = ⌊C/2⌋,
//   e[i] = cos(t·f_i), e[half + i] = sin(t·f_i), f_i = exp(−ln(10⁴)·i/half), i < half,
// cos first; a zero column is appended when C is odd. Evaluated in Float32 the
// way PyTorch does it (f_i = exp in float32 of the float32 product, t·f_i
// rounded to float32) so that parity with the reference implementation holds at
// large t, where the argument's rounding (≈ 6e-5 at t = 999) matters.

import Foundation

enum TimestepEmbedding {
    /// The `[B][C]` embedding of the timesteps `t` into `out`.
    static func embed(_ t: [Int], dimension C: Int, into out: UnsafeMutablePointer<Float>, maxPeriod: Double = 10000) {
        let half = C / 2
        let logPeriod = Float(-Foundation.log(maxPeriod))
        for (b, tb) in t.enumerated() {
            let row = out + b * C
            for i in 0..<half {
                let f = Foundation.exp(logPeriod * Float(i) / Float(half))
                let arg = Float(tb) * f
                row[i] = Foundation.cos(arg)
                row[half + i] = Foundation.sin(arg)
            }
            if C % 2 == 1 { row[C - 1] = 0 }
        }
    }
}
