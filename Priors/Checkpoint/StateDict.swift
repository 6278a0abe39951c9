// A model's parameters as loaded from a checkpoint: a map from PyTorch
// parameter name (improved-diffusion / guided-diffusion naming, e.g.
// `input_blocks.1.0.in_layers.0.weight`) to a Float32 tensor in PyTorch's
// row-major (C-contiguous) layout, e.g. conv weights [out][in][kh][kw].
import TweedieCore

/// One named parameter: shape and row-major Float32 values.
public struct ParameterTensor: Sendable, Equatable {
    public var shape: [Int]
    public var values: [Float]
    public init(shape: [Int], values: [Float]) {
        precondition(checkedElementCount(shape) == values.count, "tensor shape \(shape) does not match \(values.count) values")
        self.shape = shape; self.values = values
    }
    public var count: Int { values.count }
}

/// Parameter name → tensor.
public typealias StateDict = [String: ParameterTensor]
