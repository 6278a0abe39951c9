// Up- and downsampling of the U-Net (DESIGN §4.3) and their input VJPs:
// - nearest-neighbour ×2: y[2i+a][2j+b] = x[i][j]; VJP sums each 2×2 block;
// - 2×2 average pooling (stride 2): y[i][j] = ¼ Σ x[2i+a][2j+b]; VJP spreads ¼·dy
//   (PyTorch AvgPool2d(2), which floors odd sizes; the U-Net needs even sizes);
// - `Upsample`: nearest ×2 then a 3×3 conv (`conv`), or nearest only;
// - `Downsample`: a stride-2 3×3 conv with padding 1 (`op`), or average pooling.
// Layout `[C][B][H][W]`; every (channel, image) plane is independent.

enum ResampleKernel {
    /// x `[planes][H][W]` → y `[planes][2H][2W]`.
    static func nearestUp(_ x: UnsafePointer<Float>, planes: Int, height: Int, width: Int,
                          into y: UnsafeMutablePointer<Float>) {
        let w2 = 2 * width
        ParallelLoop.run(planes, minimumChunk: 4) { r in
            for p in r {
                let src = x + p * height * width, dst = y + p * 4 * height * width
                for i in 0..<height {
                    let s = src + i * width, d0 = dst + 2 * i * w2
                    for j in 0..<width { d0[2 * j] = s[j]; d0[2 * j + 1] = s[j] }
                    (d0 + w2).update(from: d0, count: w2)
                }
            }
        }
    }

    /// VJP of `nearestUp`: dx[i][j] = Σ_{a,b} dy[2i+a][2j+b] (dx += … when `accumulate`).
    static func nearestUpBackward(_ dy: UnsafePointer<Float>, planes: Int, height: Int, width: Int,
                                  into dx: UnsafeMutablePointer<Float>, accumulate: Bool = false) {
        let w2 = 2 * width
        ParallelLoop.run(planes, minimumChunk: 4) { r in
            for p in r {
                let src = dy + p * 4 * height * width, dst = dx + p * height * width
                for i in 0..<height {
                    let s0 = src + 2 * i * w2, s1 = s0 + w2, d = dst + i * width
                    if accumulate {
                        for j in 0..<width { d[j] += (s0[2 * j] + s0[2 * j + 1]) + (s1[2 * j] + s1[2 * j + 1]) }
                    } else {
                        for j in 0..<width { d[j] = (s0[2 * j] + s0[2 * j + 1]) + (s1[2 * j] + s1[2 * j + 1]) }
                    }
                }
            }
        }
    }

    /// x `[planes][H][W]` → y `[planes][H/2][W/2]` (2×2 mean).
    static func averagePool(_ x: UnsafePointer<Float>, planes: Int, height: Int, width: Int,
                            into y: UnsafeMutablePointer<Float>) {
        let ho = height / 2, wo = width / 2
        ParallelLoop.run(planes, minimumChunk: 4) { r in
            for p in r {
                let src = x + p * height * width, dst = y + p * ho * wo
                for i in 0..<ho {
                    let s0 = src + 2 * i * width, s1 = s0 + width, d = dst + i * wo
                    for j in 0..<wo { d[j] = 0.25 * ((s0[2 * j] + s0[2 * j + 1]) + (s1[2 * j] + s1[2 * j + 1])) }
                }
            }
        }
    }

    /// VJP of `averagePool` (dx += … when `accumulate`); dx has the input size H×W.
    static func averagePoolBackward(_ dy: UnsafePointer<Float>, planes: Int, height: Int, width: Int,
                                    into dx: UnsafeMutablePointer<Float>, accumulate: Bool = false) {
        let ho = height / 2, wo = width / 2
        ParallelLoop.run(planes, minimumChunk: 4) { r in
            for p in r {
                let src = dy + p * ho * wo, dst = dx + p * height * width
                if !accumulate { dst.update(repeating: 0, count: height * width) }
                for i in 0..<ho {
                    let s = src + i * wo, d0 = dst + 2 * i * width, d1 = d0 + width
                    for j in 0..<wo {
                        let v = 0.25 * s[j]
                        d0[2 * j] += v; d0[2 * j + 1] += v; d1[2 * j] += v; d1[2 * j + 1] += v
                    }
                }
            }
        }
    }
}

/// The state `Upsample` and `Downsample` share: the channel count, the optional 3×3 conv (of the
/// given stride, checked at init), the output and input-cotangent buffers, and the last input shape.
class ResampleModule {
    let channels: Int
    let conv: Conv2D?
    fileprivate let output = FloatBuffer()
    fileprivate let gradX = FloatBuffer()
    fileprivate final var saved = ActivationShape(channels: 0, batch: 0, height: 0, width: 0)

