// A study's tables and figure: results.csv / results.json with one row per finished case
// (parameters, case metadata, scores), the concatenated per-case source and detection tables,
// and summary.png's error-bar plot. A case's scores come from its run/summary.json, decoded as
// `StudyCaseSummary` (the part of PosteriorSummary a row shows).
import Foundation
import TweedieCore
import TweedieOperators
import TweedieSampling

extension StudyContext {
    /// Rows of the finished cases: parameters, case metadata and scores.
    public func finishedRows() throws -> [[String: String]] {
        var rows: [[String: String]] = []
        for i in cases.indices {
            let dir = caseDirectory(i)
            guard let s = try? Data(contentsOf: dir.appendingPathComponent("run/summary.json")) else { continue }
            let summary = try StudyCaseSummary.decoder.decode(StudyCaseSummary.self, from: s)
            var row: [String: String] = ["case": "\(i)"]
            for (k, v) in cases[i] { row[k] = v.description }
            if let m = try? Data(contentsOf: dir.appendingPathComponent("case.json")),
               let meta = try JSONSerialization.jsonObject(with: m) as? [String: Any] {
                for (k, v) in meta { row[k] = "\(v)" }
            }
            func num(_ v: Double?) -> String { v.map { String($0) } ?? "" }
            let sc = summary.scores
            row["aperture_variance_ratio"] = num(sc?.apertureVarianceRatio)
            row["median_variance_ratio"] = num(sc?.medianVarianceRatio)
            row["reduced_chi2_mean"] = num(sc?.reducedChiSquaredOfMean)
            row["reduced_chi2_samples_median"] = num(sc?.sampleReducedChiSquared?.median)
            if let t = sc?.truth {
                for (name, v) in [("psnr", t.psnr), ("ssim", t.ssim), ("mse", t.mse), ("coverage50", t.coverage50),
                                  ("coverage68", t.coverage68), ("coverage95", t.coverage95)] { row[name] = num(v) }
            }
            row["seconds"] = num(summary.wallSeconds)
            row["samples_drawn"] = num(summary.samplesDrawn)
            row["flux_scale_used"] = num(summary.run?.fluxScale)
            if let m = try? Data(contentsOf: dir.appendingPathComponent("source_metrics.json")) {
                for (k, v) in try StudyCaseSummary.decoder.decode([String: Double].self, from: m) { row[k] = num(v) }
            }
            rows.append(row)
        }
        return rows
    }

    /// results.csv and results.json (atomic; rebuilt from the case directories).
    public func writeTables() throws {
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

/// The part of a case's run/summary.json (PosteriorSummary) its results row shows. Every field is
/// optional, so a summary written by an earlier version (fewer scores) still gives a row; whole
/// numbers decode as Double (the row shows samples_drawn as "20.0", as it always has); a null
/// score (not finite: docs/summary.schema.json) gives an empty cell, and the "nan" / "inf" /
/// "-inf" strings summaries before schema version 2 wrote decode as those numbers.
/// A radio case's source_metrics.json (numbers, "nan" for an empty denominator) decodes with the
/// same `decoder` as [String: Double].
struct StudyCaseSummary: Decodable {
    struct Scores: Decodable {
        struct Spread: Decodable { var median: Double? }
        struct Truth: Decodable { var psnr, ssim, mse, coverage50, coverage68, coverage95: Double? }
        var apertureVarianceRatio, medianVarianceRatio, reducedChiSquaredOfMean: Double?
        var sampleReducedChiSquared: Spread?
        var truth: Truth?
    }
    struct Run: Decodable { var fluxScale: Double? }
    var scores: Scores?
    var wallSeconds, samplesDrawn: Double?
    var run: Run?

    static var decoder: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return decoder
    }
}

/// A study's figure.
public enum StudyPlot {
    /// summary.png: a score against a numeric parameter, mean ± standard deviation over the cases
    /// sharing each value (error bars as short vertical series).
    public static func errorBars(x: [Double], y: [Double], err: [Double], xLabel: String, yLabel: String, to path: String) throws {
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
