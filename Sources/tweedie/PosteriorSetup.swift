// Turns `tweedie sample` options into a ready posterior problem and sampler,
// and runs it into an output directory. Shared by `sample`, `demo` and studies.
//
// Order matters for "no partial output" (DESIGN §8): every input is read and
// checked (prior, observation, operator, noise, flux scale, truth) before the
// output directory is created.
import Foundation
import TweedieCore
import TweedieOperators
import TweediePriors
import TweedieSampling

struct PosteriorSetup {
    var prior: SamplingPrior
    var observation: ImageBatch
    var observationPath: String
    var problem: PosteriorProblem
    var sampler: any PosteriorSampler
    var truth: ImageBatch?
    var aperture: (radius: Double, center: (x: Double, y: Double))?
    var description: PosteriorRunDescription
    var fingerprint: String
    var seed: UInt64
    var batch: Int
    var samples: Int
    var wcs: FITSHeader?
    /// The observation's own celestial WCS (for residual.fits, on the observation grid).
    var observationWCS: FITSHeader?
    /// The radio end of the chain when the spec ends in a uv step (the observation is visibilities).
    var uv: UVChainStep? = nil

    static func build(_ o: SampleCommand) throws -> PosteriorSetup {
        let prior = try SamplingPrior.resolve(o.prior!)
        let shape = prior.denoiser.imageShape
        var notes: [String] = []

        // Observation (NaN / BLANK → masked later by the noise model).
        let obsFile = try FITSReader.readImage(o.observation!, hdu: o.hdu.map(FITSHDUSelector.init(parsing:)) ?? .firstImage)
        var y = obsFile.batch
        guard y.count == 1 else {
            throw TweedieError.invalidInput(what: o.observation!, problem: "holds \(y.count) images; give one image (bands along the third axis)")
        }
        guard y.data.contains(where: { $0.isFinite }) else {
            throw TweedieError.invalidInput(what: o.observation!, problem: "has no finite pixel (empty or all NaN); nothing to deconvolve")
        }

        var obsHeader = obsFile.header
        if let c = o.cutout {
            let v = try parseNumbers(c, option: "--cutout")
            guard v.count == 3, v.allSatisfy({ $0 == $0.rounded() }), v[2] >= 1 else {
                throw TweedieError.invalidInput(what: "--cutout", problem: "needs X,Y,SIZE as integers (1-based centre pixel, size ≥ 1), got '\(c)'")
            }
            (y, obsHeader) = try cut(y, header: obsHeader, centerX: Int(v[0]), centerY: Int(v[1]), size: Int(v[2]), path: o.observation!)
        }

        // Operator chain; the spec's prior: section defaults to the prior's grid and must agree with it.
        var spec = try loadOperatorSpec(o.spec!)
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
            throw TweedieError.shapeMismatch(what: "\(o.spec!) prior grid vs the prior \(prior.name)", expected: "\(shape)", got: "\(specShape)")
        }
        if let ps = prior.pixelScale {
            let given = ps.unit == "kpc/px" ? spec.prior.pixelScaleKpc : spec.prior.pixelScaleArcsec
            if let g = given, abs(g - ps.value) > 1e-6 * ps.value {
                throw TweedieError.invalidInput(what: o.spec!, problem: "prior pixel scale \(g) \(ps.unit) disagrees with the prior's \(ps.value) \(ps.unit); remove it from the spec or fix it")
            }
        }
        let built = try spec.build(psfLoader: specPSFLoader(specPath: o.spec!), antennaLoader: specAntennaLoader(specPath: o.spec!))
        notes += built.warnings
        for w in built.warnings { printNote("warning: \(w)") }   // also in summary.json → notes
        let A = built.forwardOperator
        if let uv = built.uv {
            // Visibilities: the file must be on this spec's grid; the noise is the spec's.
            try VisibilityObservation.check(path: o.observation!, header: obsHeader, step: uv, specName: o.spec!)
            if o.cutout != nil { throw TweedieError.invalidInput(what: "--cutout", problem: "does not apply to visibilities (\(o.spec!) ends in a uv step)") }
            if o.background != "none" { throw TweedieError.invalidInput(what: "--background", problem: "does not apply to visibilities (\(o.spec!) ends in a uv step); leave it at none") }
            if o.sigma != nil || o.varianceMap != nil || o.weightMap != nil {
                throw TweedieError.invalidInput(what: "--sigma / --variance-map / --weight-map", problem: "\(o.spec!) ends in a uv step whose noise is its noise_rms: (Jy/beam); drop the option or change noise_rms")
            }
        }
        guard y.shape == A.outputShape else {
            throw TweedieError.shapeMismatch(what: "observation \(o.observation!) vs the operator's output (\(A.summary))",
                                             expected: "\(A.outputShape)", got: "\(y.shape)")
        }
        if y.bands.isEmpty { y.bands = built.outputBands }

