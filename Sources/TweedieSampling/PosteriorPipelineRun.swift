// Running a prepared posterior into an output directory (DESIGN §8): the checkpointed sampling
// loop (PosteriorRun), then the products (PosteriorProducts) and their files (PosteriorJob), with
// what a front end shows reported as events rather than printed. Fresh runs create the directory
// and write run.json and a first checkpoint before sampling; resumed runs check the checkpoint's
// fingerprint against the prepared run and continue from it.
import Foundation
import TweedieCore
import TweedieOperators

/// How many samples a run draws, in what batches, and what it keeps.
public struct PosteriorRunSettings: Sendable, Codable, Equatable {
    public var samples: Int
    public var seed: UInt64
    public var batch: Int
    /// Keep samples.fits among the products.
    public var keepSamples: Bool
    /// Samples between checkpoints.
    public var checkpointEvery: Int
    public init(samples: Int, seed: UInt64, batch: Int, keepSamples: Bool = false, checkpointEvery: Int) {
        self.samples = samples; self.seed = seed; self.batch = batch
        self.keepSamples = keepSamples; self.checkpointEvery = checkpointEvery
    }
}

/// What a run reports while it works (a front end prints them; a library caller may ignore them).
public enum PosteriorRunEvent: Sendable {
    /// Sampling starts: one line naming the prior, sampler, flux scale and noise.
    case starting(String)
    /// After each batch.
    case progress(RunProgress)
    /// Sampling done (the products follow).
    case sampled
    /// An adaptive SMC population's progress down its schedule (at most one a minute).
    case tempering(String)
    /// Something the user should read next to the scores (also kept in summary.json's notes).
    case warning(String)
}

/// What a finished run wrote.
public struct PosteriorRunOutcome: Sendable {
    public var scores: PosteriorScores
    public var summary: PosteriorSummary
    /// The product files, relative to the run directory.
    public var files: [String]
}

