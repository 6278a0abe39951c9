// One case of a study: its parameters turned into the files `tweedie sample`
// reads (truth on the prior grid scaled to the case's flux, operator spec,
// noisy observation) and into sampler arguments. Everything is deterministic in
// the parameters, so rewriting the inputs of an interrupted case reproduces them.
import Foundation
import TweedieCore
import TweedieOperators
import TweedieSampling
import Yams

struct StudyCase {
    let parameters: [String: StudyValue]
    let context: StudyContext

    static let known: Set<String> = ["truth", "magnitude", "zero_point", "flux", "flux_band", "redshift", "pixel_scale",
                                     "bands", "psf", "psf_fwhm", "psf_beta", "psf_size", "psf_pixel_scale", "sigma", "noise_seed",
                                     "sampler", "samples", "steps", "batch", "guidance", "seed", "clip",
                                     "gibbs_iterations", "gibbs_rho_max", "gibbs_prior_steps", "particles", "samples_per_population", "smc_tempering", "dps_eta",
                                     "flux_scale", "aperture_radius", "label"]

    func number(_ k: String) throws -> Double? {
        guard let v = parameters[k] else { return nil }
        guard let d = v.number else {
            throw TweedieError.invalidInput(what: "study parameter \(k)", problem: "must be a number, got '\(v)'")
        }
        return d
    }
    func string(_ k: String) -> String? { parameters[k]?.description }

    struct Inputs {
        var truth: String, observation: String, spec: String
        /// σ per observed band (empty for a radio case, whose noise the operator's uv step declares).
        var sigma: [Double]
        var flux: Double
        var metadata: [String: Any]
    }

    /// A parameter that must be a whole number (samples, batch, seed).
    func whole(_ k: String) throws -> Int? {
        guard let v = try number(k) else { return nil }
        guard v == v.rounded(), abs(v) < 1e15 else {
            throw TweedieError.invalidInput(what: "study parameter \(k)", problem: "must be a whole number, got \(v)")
        }
        return Int(v)
    }

    /// Checks what can be checked before any file is read or written, so that a spec with a wrong
    /// value is refused before the study directory exists: parameter names, numbers where numbers
    /// go, the sample count and the sampler with its settings.
    func validate() throws {
        try checkKeys()
        for k in ["truth", "magnitude", "zero_point", "flux", "redshift", "pixel_scale", "psf_fwhm", "psf_beta", "psf_size",
                  "psf_pixel_scale", "noise_seed", "aperture_radius"] {
            _ = try number(k)
        }
        if let problem = PosteriorDefaults.samplesProblem(try whole("samples") ?? PosteriorDefaults.samples, name: "study parameter samples") {
            throw TweedieError.invalidInput(what: "study spec", problem: problem)
        }
        if let b = try whole("batch"), b < 1 {
            throw TweedieError.invalidInput(what: "study parameter batch", problem: "must be ≥ 1, got \(b)")
        }
        if let s = try whole("seed"), s < 0 {
            throw TweedieError.invalidInput(what: "study parameter seed", problem: "must be ≥ 0, got \(s)")
        }
        try samplerRequest().validate(what: "study parameter sampler")
    }

    /// Every parameter is known, and radio parameters come only with uv:.
    func checkKeys() throws {
        for k in parameters.keys where !Self.known.contains(k) && !Self.radioKeys.contains(k) && !k.hasPrefix("sampler.") {
            throw TweedieError.invalidInput(what: "study parameter '\(k)'", problem: "unknown; known: \(Self.known.union(Self.radioKeys).sorted().joined(separator: ", "))")
        }
        if !isRadio, let k = parameters.keys.filter({ Self.radioKeys.contains($0) }).sorted().first {
            throw TweedieError.invalidInput(what: "study parameter '\(k)'", problem: "belongs to a radio case; add uv: (an antenna configuration) or remove it")
        }
    }

