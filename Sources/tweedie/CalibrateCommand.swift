// `tweedie calibrate SPEC.yaml -o DIR` (issue 8): measures how well the
// posterior samplers cover the truth against the exact posteriors of analytic
// priors. A thin layer over TweedieStudies' CalibrationStudy: reads the YAML
// spec, runs the missing cases (finished ones in DIR/cases/ are skipped), and
// writes calibration.csv, calibration.json and one coverage_<sampler>.png per
// sampler. One line per finished case on stderr; a progress line per
// observation when stderr is a terminal.
import ArgumentParser
import Foundation
import TweedieCore
import TweedieSampling
import TweedieStudies

struct CalibrateCommand: TweedieCommand {
    static let configuration = CommandConfiguration(
        commandName: "calibrate",
        abstract: "Measure sampler calibration (coverage of the truth) against exact posteriors of analytic priors.",
        discussion: """
            For every prior × operator × noise level of SPEC, draws M truths from the prior, simulates \
            y = A x + n, computes the exact posterior (closed form in Fourier space for a stationary Gaussian \
            prior with a periodic PSF; dense linear algebra on ≤ 16×16 images otherwise, mixtures included), \
            and for every sampler draws K posterior samples per observation. Scores pooled over observations \
            and pixels: coverage of the truth by the empirical 50/68/95 % credible intervals (with a standard \
            error from the spread over observations), RMS error of the sampled mean in exact posterior std, \
            sampled/exact std ratio, z-score distributions, and for mixtures the mode weights (average exact \
            responsibility of the samples) against the exact posterior component probabilities.

            SPEC (YAML): seed, observations, samples, pixel_scale_arcsec, levels, priors [{name, spec}], \
            operators [{name, chain: [...] | uv: {...}}], noise {sigma: [...] | snr: [...]}, samplers \
            [{kind: exact | dps | split-gibbs, ...}]; see Notebooks/calibration/calibrate_small.yaml.

            Simulation-based calibration (Talts et al. 2018): a spec with a top-level `sbc:` section draws \
            truths from the prior itself (a prior directory's declared sampler, or an analytic prior's exact draws), \
            simulates y = A(s·T(u)) + σ/k·n through an operator spec at each SNR scale k, and ranks every truth \
            value among K posterior samples of one sampler. Writes sbc.json (χ²-uniformity p-values of one source \
            and one sky pixel per truth and of the aperture flux per band, coverage of source and sky pixels with \
            standard errors over truths, mean rank offsets, the aperture variance ratio per band and its spread, \
            the reduced χ² of the mean) and sbc_ranks.csv (rank histograms); `python3 \
            Notebooks/calibration/plot_sbc.py DIR` draws them. Keys: prior, operator, sigma, flux_scale, \
            snr_scales, truths, samples, batch, seed, source_threshold, levels, truth_sampler, sampler; see \
            Notebooks/calibration/sbc_galaxy_demo.yaml.

            Outputs in -o DIR: cases/<case>.json (one per case × sampler, written when done: rerunning the \
            command resumes), calibration.csv and calibration.json (one row per case × sampler, every \
            parameter and score a column), coverage_<sampler>.png (nominal vs empirical coverage).
            """)

    @Argument(help: "Calibration spec (YAML).")
    var spec: String

    @Option(name: .shortAndLong, help: "Output directory (created if needed; finished cases in it are kept).")
    var output: String

    @Option(help: "Run only a share of the cases: K/N, for N parallel processes sharing -o DIR (case (group g, sampler s) runs in shard (g + s) mod N). A sharded run writes only its case files; rerun without --shard to write the tables.")
    var shard: String?

    @Flag(help: "No progress line.")
    var quiet = false

    func execute() throws {
        if SBCSpec.isSBCSpec(spec) {
            guard shard == nil else { throw TweedieError.invalidInput(what: "--shard", problem: "does not apply to an SBC spec; run one process per spec") }
            try runSBC(specPath: spec, output: output, quiet: quiet)
            return
        }
        let study = try CalibrationStudy(spec: try CalibrationSpec.load(spec), directory: URL(fileURLWithPath: output))
        let (k, n) = try parseShard(shard)
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        let start = Date()
        let terminal = isatty(2) != 0 && !quiet
        var lastCase = -1
        var caseStart = Date()
        let results = try study.run(shard: (k, n)) { p in
            if p.caseIndex != lastCase { lastCase = p.caseIndex; caseStart = Date() }
            if p.skipped {
                if !quiet { printNote("[\(p.caseIndex + 1)/\(p.caseCount)] \(p.caseID): done earlier, skipped") }
            } else if p.observation == p.observations {
                if terminal { FileHandle.standardError.write(Data("\r".utf8)) }
                if !quiet {
                    printNote(String(format: "[%d/%d] %@: %d observations in %.1f s", p.caseIndex + 1, p.caseCount, p.caseID,
                                     p.observations, Date().timeIntervalSince(caseStart)))
                }
            } else if terminal {
                FileHandle.standardError.write(Data("\r[\(p.caseIndex + 1)/\(p.caseCount)] \(p.caseID): observation \(p.observation)/\(p.observations)   ".utf8))
            }
        }
        if n > 1 {
            if !quiet { printNote("shard \(k)/\(n): \(results.count) cases finished; rerun without --shard to write the tables") }
            return
        }
        var load = ""
        if let text = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8) {
            load = text.split(separator: " ").prefix(3).joined(separator: " ")
        }
        let metadata = [
            "command": commandLineForProvenance,
            "spec": spec,
            "tool_version": TweedieVersion.string,
            "finished": ISO8601DateFormatter().string(from: Date()),
            "wall_seconds_this_invocation": String(format: "%.1f", Date().timeIntervalSince(start)),
            "load_average_at_end": load,
            "cpu_cores": String(ProcessInfo.processInfo.activeProcessorCount),
            "targets": "coverage within ±\(CalibrationTable.coverageTolerance) at 68 % and 95 %; RMS mean error ≤ \(CalibrationTable.meanErrorTarget) exact std; Gaussian priors: std ratio in \(CalibrationTable.stdRatioTarget.0)–\(CalibrationTable.stdRatioTarget.1) and every radial Fourier band's variance ratio in \(CalibrationTable.fourierBandTarget.0)–\(CalibrationTable.fourierBandTarget.1) (periodic PSF rows); mixture mode-weight TV ≤ \(CalibrationTable.modeWeightTarget)",
        ]
        let paths = try CalibrationTable.write(results, metadata: metadata, to: URL(fileURLWithPath: output))
        if !quiet {
            let met = results.filter(CalibrationTable.meetsTargets).count
            printNote("wrote \(paths.count) files to \(output): \(results.count) rows, \(met) meet the targets")
        }
    }
}
