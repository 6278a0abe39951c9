// An operator chain described as data (issue 3 item 8): the model behind
// `--spec` files. Decodable from YAML (the CLI uses Yams) or JSON; keys are
// snake_case. Steps are applied in the order listed — as in paper 003 §2:
// resample to the observed grid first, then convolve with the observed PSF.
//
//   prior:                      # the prior grid the chain starts from
//     size: 256                 # or height: / width:
//     bands: [g, r, i]          # or channels: 3
//     pixel_scale_kpc: 0.4      # physical-scale prior (or pixel_scale_arcsec:)
//   chain:
//     - resample:               # f_{z,p}; redshift needed for a kpc prior
//         redshift: 0.3
//         pixel_scale: 0.168    # observed arcsec/pixel
//         H0: 67.66             # optional, flat ΛCDM (default Planck 2018)
//         Om0: 0.30966
//     - bands: [i]              # observe a subset of the bands
//     - psf:                    # one PSF for every band ...
//         moffat_fwhm: 0.6      # arcsec; or gaussian_fwhm:, or airy_lambda: + diameter: (metres), or file:
//         beta: 3
//         size: 41              # stamp pixels (analytic PSFs)
//         pixel_scale: 0.168    # default: the grid's scale at this point of the chain
//         boundary: linear      # or periodic
//     - psf:                    # ... or one per band
//         per_band:
//           - {gaussian_fwhm: 0.7, size: 41}
//           - {file: psf_i.fits, hdu: 1}
//     - uv: {config: alma.cycle10.3.cfg, declination: -23, hour_angle: [-0.1667, 0.1667],
//            frequency: 230e9, noise_rms: 5.0e-5}   # radio: must be last (UVOperatorSpec.swift)
//
// PSF files are read through a loader the caller supplies (the CLI passes its
// FITS reader), so this type does not depend on file formats; antenna
// configurations likewise (the CLI resolves them relative to the spec file).

import TweedieCore

public struct OperatorSpec: Codable, Sendable, Equatable {
    public struct Prior: Codable, Sendable, Equatable {
        public var size: Int?
        public var height: Int?
        public var width: Int?
        public var bands: [String]?
        public var channels: Int?
        public var pixelScaleKpc: Double?
        public var pixelScaleArcsec: Double?
        enum CodingKeys: String, CodingKey, CaseIterable {
            case size, height, width, bands, channels
            case pixelScaleKpc = "pixel_scale_kpc", pixelScaleArcsec = "pixel_scale_arcsec"
        }
        public init(from decoder: Decoder) throws {
            try rejectUnknownKeys(decoder, CodingKeys.self, in: "prior")
            let c = try decoder.container(keyedBy: CodingKeys.self)
            size = try c.decodeIfPresent(Int.self, forKey: .size)
            height = try c.decodeIfPresent(Int.self, forKey: .height)
            width = try c.decodeIfPresent(Int.self, forKey: .width)
            bands = try c.decodeIfPresent([String].self, forKey: .bands)
            channels = try c.decodeIfPresent(Int.self, forKey: .channels)
            pixelScaleKpc = try c.decodeIfPresent(Double.self, forKey: .pixelScaleKpc)
            pixelScaleArcsec = try c.decodeIfPresent(Double.self, forKey: .pixelScaleArcsec)
        }
        public init(size: Int? = nil, height: Int? = nil, width: Int? = nil, bands: [String]? = nil, channels: Int? = nil,
                    pixelScaleKpc: Double? = nil, pixelScaleArcsec: Double? = nil) {
            self.size = size; self.height = height; self.width = width; self.bands = bands; self.channels = channels
            self.pixelScaleKpc = pixelScaleKpc; self.pixelScaleArcsec = pixelScaleArcsec
        }
    }

    public struct Resample: Codable, Sendable, Equatable {
        public var redshift: Double?
        public var pixelScale: Double
        public var h0: Double?
        public var om0: Double?
        enum CodingKeys: String, CodingKey, CaseIterable { case redshift, pixelScale = "pixel_scale", h0 = "H0", om0 = "Om0" }
        public init(from decoder: Decoder) throws {
            try rejectUnknownKeys(decoder, CodingKeys.self, in: "resample")
            let c = try decoder.container(keyedBy: CodingKeys.self)
            redshift = try c.decodeIfPresent(Double.self, forKey: .redshift)
            guard let p = try c.decodeIfPresent(Double.self, forKey: .pixelScale) else {
                throw TweedieError.invalidInput(what: "operator spec resample",
                                                problem: "needs pixel_scale: (the observed arcsec/pixel)")
            }
            pixelScale = p
            h0 = try c.decodeIfPresent(Double.self, forKey: .h0)
            om0 = try c.decodeIfPresent(Double.self, forKey: .om0)
        }
        public init(redshift: Double? = nil, pixelScale: Double, h0: Double? = nil, om0: Double? = nil) {
            self.redshift = redshift; self.pixelScale = pixelScale; self.h0 = h0; self.om0 = om0
        }
    }