    func writeInputs(into dir: URL) throws -> Inputs {
        try checkKeys()
        if isRadio { return try writeRadioInputs(into: dir) }
        // Truth: image `truth` of the truths cube, unit flux in flux_band → scaled.
        var truth = try selectedTruth(describing: "a FITS cube of truth images on the prior grid")
        let cube = truth, shape = truth.shape, t = Int(try number("truth") ?? 0)
        let band = string("flux_band") ?? (cube.bands.contains("r") ? "r" : cube.bands.first ?? "")
        let bandIndex = cube.bands.firstIndex(of: band) ?? 0
        // Scale: with magnitude or flux, the truth's flux_band total becomes that flux, and the true
        // flux scale s (physical = s·T(u)) is flux / (the unscaled image's total): for a prior
        // normalised to unit flux (the galaxy prior) s = flux. Without either, the truth is used as it is.
        var flux: Double? = nil
        if let m = try number("magnitude") {
            flux = pow(10, -0.4 * (m - (try number("zero_point") ?? 27)))
        } else if let f = try number("flux") {
            flux = f
        }
        var scale = 1.0
        if let f = flux {
            let plane = truth.data[(bandIndex * shape.planeCount)..<((bandIndex + 1) * shape.planeCount)]
            let unit = plane.reduce(0.0) { $0 + Double($1) }
            guard unit > 0 else { throw TweedieError.invalidInput(what: "truth \(t)", problem: "has no positive flux in band \(band) to scale to a magnitude") }
            scale = f / unit
            truth.data = truth.data.map { Float(Double($0) * scale) }
        }
        truth.unit = truth.unit ?? ""  // the truths cube's BUNIT, '' when it gives none
        let truthPath = dir.appendingPathComponent("truth.fits").path
        try FITSWriter.write(truth, to: truthPath)

        // Operator spec: a typed chain, written to the case's operator.yaml for `sample` and the record.
        var chain: [OperatorSpec.Step] = []
        if let z = try number("redshift") {
            chain.append(.resample(.init(redshift: z, pixelScale: try number("pixel_scale") ?? 0.168)))
        } else if let p = try number("pixel_scale") {
            chain.append(.resample(.init(pixelScale: p)))
        }
        if let b = string("bands") {
            chain.append(.bands(b.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }))
        }
        // The spec's prior: section is filled from the prior by `sample`; here we need the operator
        // on the truth's grid, so take the prior's grid from the prior directory.
        let prior = try SamplingPrior.resolve(context.priorArgument)
        let specPath = dir.appendingPathComponent("operator.yaml").path
        func buildOperator(_ chain: [OperatorSpec.Step]) throws -> BuiltOperatorChain {
            var spec = OperatorSpec(prior: .init(), chain: chain)
            let specText = "# written by tweedie study run\n" + (try YAMLEncoder().encode(spec))
            try AtomicFileWrite.write(to: specPath) { try Data(specText.utf8).write(to: URL(fileURLWithPath: $0)) }
            spec.prior.height = shape.height; spec.prior.width = shape.width; spec.prior.bands = prior.denoiser.bands
            if let ps = prior.pixelScale {
                if ps.unit == "kpc/px" { spec.prior.pixelScaleKpc = ps.value } else { spec.prior.pixelScaleArcsec = ps.value }
            }
            return try spec.build(psfLoader: OperatorSpec.psfLoader(relativeTo: specPath))
        }

        let psf = string("psf") ?? "gaussian"
        // Default PSF stamp: 41 px, or the largest odd size that fits the observed image (at high
        // redshift the resampled image is smaller than 41 px).
        var size = 41
        if try number("psf_size") == nil, psf == "gaussian" || psf == "moffat", !chain.isEmpty {
            let observed = try buildOperator(chain).forwardOperator.outputShape
            let fit = min(observed.height, observed.width)
            size = min(41, fit % 2 == 1 ? fit : fit - 1)
        } else if let s = try number("psf_size") {
            size = Int(s)
        }
        let stampScale = try number("psf_pixel_scale")
        switch psf {
        case "gaussian":
            chain.append(.psf(.init(source: .init(gaussianFWHM: try number("psf_fwhm") ?? 0.7, size: size, pixelScale: stampScale))))
        case "moffat":
            chain.append(.psf(.init(source: .init(moffatFWHM: try number("psf_fwhm") ?? 0.7, beta: try number("psf_beta") ?? 3.5,
                                                  size: size, pixelScale: stampScale))))
        case "none":
            break
        default:
            chain.append(.psf(.init(source: .init(file: context.resolve(psf)))))
        }
        guard !chain.isEmpty else {
            throw TweedieError.invalidInput(what: "study case", problem: "describes no operator (give redshift / pixel_scale, bands or psf)")
        }
        let built = try buildOperator(chain)
        let A = built.forwardOperator
        let clean = try A.apply(truth)

        // Noise σ per observed band and the noisy observation (stream 0 of noise_seed).
        let os = A.outputShape
        guard let sv = parameters["sigma"]?.numbers, !sv.isEmpty, sv.allSatisfy({ $0 > 0 && $0.isFinite }) else {
            throw TweedieError.invalidInput(what: "study parameter sigma", problem: "needs a positive noise σ (one number or one per observed band)")
        }
        guard sv.count == 1 || sv.count == os.channels else {
            throw TweedieError.shapeMismatch(what: "study parameter sigma", expected: "1 or \(os.channels) values", got: "\(sv.count)")
        }
        let sig = sv.count == 1 ? [Double](repeating: sv[0], count: os.channels) : sv
        var noisy = clean
        var z = [Float](repeating: 0, count: os.count)
        z.withUnsafeMutableBufferPointer { SampleStream(seed: UInt64(try! number("noise_seed") ?? 1), index: 0).fillNormal($0) }
        for c in 0..<os.channels {
            for j in (c * os.planeCount)..<((c + 1) * os.planeCount) { noisy.data[j] += Float(sig[c]) * z[j] }
        }
        noisy.bands = built.outputBands
        noisy.unit = truth.unit
        let obsPath = dir.appendingPathComponent("observation.fits").path
        try FITSWriter.write(noisy, to: obsPath)

