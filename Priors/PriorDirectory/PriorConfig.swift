// `config.json` of a prior directory (DESIGN §4.4): improved-diffusion's
// training flags at the top level (UNetConfig, plus "architecture" and
// "prediction_type") and the prior's own metadata in a "prior" object — the
// layout Priors/training/train.py writes. Keys Tweedie does not interpret
// (other training flags such as "rescale_timesteps", a "training" record,
// "flux_unit", "generator") are kept as they are.
//
//   {
//     "architecture": "improved-diffusion",          // or "guided-diffusion"
//     "image_size": 64, "in_channels": 1, "num_channels": 64, "num_res_blocks": 2,
//     "channel_mult": [1, 2, 2], "attention_resolutions": [16], "num_heads": 4,
//     "use_scale_shift_norm": true, "learn_sigma": false,
//     "diffusion_steps": 1000, "noise_schedule": "cosine", "predict_xstart": false,
//     "prediction_type": "epsilon",                    // optional: epsilon | x0 | v (default from predict_xstart)
//     "prior": {
//       "name": "galaxies-64",
//       "bands": ["r"],                                // one per in_channel
//       "image_size": 64,                              // optional; must equal the flag
//       "pixel_scale": 0.4, "pixel_scale_unit": "kpc/px",   // or "arcsec/px"
//       "pixel_transform": {"type": "asinh", "softening": 0.02, "gain": 1, "offset": 0},
//                     // or {"type": "affine", "scale": s, "offset": o}
//                     // or {"type": "gamma-root", "gamma": g, "max": m}
//       "weights": "weights.safetensors",              // optional (this default)
//       "weights_sha256": "…",                         // optional: checked by `tweedie prior info`
//       "variance_map": {"file": "variance.fits", "samples": 512, "space": "network",   // optional
//                        "steps": 250, "sampler": "ddpm", "seed": "0", "physical_hdu": "PHYSVAR"}  // (these optional)
//     }
//   }
//
// Reading also accepts the metadata keys at the top level (a flat flags file,
// convenient for `tweedie prior import --config`) and "pixel_scale" as an
// object {"value": 0.4, "unit": "kpc/px"}; "kpc/pixel" and "arcsec/pixel" are
// accepted units. Writing always produces the layout above.
//
// Pixel transforms are the `PixelTransform`s of TweedieCore: u is network
// space, x physical flux, x = T(u).

import Foundation
import TweedieCore

/// The physical size of one prior pixel.
public struct PixelScale: Equatable, Sendable, CustomStringConvertible {
    public enum Unit: String, Sendable, CaseIterable {
        case kiloparsecPerPixel = "kpc/px"
        case arcsecondPerPixel = "arcsec/px"
    }
    public var value: Double
    public var unit: Unit
    public init(value: Double, unit: Unit) { self.value = value; self.unit = unit }
    public var description: String { "\(value) \(unit.rawValue)" }
}

/// A pixel transform as declared in config.json (parameters kept in Double, as written).
public enum PixelTransformSpec: Equatable, Sendable, CustomStringConvertible {
    case affine(scale: Double, offset: Double)
    case asinh(softening: Double, gain: Double, offset: Double)
    case gammaRoot(gamma: Double, maxValue: Double)

    /// The transform object the sampler uses.
    public func makeTransform() -> any PixelTransform {
        switch self {
        case let .affine(scale, offset): return AffinePixelTransform(scale: Float(scale), offset: Float(offset))
        case let .asinh(softening, gain, offset):
            return AsinhTransform(softening: Float(softening), gain: Float(gain), offset: Float(offset))
        case let .gammaRoot(gamma, maxValue): return GammaRootTransform(gamma: Float(gamma), maxValue: Float(maxValue))
        }
    }

    /// The JSON object written to config.json.
    public var json: [String: Any] {
        switch self {
        case let .affine(scale, offset): return ["type": "affine", "scale": scale, "offset": offset]
        case let .asinh(s, g, o): return ["type": "asinh", "softening": s, "gain": g, "offset": o]
        case let .gammaRoot(g, m): return ["type": "gamma-root", "gamma": g, "max": m]
        }
    }

    public var description: String {
        switch self {
        case let .affine(scale, offset): return "affine: x = \(scale)·u + \(offset)"
        case let .asinh(s, g, o): return "asinh: u = asinh(x/\(s))·\(g) + \(o)"
        case let .gammaRoot(g, m): return "gamma-root: u = 2·(x/\(m))^(1/\(g)) − 1"
        }
    }
}

/// Where a prior's variance map is and how it was made.
public struct VarianceMapInfo: Equatable, Sendable {
    /// In which space the variance was computed (that of the variance ratio).
    public enum Space: String, Sendable, CaseIterable {
        case network
        case physical
    }
    /// File name inside the prior directory.
    public var file: String
    /// Number of unconditional samples it was estimated from.
    public var samples: Int
    public var space: Space
    /// Sampling steps, sampler, seed and the extension holding the physical-space variance, when recorded.
    public var steps: Int?
    public var sampler: String?
    public var seed: UInt64?
    public var physicalHDU: String?
    public init(file: String = "variance.fits", samples: Int, space: Space, steps: Int? = nil, sampler: String? = nil,
                seed: UInt64? = nil, physicalHDU: String? = nil) {
        self.file = file; self.samples = samples; self.space = space
        self.steps = steps; self.sampler = sampler; self.seed = seed; self.physicalHDU = physicalHDU
    }
    var json: [String: Any] {
        var o: [String: Any] = ["file": file, "samples": samples, "space": space.rawValue]
        if let steps { o["steps"] = steps }
        if let sampler { o["sampler"] = sampler }
        // As text: JSON numbers lose integers above 2^53.
        if let seed { o["seed"] = String(seed) }
        if let physicalHDU { o["physical_hdu"] = physicalHDU }
        return o
    }
}

