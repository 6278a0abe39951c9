// The U-Net configuration, using the flag names of openai improved-diffusion's
// `script_util.py` (and guided-diffusion's additions), so that a checkpoint's
// training flags can be written into `config.json` unchanged (DESIGN §4.3–4.4).
//
// Conventions: `attention_resolutions` are image sizes in pixels (as the
// flags give them); the network attends at downsample factor ds where
// image_size / ds is in that list. `channel_mult` empty means the default for
// the image size (improved-diffusion: 256 → 1,1,2,2,4,4; 64 → 1,2,3,4;
// 32 → 1,2,2,2). `num_heads_upsample` −1 means `num_heads`. `num_head_channels`
// −1 means "use num_heads"; otherwise heads = channels / num_head_channels.

import Foundation
import TweedieCore

/// Which code base's UNetModel the weights come from (they differ in attention order and options).
public enum UNetArchitecture: String, Codable, Sendable, CaseIterable {
    case improvedDiffusion = "improved-diffusion"
    case guidedDiffusion = "guided-diffusion"
}

public struct UNetConfig: Codable, Equatable, Sendable {
    public var architecture: UNetArchitecture
    public var imageSize: Int
    public var inChannels: Int
    public var numChannels: Int
    public var numResBlocks: Int
    public var channelMult: [Int]
    public var attentionResolutions: [Int]
    public var numHeads: Int
    public var numHeadChannels: Int
    public var numHeadsUpsample: Int
    public var useScaleShiftNorm: Bool
    public var resblockUpdown: Bool
    public var useNewAttentionOrder: Bool
    public var learnSigma: Bool
    public var dropout: Double
    // Diffusion flags kept in the same file.
    public var diffusionSteps: Int
    public var noiseSchedule: ScheduleKind
    public var predictXstart: Bool

    public init(architecture: UNetArchitecture = .improvedDiffusion, imageSize: Int, inChannels: Int = 3,
                numChannels: Int, numResBlocks: Int, channelMult: [Int] = [], attentionResolutions: [Int] = [16, 8],
                numHeads: Int = 4, numHeadChannels: Int = -1, numHeadsUpsample: Int = -1,
                useScaleShiftNorm: Bool = true, resblockUpdown: Bool = false, useNewAttentionOrder: Bool = false,
                learnSigma: Bool = false, dropout: Double = 0, diffusionSteps: Int = 1000,
                noiseSchedule: ScheduleKind = .cosine, predictXstart: Bool = false) {
        self.architecture = architecture; self.imageSize = imageSize; self.inChannels = inChannels
        self.numChannels = numChannels; self.numResBlocks = numResBlocks; self.channelMult = channelMult
        self.attentionResolutions = attentionResolutions; self.numHeads = numHeads
        self.numHeadChannels = numHeadChannels; self.numHeadsUpsample = numHeadsUpsample
        self.useScaleShiftNorm = useScaleShiftNorm; self.resblockUpdown = resblockUpdown
        self.useNewAttentionOrder = useNewAttentionOrder; self.learnSigma = learnSigma; self.dropout = dropout
        self.diffusionSteps = diffusionSteps; self.noiseSchedule = noiseSchedule; self.predictXstart = predictXstart
    }

    /// channel_mult with improved-diffusion's image-size defaults applied.
    public var resolvedChannelMult: [Int] {
        if !channelMult.isEmpty { return channelMult }
        switch imageSize {
        case 512: return [1, 1, 2, 2, 4, 4]   // guided-diffusion's 512 default is (0.5,1,1,2,2,4,4); not representable with Int
        case 256: return [1, 1, 2, 2, 4, 4]
        case 128: return [1, 1, 2, 3, 4]
        case 64: return [1, 2, 3, 4]
        case 32: return [1, 2, 2, 2]
        default: return [1, 2, 2, 2]
        }
    }
    /// Output channels of the network (doubled when learn_sigma).
    public var outChannels: Int { learnSigma ? 2 * inChannels : inChannels }
    /// Downsample factors ds at which attention blocks sit.
    public var attentionDownsampleFactors: Set<Int> { Set(attentionResolutions.map { imageSize / $0 }) }
    public var resolvedHeadsUpsample: Int { numHeadsUpsample == -1 ? numHeads : numHeadsUpsample }
    /// What the network predicts.
    public var predictionType: PredictionType { predictXstart ? .x0 : .epsilon }