        // SNR (paper 003 Table 2): flux_band inside the centred disk of the aperture radius mapped to
        // the observed grid, over σ √N.
        let r = (try number("aperture_radius") ?? PosteriorMetrics.defaultAperture(shape).radius) * Double(os.width) / Double(shape.width)
        let ob = built.outputBands.firstIndex(of: band) ?? 0
        var s = 0.0, n = 0
        let cx = Double(os.width - 1) / 2, cy = Double(os.height - 1) / 2
        for y in 0..<os.height {
            for x in 0..<os.width where (Double(x) - cx) * (Double(x) - cx) + (Double(y) - cy) * (Double(y) - cy) <= r * r {
                s += Double(clean.data[(ob * os.height + y) * os.width + x]); n += 1
            }
        }
        let snr = n > 0 ? s / (sig[ob] * Double(n).squareRoot()) : .nan
        let meta: [String: Any] = ["observed_size": os.width, "upsampling": Double(shape.width) / Double(os.width),
                                   "snr": snr, "true_flux": flux ?? scale, "true_flux_scale": scale]
        return Inputs(truth: truthPath, observation: obsPath, spec: specPath,
                      sigma: sig, flux: scale, metadata: meta)
    }

    /// Image `truth` (default 0) of the spec's truths cube, as a batch of one (bands kept).
    func selectedTruth(describing what: String) throws -> ImageBatch {
        guard let truthsPath = context.spec.truths else {
            throw TweedieError.invalidInput(what: "study spec", problem: "needs truths: \(what)")
        }
        let cube = try FITSReader.read(context.resolve(truthsPath))
        let t = Int(try number("truth") ?? 0)
        guard t >= 0, t < cube.count else {
            throw TweedieError.invalidInput(what: "study parameter truth", problem: "index \(t) outside the truths cube (\(cube.count) images)")
        }
        let per = cube.shape.count
        var truth = try ImageBatch(count: 1, shape: cube.shape, data: Array(cube.data[(t * per)..<((t + 1) * per)]))
        truth.bands = cube.bands
        truth.header = cube.header
        return truth
    }

    /// The posterior request of this case: its inputs, and the sampler parameters over the
    /// defaults of `tweedie sample` (PosteriorDefaults), so a study case runs as that command would.
    func request(inputs: Inputs, prior: String, caseIndex: Int) throws -> PosteriorRequest {
        var r = PosteriorRequest(prior: prior, observation: inputs.observation, operatorSpec: try loadOperatorSpec(inputs.spec),
                                 operatorSpecPath: inputs.spec, samples: try whole("samples") ?? PosteriorDefaults.samples,
                                 command: "tweedie study run \(context.specPath) (case \(caseIndex): \(context.caseLabel(caseIndex)))")
        r.batch = try whole("batch") ?? PosteriorDefaults.batch
        r.seed = UInt64(max(0, try whole("seed") ?? 0))
        r.truth = inputs.truth
        if !inputs.sigma.isEmpty { r.noise = .sigma(inputs.sigma) }
        r.apertureRadius = try number("aperture_radius")
        switch string("flux_scale") ?? "true" {
        case "true": r.fluxScale = .given(inputs.flux)
        case "estimated": r.fluxScale = .estimated
        case let other:
            // A number: physical = s·T(u) with this s (e.g. an analytic prior in O(1) units standing in for Jy/px).
            guard let v = Double(other), v.isFinite, v > 0 else {
                throw TweedieError.invalidInput(what: "study parameter flux_scale", problem: "must be true, estimated or a number > 0, got '\(other)'")
            }
            r.fluxScale = .given(v)
        }
        r.names.sampler = "study parameter sampler"
        r.sampler = try samplerRequest()
        return r
    }

    /// `sampler` with its settings: the common ones (SamplerRequest.commonSettings, named as in
    /// `tweedie sample`) where they apply to its kind, then every `sampler.KEY` parameter.
    private func samplerRequest() throws -> SamplerRequest {
        func value(_ v: StudyValue) -> SamplerSettingValue {
            switch v {
            case let .number(d): return .number(d)
            case let .numbers(a): return .numbers(a)
            case let .string(t): return SamplerSettingValue(parsing: t)
            }
        }
        var common: [String: SamplerSettingValue] = [:], byKey: [String: SamplerSettingValue] = [:]
        for (name, v) in parameters {
            if name.hasPrefix("sampler.") { byKey[String(name.dropFirst("sampler.".count))] = value(v) } else { common[name] = value(v) }
        }
        return try SamplerRequest(kind: string("sampler") ?? PosteriorDefaults.sampler, common: common, settings: byKey,
                                  what: "study parameter sampler", name: { "study parameter \($0)" })
    }
}
