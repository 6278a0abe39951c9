// Reads the U-Net's tensors out of a StateDict by their improved-/guided-
// diffusion names, checking every shape against what the config implies, and
// reports all problems as one `TweedieError.model`: missing tensors, tensors
// of the wrong shape (the config does not match the weights), and tensors the
// config has no use for. Also builds the layers from named tensors.

import TweedieCore

final class UNetWeightReader {
    private let dict: StateDict
    private let source: String
    private let configSummary: String
    private var used = Set<String>()
    private var missing: [String] = []
    private var misshaped: [String] = []
    private(set) var parameterCount = 0
    /// Algorithm given to the 3×3 convolutions built by `conv`.
    var convolution = ConvolutionAlgorithm.winograd4x4

    init(_ dict: StateDict, source: String, configSummary: String) {
        self.dict = dict; self.source = source; self.configSummary = configSummary
    }

    /// The values of tensor `name`, which must have `shape`; zeros (and a recorded problem) otherwise.
    func tensor(_ name: String, _ shape: [Int]) -> [Float] {
        let count = shape.reduce(1, *)
        used.insert(name)
        guard let t = dict[name] else {
            missing.append("missing tensor '\(name)' (shape \(shape))")
            return [Float](repeating: 0, count: count)
        }
        guard t.shape == shape else {
            misshaped.append("tensor '\(name)' has shape \(t.shape) in the checkpoint but the config needs \(shape)")
            return [Float](repeating: 0, count: count)
        }
        parameterCount += count
        return t.values
    }

    func conv(_ prefix: String, in cin: Int, out cout: Int, kernel: Int, stride: Int = 1) -> Conv2D {
        Conv2D(inChannels: cin, outChannels: cout, kernel: kernel, stride: stride,
               weight: tensor(prefix + ".weight", [cout, cin, kernel, kernel]), bias: tensor(prefix + ".bias", [cout]),
               algorithm: convolution)
    }

    /// A PyTorch Conv1d with kernel 1 (weight `[out][in][1]`) as a 1×1 convolution.
    func conv1d(_ prefix: String, in cin: Int, out cout: Int) -> Conv2D {
        Conv2D(inChannels: cin, outChannels: cout, kernel: 1,
               weight: tensor(prefix + ".weight", [cout, cin, 1]), bias: tensor(prefix + ".bias", [cout]))
    }

    func linear(_ prefix: String, in nin: Int, out nout: Int) -> Linear {
        Linear(inFeatures: nin, outFeatures: nout, weight: tensor(prefix + ".weight", [nout, nin]),
               bias: tensor(prefix + ".bias", [nout]))
    }

    func groupNorm(_ prefix: String, channels: Int, silu: Bool) -> GroupNormActivation {
        GroupNormActivation(channels: channels, applySiLU: silu, weight: tensor(prefix + ".weight", [channels]),
                            bias: tensor(prefix + ".bias", [channels]))
    }

    /// Throws one error describing every problem found (the first of each kind named in full).
    func finish() throws {
        let unexpected = dict.keys.filter { !used.contains($0) }.sorted()
            .map { "unexpected tensor '\($0)' (shape \(dict[$0]!.shape)) that the config has no place for" }
        let problems = misshaped + missing + unexpected
        guard let first = problems.first else { return }
        var message = first
        if problems.count > 1 { message += " (and \(problems.count - 1) more problem\(problems.count > 2 ? "s" : ""))" }
        let hint = misshaped.isEmpty && missing.isEmpty
            ? "the weights have tensors this architecture does not"
            : "the config does not match the weights"
        throw TweedieError.model(path: source,
                                 problem: "\(message); \(hint) — check the config (\(configSummary)) against the checkpoint")
    }
}