/// The contents of a prior's config.json.
public struct PriorConfig: Sendable {
    public var unet: UNetConfig
    public var name: String
    public var bands: [String]
    public var pixelScale: PixelScale
    public var pixelTransform: PixelTransformSpec
    /// What the network predicts (explicit "prediction_type", else from predict_xstart).
    public var predictionType: PredictionType
    /// Weights file name inside the directory.
    public var weightsFile: String
    /// SHA-256 of the weights file recorded when the directory was made (nil when not recorded).
    public var weightsSHA256: String?
    public var varianceMap: VarianceMapInfo?
    /// Top-level keys not interpreted by Tweedie, kept verbatim (JSON values).
    public var otherKeys: [String: JSONValue]
    /// Keys of the "prior" object not interpreted by Tweedie (e.g. "flux_unit", "generator"), kept verbatim.
    public var otherPriorKeys: [String: JSONValue] = [:]
    /// The sampling settings the prior declares (dps_guidance, split_gibbs, x0_clip, unconditional_sampler).
    public var sampling = PriorSamplingDefaults()

    /// Keys this type interprets (UNetConfig's flags plus the prior metadata).
    static let metadataKeys: Set<String> = Set(["name", "bands", "image_size", "pixel_scale", "pixel_scale_unit",
                                            "pixel_transform", "prediction_type", "weights", "weights_sha256",
                                            "variance_map"]).union(PriorSamplingDefaults.keys)
    static let unetKeys: Set<String> = ["architecture", "image_size", "in_channels", "num_channels", "num_res_blocks",
                                        "channel_mult", "attention_resolutions", "num_heads", "num_head_channels",
                                        "num_heads_upsample", "use_scale_shift_norm", "resblock_updown",
                                        "use_new_attention_order", "learn_sigma", "dropout", "diffusion_steps",
                                        "noise_schedule", "predict_xstart"]

    public init(unet: UNetConfig, name: String, bands: [String], pixelScale: PixelScale,
                pixelTransform: PixelTransformSpec, predictionType: PredictionType? = nil,
                weightsFile: String = "weights.safetensors", weightsSHA256: String? = nil,
                varianceMap: VarianceMapInfo? = nil, otherKeys: [String: JSONValue] = [:]) {
        self.unet = unet; self.name = name; self.bands = bands; self.pixelScale = pixelScale
        self.pixelTransform = pixelTransform; self.predictionType = predictionType ?? unet.predictionType
        self.weightsFile = weightsFile; self.weightsSHA256 = weightsSHA256; self.varianceMap = varianceMap
        self.otherKeys = otherKeys
    }

    /// The noise schedule the network was trained with.
    public func schedule() throws -> NoiseSchedule {
        try NoiseSchedule(kind: unet.noiseSchedule, steps: unet.diffusionSteps)
    }

    /// One line describing the network.
    public var architectureSummary: String {
        let u = unet
        var parts = ["\(u.architecture.rawValue) U-Net", "\(u.imageSize) px",
                     "\(u.inChannels) → \(u.outChannels) channels\(u.learnSigma ? " (learn_sigma)" : "")",
                     "\(u.numChannels) base channels", "mult \(u.resolvedChannelMult.map(String.init).joined(separator: ","))",
                     "\(u.numResBlocks) res block\(u.numResBlocks == 1 ? "" : "s") per level",
                     "attention at \(u.attentionResolutions.map(String.init).joined(separator: ","))"]
        parts.append(u.numHeadChannels > 0 ? "\(u.numHeadChannels) channels per head" : "\(u.numHeads) heads")
        if u.useScaleShiftNorm { parts.append("scale-shift norm") }
        if u.resblockUpdown { parts.append("resblock up/down") }
        if u.useNewAttentionOrder { parts.append("new attention order") }
        return parts.joined(separator: ", ")
    }
}

/// A JSON value kept verbatim (for keys Tweedie does not interpret).
public indirect enum JSONValue: Equatable, Sendable {
    case null, bool(Bool), number(Double), string(String), array([JSONValue]), object([String: JSONValue])

    init(_ any: Any) {
        switch any {
        case let n as NSNumber:
            // JSONSerialization gives booleans as NSNumber of ObjC type "c" (a plain NSNumber also casts to Bool).
            self = String(cString: n.objCType) == "c" ? .bool(n.boolValue) : .number(n.doubleValue)
        case let b as Bool: self = .bool(b)
        case let s as String: self = .string(s)
        case let a as [Any]: self = .array(a.map(JSONValue.init))
        case let o as [String: Any]: self = .object(o.mapValues(JSONValue.init))
        default: self = .null
        }
    }

    var any: Any {
        switch self {
        case .null: return NSNull()
        case .bool(let b): return b
        case .number(let d): return d == d.rounded() && abs(d) < 9e15 ? Int(d) as Any : d as Any
        case .string(let s): return s
        case .array(let a): return a.map(\.any)
        case .object(let o): return o.mapValues(\.any)
        }
    }
}
