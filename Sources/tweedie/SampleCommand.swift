// `tweedie sample`: the main job (issue 5). Reads an observation, builds the
// forward operator from a spec file, resolves the prior, estimates σ and the
// flux scale when not given, draws N posterior samples in batches with
// checkpoints, and writes mean / std / variance ratio / residual FITS,
// summary.json and preview.png (DESIGN §6). `--resume DIR` continues a run.
import ArgumentParser
import Foundation
import TweedieCore
import TweedieOperators
import TweediePriors
import TweedieSampling

struct SampleCommand: TweedieCommand {
    static let configuration = CommandConfiguration(
        commandName: "sample",
        abstract: "Draw posterior samples for an observation and write mean, std, variance ratio and scores.",
        discussion: """
            The observation y is modelled as y = A(s·T(u)) + n: u is an image from the prior (network space), \
            T the prior's pixel transform, s the observation's flux scale, A the operator chain of --spec and n \
            Gaussian noise (σ from --sigma, a variance or weight map, or estimated from the data by a \
            sigma-clipped MAD). NaN / BLANK pixels of the observation drop out of the likelihood.

            Samplers (--sampler):
              split-gibbs  (default) plug-and-play split Gibbs (Wu et al. 2024): alternates an exact Gaussian \
            likelihood step (conjugate gradients on the operator, solved to full accuracy at any SNR) with a prior \
            denoising step from the coupling noise level, annealed; no network VJP. Cost per sample ≈ Σ prior-step \
            network calls (printed) plus the CG solves, ≈ 1.6× DPS-100 per sample on the demo (`tweedie bench \
            sampler`). Calibrated on unimodal analytic oracles (coverage, mean, std); the mean fits the demo \
            (reduced χ² 0.99) and still fits at 10× and 100× its SNR (0.86–0.92). Multimodal posteriors get wrong mode weights when the \
            annealing freezes a sample's mode (use smc). On the neural galaxy prior a first simulation-based \
            calibration (`tweedie calibrate` with an sbc: spec; docs/calibration.md) finds the prior's settings \
            somewhat too wide at the demo SNR (68 % intervals hold 0.82 of the source pixels; earlier settings: \
            0.58, too narrow).
              dps          Diffusion Posterior Sampling (Chung et al. 2022; DESIGN §5.1): per step one network \
            forward pass and one VJP per sample. NOT calibrated, and not recommended for uncertainties: \
            against exact Gaussian posteriors its std is 1.6–1.9× the exact one at SNR 20 and 0.8× at a \
            per-pixel SNR below 1, its mean is off by 0.3–0.5 posterior std, and in the Fourier modes the \
            data pin down its variance is 10⁴× too large; on the demo its 68/95 % intervals cover the truth \
            0.20/0.56 of the time; at high SNR it diverges (reduced χ² 3,440 at 10× the demo's SNR). ζ \
            (--guidance) is per step on ∇‖r‖, default from the prior's config (prior.dps_guidance) for the \
            step count — an untabulated count takes the nearest entry scaled by n₀/steps, with a warning — else 1.
              smc          sequential Monte Carlo over the split-Gibbs annealing: populations of \
            --particles samples carry importance weights from one coupling ρ to the next (Woodbury form of \
            the ρ-smoothed likelihood, two CG solves per iteration) and are resampled when their effective \
            size drops below half; moves are the split-Gibbs steps. Right mode weights on multimodal \
            posteriors; samples of one population are correlated (resampling), populations independent. \
            Weights are exact for affine pixel transforms; otherwise every particle is linearised at \
            the population's weighted mean (samples ≈ 12 % too narrow in std on a 16-pixel asinh \
            oracle). --smc-tempering adaptive \
            (default) walks down from the top of the schedule in as many steps as the weights need \
            (7–13× split-Gibbs's time per sample on the 16×16 and 32×32 analytic oracles; not known ahead); \
            planned uses the split-Gibbs levels only (cost as split-Gibbs plus one prior sample) and \
            collapses to one particle on large images. An adaptive population checkpoints between \
            tempering steps (smc-population.ckpt, at most once a minute), so --resume continues inside it. \
            --samples-per-population S keeps S samples of each population (default all): with 1, every \
            sample is one draw by weight from its own population, so samples are independent and a \
            population that collapses onto one lineage still gives a distinct sample (calibrated on \
            16×16 and 32×32 analytic oracles with 4 particles, where keeping all collapses), at \
            --particles times the work per sample.

            Scores: the variance ratio var_post/var_prior (prior variance from the prior directory's \
            variance map) averaged over a disk of --aperture-radius px (default n·30/256 px, i.e. paper 003's \
            30 px on a 256 px grid, centred on the image) in each band; the headline averages the observed \
            bands only (a band the operator chain drops, or whose data are all masked, keeps the prior's \
            variance; summary.json lists observedBands and the per-band values). The reduced χ² of A(mean) \
            and of each sample; a reduced χ² of the mean outside [0.7, 1.5] is warned about (low: σ \
            overestimated or over-fitting, unless the data pin down most pixels; high: the mean does not \
            fit, or σ is underestimated). With --truth: MSE, PSNR, SSIM and coverage of the truth by the \
            50/68/95 % credible intervals, taken between type-6 empirical quantiles of the samples (the \
            rule of tweedie calibrate, under which exact draws cover at the nominal rate) when there are at \
            least 39 (they are kept on disk for the run, removed after unless --keep-samples), else \
            mean ± z·std; summary.json says which (truth.coverageRule).

            Outputs in -o DIR: mean.fits, std.fits, variance_ratio.fits, residual.fits, samples.fits \
            (--keep-samples), summary.json, preview.png; checkpoint.json and run.json let --resume DIR \
            finish an interrupted run with exactly the result of an uninterrupted one.
            """)

