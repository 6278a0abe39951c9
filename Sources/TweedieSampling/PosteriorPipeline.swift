// From a PosteriorRequest to a ready posterior problem and sampler (DESIGN §8): the prior, the
// observation (cut out), the operator chain (checked against the prior's grid), the background,
// the noise model, the flux scale, the sampler with the prior's declared defaults, the truth and
// the aperture, plus the run's description and fingerprint.
//
// Order matters for "no partial output": every input is read and checked here, before a caller
// creates any output.
import Foundation
import TweedieCore
import TweedieOperators
import TweediePriors

/// A prepared run: what `PosteriorPipeline.prepare` returns.
public struct PreparedPosterior {
    public var prior: SamplingPrior
    public var observation: ImageBatch
    public var problem: PosteriorProblem
    public var sampler: any PosteriorSampler
    public var truth: ImageBatch?
    public var aperture: (radius: Double, center: (x: Double, y: Double))?
    public var description: PosteriorRunDescription
    /// Everything that determines the samples (not the batch: results do not depend on it).
    public var fingerprint: String
    /// The observation's WCS carried to the prior grid, and as it is (for residual.fits).
    public var wcs: FITSHeader?
    public var observationWCS: FITSHeader?
    /// The radio end of the chain when the spec ends in a uv step (the observation is visibilities).
    public var uv: UVChainStep?
    /// The observation's pixel scale in arcsec as the operator spec's resample step states it, if any
    /// (the preview's scale bar when the observation has no WCS).
    public var observedPixelArcsec: Double? = nil
}