    /// One PSF: analytic (exactly one of the three profiles) or from a file.
    public struct PSFSource: Codable, Sendable, Equatable {
        public var gaussianFWHM: Double?
        public var moffatFWHM: Double?
        public var beta: Double?
        public var airyLambda: Double?
        public var diameter: Double?
        public var file: String?
        public var hdu: String?
        public var size: Int?
        public var pixelScale: Double?
        enum CodingKeys: String, CodingKey, CaseIterable {
            case gaussianFWHM = "gaussian_fwhm", moffatFWHM = "moffat_fwhm", beta, airyLambda = "airy_lambda", diameter
            case file, hdu, size, pixelScale = "pixel_scale"
        }
        public init(from decoder: Decoder) throws {
            try self.init(from: decoder, checkKeys: true)
        }
        init(from decoder: Decoder, checkKeys: Bool) throws {
            if checkKeys { try rejectUnknownKeys(decoder, CodingKeys.self, in: "psf") }
            let c = try decoder.container(keyedBy: CodingKeys.self)
            gaussianFWHM = try c.decodeIfPresent(Double.self, forKey: .gaussianFWHM)
            moffatFWHM = try c.decodeIfPresent(Double.self, forKey: .moffatFWHM)
            beta = try c.decodeIfPresent(Double.self, forKey: .beta)
            airyLambda = try c.decodeIfPresent(Double.self, forKey: .airyLambda)
            diameter = try c.decodeIfPresent(Double.self, forKey: .diameter)
            file = try c.decodeIfPresent(String.self, forKey: .file)
            // An HDU may be written as a number or a name.
            if let i = try? c.decodeIfPresent(Int.self, forKey: .hdu) { hdu = String(i) } else {
                hdu = try c.decodeIfPresent(String.self, forKey: .hdu)
            }
            size = try c.decodeIfPresent(Int.self, forKey: .size)
            pixelScale = try c.decodeIfPresent(Double.self, forKey: .pixelScale)
        }
        public init(gaussianFWHM: Double? = nil, moffatFWHM: Double? = nil, beta: Double? = nil, airyLambda: Double? = nil,
                    diameter: Double? = nil, file: String? = nil, hdu: String? = nil, size: Int? = nil, pixelScale: Double? = nil) {
            self.gaussianFWHM = gaussianFWHM; self.moffatFWHM = moffatFWHM; self.beta = beta; self.airyLambda = airyLambda
            self.diameter = diameter; self.file = file; self.hdu = hdu; self.size = size; self.pixelScale = pixelScale
        }
    }

    public struct PSF: Codable, Sendable, Equatable {
        /// A single PSF (for every band, or a file holding one plane per band) …
        public var source: PSFSource?
        /// … or one single-band PSF per band.
        public var perBand: [PSFSource]?
        public var boundary: ConvolutionBoundary?
        public var normalize: Bool?
        enum CodingKeys: String, CodingKey, CaseIterable { case perBand = "per_band", boundary, normalize }
        public init(source: PSFSource? = nil, perBand: [PSFSource]? = nil, boundary: ConvolutionBoundary? = nil,
                    normalize: Bool? = nil) {
            self.source = source; self.perBand = perBand; self.boundary = boundary; self.normalize = normalize
        }
        public init(from decoder: Decoder) throws {
            try rejectUnknownKeys(decoder, allowed: CodingKeys.allCases.map(\.stringValue)
                                  + PSFSource.CodingKeys.allCases.map(\.stringValue), in: "psf")
            let c = try decoder.container(keyedBy: CodingKeys.self)
            perBand = try c.decodeIfPresent([PSFSource].self, forKey: .perBand)
            boundary = try c.decodeIfPresent(ConvolutionBoundary.self, forKey: .boundary)
            normalize = try c.decodeIfPresent(Bool.self, forKey: .normalize)
            // The PSF's own keys sit beside boundary / normalize.
            let s = try PSFSource(from: decoder, checkKeys: false)
            source = s == PSFSource() ? nil : s
        }
        public func encode(to encoder: Encoder) throws {
            try source?.encode(to: encoder)
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encodeIfPresent(perBand, forKey: .perBand)
            try c.encodeIfPresent(boundary, forKey: .boundary)
            try c.encodeIfPresent(normalize, forKey: .normalize)
        }
    }

