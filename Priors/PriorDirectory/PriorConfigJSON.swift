// Reading and writing `config.json` (format in PriorConfig.swift). Every
// problem is a `TweedieError.model` naming the file and the key, with what to
// write instead.

import Foundation
import TweedieCore

extension PriorConfig {
    /// Parses config.json bytes (or a training-flags file with the prior metadata added).
    /// - Parameters:
    ///   - path: the file, for error messages.
    ///   - defaultName: the prior's name when the file has no "name" (e.g. the directory name).
    public static func parse(_ data: Data, path: String, defaultName: String) throws -> PriorConfig {
        func fail(_ p: String) -> TweedieError { .model(path: path, problem: p) }
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw fail("not a JSON object; a prior config is a JSON object of improved-diffusion flags plus bands, pixel_scale and pixel_transform")
        }
        let unet = try decodeUNet(data, fail: fail)
        try checkUNet(unet, object, fail: fail)
        // Metadata lives in the "prior" object (as training writes it) or, in a flat flags file, at the top level.
        var meta: [String: Any] = [:]
        if let p = object["prior"] {
            guard let m = p as? [String: Any] else { throw fail("key 'prior' must be an object holding the prior's metadata") }
            meta = m
        }
        func value(_ key: String) -> Any? {
            if let v = object[key], !(v is NSNull), !unetKeys.contains(key) { return v }
            if let v = meta[key], !(v is NSNull) { return v }
            return nil
        }
        func string(_ key: String) throws -> String? {
            guard let v = value(key) else { return nil }
            guard let s = v as? String else { throw fail("key '\(key)' must be a string") }
            return s
        }

        let name = try string("name") ?? defaultName
        // Bands: one name per input channel.
        guard let bandsAny = value("bands") else {
            let example = (0..<max(unet.inChannels, 1)).map { i in i < 5 ? "\"\(["g", "r", "i", "z", "y"][i])\"" : "\"b\(i)\"" }
            throw fail("missing key 'bands'; add the band of each of the \(unet.inChannels) channel(s), e.g. \"bands\": [\(example.joined(separator: ", "))]")
        }
        guard let bands = bandsAny as? [String], bands.allSatisfy({ !$0.isEmpty }) else {
            throw fail("key 'bands' must be a list of non-empty strings, e.g. [\"g\", \"r\", \"i\"]")
        }
        guard bands.count == unet.inChannels else {
            throw fail("key 'bands' names \(bands.count) band(s) but in_channels is \(unet.inChannels); give one band per channel")
        }
        if let size = meta["image_size"] {
            guard let n = size as? NSNumber, n.intValue == unet.imageSize, n.doubleValue == Double(unet.imageSize) else {
                throw fail("prior image_size \(size) disagrees with the network flag image_size \(unet.imageSize)")
            }
        }
        let pixelScale = try parsePixelScale(value("pixel_scale"), unit: value("pixel_scale_unit"), fail: fail)
        let transform = try parseTransform(value("pixel_transform"), fail: fail)

        var prediction = unet.predictionType
        if let p = try string("prediction_type") {
            guard let t = PredictionType(rawValue: p) else {
                throw fail("key 'prediction_type' is '\(p)'; use one of \(PredictionType.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            if (t == .x0) != unet.predictXstart {
                throw fail("key 'prediction_type' is '\(p)' but predict_xstart is \(unet.predictXstart); make them agree")
            }
            prediction = t
        }
        let weights = try string("weights") ?? "weights.safetensors"
        guard !weights.isEmpty, !weights.contains("/"), weights != ".", weights != ".." else {
            throw fail("key 'weights' must be a file name inside the prior directory, got '\(weights)'")
        }
        var sha: String?
        if let s = try string("weights_sha256") {
            let hex = s.lowercased()
            guard hex.count == 64, hex.allSatisfy({ $0.isHexDigit }) else {
                throw fail("key 'weights_sha256' is not a 64-digit hexadecimal SHA-256")
            }
            sha = hex
        }
        let variance = try parseVarianceMap(value("variance_map"), fail: fail)

        var other: [String: JSONValue] = [:]
        for (k, v) in object where k != "prior" && !unetKeys.contains(k) && !metadataKeys.contains(k) { other[k] = JSONValue(v) }
        var otherPrior: [String: JSONValue] = [:]
        for (k, v) in meta where !metadataKeys.contains(k) { otherPrior[k] = JSONValue(v) }
        var config = PriorConfig(unet: unet, name: name, bands: bands, pixelScale: pixelScale, pixelTransform: transform,
                                 predictionType: prediction, weightsFile: weights, weightsSHA256: sha,
                                 varianceMap: variance, otherKeys: other)
        config.otherPriorKeys = otherPrior
        var samplingKeys: [String: JSONValue] = [:]
        for k in PriorSamplingDefaults.keys { if let v = value(k) { samplingKeys[k] = JSONValue(v) } }
        config.sampling = try PriorSamplingDefaults(priorKeys: samplingKeys, fail: fail)
        return config
    }