    enum CodingKeys: String, CodingKey {
        case architecture, imageSize = "image_size", inChannels = "in_channels", numChannels = "num_channels"
        case numResBlocks = "num_res_blocks", channelMult = "channel_mult"
        case attentionResolutions = "attention_resolutions", numHeads = "num_heads"
        case numHeadChannels = "num_head_channels", numHeadsUpsample = "num_heads_upsample"
        case useScaleShiftNorm = "use_scale_shift_norm", resblockUpdown = "resblock_updown"
        case useNewAttentionOrder = "use_new_attention_order", learnSigma = "learn_sigma", dropout
        case diffusionSteps = "diffusion_steps", noiseSchedule = "noise_schedule", predictXstart = "predict_xstart"
    }

    /// Decodes flags as improved-diffusion writes them: lists may be "16,8" strings or JSON arrays;
    /// everything but image_size, num_channels and num_res_blocks has improved-diffusion's default.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func intList(_ key: CodingKeys) throws -> [Int]? {
            if let a = try? c.decode([Int].self, forKey: key) { return a }
            if let s = try? c.decode(String.self, forKey: key) {
                let parts = s.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
                var out: [Int] = []
                for p in parts where !p.isEmpty {
                    guard let v = Int(p) else {
                        throw DecodingError.dataCorruptedError(forKey: key, in: c,
                            debugDescription: "'\(s)' is not a comma-separated list of integers")
                    }
                    out.append(v)
                }
                return out
            }
            return nil
        }
        architecture = try c.decodeIfPresent(UNetArchitecture.self, forKey: .architecture) ?? .improvedDiffusion
        imageSize = try c.decode(Int.self, forKey: .imageSize)
        inChannels = try c.decodeIfPresent(Int.self, forKey: .inChannels) ?? 3
        numChannels = try c.decode(Int.self, forKey: .numChannels)
        numResBlocks = try c.decode(Int.self, forKey: .numResBlocks)
        channelMult = try intList(.channelMult) ?? []
        attentionResolutions = try intList(.attentionResolutions) ?? [16, 8]
        numHeads = try c.decodeIfPresent(Int.self, forKey: .numHeads) ?? 4
        numHeadChannels = try c.decodeIfPresent(Int.self, forKey: .numHeadChannels) ?? -1
        numHeadsUpsample = try c.decodeIfPresent(Int.self, forKey: .numHeadsUpsample) ?? -1
        useScaleShiftNorm = try c.decodeIfPresent(Bool.self, forKey: .useScaleShiftNorm) ?? true
        resblockUpdown = try c.decodeIfPresent(Bool.self, forKey: .resblockUpdown) ?? false
        useNewAttentionOrder = try c.decodeIfPresent(Bool.self, forKey: .useNewAttentionOrder) ?? false
        learnSigma = try c.decodeIfPresent(Bool.self, forKey: .learnSigma) ?? false
        dropout = try c.decodeIfPresent(Double.self, forKey: .dropout) ?? 0
        diffusionSteps = try c.decodeIfPresent(Int.self, forKey: .diffusionSteps) ?? 1000
        noiseSchedule = try c.decodeIfPresent(ScheduleKind.self, forKey: .noiseSchedule) ?? .linear
        predictXstart = try c.decodeIfPresent(Bool.self, forKey: .predictXstart) ?? false
    }
}

extension UNetConfig {
    /// Attention heads of a block with `channels` channels: channels / num_head_channels when that flag is
    /// set (guided-diffusion), else `numHeads`.
    public func headCount(channels: Int, numHeads: Int) -> Int {
        numHeadChannels == -1 ? numHeads : channels / numHeadChannels
    }

