// The calibration study's outputs (issue 8): a tidy table (one row per case ×
// sampler, every parameter and score a column) as CSV and JSON, and one
// calibration plot per sampler (nominal vs empirical coverage, every case a
// curve, the ±3-point band around the diagonal shaded). Written atomically.
//
// Targets a calibrated sampler must meet (checked per row, column
// `meets_targets`): |coverage − nominal| ≤ 0.03 at 68 % and 95 %, RMS mean
// error ≤ 0.2 exact posterior std, and for mixtures the mean total-variation
// distance of the mode weights ≤ 0.05.

import Foundation
import TweedieCore
import TweedieSampling

public enum CalibrationTable {
    /// Coverage tolerance (absolute) and the other targets of `meets_targets`.
    public static let coverageTolerance = 0.03
    public static let meanErrorTarget = 0.2
    public static let modeWeightTarget = 0.05
    /// Gaussian-prior rows: sampled/exact std within these bounds, and each radial Fourier band's
    /// sampled/exact variance within `fourierBandTarget` (issue 22).
    public static let stdRatioTarget = (0.95, 1.05)
    public static let fourierBandTarget = (0.85, 1.15)

    /// Coverage at `level` (nil when the level was not computed).
    static func coverage(_ r: CalibrationResult, _ level: Double) -> Double? {
        r.scores.levels.firstIndex { abs($0 - level) < 1e-9 }.map { r.scores.coverage[$0] }
    }

    /// True when the row meets every target (68 % and 95 % must be among the levels).
    public static func meetsTargets(_ r: CalibrationResult) -> Bool {
        guard let c68 = coverage(r, 0.68), let c95 = coverage(r, 0.95) else { return false }
        var ok = abs(c68 - 0.68) <= coverageTolerance && abs(c95 - 0.95) <= coverageTolerance
            && r.scores.meanErrorRMS <= meanErrorTarget
        if let tv = r.scores.modeWeightTVMean { ok = ok && tv <= modeWeightTarget }
        if r.priorFamily == "gaussian" {
            ok = ok && r.scores.stdRatio >= stdRatioTarget.0 && r.scores.stdRatio <= stdRatioTarget.1
        }
        if let bands = r.scores.fourierBandVarianceRatio {
            ok = ok && bands.allSatisfy { $0.map { $0 >= fourierBandTarget.0 && $0 <= fourierBandTarget.1 } ?? true }
        }
        return ok
    }

    /// Column names and values of one row.
    static func columns(_ r: CalibrationResult) -> [(String, String)] {
        func num(_ v: Double?) -> String { v.map { $0.isFinite ? String(format: "%.6g", $0) : "nan" } ?? "" }
        func int(_ v: Int?) -> String { v.map(String.init) ?? "" }
        var c: [(String, String)] = [
            ("id", r.id), ("prior", r.prior), ("prior_family", r.priorFamily), ("prior_shape", r.priorShape), ("prior_spec", r.priorSpec),
            ("operator", r.operatorName), ("operator_summary", r.operatorSummary), ("noise", r.noiseTag),
            ("sigma", num(r.sigma)), ("snr", num(r.snr)), ("route", r.route),
            ("sampler", r.sampler), ("sampler_kind", r.samplerKind), ("steps", int(r.steps)), ("guidance", num(r.guidance)),
            ("iterations", int(r.iterations)), ("prior_steps", int(r.priorSteps)), ("rho_max", num(r.rhoMax)),
            ("final_iterations", int(r.finalIterations)), ("observations", String(r.scores.observations)),
            ("samples", String(r.scores.samplesPerObservation)), ("pixels", String(r.scores.pixels)), ("seed", String(r.seed)),
        ]
        for (l, level) in r.scores.levels.enumerated() {
            let tag = String(Int((level * 100).rounded()))
            c.append(("coverage\(tag)", num(r.scores.coverage[l])))
            c.append(("coverage\(tag)_se", num(r.scores.coverageStandardError[l])))
        }
        let s = r.scores
        c += [
            ("mean_error_rms", num(s.meanErrorRMS)), ("mean_error_mean_abs", num(s.meanErrorMeanAbs)),
            ("mean_error_floor", num(s.meanErrorFloor)), ("std_ratio", num(s.stdRatio)),
            ("z_mean", num(s.zMean)), ("z_std", num(s.zStd)), ("z_frac_gt2", num(s.zFractionAbove2)), ("z_frac_gt3", num(s.zFractionAbove3)),
            ("z_exact_mean", num(s.zExactMean)), ("z_exact_std", num(s.zExactStd)),
            ("mode_tv_mean", num(s.modeWeightTVMean)), ("mode_tv_max", num(s.modeWeightTVMax)),
            ("mode_weights_exact", s.modeWeightExact.map { $0.map { String(format: "%.4f", $0) }.joined(separator: ";") } ?? ""),
            ("mode_weights_sampled", s.modeWeightSampled.map { $0.map { String(format: "%.4f", $0) }.joined(separator: ";") } ?? ""),
            ("posterior_prior_std", num(s.posteriorToPriorStd)), ("seconds_per_sample", num(s.secondsPerSample)),
            ("fourier_band_variance_ratio", s.fourierBandVarianceRatio.map { $0.map { $0.map { String(format: "%.4f", $0) } ?? "" }.joined(separator: ";") } ?? ""),
            ("meets_targets", meetsTargets(r) ? "true" : "false"),
        ]
        return c
    }

