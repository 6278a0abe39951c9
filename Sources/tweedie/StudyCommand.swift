// `tweedie study run SPEC.yaml -o DIR` and `tweedie study report DIR` (issue 7
// item 1). Each case of the spec's grid: scale a truth (held-out prior-generator
// image or a FITS file) to a magnitude, observe it through the operator its
// parameters describe (resampling at z / pixel scale, band selection, PSF), add
// Gaussian noise, run its posterior (a typed request through the library's pipeline, as
// `tweedie sample` would) into the case's own directory, and score
// it. Results go to DIR/results.csv and results.json, one row per case with
// every parameter and score a column. Finished cases are skipped and an
// interrupted case resumes from its checkpoint, so a killed study rerun with
// the same command completes; `--shard K/N` lets N processes share the cases,
// and a per-case lock (StudyCaseLock) keeps two processes off one case. The
// study runner is TweedieStudies' StudyContext; this file holds the options,
// the help and the printing.
import ArgumentParser
import Foundation
import TweedieCore
import TweedieStudies

struct StudyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "study",
        abstract: "Scripted posterior studies: a grid of simulated cases, sampled and scored.",
        subcommands: [StudyRun.self, StudyReport.self])
}

struct StudyRun: TweedieCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run (or continue) a study: every case simulated, sampled and scored.",
        discussion: """
            Case parameters (fixed:, grid: or cases: in the spec):
              truth          index into the spec's truths cube (unit-flux images on the prior grid)
              magnitude      AB magnitude of the truth in flux_band (with zero_point, default 27);
                             or flux: the total in flux_band directly (default 1)
              flux_band      band the magnitude refers to (default r, else the first band)
              redshift, pixel_scale   resampling f_{z,p} to pixel_scale ″/px (kpc priors need redshift)
              bands          observed subset, e.g. "i" or "g;r" (default all)
              psf            gaussian | moffat | none | a FITS file (relative to the spec); psf_fwhm (″),
                             psf_beta, psf_size (px, default 41), psf_pixel_scale (″/px of the stamp,
                             default the grid's; 1 makes psf_fwhm pixels for a prior without a scale)
              sigma          noise σ per observed pixel: one number or one per observed band
              noise_seed     seed of the noise realisation (default 1: the same noise for every case)
              sampler, samples, steps, batch, guidance, seed, clip, gibbs_iterations, gibbs_rho_max,
              gibbs_prior_steps, particles, samples_per_population, smc_tempering, dps_eta
                             as in `tweedie sample` (each read where it applies to the sampler)
              sampler.KEY    any setting of the sampler by its spec key, as --sampler-setting KEY=VALUE
                             (e.g. sampler.prior_step_variance_scale: [0.35, 1] in a grid)
              flux_scale     true (give the sampler the true flux, default), estimated, or a number s
                             (physical = s·T(u); e.g. an analytic prior in O(1) units standing in for Jy/px)
              aperture_radius  variance-ratio aperture radius in prior pixels (default n·30/256)
            Radio cases (uv: set; truths are skies in Jy/px, catalogue: in the spec lists their sources):
              uv             antenna configuration (CASA .cfg, relative to the spec); declination (°),
                             ha_range [h1, h2] (hours, default [-1/6, 1/6]: 20 min at transit), frequency (Hz),
                             integration (s), min_elevation, weighting, robust, dish_diameter, primary_beam
              noise_rms      natural-weighted dirty-image rms, Jy/beam (σ per uv cell follows from it)
              sky_detect_threshold (0.2)   sky models (posterior, truth) are detected on the model itself
                             at k·σ/Ω_beam Jy/px (paper 000 §3.3; Ω_beam the restoring beam's area, px)
              clean_detect_threshold (3), clean_threshold (2)   k·σ levels on the CLEAN images, Jy/beam
              posterior_detect_snr (0)   posterior detections (mean, median, each sample) need a
                             beam-smoothed peak ≥ this × σ
              match_radius (″, 0.18 = paper 000's 5e-5°), flux_aperture (″, 1.0), flux_tolerance (Jy, σ),
              reliability (detect-aggregate, 0.3), merge_radius (″, detect-aggregate's merge across
                             samples; default match_radius)
            A radio case keeps its samples (run/samples.fits) and adds, per method (mean, median, \
            detect_aggregate, clean, truth), purity, completeness, F1, TP/FP/FN and flux accuracy to the table; \
            DIR/sources.csv lists every true source with its SNR, matched or not, recovered flux and offset to \
            the nearest detection (″) per method, \
            DIR/detections.csv every detection.
            SNR (paper 003 Table 2) = Σ of the noiseless observation in flux_band inside the centred disk \
            of the aperture radius mapped to observed pixels, divided by σ·√(pixels in the disk).
            """)

    @Argument(help: "Study spec (YAML).")
    var spec: String

    @Option(name: .shortAndLong, help: "Study directory (created, or continued).")
    var output: String

    @Option(help: "Run only cases with index % N == K: K/N (for N parallel processes). A case being run by another process (cases/case-NNNN.lock) is skipped.")
    var shard: String?

    @Flag(help: "No per-case sampler output.")
    var quiet = false

    func execute() throws {
        var study = try StudyContext(specPath: spec, directory: output)
        study.note = printNote
        // A case run recorded as a command line (before studies used typed requests) resumes as `tweedie sample`.
        study.legacyResume = SampleCommand.resumeRecordedRun
        let (k, n) = try parseShard(shard)
        try study.validateCases()
        try study.prepareDirectory()
        let mine = study.cases.indices.filter { $0 % n == k }
        var done = 0
        for i in mine {
            let t0 = Date()
            let state = try study.runCase(i, quiet: quiet)
            done += 1
            printNote(String(format: "study %@: case %d/%d %@ (%@, %.0f s) — %d of this process's %d done",
                             study.spec.name, i + 1, study.cases.count, state, study.caseLabel(i),
                             Date().timeIntervalSince(t0), done, mine.count))
            try study.writeTables()
        }
        try study.writeTables()
        print("study \(study.spec.name): \(try study.finishedRows().count) of \(study.cases.count) cases finished; table \(output)/results.csv")
    }
}

struct StudyReport: TweedieCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Rebuild the results table of a study directory and summarise a score against a parameter.")

    @Argument(help: "Study directory (from `tweedie study run`).")
    var directory: String

    @Option(help: "Parameter for the rows of the summary (default: the grid key with most values).")
    var by: String?

    @Option(help: "Scores to summarise (comma-separated).")
    var scores: String = "snr,aperture_variance_ratio,reduced_chi2_mean,psnr,coverage68,coverage95"

    func execute() throws {
        let specPath = (directory as NSString).appendingPathComponent("spec.yaml")
        let study = try StudyContext(specPath: specPath, directory: directory, specIsCopy: true)
        try study.writeTables()
        let rows = try study.finishedRows()
        guard !rows.isEmpty else {
            throw TweedieError.invalidInput(what: directory, problem: "no finished case yet; run `tweedie study run` first")
        }
        let (md, figure) = try study.writeSummary(rows: rows, by: by, scores: scores.split(separator: ",").map(String.init))
        let out = (directory as NSString).appendingPathComponent("summary.md")
        let png = (directory as NSString).appendingPathComponent("summary.png")
        print(md, terminator: "")
        print("wrote \(out)" + (figure ? " and \(png)" : ""))
    }
}