        // Background.
        var backgroundNote = "none subtracted"
        switch o.background {
        case "none": break
        case "auto":
            var values: [Double] = []
            for c in 0..<y.shape.channels {
                guard let r = ImageStatistics.sigmaClipped(y.plane(0, c)) else {
                    throw TweedieError.invalidInput(what: o.observation!, problem: "band \(c) has no finite values; cannot estimate the background")
                }
                values.append(r.median)
            }
            subtractPerBand(&y, values)
            backgroundNote = "subtracted per band (sigma-clipped median): " + values.map { String(format: "%.6g", $0) }.joined(separator: ", ")
        default:
            guard let v = Double(o.background), v.isFinite else {
                throw TweedieError.invalidInput(what: "--background", problem: "must be none, auto or a number, got '\(o.background)'")
            }
            subtractPerBand(&y, [Double](repeating: v, count: y.shape.channels))
            backgroundNote = "subtracted \(v)"
        }

        // Noise model.
        var noiseInfo: [String: String] = ["background": backgroundNote]
        let noise: any NoiseModel
        if let uv = built.uv {
            let v = try uv.noiseModel(what: "\(o.spec!) uv step")
            noise = v
            noiseInfo["source"] = "the spec's uv noise_rms (natural-weighted dirty-image rms)"
            noiseInfo["noise_rms"] = String(format: "%.6g", uv.noiseRMS!)
            noiseInfo["sigma"] = String(format: "%.6g", v.unitWeightSigma) + " (unit weight; cell σ = this/√N_c)"
        } else if let s = o.sigma {
            let values = try parseNumbers(s, option: "--sigma")
            guard values.count == 1 || values.count == y.shape.channels else {
                throw TweedieError.shapeMismatch(what: "--sigma values vs observation bands", expected: "1 or \(y.shape.channels)", got: "\(values.count)")
            }
            let per = values.count == 1 ? [Double](repeating: values[0], count: y.shape.channels) : values
            noise = try DiagonalGaussianNoise(bandSigmas: per, shape: y.shape).masking(nonFiniteOf: y)
            noiseInfo["source"] = "given (--sigma)"
            noiseInfo["sigma"] = per.map { String(format: "%.6g", $0) }.joined(separator: ",")
        } else if let path = o.varianceMap ?? o.weightMap {
            let map = try FITSReader.read(path)
            guard map.count == 1, map.shape == y.shape else {
                throw TweedieError.shapeMismatch(what: "\(path) vs observation", expected: "\(y.shape)", got: "\(map.count)×\(map.shape)")
            }
            noise = try (o.varianceMap != nil ? DiagonalGaussianNoise(variance: map, source: path)
                                              : DiagonalGaussianNoise(inverseVariance: map, source: path)).masking(nonFiniteOf: y)
            noiseInfo["source"] = o.varianceMap != nil ? "variance map \(path)" : "weight map \(path)"
        } else {
            let (model, estimate) = try DiagonalGaussianNoise.estimated(from: y, source: o.observation!)
            noise = model
            noiseInfo["source"] = "estimated (sigma-clipped MAD per band)"
            noiseInfo["sigma"] = estimate.bandSigmas.map { String(format: "%.6g", $0) }.joined(separator: ",")
        }
        noiseInfo["model"] = noise.summary
        noiseInfo["masked_values"] = "\(noise.sqrtWeights.count - noise.usableCount)"