public enum PosteriorPipeline {
    /// Reads and checks every input of `request`; `warn` receives each warning (also kept in the
    /// description's notes).
    public static func prepare(_ request: PosteriorRequest, warn: (String) -> Void = { _ in }) throws -> PreparedPosterior {
        let r = request, names = r.names
        guard r.samples >= 1, r.batch >= 1 else {
            throw TweedieError.invalidInput(what: "samples / batch", problem: "must be ≥ 1, got \(r.samples) and \(r.batch)")
        }
        if let problem = PosteriorDefaults.samplesProblem(r.samples, name: "samples") {
            throw TweedieError.invalidInput(what: "posterior request", problem: problem)
        }
        try r.sampler.validate(what: names.sampler)
        let prior = try SamplingPrior.resolve(r.prior)
        let shape = prior.denoiser.imageShape
        var notes: [String] = []

        // Observation (NaN / BLANK → masked later by the noise model).
        let obsFile = try FITSReader.readImage(r.observation, hdu: r.hdu ?? .firstImage)
        var y = obsFile.batch
        guard y.count == 1 else {
            throw TweedieError.invalidInput(what: r.observation, problem: "holds \(y.count) images; give one image (bands along the third axis)")
        }
        guard y.data.contains(where: { $0.isFinite }) else {
            throw TweedieError.invalidInput(what: r.observation, problem: "has no finite pixel (empty or all NaN); nothing to deconvolve")
        }
        var obsHeader = obsFile.header
        let fullShape = y.shape
        if let c = r.cutout {
            guard c.size >= 1 else { throw TweedieError.invalidInput(what: names.cutout, problem: "needs a size ≥ 1, got \(c.size)") }
            let outside: Int
            (y, obsHeader, outside) = try cut(y, header: obsHeader, cutout: c, path: r.observation, name: names.cutout)
            if outside > 0 {
                let w = "the \(c.size)×\(c.size) cutout at (\(c.x), \(c.y)) reaches \(outside) px beyond the edge of \(r.observation); they are masked (NaN)"
                notes.append(w); warn(w)
            }
        }

        // Operator chain; the spec's prior: section defaults to the prior's grid and must agree with it.
        var spec = r.operatorSpec
        let specName = r.operatorSpecPath
        if spec.prior.size == nil && spec.prior.height == nil && spec.prior.width == nil {
            spec.prior.height = shape.height; spec.prior.width = shape.width
        }
        if spec.prior.bands == nil && spec.prior.channels == nil && !prior.denoiser.bands.isEmpty {
            spec.prior.bands = prior.denoiser.bands
        }
        if spec.prior.pixelScaleKpc == nil && spec.prior.pixelScaleArcsec == nil, let ps = prior.pixelScale {
            if ps.unit == "kpc/px" { spec.prior.pixelScaleKpc = ps.value } else { spec.prior.pixelScaleArcsec = ps.value }
        }
        let (specShape, _) = try spec.priorShape()
        guard specShape == shape else {
            throw TweedieError.shapeMismatch(what: "\(specName) prior grid vs the prior \(prior.name)", expected: "\(shape)", got: "\(specShape)")
        }
        if let ps = prior.pixelScale {
            let given = ps.unit == "kpc/px" ? spec.prior.pixelScaleKpc : spec.prior.pixelScaleArcsec
            if let g = given, abs(g - ps.value) > 1e-6 * ps.value {
                throw TweedieError.invalidInput(what: specName, problem: "prior pixel scale \(g) \(ps.unit) disagrees with the prior's \(ps.value) \(ps.unit); remove it from the spec or fix it")
            }
        }
        let built = try spec.build(psfLoader: OperatorSpec.psfLoader(relativeTo: specName),
                                   antennaLoader: OperatorSpec.antennaLoader(relativeTo: specName))
        for w in built.warnings { notes.append(w); warn(w) }
        let A = built.forwardOperator
        if let uv = built.uv {
            // Visibilities: the file must be on this spec's grid; the noise is the spec's.
            try VisibilityObservation.check(path: r.observation, header: obsHeader, step: uv, specName: specName)
            if r.cutout != nil { throw TweedieError.invalidInput(what: names.cutout, problem: "does not apply to visibilities (\(specName) ends in a uv step)") }
            if r.background != .none { throw TweedieError.invalidInput(what: names.background, problem: "does not apply to visibilities (\(specName) ends in a uv step); leave it at none") }
            if r.noise != .estimated {
                throw TweedieError.invalidInput(what: "\(names.sigma) / \(names.noiseMaps)", problem: "\(specName) ends in a uv step whose noise is its noise_rms: (Jy/beam); drop the option or change noise_rms")
            }
        }
        guard y.shape == A.outputShape else {
            throw TweedieError.shapeMismatch(what: "observation \(r.observation) vs the operator's output (\(A.summary))",
                                             expected: "\(A.outputShape)", got: "\(y.shape)")
        }
        if y.bands.isEmpty { y.bands = built.outputBands }

        // Background.
        var background = BackgroundDescription(method: .none, values: [])
        switch r.background {
        case .none: break
        case .sigmaClippedMedian:
            var values: [Double] = []
            for c in 0..<y.shape.channels {
                guard let s = ImageStatistics.sigmaClipped(y.plane(0, c)) else {
                    throw TweedieError.invalidInput(what: r.observation, problem: "band \(c) has no finite values; cannot estimate the background")
                }
                values.append(s.median)
            }
            subtractPerBand(&y, values)
            background = BackgroundDescription(method: .sigmaClippedMedian, values: values)
        case let .value(v):
            guard v.isFinite else { throw TweedieError.invalidInput(what: names.background, problem: "must be a finite number, got \(v)") }
            subtractPerBand(&y, [Double](repeating: v, count: y.shape.channels))
            background = BackgroundDescription(method: .given, values: [Double](repeating: v, count: y.shape.channels))
        }

        // Noise model.
        var noiseSource = "", noiseSigma: [Double]? = nil, noiseRMS: Double? = nil
        let noise: any NoiseModel
        if let uv = built.uv {
            let v = try uv.noiseModel(what: "\(specName) uv step")
            noise = v
            noiseSource = "the spec's uv noise_rms (natural-weighted dirty-image rms); sigma is the unit-weight σ (a cell's σ is sigma/√N_c)"
            noiseRMS = uv.noiseRMS
            noiseSigma = [v.unitWeightSigma]
        } else {
            switch r.noise {
            case let .sigma(values):
                guard values.count == 1 || values.count == y.shape.channels else {
                    throw TweedieError.shapeMismatch(what: "\(names.sigma) values vs observation bands", expected: "1 or \(y.shape.channels)", got: "\(values.count)")
                }
                let per = values.count == 1 ? [Double](repeating: values[0], count: y.shape.channels) : values
                noise = try DiagonalGaussianNoise(bandSigmas: per, shape: y.shape).masking(nonFiniteOf: y)
                noiseSource = "given (\(names.sigma))"
                noiseSigma = per
            case .varianceMap(let path), .weightMap(let path):
                // On the observation's grid: the cutout's, or the whole frame's (then cut with the same box).
                var map = try FITSReader.read(path)
                if let c = r.cutout, map.count == 1, map.shape == fullShape, fullShape != y.shape {
                    map = try cut(map, header: map.header ?? FITSHeader(), cutout: c, path: path, name: names.cutout).batch
                }
                guard map.count == 1, map.shape == y.shape else {
                    let frame = r.cutout != nil && fullShape != y.shape ? " (the cutout's) or \(fullShape) (the whole observation's)" : ""
                    throw TweedieError.shapeMismatch(what: "\(path) vs observation", expected: "\(y.shape)" + frame,
                                                     got: map.count == 1 ? "\(map.shape)" : "\(map.count) images of \(map.shape)")
                }
                if case .varianceMap = r.noise {
                    noise = try DiagonalGaussianNoise(variance: map, source: path).masking(nonFiniteOf: y)
                    noiseSource = "variance map \(path)"
                } else {
                    noise = try DiagonalGaussianNoise(inverseVariance: map, source: path).masking(nonFiniteOf: y)
                    noiseSource = "weight map \(path)"
                }
            case .estimated:
                let (model, estimate) = try DiagonalGaussianNoise.estimated(from: y, source: r.observation)
                noise = model
                noiseSource = "estimated (sigma-clipped MAD per band)"
                noiseSigma = estimate.bandSigmas
            }
        }
        let noiseDescription = NoiseDescription(source: noiseSource, model: noise.summary, sigma: noiseSigma, noiseRMS: noiseRMS,
                                                background: background, maskedValues: noise.sqrtWeights.count - noise.usableCount,
                                                usableValues: noise.usableCount, unit: y.unit)

        // Flux scale: given, or Σ y / Σ A(prior mean) over usable values (A conserves flux).
        let s: Double
        let sSource: String
        switch r.fluxScale {
        case let .given(f):
            guard f.isFinite && f > 0 else {
                throw TweedieError.invalidInput(what: names.fluxScale, problem: "must be a positive number, got \(f)")
            }
            s = f; sSource = "given (\(names.fluxScale))"
        case .estimated:
            if prior.isAnalytic {
                s = 1; sSource = "1 (analytic prior: its values are physical units)"
            } else if built.uv != nil {
                s = 1; sSource = "1 (uv chain: the prior's pixel transform gives the sky in Jy/px)"
            } else if let m = prior.meanPhysical {
                s = try FluxScaleEstimation.estimate(observation: y, noise: noise, forwardOperator: A, priorMeanPhysical: m)
                sSource = "estimated: Σ y / Σ A(prior mean) over usable values"
            } else {
                throw TweedieError.invalidInput(what: names.fluxScale, problem: "the prior \(prior.name) has no mean image to estimate it from; give one or run `tweedie prior variance --prior \(prior.source)`")
            }
        }
        let problem = try PosteriorProblem(observation: y, forwardOperator: A, noise: noise, fluxScale: s)

        // Sampler: the request's settings over the prior's declared ones.
        let choice = try r.sampler.choice(prior: prior, what: names.sampler) { notes.append($0); warn($0) }
        let sampler = try choice.makeSampler(prior: prior.denoiser, problem: problem)
        let evaluations = SamplerChoice.networkEvaluationsPerSample(of: sampler)

        // Truth and aperture.
        var truth: ImageBatch? = nil
        if let t = r.truth {
            let tb = try FITSReader.read(t)
            guard tb.count == 1, tb.shape == shape else {
                throw TweedieError.shapeMismatch(what: "\(names.truth) \(t) vs the prior grid", expected: "\(shape)", got: "\(tb.count)×\(tb.shape)")
            }
            truth = tb
        }
        var aperture: (radius: Double, center: (x: Double, y: Double))? = nil
        if r.apertureRadius != nil || r.apertureCenter != nil {
            let def = PosteriorMetrics.defaultAperture(shape)
            let radius = r.apertureRadius ?? def.radius
            guard radius > 0 else { throw TweedieError.invalidInput(what: names.apertureRadius, problem: "must be > 0, got \(radius)") }
            aperture = (radius, r.apertureCenter ?? def.center)
        }

        let description = PosteriorRunDescription(
            command: r.command, seed: r.seed, samples: r.samples, batch: r.batch, samplerRequest: r.sampler,
            sampler: sampler.name, samplerSettings: sampler.summary, networkEvaluationsPerSample: evaluations,
            prior: prior.provenance,
            observation: ObservationDescription(path: r.observation, hdu: obsFile.hdu.index, shape: y.shape, bands: y.bands, unit: y.unit),
            forwardOperator: A.summary, noise: noiseDescription, fluxScale: s, fluxScaleSource: sSource, notes: notes)
        let fingerprint = PosteriorJob.fingerprint([prior.provenance["sha256"] ?? prior.source, r.observation, A.summary,
                                                    noise.summary, "\(s)", sampler.summary, "\(r.seed)", "\(r.samples)"])
        return PreparedPosterior(prior: prior, observation: y, problem: problem, sampler: sampler, truth: truth,
                                 aperture: aperture, description: description, fingerprint: fingerprint,
                                 wcs: ProductHeader.carried(from: obsHeader, sourceShape: y.shape, productShape: shape),
                                 observationWCS: ProductHeader.carried(from: obsHeader, sourceShape: y.shape, productShape: y.shape),
                                 uv: built.uv,
                                 observedPixelArcsec: spec.chain.lazy.compactMap { step -> Double? in
                                     if case .resample(let r) = step { return r.pixelScale } else { return nil }
                                 }.first)
    }
}