    /// One step of the chain: exactly one key.
    public enum Step: Codable, Sendable, Equatable {
        case resample(Resample)
        case bands([String])
        case psf(PSF)
        case uv(UV)
        enum CodingKeys: String, CodingKey, CaseIterable { case resample, bands, psf, uv }
        public init(from decoder: Decoder) throws {
            try rejectUnknownKeys(decoder, CodingKeys.self, in: "chain step")
            let c = try decoder.container(keyedBy: CodingKeys.self)
            guard c.allKeys.count == 1, let k = c.allKeys.first else {
                throw TweedieError.invalidInput(
                    what: "operator spec chain step",
                    problem: "must have exactly one of the keys resample, bands, psf, uv; got [\(c.allKeys.map(\.stringValue).joined(separator: ", "))]")
            }
            switch k {
            case .resample: self = .resample(try c.decode(Resample.self, forKey: k))
            case .bands: self = .bands(try c.decode([String].self, forKey: k))
            case .psf: self = .psf(try c.decode(PSF.self, forKey: k))
            case .uv: self = .uv(try c.decode(UV.self, forKey: k))
            }
        }
        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            switch self {
            case let .resample(r): try c.encode(r, forKey: .resample)
            case let .bands(b): try c.encode(b, forKey: .bands)
            case let .psf(p): try c.encode(p, forKey: .psf)
            case let .uv(u): try c.encode(u, forKey: .uv)
            }
        }
    }

    public var prior: Prior
    public var chain: [Step]

    enum CodingKeys: String, CodingKey, CaseIterable { case prior, chain }
    public init(prior: Prior, chain: [Step]) { self.prior = prior; self.chain = chain }
    public init(from decoder: Decoder) throws {
        try rejectUnknownKeys(decoder, CodingKeys.self, in: "operator spec")
        let c = try decoder.container(keyedBy: CodingKeys.self)
        // Optional: commands that know the prior (sample, demo) fill it in; describe / check need it.
        prior = try c.decodeIfPresent(Prior.self, forKey: .prior) ?? Prior()
        chain = try c.decode([Step].self, forKey: .chain)
    }
}

/// Any key, to list what a mapping holds.
struct AnySpecKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { return nil }
}

/// Throws when a mapping holds a key this spec does not know (nothing is silently ignored).
func rejectUnknownKeys<K: CodingKey & CaseIterable>(_ decoder: Decoder, _ keys: K.Type, in what: String) throws {
    try rejectUnknownKeys(decoder, allowed: K.allCases.map(\.stringValue), in: what)
}
func rejectUnknownKeys(_ decoder: Decoder, allowed: [String], in what: String) throws {
    let c = try decoder.container(keyedBy: AnySpecKey.self)
    for k in c.allKeys where !allowed.contains(k.stringValue) {
        throw TweedieError.invalidInput(what: "operator spec \(what)",
                                        problem: "unknown key '\(k.stringValue)'; expected one of \(allowed.joined(separator: ", "))")
    }
}

/// A built chain: the composed operator, each step with its own description, and warnings.
public struct BuiltOperatorChain: Sendable {
    public let forwardOperator: any ForwardOperator
    public let steps: [any ForwardOperator]
    /// Band names at the output (empty when unknown).
    public let outputBands: [String]
    /// The output grid's pixel scale in arcsec when known.
    public let outputPixelScaleArcsec: Double?
    /// Resampling geometry of each resample step (m(z,p), factors).
    public let geometries: [ResamplingGeometry]
    public let warnings: [String]
    /// The radio part when the chain ends in a `uv` step: its operator and noise (nil otherwise).
    public var uv: UVChainStep? = nil
}

/// Reads a PSF image (one image, bands along the channels) from a path and optional HDU.
public typealias PSFImageLoader = @Sendable (_ path: String, _ hdu: String?) throws -> ImageBatch