        // Flux scale: given, or Σ y / Σ A(prior mean) over usable values (A conserves flux).
        let s: Double
        let sSource: String
        if let f = o.fluxScale {
            guard f.isFinite && f > 0 else {
                throw TweedieError.invalidInput(what: "--flux-scale", problem: "must be a positive number, got \(f)")
            }
            s = f; sSource = "given (--flux-scale)"
        } else if prior.isAnalytic {
            s = 1; sSource = "1 (analytic prior: its values are physical units)"
        } else if built.uv != nil {
            s = 1; sSource = "1 (uv chain: the prior's pixel transform gives the sky in Jy/px)"
        } else if let m = prior.meanPhysical {
            s = try FluxScaleEstimation.estimate(observation: y, noise: noise, forwardOperator: A, priorMeanPhysical: m)
            sSource = "estimated: Σ y / Σ A(prior mean) over usable values"
        } else {
            throw TweedieError.invalidInput(what: "--flux-scale", problem: "the prior \(prior.name) has no mean image to estimate it from; give --flux-scale or run `tweedie prior variance --prior \(prior.source)`")
        }

        let problem = try PosteriorProblem(observation: y, forwardOperator: A, noise: noise, fluxScale: s)

        // Sampler.
        let choice: SamplerChoice
        switch o.sampler {
        case "dps":
            var clip: (Float, Float)? = prior.x0Clip
            if let c = o.clip {
                if c == "none" {
                    clip = nil
                } else {
                    let v = try parseNumbers(c, option: "--clip")
                    guard v.count == 2, v[0] < v[1] else {
                        throw TweedieError.invalidInput(what: "--clip", problem: "needs LO,HI with LO < HI (or none), got '\(c)'")
                    }
                    clip = (Float(v[0]), Float(v[1]))
                }
            }
            var zeta = 1.0
            if let g = o.guidance {
                zeta = g
            } else if let r = prior.recommendedGuidance(steps: o.steps) {
                zeta = r.zeta
                if r.tabulatedAt != o.steps {
                    let tuned = prior.guidanceTable.keys.sorted().map(String.init).joined(separator: ", ")
                    let note = "ζ = \(String(format: "%.4g", zeta)) is extrapolated from the prior's ζ at \(r.tabulatedAt) steps (ζ·steps kept); it is tuned only for \(tuned) steps — use one of those --steps, or give --guidance"
                    notes.append(note)
                    printNote("warning: \(note)")
                }
            }
            choice = .dps(DPSSettings(steps: o.steps, guidanceScale: zeta, clipMin: clip?.0, clipMax: clip?.1, ddimEta: o.dpsEta))
        case "smc":
            choice = .smc(SMCSettings(gibbs: o.gibbsSettings(prior: prior), particles: o.particles,
                                      adaptive: o.smcTempering == "adaptive", samplesPerPopulation: o.samplesPerPopulation))
        default:
            choice = .splitGibbs(o.gibbsSettings(prior: prior))
        }
        let sampler = try choice.makeSampler(prior: prior.denoiser, problem: problem)
        let evaluations = SamplerChoice.networkEvaluationsPerSample(of: sampler)

        // Truth and aperture.
        var truth: ImageBatch? = nil
        if let t = o.truth {
            let tb = try FITSReader.read(t)
            guard tb.count == 1, tb.shape == shape else {
                throw TweedieError.shapeMismatch(what: "--truth \(t) vs the prior grid", expected: "\(shape)", got: "\(tb.count)×\(tb.shape)")
            }
            truth = tb
        }
        var aperture: (radius: Double, center: (x: Double, y: Double))? = nil
        if o.apertureRadius != nil || o.apertureCenter != nil {
            let def = PosteriorMetrics.defaultAperture(shape)
            let r = o.apertureRadius ?? def.radius
            guard r > 0 else { throw TweedieError.invalidInput(what: "--aperture-radius", problem: "must be > 0, got \(r)") }
            var c = def.center
            if let text = o.apertureCenter {
                let v = try parseNumbers(text, option: "--aperture-center")
                guard v.count == 2 else { throw TweedieError.invalidInput(what: "--aperture-center", problem: "needs X,Y, got '\(text)'") }
                c = (v[0], v[1])
            }
            aperture = (r, c)
        }

