// Spatial self-attention block of improved-/guided-diffusion (`AttentionBlock`)
// and its exact input VJP:
//
//   n = GN(x);  qkv = W_qkv·n + b_qkv  (Conv1d C → 3C, kernel 1: `qkv`)
//   per image b and head h (ch = C/heads channels, T = H·W tokens):
//     P = softmax_s( (q·ch^(−1/4))ᵀ (k·ch^(−1/4)) )   (rows t, softmax over keys s)
//     o[c][t] = Σ_s P[t][s] v[c][s]
//   y = x + W_proj·o + b_proj  (`proj_out`)
//
// Head layout of the 3C qkv rows (DESIGN §4.3):
// - legacy order (improved-diffusion, guided-diffusion's QKVAttentionLegacy):
//   heads first — head h owns rows h·3ch ..< (h+1)·3ch, split into q, k, v;
// - new order (guided-diffusion's QKVAttention, use_new_attention_order):
//   q, k, v first — q rows 0..<C, k rows C..<2C, v rows 2C..<3C, head h the
//   rows h·ch ..< (h+1)·ch of each.
// The output o of head h is rows h·ch ..< (h+1)·ch in both.
//
// VJP per head, with dO = W_projᵀ·dy:  dP = dOᵀ·V, dV = dO·P,
// dS = P ⊙ (dP − rowsum(P ⊙ dP)),  dQ = ch^(−½)·K·dSᵀ,  dK = ch^(−½)·Q·dS;
// dx = dy + GNᵀ(W_qkvᵀ·dqkv). Row sums accumulate in Float64.
//
// Layout: `[C][B][H][W]`; a head's q for image b is a ch × T block with
// leading dimension N = B·T, used directly by the GEMMs.

final class AttentionBlock: UNetModule {
    let channels: Int
    let heads: Int
    let newOrder: Bool
    let norm: GroupNormActivation
    let qkv: Conv2D
    let projOut: Conv2D
    var headChannels: Int { channels / heads }

    // Forward state kept for the backward pass (scratch: workspace a = GN(x) then o, or dO then
    // W_qkvᵀ·dqkv; b = dqkv; c = dP).
    private let qkvOut = FloatBuffer()      // [3C][N]
    private let probs = FloatBuffer()       // [B·heads][T][T]
    private let output = FloatBuffer()      // [C][N]
    private let gradX = FloatBuffer()
    private var savedBatch = 0, savedPlane = 0

    init(channels: Int, heads: Int, newOrder: Bool, norm: GroupNormActivation, qkv: Conv2D, projOut: Conv2D) {
        precondition(channels % heads == 0, "attention channels must be divisible by the head count")
        precondition(!norm.applySiLU && qkv.kernel == 1 && projOut.kernel == 1)
        self.channels = channels; self.heads = heads; self.newOrder = newOrder
        self.norm = norm; self.qkv = qkv; self.projOut = projOut
    }

    /// Row offsets of head h's q, k, v inside the 3C qkv rows.
    @inline(__always)
    func rows(head h: Int) -> (q: Int, k: Int, v: Int) {
        let ch = headChannels
        return newOrder ? (h * ch, channels + h * ch, 2 * channels + h * ch)
                        : (h * 3 * ch, h * 3 * ch + ch, h * 3 * ch + 2 * ch)
    }

    func outputShape(_ input: ActivationShape) -> ActivationShape { input }

    func storedFloats(_ s: ActivationShape) -> Int { 5 * s.count + heads * s.plane * s.plane * s.batch }

    /// Multiply-adds for one image: the two 1×1 convs, q·k and P·v.
    func macs(_ s: ActivationShape) -> Int { 4 * channels * channels * s.plane + 2 * s.plane * s.plane * channels }

    /// y = x + attention(x). Returns the block's output buffer `[C][B][plane]`.
    func forward(_ x: UnsafePointer<Float>, shape: ActivationShape, context: ModuleContext) -> UnsafeMutablePointer<Float> {
        precondition(shape.channels == channels)
        let batch = shape.batch, T = shape.plane
        let workspace = context.workspace.conv
        let C = channels, n = batch * T, ch = headChannels
        savedBatch = batch; savedPlane = T
        let nrm = context.workspace.a.reserve(C * n)
        norm.forward(x, batch: batch, plane: T, into: nrm)
        let q3 = qkvOut.reserve(3 * C * n)
        qkv.forward(nrm, batch: batch, height: 1, width: T, into: q3, workspace: workspace)
        let P = probs.reserve(batch * heads * T * T)
        let o = nrm  // GN output no longer needed
        let alpha = Float(1 / Double(ch).squareRoot())  // (ch^(−1/4))² on q·k
        // One (image, head) pair per task: two single-threaded GEMMs and a softmax.
        KernelProfile.measure("attention core") {
            ParallelLoop.run(batch * heads) { range in
                for pair in range {
                    let b = pair / self.heads, h = pair % self.heads
                    let (rq, rk, rv) = self.rows(head: h)
                    let Pb = P + pair * T * T
                    // S[t][s] = α Σ_c q[c][t] k[c][s]
                    sgemm(transA: true, m: T, n: T, k: ch, alpha: alpha, a: q3 + rq * n + b * T, lda: n,
                          b: q3 + rk * n + b * T, ldb: n, beta: 0, c: Pb, ldc: T, category: "")
                    for t in 0..<T { AttentionBlock.softmaxRow(Pb + t * T, count: T) }
                    // o[c][t] = Σ_s v[c][s] P[t][s]
                    sgemm(transB: true, m: ch, n: T, k: T, a: q3 + rv * n + b * T, lda: n, b: Pb, ldb: T,
                          beta: 0, c: o + h * ch * n + b * T, ldc: n, category: "")
                }
            }
        }
        let y = output.reserve(C * n)
        projOut.forward(o, batch: batch, height: 1, width: T, into: y, residual: x, workspace: workspace)
        return y
    }