extension OperatorSpec {
    /// The prior grid's shape and band names.
    public func priorShape() throws -> (shape: ImageShape, bands: [String]) {
        let h = prior.height ?? prior.size, w = prior.width ?? prior.size
        guard let h, let w, h >= 1, w >= 1 else {
            throw TweedieError.invalidInput(what: "operator spec prior",
                                            problem: "needs size: N (or height: and width:) ≥ 1")
        }
        let bands = prior.bands ?? []
        let c = prior.channels ?? (bands.isEmpty ? 1 : bands.count)
        guard c >= 1 else {
            throw TweedieError.invalidInput(what: "operator spec prior channels", problem: "must be ≥ 1, got \(c)")
        }
        guard bands.isEmpty || bands.count == c else {
            throw TweedieError.shapeMismatch(what: "operator spec prior bands vs channels",
                                             expected: "\(c) band names", got: "\(bands.count)")
        }
        return (ImageShape(channels: c, height: h, width: w), bands)
    }

    /// Builds the chain. `psfLoader` reads PSF files (nil: files are refused with a clear error);
    /// `antennaLoader` reads the antenna configurations of `uv` steps (nil: the path as given).
    public func build(psfLoader: PSFImageLoader? = nil,
                      antennaLoader: AntennaConfigurationLoader? = nil) throws -> BuiltOperatorChain {
        guard !chain.isEmpty else {
            throw TweedieError.invalidInput(what: "operator spec chain", problem: "is empty; list at least one step")
        }
        var (shape, bands) = try priorShape()
        var arcsec = prior.pixelScaleArcsec
        var kpc = prior.pixelScaleKpc
        var steps: [any ForwardOperator] = []
        var geometries: [ResamplingGeometry] = []
        var warnings: [String] = []
        var uvStep: UVChainStep? = nil
        for (i, step) in chain.enumerated() {
            let what = "operator spec chain step \(i + 1)"
            if uvStep != nil {
                throw TweedieError.invalidInput(what: what, problem: "follows a uv step; a uv step must be the last step of the chain (its output is visibilities, not an image)")
            }
            switch step {
            case let .resample(r):
                if let k = kpc {
                    guard let z = r.redshift else {
                        throw TweedieError.invalidInput(what: what + " (resample)",
                                                        problem: "the prior is in kpc/pixel, so a redshift is needed")
                    }
                    let cosmo = (r.h0 != nil || r.om0 != nil)
                        ? try FlatLambdaCDM(hubbleConstant: r.h0 ?? FlatLambdaCDM.planck2018.hubbleConstant,
                                            matterDensity: r.om0 ?? FlatLambdaCDM.planck2018.matterDensity)
                        : FlatLambdaCDM.planck2018
                    let op = try RedshiftResampling(priorShape: shape, redshift: z, priorPixelKpc: k,
                                                    observedPixelArcsec: r.pixelScale, cosmology: cosmo)
                    geometries.append(op.geometry); warnings += op.geometry.warnings
                    steps.append(op)
                } else if let a = arcsec {
                    guard r.redshift == nil else {
                        throw TweedieError.invalidInput(what: what + " (resample)",
                                                        problem: "a redshift was given but the prior is in arcsec/pixel; give the prior's pixel_scale_kpc or drop the redshift")
                    }
                    let op = try PixelScaleResampling(priorShape: shape, priorPixelArcsec: a, observedPixelArcsec: r.pixelScale)
                    geometries.append(op.geometry); warnings += op.geometry.warnings
                    steps.append(op)
                } else {
                    throw TweedieError.invalidInput(what: what + " (resample)",
                                                    problem: "the grid's pixel scale is unknown; give the prior's pixel_scale_kpc or pixel_scale_arcsec")
                }
                arcsec = r.pixelScale; kpc = nil
                shape = steps.last!.outputShape
            case let .bands(names):
                let op: BandSelection
                if bands.isEmpty {
                    let idx = try names.map { n -> Int in
                        guard let i = Int(n) else {
                            throw TweedieError.invalidInput(what: what + " (bands)",
                                                            problem: "band '\(n)' is a name but the prior's bands are unnamed; name them under prior: bands:, or select by index")
                        }
                        return i
                    }
                    op = try BandSelection(inputShape: shape, indices: idx)
                } else {
                    op = try BandSelection(inputShape: shape, inputBands: bands, select: names)
                }
                steps.append(op)
                bands = op.selectedBands
                shape = op.outputShape
            case let .psf(p):
                let sources: [PSFSource]
                switch (p.source, p.perBand) {
                case let (s?, nil): sources = [s]
                case let (nil, list?) where !list.isEmpty: sources = list
                default:
                    throw TweedieError.invalidInput(what: what + " (psf)",
                                                    problem: "give either one PSF (gaussian_fwhm, moffat_fwhm, airy_lambda or file) or per_band: [...]")
                }
                if p.perBand != nil, sources.count != shape.channels {
                    throw TweedieError.shapeMismatch(what: what + " (psf per_band) vs bands at this step",
                                                     expected: "\(shape.channels) PSFs", got: "\(sources.count)")
                }
                let psfs = try sources.enumerated().map { j, s in
                    try s.load(what: what + (p.perBand != nil ? " psf per_band \(j + 1)" : " psf"),
                               gridPixelScale: arcsec, normalize: p.normalize ?? true, loader: psfLoader)
                }
                let psf = psfs.count == 1 ? psfs[0] : try PointSpreadFunction.perBand(psfs, bands: bands)
                warnings += psf.warnings
                let op = try PSFConvolution(psf: psf, imageShape: shape, boundary: p.boundary ?? .linear)
                steps.append(op)
            case let .uv(u):
                let built = try u.build(what: what + " (uv)", shape: shape, pixelScaleArcsec: arcsec, kpc: kpc,
                                        loader: antennaLoader)
                warnings += built.warnings
                steps.append(built.forwardOperator)
                shape = built.forwardOperator.outputShape
                uvStep = built
            }
        }
        var built = BuiltOperatorChain(forwardOperator: try composeOperators(steps), steps: steps, outputBands: bands,
                                       outputPixelScaleArcsec: arcsec, geometries: geometries, warnings: warnings)
        built.uv = uvStep
        return built
    }
}

