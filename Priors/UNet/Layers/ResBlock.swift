// The timestep-conditioned residual block of improved-/guided-diffusion
// (`ResBlock`) and its exact input VJP. With e = emb_layers(emb) =
// Linear(SiLU(emb)) per image (the model passes SiLU(emb) in):
//
//   h = conv_in(SiLU(GN_in(x)))                                 in_layers.0/2
//   scale-shift norm:  h = conv_out(SiLU(GN_out(h)·(1+scale)+shift)), [scale, shift] = e
//   otherwise:         h = conv_out(SiLU(GN_out(h + e)))            out_layers.0/3
//   y = skip(x) + h     (identity, or a 1×1 conv when the channels change)
//
// guided-diffusion's up/down blocks (resblock_updown) resample between the
// in_layers' SiLU and its conv, and the skip input the same way:
//   h = conv_in(R(SiLU(GN_in(x)))),  y = skip(R(x)) + …,  R = nearest ×2 or 2×2 average pooling.
// Dropout (out_layers.2) is the identity at inference.
//
// Layout `[C][B][H][W]`. Scratch: workspace a/b/c (nothing kept between modules);
// kept for the backward pass: the input pointer (GN_in), h (GN_out), e.

enum Resampling { case none, up, down }

final class ResBlock: UNetModule {
    let channels: Int
    let outChannels: Int
    let useScaleShiftNorm: Bool
    let resampling: Resampling
    let inNorm: GroupNormActivation
    let inConv: Conv2D
    let embLayer: Linear
    let outNorm: GroupNormActivation
    let outConv: Conv2D
    let skip: Conv2D?

    private let embOut = FloatBuffer()   // [B][2·out] or [B][out]
    private let hidden = FloatBuffer()   // h after conv_in (+ e when not scale-shift)
    private let output = FloatBuffer()
    private let gradX = FloatBuffer()
    private var saved = ActivationShape(channels: 0, batch: 0, height: 0, width: 0)

    init(channels: Int, outChannels: Int, useScaleShiftNorm: Bool, resampling: Resampling,
         inNorm: GroupNormActivation, inConv: Conv2D, embLayer: Linear, outNorm: GroupNormActivation,
         outConv: Conv2D, skip: Conv2D?) {
        precondition(inNorm.applySiLU && outNorm.applySiLU)
        precondition(skip != nil || channels == outChannels)
        self.channels = channels; self.outChannels = outChannels; self.useScaleShiftNorm = useScaleShiftNorm
        self.resampling = resampling; self.inNorm = inNorm; self.inConv = inConv; self.embLayer = embLayer
        self.outNorm = outNorm; self.outConv = outConv; self.skip = skip
    }

    private func resampledSize(_ s: ActivationShape) -> (Int, Int) {
        switch resampling {
        case .none: return (s.height, s.width)
        case .up: return (2 * s.height, 2 * s.width)
        case .down: return (s.height / 2, s.width / 2)
        }
    }

    func outputShape(_ s: ActivationShape) -> ActivationShape {
        let (h, w) = resampledSize(s)
        return ActivationShape(channels: outChannels, batch: s.batch, height: h, width: w)
    }

    func macs(_ s: ActivationShape) -> Int {
        let (h, w) = resampledSize(s)
        return inConv.macs(height: h, width: w) + outConv.macs(height: h, width: w)
            + (skip?.macs(height: h, width: w) ?? 0) + embLayer.inFeatures * embLayer.outFeatures
    }

    func storedFloats(_ s: ActivationShape) -> Int {
        let o = outputShape(s)
        return 2 * o.count + s.count + embLayer.outFeatures * s.batch
    }

    private func resample(_ x: UnsafePointer<Float>, channels c: Int, _ s: ActivationShape,
                          into y: UnsafeMutablePointer<Float>) {
        switch resampling {
        case .none: y.update(from: x, count: c * s.columns)
        case .up: ResampleKernel.nearestUp(x, planes: c * s.batch, height: s.height, width: s.width, into: y)
        case .down: ResampleKernel.averagePool(x, planes: c * s.batch, height: s.height, width: s.width, into: y)
        }
    }

