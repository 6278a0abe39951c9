// The interface the U-Net's blocks share, the activation shape they pass
// along, and the scratch memory shared by all blocks of one network.
//
// A module's `forward` returns a pointer to its own output buffer, which stays
// valid (and unchanged) until its next forward call: the backward pass of the
// module that consumed it relies on that. `backward` takes the cotangent of
// the output and returns a pointer to its own input-cotangent buffer, valid
// until its next backward call. Scratch buffers in `UNetWorkspace` carry
// nothing between modules.
//
// Layout of every activation: `[C][B][H][W]` (see Conv2D.swift).

/// Channels × batch × height × width of an activation.
struct ActivationShape: Equatable {
    var channels: Int
    var batch: Int
    var height: Int
    var width: Int
    var plane: Int { height * width }
    var columns: Int { batch * height * width }
    var count: Int { channels * batch * height * width }
}

/// Scratch memory shared by the modules of one network (grows to the largest use, then reused).
final class UNetWorkspace {
    let conv = ConvWorkspace()
    let a = FloatBuffer(), b = FloatBuffer(), c = FloatBuffer(), d = FloatBuffer()
}

/// What every module sees besides its input: the workspace and the timestep embedding after SiLU.
struct ModuleContext {
    let workspace: UNetWorkspace
    /// SiLU(time_embed(embedding(t))), `[B][embeddingChannels]`.
    let embedding: UnsafePointer<Float>
    let embeddingChannels: Int
}

protocol UNetModule: AnyObject {
    /// Output shape for an input shape.
    func outputShape(_ input: ActivationShape) -> ActivationShape
    /// Forward pass; returns the module's output buffer.
    func forward(_ x: UnsafePointer<Float>, shape: ActivationShape, context: ModuleContext) -> UnsafeMutablePointer<Float>
    /// Input VJP of the last forward call; returns the module's input-cotangent buffer.
    func backward(_ dy: UnsafePointer<Float>, context: ModuleContext) -> UnsafeMutablePointer<Float>
    /// Multiply-adds of the forward pass for one image of the given input shape.
    func macs(_ input: ActivationShape) -> Int
    /// Floats the module keeps for one image of the given input shape (outputs, saved state,
    /// input cotangent), for memory estimates.
    func storedFloats(_ input: ActivationShape) -> Int
}

/// A plain convolution as a module (the first input block).
final class ConvModule: UNetModule {
    let conv: Conv2D
    private let output = FloatBuffer(), gradX = FloatBuffer()
    private var saved = ActivationShape(channels: 0, batch: 0, height: 0, width: 0)

    init(_ conv: Conv2D) { self.conv = conv }

    func outputShape(_ s: ActivationShape) -> ActivationShape {
        let (h, w) = conv.outputSize(height: s.height, width: s.width)
        return ActivationShape(channels: conv.outChannels, batch: s.batch, height: h, width: w)
    }

    func forward(_ x: UnsafePointer<Float>, shape: ActivationShape, context: ModuleContext) -> UnsafeMutablePointer<Float> {
        saved = shape
        let y = output.reserve(outputShape(shape).count)
        conv.forward(x, batch: shape.batch, height: shape.height, width: shape.width, into: y,
                     workspace: context.workspace.conv)
        return y
    }

    func backward(_ dy: UnsafePointer<Float>, context: ModuleContext) -> UnsafeMutablePointer<Float> {
        let dx = gradX.reserve(saved.count)
        conv.backward(dy, batch: saved.batch, height: saved.height, width: saved.width, into: dx,
                      workspace: context.workspace.conv)
        return dx
    }

    func macs(_ s: ActivationShape) -> Int { conv.macs(height: s.height, width: s.width) }
    func storedFloats(_ s: ActivationShape) -> Int { outputShape(s).count + s.count }
}