    @Option(help: "Prior directory, or an analytic prior spec (gaussian:…, mixture:…).")
    var prior: String?

    @Option(help: "Observation FITS file (bands along the third axis).")
    var observation: String?

    @Option(help: "HDU of the observation (number or EXTNAME).")
    var hdu: String?

    @Option(help: "Cut the observation to a SIZE×SIZE box centred on FITS pixel X,Y (1-based) first: X,Y,SIZE.")
    var cutout: String?

    @Option(help: "Operator spec (YAML) from the prior grid to the observation. Its prior: section may be omitted.")
    var spec: String?

    @Option(help: "Noise σ of the observation: one value, or one per band (comma-separated). Default: estimated.")
    var sigma: String?

    @Option(name: .customLong("variance-map"), help: "FITS variance map of the observation (0 or NaN: masked).")
    var varianceMap: String?

    @Option(name: .customLong("weight-map"), help: "FITS inverse-variance map of the observation (0: masked).")
    var weightMap: String?

    @Option(name: .customLong("flux-scale"), help: "Flux scale s (physical = s·T(u)). Default: estimated from the data.")
    var fluxScale: Double?

    @Option(help: "Sky background to subtract first: none, auto (sigma-clipped median per band) or a value.")
    var background: String = "none"

    @Option(help: "Sampler: split-gibbs (default, calibrated), smc (multimodal posteriors) or dps (faster, NOT calibrated: see below).")
    var sampler: String = SampleCommand.defaultSampler

    /// The default posterior sampler of `sample` and `demo` (issue 22): the calibrated one.
    static let defaultSampler = "split-gibbs"

    @Option(help: "Number of posterior samples.")
    var samples: Int = SampleCommand.defaultSamples
    static let defaultSamples = 64

    @Option(help: "Samples per batch (they share each network call).")
    var batch: Int = SampleCommand.defaultBatch
    static let defaultBatch = 4

    @Option(help: "Sampling steps (DPS: respaced schedule length).")
    var steps: Int = SampleCommand.defaultDPSSteps
    static let defaultDPSSteps = 250

    @Option(help: "Random seed; sample k uses stream k of this seed.")
    var seed: UInt64 = 0

    @Option(help: "DPS guidance scale ζ (default: the prior's recommendation for --steps, scaled from the nearest tabulated step count if needed, else 1).")
    var guidance: Double?

    @Option(name: .customLong("dps-eta"),
            help: "DPS: take DDIM steps with this η in [0, 1] instead of DDPM ancestral steps (default: DDPM, as paper 003).")
    var dpsEta: Double?

    @Option(name: .customLong("clip"), help: "Clip x̂0 to LO,HI in network space (DPS); default the prior's declared range (x0_clip in its config), 'none' to disable.")
    var clip: String?

    @Option(name: .customLong("gibbs-iterations"),
            help: "Split-Gibbs / SMC annealing iterations (default: the prior's split_gibbs settings, else the analytic-oracle preset, 30; smc: 60).")
    var gibbsIterations: Int?

    @Option(help: "SMC particles per population (--sampler smc); --samples is rounded up to whole populations' worth of work, and the first --samples are kept.")
    var particles: Int = SampleCommand.defaultParticles
    static let defaultParticles = 64

    @Option(name: .customLong("samples-per-population"),
            help: "SMC samples kept from each population (1 … --particles; default all). 1 makes every sample independent (its own population of --particles chains, one drawn by weight) at --particles times the work per sample.")
    var samplesPerPopulation: Int?

    @Option(name: .customLong("smc-tempering"),
            help: "SMC levels: adaptive (from the top of the schedule, each step keeping the conditional ESS at 0.9·P, never faster than the planned levels) or planned (the split-Gibbs levels only; collapses on large images).")
    var smcTempering: String = "adaptive"