    /// dx = (∂y/∂x)ᵀ dy for the last forward call. Returns the block's input-gradient buffer.
    func backward(_ dy: UnsafePointer<Float>, context: ModuleContext) -> UnsafeMutablePointer<Float> {
        let batch = savedBatch, T = savedPlane
        let workspace = context.workspace.conv
        let C = channels, n = batch * T, ch = headChannels
        let q3 = qkvOut.pointer, P = probs.pointer
        let dO = context.workspace.a.reserve(C * n)
        projOut.backward(dy, batch: batch, height: 1, width: T, into: dO, workspace: workspace)
        let dq3 = context.workspace.b.reserve(3 * C * n)
        let workers = UNetThreading.threads
        let dPAll = context.workspace.c.reserve(workers * T * T)
        let alpha = Float(1 / Double(ch).squareRoot())
        KernelProfile.measure("attention core backward") {
            ParallelLoop.runIndexed(batch * heads, workers: workers) { range, worker in
                let dP = dPAll + worker * T * T
                for pair in range {
                    let b = pair / self.heads, h = pair % self.heads
                    let (rq, rk, rv) = self.rows(head: h)
                    let Pb = P + pair * T * T
                    let dOh = dO + h * ch * n + b * T
                    // dP[t][s] = Σ_c dO[c][t] v[c][s]
                    sgemm(transA: true, m: T, n: T, k: ch, a: dOh, lda: n, b: q3 + rv * n + b * T, ldb: n,
                          beta: 0, c: dP, ldc: T, category: "")
                    // dV[c][s] = Σ_t dO[c][t] P[t][s]
                    sgemm(m: ch, n: T, k: T, a: dOh, lda: n, b: Pb, ldb: T, beta: 0, c: dq3 + rv * n + b * T, ldc: n,
                          category: "")
                    for t in 0..<T { AttentionBlock.softmaxBackwardRow(Pb + t * T, dP + t * T, count: T) }
                    // dQ[c][t] = α Σ_s k[c][s] dS[t][s];  dK[c][s] = α Σ_t q[c][t] dS[t][s]
                    sgemm(transB: true, m: ch, n: T, k: T, alpha: alpha, a: q3 + rk * n + b * T, lda: n, b: dP, ldb: T,
                          beta: 0, c: dq3 + rq * n + b * T, ldc: n, category: "")
                    sgemm(m: ch, n: T, k: T, alpha: alpha, a: q3 + rq * n + b * T, lda: n, b: dP, ldb: T,
                          beta: 0, c: dq3 + rk * n + b * T, ldc: n, category: "")
                }
            }
        }
        let dn = dO  // dO no longer needed
        qkv.backward(dq3, batch: batch, height: 1, width: T, into: dn, workspace: workspace)
        let dx = gradX.reserve(C * n)
        dx.update(from: dy, count: C * n)
        norm.backward(dn, into: dx, accumulate: true)
        return dx
    }

    /// In-place softmax of one row (max-subtracted; the sum in Float64).
    @inline(__always)
    static func softmaxRow(_ row: UnsafeMutablePointer<Float>, count: Int) {
        var mx = -Float.infinity
        for s in 0..<count { mx = max(mx, row[s]) }
        for s in 0..<count { row[s] = fastExp(row[s] - mx) }
        let inv = Float(1 / Reduce.sum(row, count))
        for s in 0..<count { row[s] *= inv }
    }

    /// d ← p ⊙ (d − Σ_s p·d) for one row (the softmax VJP), in place in d.
    @inline(__always)
    static func softmaxBackwardRow(_ p: UnsafePointer<Float>, _ d: UnsafeMutablePointer<Float>, count: Int) {
        let k = Float(Reduce.dot(p, d, count))
        for s in 0..<count { d[s] = p[s] * (d[s] - k) }
    }
}
