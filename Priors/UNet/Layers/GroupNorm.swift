// GroupNorm (Wu & He 2018) with 32 groups and eps 1e-5, as improved- and
// guided-diffusion's `normalization(channels)`, optionally followed by the
// ResBlock's scale-shift modulation and a SiLU — fused, because that is how
// the U-Net uses it (GN → SiLU; GN·(1+scale)+shift → SiLU; attention's plain GN):
//
//   x̂ = (x − μ_{b,g}) / √(σ²_{b,g} + eps)        (biased variance over the group)
//   a = (γ_c x̂ + β_c)·(1 + scale_{b,c}) + shift_{b,c}
//   y = SiLU(a)  or  y = a
//
// Input VJP, per group with M = (C/G)·H·W values and g = ∂L/∂x̂
// (= dy·SiLU'(a)·(1+scale)·γ):  dx = (g − mean(g) − x̂·mean(g·x̂)) / √(σ² + eps).
// Statistics accumulate in Float64. The layer keeps μ and 1/σ per (b, g) from
// the forward pass and recomputes x̂ and a in the backward pass from its input.
//
// Layout: `[C][B][H][W]` (channel rows over the batch). Modulation: a
// `[B][2C]` row per image, scale in columns 0..<C, shift in C..<2C
// (improved-diffusion's chunk order, scale first).

final class GroupNormActivation {
    static let groups = 32
    static let eps = 1e-5

    let channels: Int
    let applySiLU: Bool
    let gamma: UnsafeMutablePointer<Float>
    let beta: UnsafeMutablePointer<Float>
    var channelsPerGroup: Int { channels / GroupNormActivation.groups }

    // Forward state for the backward pass.
    private let mean = FloatBuffer(), rstd = FloatBuffer()
    private let scratch = FloatBuffer()
    private var savedInput: UnsafePointer<Float>?
    private var savedModulation: UnsafePointer<Float>?
    private var savedBatch = 0, savedPlane = 0

    init(channels: Int, applySiLU: Bool, weight: [Float], bias: [Float]) {
        precondition(channels % GroupNormActivation.groups == 0, "GroupNorm needs channels divisible by 32")
        precondition(weight.count == channels && bias.count == channels)
        self.channels = channels; self.applySiLU = applySiLU
        gamma = .allocate(capacity: channels); gamma.initialize(from: weight, count: channels)
        beta = .allocate(capacity: channels); beta.initialize(from: bias, count: channels)
    }

    deinit { gamma.deallocate(); beta.deallocate() }

    /// y = act(GN(x)·(1+scale)+shift). x, y: `[C][B][plane]` (may not alias). `modulation`: `[B][2C]` or nil.
    /// Keeps `x` and `modulation` (pointers: the caller keeps them alive and unchanged) for `backward`.
    func forward(_ x: UnsafePointer<Float>, batch: Int, plane: Int, into y: UnsafeMutablePointer<Float>,
                 modulation: UnsafePointer<Float>? = nil) {
        let G = GroupNorm.groups, cpg = channelsPerGroup, C = channels
        let n = batch * plane
        let meanP = mean.reserve(batch * G), rstdP = rstd.reserve(batch * G)
        let gamma = self.gamma, beta = self.beta, act = applySiLU
        savedInput = x; savedModulation = modulation; savedBatch = batch; savedPlane = plane
        let m = Double(cpg * plane)
        KernelProfile.measure("groupnorm+silu") { ParallelLoop.run(batch * G) { range in
            for bg in range {
                let b = bg / G, g = bg % G
                var s = 0.0
                for c in (g * cpg)..<((g + 1) * cpg) { s += Reduce.sum(x + c * n + b * plane, plane) }
                let mu = s / m
                var v = 0.0
                for c in (g * cpg)..<((g + 1) * cpg) {
                    v += Reduce.sumSquaredDeviations(x + c * n + b * plane, plane, from: mu)
                }
                let r = 1 / (v / m + GroupNormActivation.eps).squareRoot()
                meanP[bg] = Float(mu); rstdP[bg] = Float(r)
                for c in (g * cpg)..<((g + 1) * cpg) {
                    var scale: Float = 1, shift: Float = 0
                    if let mod = modulation { scale = 1 + mod[b * 2 * C + c]; shift = mod[b * 2 * C + C + c] }
                    let A = Float(r) * gamma[c] * scale
                    let B = (beta[c] - Float(mu) * Float(r) * gamma[c]) * scale + shift
                    let src = x + c * n + b * plane, dst = y + c * n + b * plane
                    if act {
                        for i in 0..<plane { dst[i] = silu(src[i] * A + B) }
                    } else {
                        for i in 0..<plane { dst[i] = src[i] * A + B }
                    }
                }
            }
        } }
    }

