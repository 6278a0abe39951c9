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
import TweedieStudies

struct SampleCommand: TweedieCommand {
    static let configuration = CommandConfiguration(
        commandName: "sample",
        abstract: "Draw posterior samples for an observation and write mean, std, variance ratio and scores.",
        discussion: SampleCommand.discussion)

    @Option(help: "Prior directory, or an analytic prior spec (gaussian:…, mixture:…).")
    var prior: String?

    @Option(help: "Observation FITS file (bands along the third axis).")
    var observation: String?

    @Option(help: "HDU of the observation (number or EXTNAME).")
    var hdu: String?

    @Option(help: "Cut the observation to a SIZE×SIZE box centred on FITS pixel X,Y (1-based) first: X,Y,SIZE. Pixels of the box beyond the image's edge are masked; a whole-frame --variance-map / --weight-map is cut with it.")
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

    @Option(help: ArgumentHelp("Sampler: split-gibbs (default, calibrated), smc (multimodal posteriors), dps (faster, NOT calibrated: see below), replica-exchange, or exact (analytic priors: closed-form posterior draws).", valueName: SamplerRequest.kindNames.joined(separator: "|")))
    var sampler: String = PosteriorDefaults.sampler

    @Option(name: .customLong("sampler-setting"),
            help: ArgumentHelp("A setting of the sampler by its spec key (docs/calibration.md, sampler keys), e.g. prior_step_variance_scale=0.5 or clip=none; repeatable. The options below set the common ones.", valueName: "KEY=VALUE"))
    var samplerSettings: [String] = []

    @Option(help: "Number of posterior samples.")
    var samples: Int = PosteriorDefaults.samples

    @Option(help: "Samples per batch (they share each network call).")
    var batch: Int = PosteriorDefaults.batch

    @Option(help: "DPS: respaced schedule length (default \(PosteriorDefaults.dpsSteps)).")
    var steps: Int?

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

    @Option(help: "SMC particles per population (--sampler smc; default \(PosteriorDefaults.particles)); --samples is rounded up to whole populations' worth of work, and the first --samples are kept.")
    var particles: Int?

    @Option(name: .customLong("samples-per-population"),
            help: "SMC samples kept from each population (1 … --particles; default all). 1 makes every sample independent (its own population of --particles chains, one drawn by weight) at --particles times the work per sample.")
    var samplesPerPopulation: Int?

    @Option(name: .customLong("smc-tempering"),
            help: "SMC levels: adaptive (default: from the top of the schedule, each step keeping the conditional ESS at 0.9·P, never faster than the planned levels) or planned (the split-Gibbs levels only; collapses on large images).")
    var smcTempering: String?

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
        if let problem = PosteriorDefaults.samplesProblem(samples, name: "--samples") { throw ValidationError(problem) }
        guard batch >= 1 else { throw ValidationError("--batch must be ≥ 1, got \(batch)") }
        if let steps, steps < 1 { throw ValidationError("--steps must be ≥ 1, got \(steps)") }
        guard SamplerRequest.kindNames.contains(sampler) else {
            throw ValidationError("--sampler must be one of \(SamplerRequest.kindNames.joined(separator: ", ")), got '\(sampler)'")
        }
        if let t = smcTempering, !["adaptive", "planned"].contains(t) {
            throw ValidationError("--smc-tempering must be adaptive or planned, got '\(t)'")
        }
        for setting in samplerSettings where !setting.contains("=") {
            throw ValidationError("--sampler-setting needs KEY=VALUE, got '\(setting)'")
        }
        if [sigma != nil, varianceMap != nil, weightMap != nil].filter({ $0 }).count > 1 {
            throw ValidationError("give at most one of --sigma, --variance-map, --weight-map")
        }
    }

    func execute() throws {
        if let dir = resume {
            try Self.resume(URL(fileURLWithPath: dir))
        } else {
            var args = joiningNegativeNumberValues(Array(CommandLine.arguments.dropFirst()))
            if let i = args.firstIndex(of: "sample") { args.removeFirst(i + 1) }
            try runJob(resuming: nil, arguments: args)
        }
    }

    /// `--resume DIR`: the run's recorded arguments parsed again, in the directory it started in.
    static func resume(_ url: URL) throws {
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
    }

    /// Resumes a study case's run recorded as `tweedie sample` arguments (studies before typed requests).
    static func resumeRecordedRun(_ record: PosteriorJobRecord, in run: URL) throws {
        try SampleCommand.parse(record.arguments).runJob(resuming: run, arguments: record.arguments)
    }

    /// Runs (fresh or resumed) into -o DIR or `resumeDir`, one process per run directory;
    /// `arguments` are recorded in run.json so that `--resume` can rebuild the same run.
    func runJob(resuming resumeDir: URL?, arguments: [String]) throws {
        try PosteriorSetup.run(self, in: resumeDir ?? URL(fileURLWithPath: output!), resuming: resumeDir != nil, arguments: arguments)
    }
}