    @Option(name: .customLong("gibbs-prior-steps"),
            help: "Split-Gibbs network calls per prior step, at most (default: the prior's split_gibbs settings, else the analytic-oracle preset, 10 with Analytic-DPM step variance).")
    var gibbsPriorSteps: Int?

    @Option(name: .customLong("gibbs-rho-max"),
            help: "Split-Gibbs starting coupling ρ (network units); should exceed the prior's pixel std (default: the prior's split_gibbs settings, else the analytic-oracle preset, 10).")
    var gibbsRhoMax: Double?

    @Option(name: .customLong("aperture-radius"), help: "Radius (prior pixels) of the variance-ratio aperture. Default n·30/256.")
    var apertureRadius: Double?

    @Option(name: .customLong("aperture-center"), help: "Centre X,Y (0-based prior pixels) of the aperture. Default: image centre.")
    var apertureCenter: String?

    @Option(help: "Truth image on the prior grid (physical units) for PSNR, SSIM, MSE and coverage.")
    var truth: String?

    @Flag(name: .customLong("keep-samples"), help: "Also write every sample (samples.fits).")
    var keepSamples = false

    @Option(name: .customLong("checkpoint-every"), help: "Write the checkpoint every this many batches.")
    var checkpointEvery: Int = 1

    @Flag(help: "No progress line.")
    var quiet = false

    @Option(name: .shortAndLong, help: "Output directory (new or empty).")
    var output: String?

    @Option(help: "Continue the interrupted run in this directory (all other options come from its run.json).")
    var resume: String?

    func validate() throws {
        if resume != nil { return }
        guard prior != nil else { throw ValidationError("--prior DIR|SPEC is required") }
        guard observation != nil else { throw ValidationError("--observation FILE is required") }
        guard spec != nil else { throw ValidationError("--spec OPERATOR.yaml is required") }
        guard output != nil else { throw ValidationError("-o DIR is required (or --resume DIR)") }
        guard samples >= 1 else { throw ValidationError("--samples must be ≥ 1, got \(samples)") }
        guard batch >= 1 else { throw ValidationError("--batch must be ≥ 1, got \(batch)") }
        guard steps >= 1 else { throw ValidationError("--steps must be ≥ 1, got \(steps)") }
        guard ["dps", "split-gibbs", "smc"].contains(sampler) else {
            throw ValidationError("--sampler must be dps, split-gibbs or smc, got '\(sampler)'")
        }
        guard ["adaptive", "planned"].contains(smcTempering) else {
            throw ValidationError("--smc-tempering must be adaptive or planned, got '\(smcTempering)'")
        }
        if [sigma != nil, varianceMap != nil, weightMap != nil].filter({ $0 }).count > 1 {
            throw ValidationError("give at most one of --sigma, --variance-map, --weight-map")
        }
    }

    func execute() throws {
        if let dir = resume {
            let url = URL(fileURLWithPath: dir)
            let record = try PosteriorJob.readRecord(in: url)
            var cmd = try SampleCommand.parse(record.arguments)
            cmd.resume = nil
            try cmd.validate()
            // Relative paths in the recorded arguments are relative to where the run started.
            guard FileManager.default.changeCurrentDirectoryPath(record.workingDirectory) else {
                throw TweedieError.io(path: record.workingDirectory,
                                      problem: "the run's working directory is gone; cannot resolve its relative paths")
            }
            try cmd.runJob(resuming: url.standardizedFileURL.absoluteURL, arguments: record.arguments)
        } else {
            var args = joiningNegativeNumberValues(Array(CommandLine.arguments.dropFirst()))
            if let i = args.firstIndex(of: "sample") { args.removeFirst(i + 1) }
            try runJob(resuming: nil, arguments: args)
        }
    }

    /// Builds everything, then runs (fresh or resumed) and writes the products. `arguments` are
    /// recorded in run.json so that `--resume` can rebuild the same run.
    func runJob(resuming resumeDir: URL?, arguments: [String]) throws {
        let outDir = resumeDir ?? URL(fileURLWithPath: output!)
        // One process per run directory: a second --resume (or -o) while the first runs is refused.
        let lockPath = outDir.standardizedFileURL.path + ".lock"
        let lock: StudyCaseLock
        switch try StudyCaseLock.acquire(at: lockPath, holder: "`tweedie sample`") {
        case let .acquired(l): lock = l
        case let .heldBy(pid):
            throw TweedieError.invalidInput(what: outDir.path, problem: "is being written by process \(pid) (lock \(lockPath)); wait for it to finish, or stop it and --resume")
        }
        defer { lock.release() }
        try PosteriorSetup.run(self, in: outDir, resuming: resumeDir != nil, arguments: arguments)
    }
}
