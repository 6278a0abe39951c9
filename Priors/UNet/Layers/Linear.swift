// Fully connected layer (PyTorch `nn.Linear`): y = x·Wᵀ + b with W `[out][in]`
// row-major, x `[B][in]`, y `[B][out]`; input VJP dx = dy·W. In the U-Net it
// maps the timestep embedding (time_embed.0/2, each ResBlock's emb_layers.1),
// which does not depend on the image, so the network's input VJP never passes
// through it; the VJP is here for completeness (and tested).

final class Linear {
    let inFeatures: Int
    let outFeatures: Int
    let weight: UnsafeMutablePointer<Float>
    let bias: UnsafeMutablePointer<Float>

    init(inFeatures: Int, outFeatures: Int, weight w: [Float], bias b: [Float]) {
        precondition(w.count == inFeatures * outFeatures && b.count == outFeatures)
        self.inFeatures = inFeatures; self.outFeatures = outFeatures
        weight = .allocate(capacity: w.count); weight.initialize(from: w, count: w.count)
        bias = .allocate(capacity: b.count); bias.initialize(from: b, count: b.count)
    }

    deinit { weight.deallocate(); bias.deallocate() }

    /// y = x·Wᵀ + b for `batch` rows.
    func forward(_ x: UnsafePointer<Float>, batch: Int, into y: UnsafeMutablePointer<Float>) {
        for r in 0..<batch { (y + r * outFeatures).update(from: bias, count: outFeatures) }
        // One product per image (batch invariance: OpenBLAS's rounding depends on the call's shape).
        for r in 0..<batch {
            sgemm(transB: true, m: 1, n: outFeatures, k: inFeatures, a: x + r * inFeatures, lda: inFeatures, b: weight,
                  ldb: inFeatures, beta: 1, c: y + r * outFeatures, ldc: outFeatures)
        }
    }

    /// dx = dy·W.
    func backward(_ dy: UnsafePointer<Float>, batch: Int, into dx: UnsafeMutablePointer<Float>) {
        for r in 0..<batch {
            sgemm(m: 1, n: inFeatures, k: outFeatures, a: dy + r * outFeatures, lda: outFeatures, b: weight,
                  ldb: inFeatures, beta: 0, c: dx + r * inFeatures, ldc: inFeatures)
        }
    }
}