extension PosteriorPipeline {
    /// Runs `prepared` into `dir` — a new directory (with `record` written as run.json), or, with
    /// `resuming`, the directory of an interrupted run of the same inputs — and writes the products.
    public static func run(_ prepared: PreparedPosterior, in dir: URL, settings: PosteriorRunSettings,
                           resuming: Bool, record: PosteriorJobRecord,
                           events: @escaping @Sendable (PosteriorRunEvent) -> Void = { _ in }) throws -> PosteriorRunOutcome {
        let p = prepared, problem = p.problem
        let ckpt = dir.appendingPathComponent(PosteriorJob.checkpointName)
        var state: PosteriorAccumulator
        // A run stopped before its first checkpoint (killed at once, or the disk full) has no sample
        // to keep: resuming it is starting it again in the same directory.
        if resuming && FileManager.default.fileExists(atPath: ckpt.path) {
            state = try PosteriorRun.readCheckpoint(ckpt)
            guard state.fingerprint == p.fingerprint else {
                throw TweedieError.invalidInput(what: dir.path, problem: "the checkpoint was made with other settings or inputs (they changed since); start a new run")
            }
        } else {
            try PosteriorJob.createOutputDirectory(dir)
            try PosteriorJob.writeRecord(record, in: dir)
            state = PosteriorAccumulator(fingerprint: p.fingerprint, totalSamples: settings.samples,
                                         valueCount: problem.forwardOperator.inputShape.count)
            try PosteriorRun.writeCheckpoint(state, to: ckpt)
        }
        // An adaptive SMC population runs for hours on a neural prior: it checkpoints between
        // tempering steps and reports, at most once a minute, how far down its schedule it is.
        var sampler = p.sampler
        let populationCheckpoint = dir.appendingPathComponent(PosteriorJob.smcPopulationCheckpointName)
        if var smc = sampler as? SMCSplitGibbsSampler, smc.settings.adaptive {
            smc.populationCheckpointURL = populationCheckpoint
            let clock = EventClock(), top = smc.kernel.schedule.count - 1
            smc.temperingObserver = { q, steps, t, ess in
                guard clock.due(every: 60) else { return }
                events(.tempering("smc population \(q): \(steps) tempering steps, at timestep \(t) of \(top), ESS \(String(format: "%.1f", ess))"))
            }
            sampler = smc
        }
        // With a truth the samples are kept on disk for the run too (removed at the end unless
        // keepSamples), so the coverage uses the empirical quantile rule of `calibrate`.
        let keepRaw = settings.keepSamples || p.truth != nil
        let runner = try PosteriorRun(sampler: sampler, problem: problem, transform: p.prior.denoiser.pixelTransform,
                                      seed: settings.seed, batchSize: settings.batch, checkpointURL: ckpt,
                                      checkpointEvery: settings.checkpointEvery,
                                      samplesURL: keepRaw ? dir.appendingPathComponent(PosteriorJob.rawSamplesName) : nil)
        events(.starting("\(settings.samples) samples of \(p.prior.name) with \(sampler.summary); flux scale \(String(format: "%.6g", problem.fluxScale)) (\(p.description.fluxScaleSource)); noise \(problem.noise.summary)"))
        state = try runner.run(state) { events(.progress($0)) }
        events(.sampled)
        try? FileManager.default.removeItem(at: populationCheckpoint)   // every population is in checkpoint.json now

        let per = problem.forwardOperator.inputShape.count
        let kept = keepRaw ? try PosteriorJob.readRawSamples(in: dir, count: state.nextIndex, per: per) : nil
        let products = try PosteriorProducts.compute(state, problem: problem, bands: p.prior.denoiser.bands,
                                                     priorVariance: p.prior.variance.map { ($0.values, $0.space) },
                                                     aperture: p.aperture, truth: p.truth, samples: kept)
        var description = p.description
        if !sampler.diagnostics.isEmpty { description.samplerDiagnostics = sampler.diagnostics }
        if let w = reducedChiSquaredWarning(ofMean: products.scores.reducedChiSquaredOfMean,
                                            samplesMedian: products.scores.sampleReducedChiSquared.median) {
            description.notes.append(w)
            events(.warning(w))
        }
        let summary = PosteriorSummary(tool: "tweedie \(TweedieVersion.string)", run: description,
                                       samplesDrawn: state.nextIndex, wallSeconds: state.elapsedSeconds,
                                       secondsPerSample: state.elapsedSeconds / Double(max(1, state.nextIndex)),
                                       scores: products.scores, files: [])
        let provenance = FITSProvenance(commandLine: description.command, extraCards: [
            FITSCard(keyword: "TWSEED", value: .int(Int(truncatingIfNeeded: settings.seed)), comment: "sampling seed"),
            FITSCard(keyword: "TWPRIOR", value: .string(p.prior.name), comment: "prior"),
            FITSCard(keyword: "TWPRSHA", value: .string(String((p.prior.provenance["sha256"] ?? "analytic").prefix(16))), comment: "prior weights SHA-256 (first 16 hex)"),
            FITSCard(keyword: "TWSAMPLR", value: .string(sampler.name), comment: String(sampler.summary.prefix(40))),
            FITSCard(keyword: "TWNSAMP", value: .int(state.nextIndex), comment: "posterior samples"),
            FITSCard(keyword: "TWFLUXS", value: .double(problem.fluxScale), comment: "flux scale s"),
            FITSCard(keyword: "TWOPER", value: .string(problem.forwardOperator.summary), comment: "forward operator"),
        ] + Self.noiseCards(problem.noise) + Self.skyCards(description.noise.background))
        var residual: (ImageBatch, String)? = nil, previewObservation: ImageBatch? = nil
        if let uv = p.uv {
            // Visibilities: residual.fits is the dirty image of y − A(mean) and the preview shows the dirty image of y.
            var r = try problem.forwardOperator.apply(products.mean)
            for j in r.data.indices { r.data[j] = problem.observation.data[j] - r.data[j] }
            residual = (try uv.dirtyImages(r), "dirty image (\(uv.grid.weighting) weighting, Jy/beam) of the visibility residual y - A(mean)")
            previewObservation = try uv.dirtyImages(problem.observation)
        }
        let files = try PosteriorJob.writeProducts(products, summary: summary, problem: problem, samples: settings.keepSamples ? kept : nil,
                                                   sampleShape: problem.forwardOperator.inputShape, wcs: p.wcs,
                                                   observationWCS: p.observationWCS, provenance: provenance, in: dir,
                                                   residualImage: residual, previewObservation: previewObservation,
                                                   truth: p.truth, observationPixelArcsec: p.observedPixelArcsec)
        if keepRaw { try? FileManager.default.removeItem(at: dir.appendingPathComponent(PosteriorJob.rawSamplesName)) }
        return PosteriorRunOutcome(scores: products.scores, summary: summary, files: files)
    }