        let description = PosteriorRunDescription(
            command: commandLineForProvenance, seed: o.seed, samples: o.samples, batch: o.batch,
            sampler: sampler.name, samplerSettings: sampler.summary, networkEvaluationsPerSample: evaluations,
            prior: prior.provenance, observation: ["path": o.observation!, "hdu": obsFile.hdu.description,
                                                   "shape": "\(y.shape)", "bands": y.bands.joined(separator: ",")],
            forwardOperator: A.summary, noise: noiseInfo, fluxScale: s, fluxScaleSource: sSource, notes: notes)
        // Everything that determines the samples (not the batch size: results do not depend on it).
        let fingerprint = PosteriorJob.fingerprint([prior.provenance["sha256"] ?? prior.source, o.observation!, A.summary,
                                                    noise.summary, "\(s)", sampler.summary, "\(o.seed)", "\(o.samples)"])
        return PosteriorSetup(prior: prior, observation: y, observationPath: o.observation!, problem: problem,
                              sampler: sampler, truth: truth, aperture: aperture, description: description,
                              fingerprint: fingerprint, seed: o.seed, batch: o.batch, samples: o.samples,
                              wcs: wcsCards(from: obsHeader, observationShape: y.shape, priorShape: shape),
                              observationWCS: wcsCards(from: obsHeader, observationShape: y.shape, priorShape: y.shape),
                              uv: built.uv)
    }

    /// Runs into `dir` (creating it, or resuming from its checkpoint) and writes the products.
    func run(in dir: URL, resuming: Bool, arguments: [String], quiet: Bool, keepSamples: Bool,
             checkpointEvery: Int) throws {
        let ckpt = dir.appendingPathComponent(PosteriorJob.checkpointName)
        var state: PosteriorAccumulator
        if resuming {
            state = try PosteriorRun.readCheckpoint(ckpt)
            guard state.fingerprint == fingerprint else {
                throw TweedieError.invalidInput(what: dir.path, problem: "the checkpoint was made with other settings or inputs (they changed since); start a new run")
            }
        } else {
            try PosteriorJob.createOutputDirectory(dir)
            try PosteriorJob.writeRecord(PosteriorJobRecord(arguments: arguments,
                                                            workingDirectory: FileManager.default.currentDirectoryPath,
                                                            toolVersion: TweedieVersion.string,
                                                            started: ISO8601DateFormatter().string(from: Date())), in: dir)
            state = PosteriorAccumulator(fingerprint: fingerprint, totalSamples: samples,
                                         valueCount: problem.forwardOperator.inputShape.count)
            try PosteriorRun.writeCheckpoint(state, to: ckpt)
        }
        // An adaptive SMC population runs for hours on a neural prior: it checkpoints between tempering steps.
        var sampler = self.sampler
        let populationCheckpoint = dir.appendingPathComponent(PosteriorJob.smcPopulationCheckpointName)
        if var smc = sampler as? SMCSplitGibbsSampler, smc.settings.adaptive {
            smc.populationCheckpointURL = populationCheckpoint
            if !quiet {
                // Its length is not known ahead: one line per minute says how far down the schedule it is.
                let clock = ProgressClock(), top = smc.kernel.schedule.count - 1
                smc.temperingObserver = { q, steps, t, ess in
                    guard clock.due(every: 60) else { return }
                    printNote("smc population \(q): \(steps) tempering steps, at timestep \(t) of \(top), ESS \(String(format: "%.1f", ess))")
                }
            }
            sampler = smc
        }
        // With --truth the samples are kept on disk for the run too (removed at the end unless
        // --keep-samples), so the coverage uses the empirical quantile rule of `calibrate`.
        let keepRaw = keepSamples || truth != nil
        let runner = try PosteriorRun(sampler: sampler, problem: problem, transform: prior.denoiser.pixelTransform,
                                      seed: seed, batchSize: batch, checkpointURL: ckpt, checkpointEvery: checkpointEvery,
                                      samplesURL: keepRaw ? dir.appendingPathComponent(PosteriorJob.rawSamplesName) : nil)
        let progress = ProgressLine(enabled: !quiet && isatty(STDERR_FILENO) != 0, what: "samples")
        if !quiet {
            printNote("tweedie sample: \(samples) samples of \(prior.name) with \(sampler.summary); flux scale \(String(format: "%.6g", problem.fluxScale)) (\(description.fluxScaleSource)); noise \(problem.noise.summary)")
        }
        state = try runner.run(state) { progress.update(done: $0.done, total: $0.total, rate: $0.samplesPerSecond, eta: $0.etaSeconds) }
        progress.finish()
        try? FileManager.default.removeItem(at: populationCheckpoint)   // every population is in checkpoint.json now

        let per = problem.forwardOperator.inputShape.count
        let kept = keepRaw ? try PosteriorJob.readRawSamples(in: dir, count: state.nextIndex, per: per) : nil
        let products = try PosteriorProducts.compute(state, problem: problem, bands: prior.denoiser.bands,
                                                     priorVariance: prior.variance.map { ($0.values, $0.space) },
                                                     aperture: aperture, truth: truth, samples: kept)
        // A reduced χ² of the mean outside [0.7, 1.5] means the fit or the noise level is off:
        // say so where the user looks, and in summary.json.
        var runDescription = description
        if let w = Self.reducedChiSquaredWarning(ofMean: products.scores.reducedChiSquaredOfMean,
                                                 samplesMedian: products.scores.sampleReducedChiSquared.median) {
            runDescription.notes.append(w)
            printNote("warning: \(w)")
        }
        let summary = PosteriorSummary(tool: "tweedie \(TweedieVersion.string)", run: runDescription,
                                       samplesDrawn: state.nextIndex, wallSeconds: state.elapsedSeconds,
                                       secondsPerSample: state.elapsedSeconds / Double(max(1, state.nextIndex)),
                                       scores: products.scores, files: [])
        let provenance = FITSProvenance(commandLine: description.command, extraCards: [
            FITSCard(keyword: "TWSEED", value: .int(Int(truncatingIfNeeded: seed)), comment: "sampling seed"),
            FITSCard(keyword: "TWPRIOR", value: .string(prior.name), comment: "prior"),
            FITSCard(keyword: "TWPRSHA", value: .string(String((prior.provenance["sha256"] ?? "analytic").prefix(16))), comment: "prior weights SHA-256 (first 16 hex)"),
            FITSCard(keyword: "TWSAMPLR", value: .string(sampler.name), comment: String(sampler.summary.prefix(40))),
            FITSCard(keyword: "TWNSAMP", value: .int(state.nextIndex), comment: "posterior samples"),
            FITSCard(keyword: "TWFLUXS", value: .double(problem.fluxScale), comment: "flux scale s"),
            FITSCard(keyword: "TWOPER", value: .string(String(problem.forwardOperator.summary.prefix(60))), comment: "operator"),
        ])
        var residualImage: ImageBatch? = nil, previewObservation: ImageBatch? = nil
        if let uv {
            // Visibilities: residual.fits is the dirty image of y − A(mean) and the preview shows the dirty image of y.
            var r = try problem.forwardOperator.apply(products.mean)
            for j in r.data.indices { r.data[j] = problem.observation.data[j] - r.data[j] }
            residualImage = try uv.dirtyImages(r)
            previewObservation = try uv.dirtyImages(problem.observation)
        }
        let files = try PosteriorJob.writeProducts(products, summary: summary, problem: problem, samples: keepSamples ? kept : nil,
                                                   sampleShape: problem.forwardOperator.inputShape, wcs: wcs, observationWCS: observationWCS,
                                                   provenance: provenance, in: dir,
                                                   residualImage: residualImage.map {
                                                       ($0, "dirty image (\(uv!.grid.weighting) weighting, Jy/beam) of the visibility residual y - A(mean)")
                                                   },
                                                   previewObservation: previewObservation)
        if keepRaw { try? FileManager.default.removeItem(at: dir.appendingPathComponent(PosteriorJob.rawSamplesName)) }
        if !quiet { printSummary(products.scores, summary: summary, dir: dir, files: files) }
    }

    /// The warning for a reduced χ² of the mean outside [0.7, 1.5] (nil inside, or when not finite).
    /// Below: σ overestimated or the mean over-fits the noise — or the data pin down most of the
    /// image, where the exact posterior mean gives 1 − tr(H)/N and each sample's χ² stays ≈ 1 (so the
    /// samples' median is quoted). Above: the mean does not fit, or σ is underestimated.
    static func reducedChiSquaredWarning(ofMean chi2: Double, samplesMedian med: Double) -> String? {
        guard chi2.isFinite, chi2 < 0.7 || chi2 > 1.5 else { return nil }
        let v = String(format: "%.3g", chi2), m = String(format: "%.3g", med)
        if chi2 < 0.7 {
            return "reduced χ² of the posterior mean \(v) < 0.7: σ is overestimated or the mean over-fits the noise, so the spread is too wide — unless the data pin down most pixels, when each sample's reduced χ² stays near 1 (median here \(m)); check σ (--sigma, a variance map) before trusting the uncertainties"
        }
        return "reduced χ² of the posterior mean \(v) > 1.5: the mean does not fit the data, or σ is underestimated; the spread and the variance ratio then describe the sampler's failure or a wrong noise level, not the posterior — check σ, or try more --steps, a smaller --guidance (DPS) or --sampler split-gibbs"
    }

    private func printSummary(_ sc: PosteriorScores, summary: PosteriorSummary, dir: URL, files: [String]) {
        func f(_ x: Double?) -> String { x.map { String(format: "%.4g", $0) } ?? "n/a" }
        let observed = sc.observedBands.isEmpty ? "none" : sc.observedBands.joined(separator: ",")
        var lines = ["samples            \(summary.samplesDrawn) in \(String(format: "%.1f", summary.wallSeconds)) s (\(String(format: "%.2f", summary.secondsPerSample)) s/sample)",
                     "flux scale         \(f(problem.fluxScale))  (\(description.fluxScaleSource))",
                     "noise              \(problem.noise.summary)",
                     "variance ratio     aperture mean \(f(sc.apertureVarianceRatio)) over observed bands [\(observed)] (r = \(f(sc.apertureRadius)) px at \(f(sc.apertureCenter[0])),\(f(sc.apertureCenter[1]))), their image median \(f(sc.medianVarianceRatio))"]
        if let ap = sc.apertureVarianceRatioPerBand, let md = sc.medianVarianceRatioPerBand {
            let declared = prior.denoiser.bands, channels = problem.forwardOperator.inputShape.channels
            let order = declared.count == channels ? declared : (0..<channels).map(String.init)   // as the JSON keys
            let perBand = order.map { b in
                "\(b) \(f(ap[b]))/\(f(md[b]))" + (sc.unobservedBands.contains(b) ? " (unobserved)" : "")
            }
            lines.append("  per band         aperture/median: " + perBand.joined(separator: ", "))
        }
        lines.append("reduced χ²         mean \(f(sc.reducedChiSquaredOfMean)); samples median \(f(sc.sampleReducedChiSquared.median)) [16–84 %: \(f(sc.sampleReducedChiSquared.p16))–\(f(sc.sampleReducedChiSquared.p84))]")
        if let t = sc.truth {
            lines.append("truth              PSNR \(f(t.psnr)) dB, SSIM \(f(t.ssim)), MSE \(f(t.mse)); coverage 50/68/95 %: \(f(t.coverage50))/\(f(t.coverage68))/\(f(t.coverage95))")
            lines.append("  coverage rule    \(t.coverageRule)")
        }
        lines.append("outputs            \(dir.path)/ : " + files.joined(separator: ", "))
        print(lines.joined(separator: "\n"))
    }
}

