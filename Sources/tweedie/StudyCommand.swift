// `tweedie study run SPEC.yaml -o DIR` and `tweedie study report DIR` (issue 7
// item 1). Each case of the spec's grid: scale a truth (held-out prior-generator
// image or a FITS file) to a magnitude, observe it through the operator its
// parameters describe (resampling at z / pixel scale, band selection, PSF), add
// Gaussian noise, run `tweedie sample` into the case's own directory, and score
// it. Results go to DIR/results.csv and results.json, one row per case with
// every parameter and score a column. Finished cases are skipped and an
// interrupted case resumes from its checkpoint, so a killed study rerun with
// the same command completes; `--shard K/N` lets N processes share the cases,
// and a per-case lock (StudyCaseLock) keeps two processes off one case.
import ArgumentParser
import Foundation
import TweedieCore
import TweedieOperators
import TweedieSampling
import Yams

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
                             as in `tweedie sample`
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
        let study = try StudyContext(specPath: spec, directory: output)
        let (k, n) = try parseShard(shard)
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
        // Default rows: the grid key with most values, preferring anything over `truth` / `seed`.
        let rank = { (k: String) -> (Int, Int, String) in (["truth", "seed", "noise_seed"].contains(k) ? 0 : 1, study.spec.grid[k]!.values.count, k) }
        let key = by ?? study.spec.grid.keys.max { rank($0) < rank($1) } ?? "case"
        var md = "# Study \(study.spec.name): \(rows.count) of \(study.cases.count) cases\n\n"
        md += "Mean ± standard deviation over the cases sharing each value of `\(key)` (n = cases).\n\n"
        let names = scores.split(separator: ",").map(String.init)
        md += "| \(key) | n | " + names.joined(separator: " | ") + " |\n|" + String(repeating: "---|", count: names.count + 2) + "\n"
        let groups = names.map { StudyTable.aggregate(rows, by: key, value: $0) }
        let keys = StudyTable.aggregate(rows, by: key, value: "case").map(\.key)
        for k in keys {
            var cells = [k, "\(rows.filter { $0[key] == k }.count)"]
            for g in groups {
                if let e = g.first(where: { $0.key == k }) {
                    cells.append(String(format: "%.4g ± %.2g", e.mean, e.std))
                } else { cells.append("—") }
            }
            md += "| " + cells.joined(separator: " | ") + " |\n"
        }
        let out = (directory as NSString).appendingPathComponent("summary.md")
        try AtomicFileWrite.write(to: out) { tmp in try Data(md.utf8).write(to: URL(fileURLWithPath: tmp)) }
        let png = (directory as NSString).appendingPathComponent("summary.png")
        if names.contains("aperture_variance_ratio") {
            let series = StudyTable.aggregate(rows, by: key, value: "aperture_variance_ratio")
            let xs = series.map { Double($0.key) ?? Double.nan }
            if xs.allSatisfy({ $0.isFinite }) && series.count >= 2 {
                try StudyPlot.errorBars(x: xs, y: series.map(\.mean), err: series.map(\.std), xLabel: key,
                                        yLabel: "aperture variance ratio", to: png)
            }
        }
        print(md, terminator: "")
        print("wrote \(out)" + (FileManager.default.fileExists(atPath: png) ? " and \(png)" : ""))
    }
}

/// A study on disk: the spec, its cases, and one directory per case.
struct StudyContext {
    let spec: StudySpec
    let specPath: String
    let specDir: URL
    let directory: URL
    let cases: [[String: StudyValue]]

    init(specPath: String, directory: String, specIsCopy: Bool = false) throws {
        guard let text = try? String(contentsOfFile: specPath, encoding: .utf8) else {
            throw TweedieError.io(path: specPath, problem: specIsCopy ? "no study spec copy here; is this a study directory?" : "cannot read the study spec")
        }
        do { spec = try YAMLDecoder().decode(StudySpec.self, from: text) } catch {
            throw TweedieError.invalidInput(what: specPath, problem: "is not a valid study spec (\(error))")
        }
        self.specPath = specPath
        self.directory = URL(fileURLWithPath: directory)
        // Paths in a copied spec stay relative to the original spec's folder, recorded beside it.
        if specIsCopy, let origin = try? String(contentsOfFile: self.directory.appendingPathComponent("spec-origin.txt").path, encoding: .utf8) {
            specDir = URL(fileURLWithPath: origin.trimmingCharacters(in: .whitespacesAndNewlines))
        } else {
            specDir = URL(fileURLWithPath: specPath).deletingLastPathComponent().standardizedFileURL
        }
        cases = try spec.expandedCases()
    }