    /// The noise summary as header cards: σ per band (TWSIGMA, the median of 1/√W over the band's
    /// usable values: the given σ for a constant-σ model), the noise model (TWNOISE) and the number
    /// of masked observation values (TWMASKED, NaN in residual.fits).
    static func noiseCards(_ noise: any NoiseModel) -> [FITSCard] {
        let w = noise.sqrtWeights, plane = noise.shape.planeCount
        var sigmas: [String] = []
        for c in 0..<noise.shape.channels where plane > 0 && w.count >= (c + 1) * plane {
            let band = w[(c * plane)..<((c + 1) * plane)].filter { $0 > 0 }.map { 1 / Double($0) }.sorted()
            guard !band.isEmpty else { continue }
            let median = band.count % 2 == 1 ? band[band.count / 2] : 0.5 * (band[band.count / 2 - 1] + band[band.count / 2])
            sigmas.append(String(format: "%.6g", median))
        }
        var cards: [FITSCard] = []
        if sigmas.count == noise.shape.channels {
            cards.append(FITSCard(keyword: "TWSIGMA", value: .string(sigmas.joined(separator: ",")), comment: "noise sigma per band (median over usable pixels)"))
        }
        cards.append(FITSCard(keyword: "TWNOISE", value: .string(noise.summary), comment: "noise model"))
        cards.append(FITSCard(keyword: "TWMASKED", value: .int(w.count - noise.usableCount), comment: "masked observation values (NaN in residual.fits)"))
        return cards
    }

    /// The sky taken off the observation before sampling (TWSKYMTH: none, sigma-clipped median or given;
    /// TWSKY: the value per band, in the observation's unit), as summary.json's `run.noise.background`.
    static func skyCards(_ background: BackgroundDescription) -> [FITSCard] {
        var cards = [FITSCard(keyword: "TWSKYMTH", value: .string(background.method.rawValue), comment: "sky subtraction")]
        if !background.values.isEmpty {
            cards.append(FITSCard(keyword: "TWSKY", value: .string(background.values.map { String(format: "%.6g", $0) }.joined(separator: ",")),
                                  comment: "sky subtracted per band (observation unit)"))
        }
        return cards
    }

    /// The warning for a reduced χ² of the mean outside [0.7, 1.5] (nil inside, or when not finite).
    /// Below: σ overestimated or the mean over-fits the noise — or the data pin down most of the
    /// image, where the exact posterior mean gives 1 − tr(H)/N and each sample's χ² stays ≈ 1 (so the
    /// samples' median is quoted). Above: the mean does not fit, or σ is underestimated.
    public static func reducedChiSquaredWarning(ofMean chi2: Double, samplesMedian med: Double) -> String? {
        guard chi2.isFinite, chi2 < 0.7 || chi2 > 1.5 else { return nil }
        let v = String(format: "%.3g", chi2), m = String(format: "%.3g", med)
        if chi2 < 0.7 {
            return "reduced χ² of the posterior mean \(v) < 0.7: σ is overestimated or the mean over-fits the noise, so the spread is too wide — unless the data pin down most pixels, when each sample's reduced χ² stays near 1 (median here \(m)); check σ (or the variance map) before trusting the uncertainties"
        }
        return "reduced χ² of the posterior mean \(v) > 1.5: the mean does not fit the data, or σ is underestimated; the spread and the variance ratio then describe the sampler's failure or a wrong noise level, not the posterior — check σ, or try more steps, a smaller guidance ζ (DPS) or the split-gibbs sampler"
    }
}

/// When a rate-limited event is next due (the SMC observer is @Sendable, so the time sits behind a lock).
final class EventClock: @unchecked Sendable {
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