extension OperatorSpec.PSFSource {
    /// Renders (analytic) or loads (file) this PSF.
    public func load(what: String, gridPixelScale: Double?, normalize: Bool = true,
                     loader: PSFImageLoader?) throws -> PointSpreadFunction {
        let analytic = [gaussianFWHM != nil, moffatFWHM != nil, airyLambda != nil].filter { $0 }.count
        guard analytic + (file != nil ? 1 : 0) == 1 else {
            throw TweedieError.invalidInput(what: what,
                                            problem: "give exactly one of gaussian_fwhm, moffat_fwhm (+ beta), airy_lambda (+ diameter), file")
        }
        if let f = file {
            guard let loader else {
                throw TweedieError.invalidInput(what: what, problem: "PSF files (\(f)) cannot be read here")
            }
            return try PointSpreadFunction(image: loader(f, hdu), source: f, normalize: normalize)
        }
        guard let scale = pixelScale ?? gridPixelScale else {
            throw TweedieError.invalidInput(what: what,
                                            problem: "an analytic PSF needs a pixel scale: give pixel_scale: (arcsec/pixel) or a prior / resample pixel scale")
        }
        guard let size, size >= 1 else {
            throw TweedieError.invalidInput(what: what, problem: "an analytic PSF needs size: (stamp pixels, ≥ 1)")
        }
        let profile: any AnalyticPSFProfile
        if let f = gaussianFWHM {
            profile = try GaussianPSF(fwhm: f)
        } else if let f = moffatFWHM {
            guard let b = beta else {
                throw TweedieError.invalidInput(what: what, problem: "a Moffat PSF needs beta:")
            }
            profile = try MoffatPSF(fwhm: f, beta: b)
        } else {
            guard let d = diameter else {
                throw TweedieError.invalidInput(what: what, problem: "an Airy PSF needs diameter: (metres)")
            }
            profile = try AiryPSF(wavelength: airyLambda!, diameter: d)
        }
        return try profile.render(pixelScale: scale, height: size, width: size)
    }
}

extension BuiltOperatorChain {
    /// The chain for a reader (`tweedie operator`, `simulate`): shapes, each step, resampling
    /// geometry, output bands and pixel scale, one line each.
    public var report: String {
        let built = self
        var lines: [String] = []
        let op = built.forwardOperator
        lines.append("operator: \(op.inputShape) → \(op.outputShape) (channels×height×width), linear: \(op.isLinear)")
        for (i, s) in built.steps.enumerated() {
            lines.append("  \(i + 1). \(s.summary)  [\(s.inputShape) → \(s.outputShape)]")
        }
        for g in built.geometries {
            lines.append("  m(z,p) = \(g.observedHeight)×\(g.observedWidth); observed/prior = \(String(format: "%.4g", g.scaleFactor)), "
                         + "reconstruction upsamples ×\(String(format: "%.4g", g.upsamplingFactor))")
        }
        if !built.outputBands.isEmpty { lines.append("  output bands: \(built.outputBands.joined(separator: ", "))") }
        if let p = built.outputPixelScaleArcsec { lines.append("  output pixel scale: \(p)″/px") }
        return lines.joined(separator: "\n")
    }
}