    /// One line naming the flags that shape the weights (for error messages and provenance).
    public var summary: String {
        "\(architecture.rawValue), image_size \(imageSize), in_channels \(inChannels), num_channels \(numChannels), "
            + "num_res_blocks \(numResBlocks), channel_mult \(resolvedChannelMult.map(String.init).joined(separator: ",")), "
            + "attention_resolutions \(attentionResolutions.map(String.init).joined(separator: ",")), "
            + "learn_sigma \(learnSigma), use_scale_shift_norm \(useScaleShiftNorm)"
            + (architecture == .guidedDiffusion ? ", resblock_updown \(resblockUpdown), num_head_channels \(numHeadChannels)" : "")
    }

    /// Checks that the flags describe a network this architecture can have (channel counts divisible by
    /// GroupNorm's 32 groups, heads dividing channels, image size divisible by the downsampling).
    public func validate() throws {
        func bad(_ what: String, _ problem: String) -> TweedieError {
            TweedieError.invalidInput(what: "U-Net config \(what)", problem: problem)
        }
        guard imageSize > 0 else { throw bad("image_size", "must be positive, got \(imageSize)") }
        guard inChannels > 0 else { throw bad("in_channels", "must be positive, got \(inChannels)") }
        guard numChannels > 0 else { throw bad("num_channels", "must be positive, got \(numChannels)") }
        guard numResBlocks >= 1 else { throw bad("num_res_blocks", "must be at least 1, got \(numResBlocks)") }
        let mult = resolvedChannelMult
        guard mult.allSatisfy({ $0 >= 1 }) else { throw bad("channel_mult", "entries must be ≥ 1, got \(mult)") }
        // Sizes far beyond any network this runs (a damaged config.json): refused before the channel
        // and parameter products below could overflow.
        for (name, value, limit) in [("image_size", imageSize, 1 << 16), ("in_channels", inChannels, 1 << 12),
                                     ("num_channels", numChannels, 1 << 14), ("num_res_blocks", numResBlocks, 64),
                                     ("channel_mult length", mult.count, 16), ("channel_mult entry", mult.max() ?? 1, 64)]
        where value > limit {
            throw bad(name, "\(value) is beyond any U-Net Tweedie runs (at most \(limit)); the config is damaged")
        }
        for m in mult where (m * numChannels) % 32 != 0 {
            throw bad("num_channels", "\(m)·\(numChannels) = \(m * numChannels) channels is not divisible by GroupNorm's 32 groups; use a multiple of 32")
        }
        let factor = 1 << (mult.count - 1)
        guard imageSize % factor == 0 else {
            throw bad("image_size", "\(imageSize) is not divisible by \(factor) (\(mult.count) levels of channel_mult)")
        }
        guard attentionResolutions.allSatisfy({ $0 > 0 }) else {
            throw bad("attention_resolutions", "entries must be positive, got \(attentionResolutions)")
        }
        if architecture == .improvedDiffusion {
            if mult[0] != 1 {
                throw bad("channel_mult", "improved-diffusion's UNetModel needs channel_mult[0] = 1 (its first and last convs have num_channels channels), got \(mult[0]); use guided-diffusion for other widths")
            }
            if resblockUpdown || useNewAttentionOrder || numHeadChannels != -1 {
                throw bad("architecture", "resblock_updown, use_new_attention_order and num_head_channels are guided-diffusion options; set \"architecture\": \"guided-diffusion\"")
            }
        }
        guard numHeadChannels == -1 || numHeadChannels > 0 else {
            throw bad("num_head_channels", "must be -1 or positive, got \(numHeadChannels)")
        }
        // Heads must divide the channels of every attention block.
        let ds = attentionDownsampleFactors
        var level = 1
        for m in mult {
            if ds.contains(level) || level == factor {
                let ch = m * numChannels
                for (flag, heads) in [("num_heads", numHeads), ("num_heads_upsample", resolvedHeadsUpsample)] {
                    let h = headCount(channels: ch, numHeads: heads)
                    if numHeadChannels != -1 {
                        guard ch % numHeadChannels == 0 else {
                            throw bad("num_head_channels", "\(numHeadChannels) does not divide the \(ch) channels of an attention block")
                        }
                    } else {
                        guard h >= 1, ch % h == 0 else {
                            throw bad(flag, "\(heads) heads do not divide the \(ch) channels of an attention block")
                        }
                    }
                }
            }
            level *= 2
        }
    }
}