    /// dx = (∂y/∂x)ᵀ dy for the last forward call (dx += … when `accumulate`). dy, dx: `[C][B][plane]`.
    func backward(_ dy: UnsafePointer<Float>, into dx: UnsafeMutablePointer<Float>, accumulate: Bool = false) {
        guard let x = savedInput else { preconditionFailure("GroupNorm backward before forward") }
        let batch = savedBatch, plane = savedPlane, modulation = savedModulation
        let G = GroupNorm.groups, cpg = channelsPerGroup, C = channels
        let n = batch * plane
        let meanP = mean.pointer, rstdP = rstd.pointer
        let gamma = self.gamma, beta = self.beta, act = applySiLU
        let groupSize = cpg * plane
        let workers = UNetThreading.threads
        let scratchP = scratch.reserve(groupSize * workers)
        let m = Double(groupSize)
        KernelProfile.measure("groupnorm+silu backward") { ParallelLoop.runIndexed(batch * G, workers: workers) { range, worker in
            let gbuf = scratchP + worker * groupSize
            for bg in range {
                let b = bg / G, g = bg % G
                let mu = meanP[bg], r = rstdP[bg]
                // g_i = ∂L/∂x̂_i, kept in the worker's scratch; sums Σg and Σg·(x − μ) in Float64.
                var s1 = 0.0, s2 = 0.0
                for (j, c) in ((g * cpg)..<((g + 1) * cpg)).enumerated() {
                    var scale: Float = 1, shift: Float = 0
                    if let mod = modulation { scale = 1 + mod[b * 2 * C + c]; shift = mod[b * 2 * C + C + c] }
                    let src = x + c * n + b * plane, d = dy + c * n + b * plane, gOut = gbuf + j * plane
                    let G0 = gamma[c] * scale
                    if act {
                        let A = r * G0
                        let B = (beta[c] - mu * r * gamma[c]) * scale + shift
                        for i in 0..<plane { gOut[i] = d[i] * siluDerivative(src[i] * A + B) * G0 }
                    } else {
                        for i in 0..<plane { gOut[i] = d[i] * G0 }
                    }
                    s1 += Reduce.sum(gOut, plane)
                    s2 += Reduce.dotCentered(gOut, src, plane, center: Double(mu))
                }
                // dx = r·(g − s1/M − x̂·s2·r/M), with x̂ = (x − μ)·r.
                let k1 = Float(s1 / m), k2 = Float(s2 / m) * r
                for (j, c) in ((g * cpg)..<((g + 1) * cpg)).enumerated() {
                    let src = x + c * n + b * plane, gIn = gbuf + j * plane, out = dx + c * n + b * plane
                    if accumulate {
                        for i in 0..<plane { out[i] += r * (gIn[i] - k1 - (src[i] - mu) * r * k2) }
                    } else {
                        for i in 0..<plane { out[i] = r * (gIn[i] - k1 - (src[i] - mu) * r * k2) }
                    }
                }
            }
        } }
    }
}

/// GroupNorm constants shared by the layers.
enum GroupNorm {
    static let groups = GroupNormActivation.groups
}