    /// The CSV text (header + one row per result; fields quoted when needed).
    public static func csv(_ results: [CalibrationResult]) -> String {
        guard let first = results.first else { return "" }
        func quote(_ s: String) -> String {
            s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" }) ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
        }
        var lines = [columns(first).map { $0.0 }.joined(separator: ",")]
        for r in results { lines.append(columns(r).map { quote($0.1) }.joined(separator: ",")) }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Writes calibration.csv, calibration.json (with `metadata`) and coverage_<sampler>.png into `directory`.
    /// Returns the paths written.
    @discardableResult
    public static func write(_ results: [CalibrationResult], metadata: [String: String], to directory: URL) throws -> [String] {
        var written: [String] = []
        let csvPath = directory.appendingPathComponent("calibration.csv").path
        let text = csv(results)
        try AtomicFileWrite.write(to: csvPath) { tmp in
            do { try text.write(toFile: tmp, atomically: false, encoding: .utf8) }
            catch { throw TweedieError.io(path: csvPath, problem: "cannot write (\(error.localizedDescription))") }
        }
        written.append(csvPath)

        struct Document: Encodable {
            var metadata: [String: String]
            var rows: [[String: String]]
            var results: [CalibrationResult]
        }
        let doc = Document(metadata: metadata,
                           rows: results.map { Dictionary(uniqueKeysWithValues: columns($0)) }, results: results)
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        enc.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        let data = try enc.encode(doc)
        let jsonPath = directory.appendingPathComponent("calibration.json").path
        try AtomicFileWrite.write(to: jsonPath) { tmp in
            do { try data.write(to: URL(fileURLWithPath: tmp)) }
            catch { throw TweedieError.io(path: jsonPath, problem: "cannot write (\(error.localizedDescription))") }
        }
        written.append(jsonPath)

        var samplers: [String] = []
        for r in results where !samplers.contains(r.sampler) { samplers.append(r.sampler) }
        for s in samplers {
            let rows = results.filter { $0.sampler == s }
            let path = directory.appendingPathComponent("coverage_\(s).png").path
            try plot(rows, title: s + "  (* = misses targets)").render(width: 720, height: 540).writePNG(to: path)
            written.append(path)
        }
        return written
    }

    /// Distinct colours for up to 20 curves (then repeating): ten strong, then ten light or dark variants.
    static let palette: [(UInt8, UInt8, UInt8)] = [
        (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75),
        (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207),
        (0, 0, 110), (150, 70, 0), (0, 90, 0), (120, 0, 0), (70, 0, 110), (255, 187, 120),
        (152, 223, 138), (255, 152, 150), (197, 176, 213), (0, 110, 110),
    ]

    /// The calibration plot of one sampler: nominal vs empirical coverage, one curve per case.
    public static func plot(_ rows: [CalibrationResult], title: String) -> LinePlot {
        let grid = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
        let bandX = stride(from: 0.0, through: 1.0, by: 0.05).map { $0 }
        var p = LinePlot(title: title, xLabel: "nominal level (%)", yLabel: "empirical coverage of the truth (%)",
                         xRange: 0...1, yRange: 0...1, xTicks: grid, yTicks: grid,
                         band: (bandX, bandX.map { max(0, $0 - coverageTolerance) }, bandX.map { min(1, $0 + coverageTolerance) }))
        p.series.append(.init(x: [0, 1], y: [0, 1], colour: (0, 0, 0), lineWidth: 1, label: nil, markers: false))
        for (i, r) in rows.enumerated() {
            p.series.append(.init(x: r.scores.levels, y: r.scores.coverage, colour: palette[i % palette.count], lineWidth: 2,
                                  label: "\(r.prior) \(r.operatorName) \(r.noiseTag)" + (meetsTargets(r) ? "" : " *")))
        }
        return p
    }
}