    func resolve(_ path: String) -> String { path.hasPrefix("/") ? path : specDir.appendingPathComponent(path).standardizedFileURL.path }

    /// The prior argument: an analytic spec as it is, a directory relative to the spec.
    var priorArgument: String {
        spec.prior.hasPrefix("gaussian:") || spec.prior.hasPrefix("mixture:") ? spec.prior : resolve(spec.prior)
    }

    func caseDirectory(_ i: Int) -> URL { directory.appendingPathComponent(String(format: "cases/case-%04d", i)) }

    func caseLabel(_ i: Int) -> String {
        spec.grid.keys.sorted().map { "\($0)=\(cases[i][$0]?.description ?? "")" }.joined(separator: ", ")
    }

    /// Creates the study directory (or checks that it belongs to this spec) and copies the spec.
    func prepareDirectory() throws {
        let fm = FileManager.default
        try fm.createDirectory(at: directory.appendingPathComponent("cases"), withIntermediateDirectories: true)
        let copy = directory.appendingPathComponent("spec.yaml")
        let text = try String(contentsOfFile: specPath, encoding: .utf8)
        if let old = try? String(contentsOf: copy, encoding: .utf8), Self.significantLines(old) != Self.significantLines(text) {
            throw TweedieError.invalidInput(what: directory.path, problem: "holds a study made from a different spec; use a new -o directory")
        }
        try AtomicFileWrite.write(to: copy.path) { try Data(text.utf8).write(to: URL(fileURLWithPath: $0)) }
        try AtomicFileWrite.write(to: directory.appendingPathComponent("spec-origin.txt").path) {
            try Data(self.specDir.path.utf8).write(to: URL(fileURLWithPath: $0))
        }
    }

    /// The lines of a spec that can change a case: all but blank and whole-line comment lines, so a
    /// study directory accepts its spec with an edited header comment.
    static func significantLines(_ text: String) -> [Substring] {
        text.split(separator: "\n", omittingEmptySubsequences: true).filter { line in
            let body = line.drop { $0 == " " || $0 == "\t" }
            return !body.isEmpty && !body.hasPrefix("#")
        }
    }

    /// Runs case `i` unless finished; returns what happened.
    func runCase(_ i: Int, quiet: Bool) throws -> String {
        let dir = caseDirectory(i)
        let run = dir.appendingPathComponent("run")
        let p = StudyCase(parameters: cases[i], context: self)
        let scored = dir.appendingPathComponent("source_metrics.json")
        if FileManager.default.fileExists(atPath: run.appendingPathComponent("summary.json").path) {
            if p.isRadio && !FileManager.default.fileExists(atPath: scored.path) {
                try p.scoreRadio(caseIndex: i, dir: dir)
                return "scored"
            }
            return "already finished"
        }
        let lock: StudyCaseLock
        try FileManager.default.createDirectory(at: dir.deletingLastPathComponent(), withIntermediateDirectories: true)
        switch try StudyCaseLock.acquire(at: dir.path + ".lock") {
        case let .acquired(l): lock = l
        case let .heldBy(pid): return "running in process \(pid), skipped"
        }
        defer { lock.release() }
        if FileManager.default.fileExists(atPath: run.appendingPathComponent("summary.json").path) {
            return "already finished"   // finished by another process since the check above
        }
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let inputs = try p.writeInputs(into: dir)
        let meta = try JSONSerialization.data(withJSONObject: inputs.metadata, options: [.prettyPrinted, .sortedKeys])
        try AtomicFileWrite.write(to: dir.appendingPathComponent("case.json").path) { try meta.write(to: URL(fileURLWithPath: $0)) }
        // Radio: the samples stay in run/ for the median and detect-aggregate.
        let settings = PosteriorRunSettings(samples: 0, seed: 0, batch: 1, keepSamples: p.isRadio, checkpointEvery: 1)
        if FileManager.default.fileExists(atPath: run.appendingPathComponent(PosteriorJob.checkpointName).path) {
            // Interrupted: the inputs above were rewritten identically; continue the run from its record
            // (a typed request, or the command line of runs made before studies used requests).
            let record = try PosteriorJob.readRecord(in: run)
            if let request = record.request, let recorded = record.settings {
                try runPosterior(request, settings: recorded, in: run, resuming: true, record: record, quiet: quiet)
            } else {
                let cmd = try SampleCommand.parse(record.arguments)
                try cmd.runJob(resuming: run, arguments: record.arguments)
            }
            if p.isRadio { try p.scoreRadio(caseIndex: i, dir: dir) }
            return "resumed"
        }
        if FileManager.default.fileExists(atPath: run.path) {
            // No summary and no checkpoint: the run stopped before its first checkpoint, or its
            // checkpoint did not travel (a fresh clone of committed results). Nothing in it can be
            // resumed, so the case starts again.
            try FileManager.default.removeItem(at: run)
        }
        let request = try p.request(inputs: inputs, prior: priorArgument, caseIndex: i)
        var fresh = settings
        fresh.samples = request.samples; fresh.seed = request.seed; fresh.batch = request.batch
        try runPosterior(request, settings: fresh, in: run, resuming: false,
                         record: PosteriorJobRecord(request: request, settings: fresh), quiet: quiet)
        if p.isRadio { try p.scoreRadio(caseIndex: i, dir: dir) }
        return "done"
    }