    private func resampleBackward(_ dy: UnsafePointer<Float>, channels c: Int, _ s: ActivationShape,
                                  into dx: UnsafeMutablePointer<Float>, accumulate: Bool) {
        switch resampling {
        case .none:
            if accumulate {
                let n = c * s.columns
                ParallelLoop.run(n, minimumChunk: 1 << 14) { r in for i in r { dx[i] += dy[i] } }
            } else {
                dx.update(from: dy, count: c * s.columns)
            }
        case .up:
            ResampleKernel.nearestUpBackward(dy, planes: c * s.batch, height: s.height, width: s.width,
                                             into: dx, accumulate: accumulate)
        case .down:
            ResampleKernel.averagePoolBackward(dy, planes: c * s.batch, height: s.height, width: s.width,
                                               into: dx, accumulate: accumulate)
        }
    }

    func forward(_ x: UnsafePointer<Float>, shape s: ActivationShape, context: ModuleContext) -> UnsafeMutablePointer<Float> {
        saved = s
        let ws = context.workspace
        let os = outputShape(s)
        let n = os.columns, plane = os.plane
        // e = Linear(SiLU(emb)) per image.
        let e = embOut.reserve(s.batch * embLayer.outFeatures)
        embLayer.forward(context.embedding, batch: s.batch, into: e)
        // SiLU(GN_in(x)) [→ R], then conv_in.
        let s1 = ws.a.reserve(max(channels * s.columns, outChannels * n))
        inNorm.forward(x, batch: s.batch, plane: s.plane, into: s1)
        var convInput = UnsafePointer(s1)
        var skipInput = x
        if resampling != .none {
            let r = ws.b.reserve(2 * channels * n)
            resample(s1, channels: channels, s, into: r)
            resample(x, channels: channels, s, into: r + channels * n)
            convInput = UnsafePointer(r); skipInput = UnsafePointer(r + channels * n)
        }
        let h = hidden.reserve(outChannels * n)
        inConv.forward(convInput, batch: s.batch, height: os.height, width: os.width, into: h, workspace: ws.conv)
        if !useScaleShiftNorm {
            let C = outChannels, B = s.batch
            ParallelLoop.run(C * B, minimumChunk: 8) { r in
                for cb in r {
                    let c = cb / B, b = cb % B
                    let v = e[b * C + c], row = h + c * n + b * plane
                    for i in 0..<plane { row[i] += v }
                }
            }
        }
        // y = skip(x) + conv_out(SiLU(GN_out(h)·(1+scale)+shift)).
        let s2 = s1
        outNorm.forward(h, batch: s.batch, plane: plane, into: s2, modulation: useScaleShiftNorm ? UnsafePointer(e) : nil)
        let y = output.reserve(outChannels * n)
        if let skip {
            skip.forward(skipInput, batch: s.batch, height: os.height, width: os.width, into: y, workspace: ws.conv)
            outConv.forward(s2, batch: s.batch, height: os.height, width: os.width, into: y, accumulate: true,
                            workspace: ws.conv)
        } else {
            outConv.forward(s2, batch: s.batch, height: os.height, width: os.width, into: y, residual: skipInput,
                            workspace: ws.conv)
        }
        return y
    }

    func backward(_ dy: UnsafePointer<Float>, context: ModuleContext) -> UnsafeMutablePointer<Float> {
        let s = saved, ws = context.workspace
        let os = outputShape(s)
        let n = os.columns
        let big = max(channels, outChannels) * n
        let bufA = ws.a.reserve(big), bufB = ws.b.reserve(big)
        // ds2 = conv_outᵀ dy; dh = GN_outᵀ ds2 (the + e and the modulation do not depend on x).
        outConv.backward(dy, batch: s.batch, height: os.height, width: os.width, into: bufA, workspace: ws.conv)
        outNorm.backward(bufA, into: bufB)
        // d(conv input) = conv_inᵀ dh.
        inConv.backward(bufB, batch: s.batch, height: os.height, width: os.width, into: bufA, workspace: ws.conv)
        let dx = gradX.reserve(channels * s.columns)
        // Skip path into dx.
        if let skip {
            skip.backward(dy, batch: s.batch, height: os.height, width: os.width, into: bufB, workspace: ws.conv)
            resampleBackward(bufB, channels: channels, s, into: dx, accumulate: false)
        } else {
            resampleBackward(dy, channels: channels, s, into: dx, accumulate: false)
        }
        // Main path: Rᵀ, then GN_inᵀ (with its SiLU) accumulated into dx.
        if resampling != .none {
            let ds1 = ws.c.reserve(channels * s.columns)
            resampleBackward(bufA, channels: channels, s, into: ds1, accumulate: false)
            inNorm.backward(ds1, into: dx, accumulate: true)
        } else {
            inNorm.backward(bufA, into: dx, accumulate: true)
        }
        return dx
    }
}
