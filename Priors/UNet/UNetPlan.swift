// The layer plan of improved-/guided-diffusion's UNetModel for a UNetConfig:
// which module sits at which parameter name, with its channel counts — the
// single description from which both the network (UNetModel) and the list of
// expected parameter names and shapes (for checking a checkpoint without
// building the network) are derived.
//
// Walk (ds = downsample factor; attention where image_size / ds is in
// attention_resolutions):
//   input_blocks.0.0 conv in → ch0 = mult[0]·C
//   per level l: num_res_blocks × [ResBlock(→ mult[l]·C) (.0), Attention (.1)?],
//     then, except at the last level, Downsample `.0.op` or a down ResBlock `.0`
//   middle_block.0/1/2: ResBlock, Attention, ResBlock
//   output_blocks: per level in reverse, num_res_blocks+1 × [ResBlock(ch + skip
//     → mult[l]·C) (.0), Attention (.1)?, Upsample `.k.conv` or up ResBlock `.k`
//     after the last one except at level 0]
//   out.0 GroupNorm, out.2 conv → out channels.

import TweedieCore

struct UNetPlan {
    enum Module {
        case conv(String, in: Int, out: Int)
        case res(String, in: Int, out: Int, Resampling)
        case attention(String, channels: Int, heads: Int)
        case downsample(String, channels: Int)
        case upsample(String, channels: Int)
    }

    let config: UNetConfig
    let modelChannels: Int
    let embeddingChannels: Int
    private(set) var inputBlocks: [[Module]] = []
    private(set) var middleBlock: [Module] = []
    private(set) var outputBlocks: [[Module]] = []
    private(set) var finalChannels = 0

    init(_ config: UNetConfig) throws {
        try config.validate()
        self.config = config
        let C = config.numChannels, mult = config.resolvedChannelMult
        modelChannels = C; embeddingChannels = 4 * C
        let attentionDS = config.attentionDownsampleFactors
        func heads(_ ch: Int, _ n: Int) -> Int { config.headCount(channels: ch, numHeads: n) }

        var ch = mult[0] * C
        inputBlocks = [[.conv("input_blocks.0.0", in: config.inChannels, out: ch)]]
        var skips = [ch], ds = 1
        for (level, m) in mult.enumerated() {
            for _ in 0..<config.numResBlocks {
                let p = "input_blocks.\(inputBlocks.count)"
                var block: [Module] = [.res(p + ".0", in: ch, out: m * C, .none)]
                ch = m * C
                if attentionDS.contains(ds) { block.append(.attention(p + ".1", channels: ch, heads: heads(ch, config.numHeads))) }
                inputBlocks.append(block)
                skips.append(ch)
            }
            if level != mult.count - 1 {
                let p = "input_blocks.\(inputBlocks.count).0"
                inputBlocks.append([config.resblockUpdown ? .res(p, in: ch, out: ch, .down) : .downsample(p + ".op", channels: ch)])
                skips.append(ch)
                ds *= 2
            }
        }
        middleBlock = [.res("middle_block.0", in: ch, out: ch, .none),
                       .attention("middle_block.1", channels: ch, heads: heads(ch, config.numHeads)),
                       .res("middle_block.2", in: ch, out: ch, .none)]
        for (level, m) in mult.enumerated().reversed() {
            for i in 0...config.numResBlocks {
                let p = "output_blocks.\(outputBlocks.count)"
                var block: [Module] = [.res(p + ".0", in: ch + skips.removeLast(), out: m * C, .none)]
                ch = m * C
                if attentionDS.contains(ds) {
                    block.append(.attention(p + ".\(block.count)", channels: ch, heads: heads(ch, config.resolvedHeadsUpsample)))
                }
                if level != 0 && i == config.numResBlocks {
                    let q = p + ".\(block.count)"
                    block.append(config.resblockUpdown ? .res(q, in: ch, out: ch, .up) : .upsample(q + ".conv", channels: ch))
                    ds /= 2
                }
                outputBlocks.append(block)
            }
        }
        finalChannels = ch
    }

    /// Every parameter's name and PyTorch shape, as the checkpoint must hold them.
    var parameterShapes: [String: [Int]] {
        var d: [String: [Int]] = [:]
        let E = embeddingChannels, scaleShift = config.useScaleShiftNorm
        func conv(_ p: String, _ o: Int, _ i: Int, _ k: Int) { d[p + ".weight"] = [o, i, k, k]; d[p + ".bias"] = [o] }
        func conv1d(_ p: String, _ o: Int, _ i: Int) { d[p + ".weight"] = [o, i, 1]; d[p + ".bias"] = [o] }
        func linear(_ p: String, _ o: Int, _ i: Int) { d[p + ".weight"] = [o, i]; d[p + ".bias"] = [o] }
        func norm(_ p: String, _ c: Int) { d[p + ".weight"] = [c]; d[p + ".bias"] = [c] }
        linear("time_embed.0", E, modelChannels)
        linear("time_embed.2", E, E)
        for m in (inputBlocks + [middleBlock] + outputBlocks).joined() {
            switch m {
            case let .conv(p, i, o): conv(p, o, i, 3)
            case let .res(p, i, o, _):
                norm(p + ".in_layers.0", i); conv(p + ".in_layers.2", o, i, 3)
                linear(p + ".emb_layers.1", scaleShift ? 2 * o : o, E)
                norm(p + ".out_layers.0", o); conv(p + ".out_layers.3", o, o, 3)
                if i != o { conv(p + ".skip_connection", o, i, 1) }
            case let .attention(p, c, _):
                norm(p + ".norm", c); conv1d(p + ".qkv", 3 * c, c); conv1d(p + ".proj_out", c, c)
            case let .downsample(p, c), let .upsample(p, c): conv(p, c, c, 3)
            }
        }
        norm("out.0", finalChannels)
        conv("out.2", config.outChannels, finalChannels, 3)
        return d
    }
}

extension UNetModel {
    /// The parameter names and shapes a checkpoint for `config` must hold (no weights needed).
    public static func parameterShapes(for config: UNetConfig) throws -> [String: [Int]] {
        try UNetPlan(config).parameterShapes
    }

    /// Number of parameters of `config`'s network.
    public static func parameterCount(for config: UNetConfig) throws -> Int {
        try parameterShapes(for: config).values.reduce(0) { $0 + $1.reduce(1, *) }
    }
}