    init(channels: Int, conv: Conv2D?, stride: Int) {
        precondition(conv == nil || (conv!.stride == stride && conv!.kernel == 3 && conv!.inChannels == channels))
        self.channels = channels; self.conv = conv
    }
}

/// Nearest ×2, then an optional 3×3 conv (improved-diffusion `Upsample`, parameters `conv.*`).
/// Scratch: workspace a (the upsampled input, then its cotangent).
final class Upsample: ResampleModule, UNetModule {
    init(channels: Int, conv: Conv2D?) { super.init(channels: channels, conv: conv, stride: 1) }

    func outputShape(_ s: ActivationShape) -> ActivationShape {
        ActivationShape(channels: conv?.outChannels ?? channels, batch: s.batch, height: 2 * s.height, width: 2 * s.width)
    }

    func macs(_ s: ActivationShape) -> Int { conv?.macs(height: 2 * s.height, width: 2 * s.width) ?? 0 }
    func storedFloats(_ s: ActivationShape) -> Int { outputShape(s).count + s.count }

    func forward(_ x: UnsafePointer<Float>, shape s: ActivationShape, context: ModuleContext) -> UnsafeMutablePointer<Float> {
        saved = s
        let planes = channels * s.batch
        let y = output.reserve(outputShape(s).count)
        guard let conv else {
            ResampleKernel.nearestUp(x, planes: planes, height: s.height, width: s.width, into: y)
            return y
        }
        let up = context.workspace.a.reserve(planes * 4 * s.plane)
        ResampleKernel.nearestUp(x, planes: planes, height: s.height, width: s.width, into: up)
        conv.forward(up, batch: s.batch, height: 2 * s.height, width: 2 * s.width, into: y,
                     workspace: context.workspace.conv)
        return y
    }

    func backward(_ dy: UnsafePointer<Float>, context: ModuleContext) -> UnsafeMutablePointer<Float> {
        let s = saved
        let planes = channels * s.batch
        let dx = gradX.reserve(s.count)
        guard let conv else {
            ResampleKernel.nearestUpBackward(dy, planes: planes, height: s.height, width: s.width, into: dx)
            return dx
        }
        let dUp = context.workspace.a.reserve(planes * 4 * s.plane)
        conv.backward(dy, batch: s.batch, height: 2 * s.height, width: 2 * s.width, into: dUp,
                      workspace: context.workspace.conv)
        ResampleKernel.nearestUpBackward(dUp, planes: planes, height: s.height, width: s.width, into: dx)
        return dx
    }
}

/// Stride-2 3×3 conv with padding 1, or 2×2 average pooling (improved-diffusion `Downsample`, `op.*`).
final class Downsample: ResampleModule, UNetModule {
    init(channels: Int, conv: Conv2D?) { super.init(channels: channels, conv: conv, stride: 2) }

    func outputShape(_ s: ActivationShape) -> ActivationShape {
        if let conv {
            let (h, w) = conv.outputSize(height: s.height, width: s.width)
            return ActivationShape(channels: conv.outChannels, batch: s.batch, height: h, width: w)
        }
        return ActivationShape(channels: channels, batch: s.batch, height: s.height / 2, width: s.width / 2)
    }

    func macs(_ s: ActivationShape) -> Int { conv?.macs(height: s.height, width: s.width) ?? 0 }
    func storedFloats(_ s: ActivationShape) -> Int { outputShape(s).count + s.count }

    func forward(_ x: UnsafePointer<Float>, shape s: ActivationShape, context: ModuleContext) -> UnsafeMutablePointer<Float> {
        saved = s
        let y = output.reserve(outputShape(s).count)
        if let conv {
            conv.forward(x, batch: s.batch, height: s.height, width: s.width, into: y, workspace: context.workspace.conv)
        } else {
            ResampleKernel.averagePool(x, planes: channels * s.batch, height: s.height, width: s.width, into: y)
        }
        return y
    }

    func backward(_ dy: UnsafePointer<Float>, context: ModuleContext) -> UnsafeMutablePointer<Float> {
        let s = saved
        let dx = gradX.reserve(s.count)
        if let conv {
            conv.backward(dy, batch: s.batch, height: s.height, width: s.width, into: dx, workspace: context.workspace.conv)
        } else {
            ResampleKernel.averagePoolBackward(dy, planes: channels * s.batch, height: s.height, width: s.width, into: dx)
        }
        return dx
    }
}
