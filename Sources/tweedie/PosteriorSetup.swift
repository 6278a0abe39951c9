// Turns `tweedie sample` options into a PosteriorRequest, prepares it with the library's
// PosteriorPipeline (which reads and checks every input before anything is written), and runs it
// into an output directory with a checkpoint. Shared by `sample`, `demo` and studies.
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

    /// The run `tweedie sample`'s options describe: options → a typed request → the library's pipeline.
    static func build(_ o: SampleCommand) throws -> PosteriorSetup {
        let p = try PosteriorPipeline.prepare(try request(o), warn: { printNote("warning: \($0)") })
        return PosteriorSetup(prior: p.prior, observation: p.observation, observationPath: o.observation!, problem: p.problem,
                              sampler: p.sampler, truth: p.truth, aperture: p.aperture, description: p.description,
                              fingerprint: p.fingerprint, seed: o.seed, batch: o.batch, samples: o.samples,
                              wcs: p.wcs, observationWCS: p.observationWCS, uv: p.uv)
    }

    /// The options as a PosteriorRequest (errors name the options).
    static func request(_ o: SampleCommand) throws -> PosteriorRequest {
        var r = PosteriorRequest(prior: o.prior!, observation: o.observation!, operatorSpec: try loadOperatorSpec(o.spec!),
                                 operatorSpecPath: o.spec!, samples: o.samples, command: commandLineForProvenance)
        r.names.cutout = "--cutout"; r.names.background = "--background"; r.names.sigma = "--sigma"
        r.names.noiseMaps = "--variance-map / --weight-map"; r.names.fluxScale = "--flux-scale"
        r.names.truth = "--truth"; r.names.apertureRadius = "--aperture-radius"
        r.hdu = o.hdu.map(FITSHDUSelector.init(parsing:))
        r.batch = o.batch; r.seed = o.seed; r.truth = o.truth
        if let c = o.cutout {
            let v = try parseNumbers(c, option: "--cutout")
            guard v.count == 3, v.allSatisfy({ $0 == $0.rounded() }), v[2] >= 1 else {
                throw TweedieError.invalidInput(what: "--cutout", problem: "needs X,Y,SIZE as integers (1-based centre pixel, size ≥ 1), got '\(c)'")
            }
            r.cutout = .init(x: Int(v[0]), y: Int(v[1]), size: Int(v[2]))
        }
        switch o.background {
        case "none": r.background = .none
        case "auto": r.background = .sigmaClippedMedian
        default:
            guard let v = Double(o.background), v.isFinite else {
                throw TweedieError.invalidInput(what: "--background", problem: "must be none, auto or a number, got '\(o.background)'")
            }
            r.background = .value(v)
        }
        if let s = o.sigma { r.noise = .sigma(try parseNumbers(s, option: "--sigma")) }
        else if let v = o.varianceMap { r.noise = .varianceMap(v) }
        else if let w = o.weightMap { r.noise = .weightMap(w) }
        if let f = o.fluxScale { r.fluxScale = .given(f) }
        r.apertureRadius = o.apertureRadius
        if let text = o.apertureCenter {
            let v = try parseNumbers(text, option: "--aperture-center")
            guard v.count == 2 else { throw TweedieError.invalidInput(what: "--aperture-center", problem: "needs X,Y, got '\(text)'") }
            r.apertureCenter = (v[0], v[1])
        }
        let gibbs = PosteriorRequest.SplitGibbsOverrides(iterations: o.gibbsIterations, rhoMax: o.gibbsRhoMax, priorSteps: o.gibbsPriorSteps)
        switch o.sampler {
        case "dps":
            var clip = PosteriorRequest.Clip.priorDeclared
            if let c = o.clip {
                if c == "none" {
                    clip = .none
                } else {
                    let v = try parseNumbers(c, option: "--clip")
                    guard v.count == 2, v[0] < v[1] else {
                        throw TweedieError.invalidInput(what: "--clip", problem: "needs LO,HI with LO < HI (or none), got '\(c)'")
                    }
                    clip = .range(lo: Float(v[0]), hi: Float(v[1]))
                }
            }
            r.sampler = .dps(steps: o.steps, guidance: o.guidance, clip: clip, ddimEta: o.dpsEta)
        case "smc":
            r.sampler = .smc(gibbs, particles: o.particles, adaptive: o.smcTempering == "adaptive", samplesPerPopulation: o.samplesPerPopulation)
        default:
            r.sampler = .splitGibbs(gibbs)
        }
        return r
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

/// Parses "a,b,c" into numbers with a clear error.
func parseNumbers(_ text: String, option: String) throws -> [Double] {
    let parts = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
    let values = parts.map { Double($0) }
    guard !parts.isEmpty, values.allSatisfy({ $0 != nil && $0!.isFinite }) else {
        throw TweedieError.invalidInput(what: option, problem: "expected comma-separated numbers, got '\(text)'")
    }
    return values.map { $0! }
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
