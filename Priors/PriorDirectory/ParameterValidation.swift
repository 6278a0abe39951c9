// Checking a checkpoint's tensors against what a network configuration
// expects (DESIGN §8: "a prior directory with missing or mismatched weights —
// name which tensor").
//
// Two levels:
// - `validate(_:against:)` compares with a complete expected list
//   (parameter name → shape), e.g. the one the U-Net builds from its
//   UNetConfig; missing, unexpected and mis-shaped tensors are all reported.
// - `stemShapes(for:)` gives the few tensors whose shapes follow from the
//   flags alone in both improved-diffusion and guided-diffusion `UNetModel`
//   (time embedding, input convolution, output GroupNorm and convolution), so
//   that a config whose channel counts disagree with the weights is caught
//   even without the full list:
//     time_embed.0: Linear(C, 4C); time_embed.2: Linear(4C, 4C);
//     input_blocks.0.0: Conv2d(in_channels, C₀, 3) with C₀ = C (improved) or
//       channel_mult[0]·C (guided);
//     out.0: GroupNorm over channel_mult[0]·C; out.2: Conv2d(C₀, out_channels, 3),
//       out_channels = in_channels · (learn_sigma ? 2 : 1).

import Foundation
import TweedieCore

/// Parameter name → shape, as a network expects them.
public typealias ParameterShapes = [String: [Int]]

/// Builds the complete expected parameter list of a configuration (supplied by the U-Net).
public typealias ParameterLayout = @Sendable (UNetConfig) throws -> ParameterShapes

public enum ParameterValidation {
    /// Shapes of a state dict.
    public static func shapes(of tensors: StateDict) -> ParameterShapes { tensors.mapValues(\.shape) }

    /// Throws one error naming every missing, unexpected and mis-shaped tensor (the first few of each kind).
    /// - Parameters:
    ///   - partial: when true, `expected` is a subset (only missing and mis-shaped tensors count).
    ///   - source: the weights file, for the message.
    public static func validate(_ actual: ParameterShapes, against expected: ParameterShapes,
                                partial: Bool = false, source: String) throws {
        let missing = expected.keys.filter { actual[$0] == nil }.sorted()
        let unexpected = partial ? [] : actual.keys.filter { expected[$0] == nil }.sorted()
        let misshaped = expected.keys.filter { k in actual[k].map { $0 != expected[k]! } ?? false }.sorted()
        if missing.isEmpty && unexpected.isEmpty && misshaped.isEmpty { return }
        func list(_ names: [String], _ describe: (String) -> String) -> String {
            let shown = names.prefix(4).map(describe).joined(separator: ", ")
            return names.count > 4 ? "\(shown) and \(names.count - 4) more" : shown
        }
        func shape(_ s: [Int]) -> String { "[" + s.map(String.init).joined(separator: ", ") + "]" }
        var parts: [String] = []
        if !misshaped.isEmpty {
            parts.append("mis-shaped: " + list(misshaped) { "'\($0)' is \(shape(actual[$0]!)) but the config implies \(shape(expected[$0]!))" })
        }
        if !missing.isEmpty {
            parts.append("missing: " + list(missing) { "'\($0)' \(shape(expected[$0]!))" })
        }
        if !unexpected.isEmpty {
            parts.append("unexpected: " + list(unexpected) { "'\($0)' \(shape(actual[$0]!))" })
        }
        throw TweedieError.model(path: source, problem: "weights do not match the network config (\(parts.joined(separator: "; "))); check the config flags (in_channels, num_channels, channel_mult, learn_sigma, …) against the checkpoint")
    }

    /// The stem tensors whose shapes follow from the flags alone (see the file comment).
    public static func stemShapes(for u: UNetConfig) -> ParameterShapes {
        let c = u.numChannels
        let mult0 = u.resolvedChannelMult.first ?? 1
        let firstWidth = u.architecture == .guidedDiffusion ? mult0 * c : c
        let embed = 4 * c
        return [
            "time_embed.0.weight": [embed, c], "time_embed.0.bias": [embed],
            "time_embed.2.weight": [embed, embed], "time_embed.2.bias": [embed],
            "input_blocks.0.0.weight": [firstWidth, u.inChannels, 3, 3], "input_blocks.0.0.bias": [firstWidth],
            "out.0.weight": [mult0 * c], "out.0.bias": [mult0 * c],
            "out.2.weight": [u.outChannels, firstWidth, 3, 3], "out.2.bias": [u.outChannels],
        ]
    }

    /// Checks `actual` against the full `layout` when one is given, else against the stem shapes.
    public static func check(_ actual: ParameterShapes, config: UNetConfig, layout: ParameterLayout?,
                             source: String) throws {
        if let layout {
            try validate(actual, against: try layout(config), source: source)
        } else {
            try validate(actual, against: stemShapes(for: config), partial: true, source: source)
        }
    }

    /// Throws if any value is NaN or infinite, naming the first such tensor.
    public static func checkFinite(_ tensors: StateDict, source: String) throws {
        for name in tensors.keys.sorted() {
            let t = tensors[name]!
            if let i = t.values.firstIndex(where: { !$0.isFinite }) {
                throw TweedieError.model(path: source, problem: "tensor '\(name)' holds a non-finite value (\(t.values[i]) at element \(i)); the checkpoint is broken")
            }
        }
    }
}