/// A SIZE×SIZE box centred on 1-based pixel (x, y) (x0 = x − SIZE/2 for even sizes), all bands;
/// CRPIX shifted so the WCS stays right. Pixels of the box beyond the frame's edge (an object near
/// the edge) are NaN, which every noise model masks; `outside` counts them per band. A box with no
/// pixel inside the frame is an error.
private func cut(_ y: ImageBatch, header: FITSHeader, cutout: PosteriorRequest.Cutout, path: String,
                 name: String) throws -> (batch: ImageBatch, header: FITSHeader, outside: Int) {
    let s = y.shape, size = cutout.size, cx = cutout.x, cy = cutout.y
    let x0 = cx - 1 - size / 2, y0 = cy - 1 - size / 2
    guard x0 < s.width, y0 < s.height, x0 + size > 0, y0 + size > 0 else {
        throw TweedieError.invalidInput(what: name, problem: "a \(size)×\(size) box at (\(cx), \(cy)) lies wholly outside \(path) (\(s.width)×\(s.height) px); give a centre inside the image (1-based pixels)")
    }
    var out = ImageBatch(count: 1, shape: ImageShape(channels: s.channels, height: size, width: size), repeating: .nan)
    var outside = 0
    for c in 0..<s.channels {
        for r in 0..<size {
            for q in 0..<size {
                let yy = y0 + r, xx = x0 + q
                guard yy >= 0, yy < s.height, xx >= 0, xx < s.width else { if c == 0 { outside += 1 }; continue }
                out.data[(c * size + r) * size + q] = y.data[(c * s.height + yy) * s.width + xx]
            }
        }
    }
    out.bands = y.bands
    var h = header
    if let v = h.double("CRPIX1") { h.set("CRPIX1", .double(v - Double(x0))) }
    if let v = h.double("CRPIX2") { h.set("CRPIX2", .double(v - Double(y0))) }
    h.addHistory("cut to \(size)x\(size) at pixel (\(cx), \(cy)) of \(path)")
    out.header = h
    return (out, h, outside)
}

/// Subtracts one value per band.
private func subtractPerBand(_ y: inout ImageBatch, _ values: [Double]) {
    let n = y.shape.planeCount
    for c in 0..<y.shape.channels {
        let v = Float(values[c])
        for j in (c * n)..<((c + 1) * n) { y.data[j] -= v }
    }
}