/// A SIZE×SIZE box centred on 1-based pixel (cx, cy) (x0 = cx − SIZE/2 for even sizes), all bands;
/// CRPIX shifted so the WCS stays right.
private func cut(_ y: ImageBatch, header: FITSHeader, centerX cx: Int, centerY cy: Int, size: Int,
                 path: String) throws -> (ImageBatch, FITSHeader) {
    let s = y.shape
    let x0 = cx - 1 - size / 2, y0 = cy - 1 - size / 2
    guard x0 >= 0, y0 >= 0, x0 + size <= s.width, y0 + size <= s.height else {
        throw TweedieError.invalidInput(what: "--cutout", problem: "a \(size)×\(size) box at (\(cx), \(cy)) leaves \(path) (\(s.width)×\(s.height) px); move or shrink it")
    }
    var out = ImageBatch(count: 1, shape: ImageShape(channels: s.channels, height: size, width: size))
    for c in 0..<s.channels {
        for r in 0..<size {
            for q in 0..<size {
                out.data[(c * size + r) * size + q] = y.data[(c * s.height + y0 + r) * s.width + x0 + q]
            }
        }
    }
    out.bands = y.bands
    var h = header
    if let v = h.double("CRPIX1") { h.set("CRPIX1", .double(v - Double(x0))) }
    if let v = h.double("CRPIX2") { h.set("CRPIX2", .double(v - Double(y0))) }
    h.addHistory("cut to \(size)x\(size) at pixel (\(cx), \(cy)) of \(path)")
    out.header = h
    return (out, h)
}