    /// Prepares and runs one case's posterior into `run` (its run.json records the request).
    func runPosterior(_ request: PosteriorRequest, settings: PosteriorRunSettings, in run: URL, resuming: Bool,
                      record: PosteriorJobRecord, quiet: Bool) throws {
        let prepared = try PosteriorPipeline.prepare(request, warn: { printNote("warning: \($0)") })
        _ = try PosteriorPipeline.run(prepared, in: run, settings: settings, resuming: resuming, record: record) { event in
            guard !quiet else { return }
            switch event {
            case let .starting(line): printNote("tweedie sample: " + line)
            case let .tempering(line): printNote(line)
            case let .warning(w): printNote("warning: \(w)")
            case .progress, .sampled: break
            }
        }
    }

    /// Rows of the finished cases: parameters, case metadata and scores.
    func finishedRows() throws -> [[String: String]] {
        var rows: [[String: String]] = []
        for i in cases.indices {
            let dir = caseDirectory(i)
            guard let s = try? Data(contentsOf: dir.appendingPathComponent("run/summary.json")),
                  let summary = try JSONSerialization.jsonObject(with: s) as? [String: Any] else { continue }
            var row: [String: String] = ["case": "\(i)"]
            for (k, v) in cases[i] { row[k] = v.description }
            if let m = try? Data(contentsOf: dir.appendingPathComponent("case.json")),
               let meta = try JSONSerialization.jsonObject(with: m) as? [String: Any] {
                for (k, v) in meta { row[k] = "\(v)" }
            }
            let sc = summary["scores"] as? [String: Any] ?? [:]
            func num(_ any: Any?) -> String { (any as? Double).map { String($0) } ?? (any as? Int).map { String($0) } ?? (any as? String ?? "") }
            row["aperture_variance_ratio"] = num(sc["apertureVarianceRatio"])
            row["median_variance_ratio"] = num(sc["medianVarianceRatio"])
            row["reduced_chi2_mean"] = num(sc["reducedChiSquaredOfMean"])
            row["reduced_chi2_samples_median"] = num((sc["sampleReducedChiSquared"] as? [String: Any])?["median"])
            if let t = sc["truth"] as? [String: Any] {
                for (k, name) in [("psnr", "psnr"), ("ssim", "ssim"), ("mse", "mse"), ("coverage50", "coverage50"),
                                  ("coverage68", "coverage68"), ("coverage95", "coverage95")] { row[name] = num(t[k]) }
            }
            row["seconds"] = num(summary["wallSeconds"])
            row["samples_drawn"] = num(summary["samplesDrawn"])
            row["flux_scale_used"] = num((summary["run"] as? [String: Any])?["fluxScale"])
            if let m = try? Data(contentsOf: dir.appendingPathComponent("source_metrics.json")),
               let metrics = try JSONSerialization.jsonObject(with: m) as? [String: Any] {
                for (k, v) in metrics { row[k] = num(v) }
            }
            rows.append(row)
        }
        return rows
    }