    /// Reads and parses a config file.
    public static func read(_ url: URL, defaultName: String) throws -> PriorConfig {
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw TweedieError.io(path: url.path, problem: "no such file; check the path")
        }
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw TweedieError.io(path: url.path, problem: "cannot read the file: \(error.localizedDescription)")
        }
        return try parse(data, path: url.path, defaultName: defaultName)
    }

    /// config.json bytes: the U-Net flags and prediction type at the top level, the metadata in "prior",
    /// kept keys where they were; keys sorted, pretty-printed.
    public func jsonData() throws -> Data {
        var object: [String: Any] = otherKeys.mapValues(\.any)
        let unetData = try JSONEncoder().encode(unet)
        guard let unetObject = try JSONSerialization.jsonObject(with: unetData) as? [String: Any] else {
            throw TweedieError.numerical(problem: "internal: U-Net config did not encode to a JSON object")
        }
        for (k, v) in unetObject { object[k] = v }
        object["prediction_type"] = predictionType.rawValue
        var prior: [String: Any] = otherPriorKeys.mapValues(\.any)
        prior["name"] = name
        prior["bands"] = bands
        prior["image_size"] = unet.imageSize
        prior["pixel_scale"] = pixelScale.value
        prior["pixel_scale_unit"] = pixelScale.unit.rawValue
        prior["pixel_transform"] = pixelTransform.json
        prior["weights"] = weightsFile
        if let weightsSHA256 { prior["weights_sha256"] = weightsSHA256 }
        if let varianceMap { prior["variance_map"] = varianceMap.json }
        for (k, v) in sampling.json { prior[k] = v }
        object["prior"] = prior
        var data = try JSONSerialization.data(withJSONObject: object,
                                              options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        data.append(0x0A)
        return data
    }

    // MARK: - Pieces

    private static func decodeUNet(_ data: Data, fail: (String) -> TweedieError) throws -> UNetConfig {
        do {
            return try JSONDecoder().decode(UNetConfig.self, from: data)
        } catch let DecodingError.keyNotFound(key, _) {
            throw fail("missing U-Net flag '\(key.stringValue)' (improved-diffusion's flag names: image_size, num_channels, num_res_blocks, …)")
        } catch let DecodingError.typeMismatch(type, context) {
            throw fail("U-Net flag '\(context.codingPath.map(\.stringValue).joined(separator: "."))' has the wrong type (expected \(type))")
        } catch let DecodingError.valueNotFound(type, context) {
            throw fail("U-Net flag '\(context.codingPath.map(\.stringValue).joined(separator: "."))' is null (expected \(type))")
        } catch let DecodingError.dataCorrupted(context) {
            let key = context.codingPath.map(\.stringValue).joined(separator: ".")
            if key == "architecture" {
                throw fail("key 'architecture' must be one of \(UNetArchitecture.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            if key == "noise_schedule" {
                throw fail("key 'noise_schedule' must be one of \(ScheduleKind.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            throw fail("U-Net flag '\(key)': \(context.debugDescription)")
        } catch {
            throw fail("cannot read the U-Net flags: \(error)")
        }
    }

    private static func checkUNet(_ u: UNetConfig, _ object: [String: Any], fail: (String) -> TweedieError) throws {
        func positive(_ v: Int, _ key: String) throws {
            guard v > 0 else { throw fail("U-Net flag '\(key)' must be positive, got \(v)") }
        }
        try positive(u.imageSize, "image_size")
        try positive(u.inChannels, "in_channels")
        try positive(u.numChannels, "num_channels")
        try positive(u.numResBlocks, "num_res_blocks")
        try positive(u.numHeads, "num_heads")
        guard u.diffusionSteps >= 2 else { throw fail("U-Net flag 'diffusion_steps' must be at least 2, got \(u.diffusionSteps)") }
        guard u.channelMult.allSatisfy({ $0 > 0 }) else { throw fail("U-Net flag 'channel_mult' must hold positive integers") }
        guard u.attentionResolutions.allSatisfy({ $0 > 0 }) else {
            throw fail("U-Net flag 'attention_resolutions' must hold positive image sizes")
        }
        if let c = object["class_cond"] as? NSNumber, c.boolValue {
            throw fail("class_cond is true: class-conditional networks are not supported (Tweedie needs an unconditional prior)")
        }
    }

    private static func number(_ o: [String: Any], _ key: String, in what: String, default d: Double? = nil,
                               _ fail: (String) -> TweedieError) throws -> Double {
        guard let v = o[key] else {
            if let d { return d }
            throw fail("\(what) needs '\(key)'")
        }
        guard let n = v as? NSNumber, String(cString: n.objCType) != "c", n.doubleValue.isFinite else {
            throw fail("\(what): '\(key)' must be a finite number")
        }
        return n.doubleValue
    }

    /// pixel_scale as a number with pixel_scale_unit, or as an object {"value": …, "unit": …}.
    static func parsePixelScale(_ v: Any?, unit unitAny: Any?, fail: (String) -> TweedieError) throws -> PixelScale {
        let example = "e.g. \"pixel_scale\": 0.4, \"pixel_scale_unit\": \"kpc/px\" (or arcsec/px)"
        guard let v else { throw fail("missing key 'pixel_scale'; add the physical size of a prior pixel, \(example)") }
        let valueAny: Any?
        var unitText = unitAny as? String
        if let o = v as? [String: Any] {
            valueAny = o["value"]
            unitText = (o["unit"] as? String) ?? unitText
        } else {
            valueAny = v
        }
        guard let n = valueAny as? NSNumber, String(cString: n.objCType) != "c", n.doubleValue.isFinite else {
            throw fail("key 'pixel_scale' must be a finite number, \(example)")
        }
        let value = n.doubleValue
        guard value > 0 else { throw fail("pixel_scale must be positive, got \(value)") }
        guard let unitText else { throw fail("pixel_scale needs a unit, \(example)") }
        let aliases: [String: PixelScale.Unit] = [
            "kpc/px": .kiloparsecPerPixel, "kpc/pixel": .kiloparsecPerPixel, "kpc": .kiloparsecPerPixel,
            "arcsec/px": .arcsecondPerPixel, "arcsec/pixel": .arcsecondPerPixel, "arcsec": .arcsecondPerPixel,
            "″/px": .arcsecondPerPixel, "\"/px": .arcsecondPerPixel,
        ]
        guard let unit = aliases[unitText.trimmingCharacters(in: .whitespaces).lowercased()] else {
            throw fail("pixel_scale unit '\(unitText)' is not known; use kpc/px or arcsec/px")
        }
        return PixelScale(value: value, unit: unit)
    }

    static func parseTransform(_ v: Any?, fail: (String) -> TweedieError) throws -> PixelTransformSpec {
        let example = "e.g. {\"type\": \"asinh\", \"softening\": 0.02, \"gain\": 1, \"offset\": 0}, {\"type\": \"affine\", \"scale\": 1, \"offset\": 0} or {\"type\": \"gamma-root\", \"gamma\": 2, \"max\": 1}"
        guard let v else { throw fail("missing key 'pixel_transform' (network value u → physical flux x); add one, \(example)") }
        guard let o = v as? [String: Any], let type = o["type"] as? String else {
            throw fail("key 'pixel_transform' must be an object with a 'type', \(example)")
        }
        let what = "pixel_transform '\(type)'"
        switch type.lowercased() {
        case "affine", "identity":
            let scale = try number(o, "scale", in: what, default: 1, fail)
            let offset = try number(o, "offset", in: what, default: 0, fail)
            guard scale != 0 else { throw fail("\(what): scale must not be 0") }
            return .affine(scale: scale, offset: offset)
        case "asinh":
            let softening = try number(o, "softening", in: what, fail)
            let gain = try number(o, "gain", in: what, default: 1, fail)
            let offset = try number(o, "offset", in: what, default: 0, fail)
            guard softening > 0 else { throw fail("\(what): softening must be positive, got \(softening)") }
            guard gain != 0 else { throw fail("\(what): gain must not be 0") }
            return .asinh(softening: softening, gain: gain, offset: offset)
        case "gamma-root", "gamma_root", "gammaroot":
            let gamma = try number(o, "gamma", in: what, fail)
            let maxValue = try number(o, "max", in: what, fail)
            guard gamma > 0, maxValue > 0 else { throw fail("\(what): gamma and max must be positive") }
            return .gammaRoot(gamma: gamma, maxValue: maxValue)
        default:
            throw fail("pixel_transform type '\(type)' is not known; \(example)")
        }
    }

    static func parseVarianceMap(_ v: Any?, fail: (String) -> TweedieError) throws -> VarianceMapInfo? {
        guard let v, !(v is NSNull) else { return nil }
        guard let o = v as? [String: Any] else {
            throw fail("key 'variance_map' must be an object {\"file\": \"variance.fits\", \"samples\": N, \"space\": \"network\"}")
        }
        let file = (o["file"] as? String) ?? "variance.fits"
        guard !file.isEmpty, !file.contains("/") else { throw fail("variance_map file must be a file name inside the prior directory") }
        guard let n = o["samples"] as? NSNumber, String(cString: n.objCType) != "c",
              n.doubleValue == n.doubleValue.rounded(), n.intValue >= 2 else {
            throw fail("variance_map needs 'samples', the number N ≥ 2 of unconditional samples it was estimated from")
        }
        guard let spaceText = o["space"] as? String, let space = VarianceMapInfo.Space(rawValue: spaceText) else {
            throw fail("variance_map needs 'space': \(VarianceMapInfo.Space.allCases.map(\.rawValue).joined(separator: " or "))")
        }
        var info = VarianceMapInfo(file: file, samples: n.intValue, space: space)
        if let steps = o["steps"] as? NSNumber, String(cString: steps.objCType) != "c" { info.steps = steps.intValue }
        info.sampler = o["sampler"] as? String
        if let seed = o["seed"] as? String { info.seed = UInt64(seed) } else if let seed = o["seed"] as? NSNumber { info.seed = seed.uint64Value }
        info.physicalHDU = o["physical_hdu"] as? String
        return info
    }
}