/// Subtracts one value per band.
private func subtractPerBand(_ y: inout ImageBatch, _ values: [Double]) {
    let n = y.shape.planeCount
    for c in 0..<y.shape.channels {
        let v = Float(values[c])
        for j in (c * n)..<((c + 1) * n) { y.data[j] -= v }
    }
}

/// Parses "a,b,c" into numbers with a clear error.
func parseNumbers(_ text: String, option: String) throws -> [Double] {
    let parts = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
    let values = parts.map { Double($0) }
    guard !parts.isEmpty, values.allSatisfy({ $0 != nil && $0!.isFinite }) else {
        throw TweedieError.invalidInput(what: option, problem: "expected comma-separated numbers, got '\(text)'")
    }
    return values.map { $0! }
}

/// The observation's celestial WCS carried to the prior grid. The operator chain maps the whole
/// prior field onto the whole observed field (resampling keeps the field), so with r = m/n per axis
/// the prior pixel centre k (1-based FITS) sits at observed pixel (k − 0.5)·r + 0.5:
/// CRPIX' = (CRPIX − 0.5)/r + 0.5 and the CD / CDELT column of that axis scales by r.
private func wcsCards(from header: FITSHeader, observationShape: ImageShape, priorShape: ImageShape) -> FITSHeader? {
    guard header.wcs != nil else { return nil }
    let r = [Double(observationShape.width) / Double(priorShape.width),
             Double(observationShape.height) / Double(priorShape.height)]
    var h = FITSHeader()
    let prefixes = ["CTYPE", "CRPIX", "CRVAL", "CDELT", "CD1_", "CD2_", "CUNIT", "PC1_", "PC2_", "EQUINOX", "RADESYS", "CROTA", "LONPOLE", "LATPOLE"]
    for card in header.cards where prefixes.contains(where: { card.keyword.hasPrefix($0) }) {
        let k = card.keyword
        if k.hasSuffix("3") || k.hasPrefix("CD3") || k.hasPrefix("PC3") { continue }
        var c = card
        if let v = header.double(k) {
            if k == "CRPIX1" { c.value = .double((v - 0.5) / r[0] + 0.5) }
            if k == "CRPIX2" { c.value = .double((v - 0.5) / r[1] + 0.5) }
            if k == "CDELT1" || k == "CD1_1" || k == "CD2_1" { c.value = .double(v * r[0]) }
            if k == "CDELT2" || k == "CD1_2" || k == "CD2_2" { c.value = .double(v * r[1]) }
        }
        h.cards.append(c)
    }
    if r != [1, 1] { h.addHistory("WCS rescaled from the observation by the operator's field mapping (m/n = \(r[0]), \(r[1]))") }
    return h
}

/// When a progress line is next due (the SMC observer is @Sendable, so the time sits behind a lock).
private final class ProgressClock: @unchecked Sendable {
    private let lock = NSLock()
    private var last = Date.distantPast
    /// True, and the clock reset, when at least `interval` seconds passed since the last true.
    func due(every interval: Double) -> Bool {
        lock.lock(); defer { lock.unlock() }
        let now = Date()
        guard now.timeIntervalSince(last) >= interval else { return false }
        last = now
        return true
    }
}