    /// results.csv and results.json (atomic; rebuilt from the case directories).
    func writeTables() throws {
        let rows = try finishedRows()
        let params = Set(cases.flatMap { $0.keys })
        let meta = ["observed_size", "upsampling", "snr", "true_flux", "true_flux_scale"]
        let scores = ["aperture_variance_ratio", "median_variance_ratio", "reduced_chi2_mean", "reduced_chi2_samples_median",
                      "psnr", "ssim", "mse", "coverage50", "coverage68", "coverage95", "flux_scale_used", "samples_drawn", "seconds"]
        var columns = ["case"] + params.sorted() + meta + scores
        // Radio cases: their metadata and source metrics, methods in a fixed order.
        let known = Set(columns)
        let extra = Set(rows.flatMap(\.keys)).subtracting(known)
        let order = StudyCase.radioMethods
        columns += extra.sorted { a, b in
            let ia = order.firstIndex { a.hasPrefix($0 + "_") } ?? -1, ib = order.firstIndex { b.hasPrefix($0 + "_") } ?? -1
            return ia != ib ? ia < ib : a < b
        }
        try concatenateCaseTables("sources.csv")
        try concatenateCaseTables("detections.csv")
        let csv = StudyTable.csv(columns: columns, rows: rows)
        try AtomicFileWrite.write(to: directory.appendingPathComponent("results.csv").path) { try Data(csv.utf8).write(to: URL(fileURLWithPath: $0)) }
        let json = try JSONSerialization.data(withJSONObject: rows, options: [.prettyPrinted, .sortedKeys])
        try AtomicFileWrite.write(to: directory.appendingPathComponent("results.json").path) { try json.write(to: URL(fileURLWithPath: $0)) }
    }
}

extension StudyContext {
    /// DIR/NAME: the per-case NAME tables (same header) of the finished cases, in case order.
    func concatenateCaseTables(_ name: String) throws {
        var header: String? = nil
        var body: [Substring] = []
        for i in cases.indices {
            guard let text = try? String(contentsOf: caseDirectory(i).appendingPathComponent(name), encoding: .utf8) else { continue }
            let lines = text.split(separator: "\n")
            guard let h = lines.first else { continue }
            if header == nil { header = String(h) }
            body += lines.dropFirst()
        }
        guard let header else { return }
        let text = ([header] + body.map(String.init)).joined(separator: "\n") + "\n"
        try AtomicFileWrite.write(to: directory.appendingPathComponent(name).path) { try Data(text.utf8).write(to: URL(fileURLWithPath: $0)) }
    }
}

enum StudyPlot {
    /// summary.png: a score against a numeric parameter, mean ± standard deviation over the cases
    /// sharing each value (error bars as short vertical series).
    static func errorBars(x: [Double], y: [Double], err: [Double], xLabel: String, yLabel: String, to path: String) throws {
        let lo = zip(y, err).map { $0 - ($1.isFinite ? $1 : 0) }.filter(\.isFinite)
        let hi = zip(y, err).map { $0 + ($1.isFinite ? $1 : 0) }.filter(\.isFinite)
        var ymin = lo.min() ?? 0, ymax = hi.max() ?? 1
        if ymin >= 0 && ymin < 0.3 * ymax { ymin = 0 }
        if ymax <= ymin { ymax = ymin + 1 }
        let pad = 0.08 * (ymax - ymin)
        let xmin = x.min() ?? 0, xmax = max(x.max() ?? 1, xmin + 1e-9), xpad = 0.06 * (xmax - xmin)
        let yTicks = (0...4).map { ymin + (ymax - ymin) * Double($0) / 4 }
        var series = [LinePlot.Series(x: x, y: y, colour: (31, 119, 180), lineWidth: 2, label: yLabel, markers: true)]
        for i in x.indices where err[i].isFinite && err[i] > 0 {
            series.append(LinePlot.Series(x: [x[i], x[i]], y: [y[i] - err[i], y[i] + err[i]], colour: (31, 119, 180)))
        }
        let plot = LinePlot(title: "\(yLabel) vs \(xLabel) (mean, std over cases)", xLabel: xLabel, yLabel: yLabel,
                            xRange: (xmin - xpad)...(xmax + xpad), yRange: (ymin - (ymin == 0 ? 0 : pad))...(ymax + pad),
                            xTicks: x, yTicks: yTicks, tickFormat: { String(format: "%.3g", $0) }, series: series)
        try plot.render().writePNG(to: path)
    }
}
