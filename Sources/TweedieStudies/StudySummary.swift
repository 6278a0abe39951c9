// A study's summary (`tweedie study report`): summary.md, a table of the mean ± standard deviation
// of chosen scores over the cases sharing each value of one parameter (default: the grid key with
// most values, preferring anything over truth / seed / noise_seed), and summary.png, the aperture
// variance ratio against that parameter when its values are numbers (at least two).
import Foundation
import TweedieCore

extension StudyContext {
    /// Writes summary.md (and summary.png when it can be drawn) from the finished `rows`, grouped by
    /// `by` (nil: the default key); returns the markdown and whether summary.png exists.
    public func writeSummary(rows: [[String: String]], by: String?, scores names: [String]) throws
        -> (markdown: String, figure: Bool) {
        let rank = { (k: String) -> (Int, Int, String) in (["truth", "seed", "noise_seed"].contains(k) ? 0 : 1, spec.grid[k]!.values.count, k) }
        let key = by ?? spec.grid.keys.max { rank($0) < rank($1) } ?? "case"
        var md = "# Study \(spec.name): \(rows.count) of \(cases.count) cases\n\n"
        md += "Mean ± standard deviation over the cases sharing each value of `\(key)` (n = cases).\n\n"
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
        let out = directory.appendingPathComponent("summary.md").path
        try AtomicFileWrite.write(to: out) { tmp in try Data(md.utf8).write(to: URL(fileURLWithPath: tmp)) }
        let png = directory.appendingPathComponent("summary.png").path
        if names.contains("aperture_variance_ratio") {
            let series = StudyTable.aggregate(rows, by: key, value: "aperture_variance_ratio")
            let xs = series.map { Double($0.key) ?? Double.nan }
            if xs.allSatisfy({ $0.isFinite }) && series.count >= 2 {
                try StudyPlot.errorBars(x: xs, y: series.map(\.mean), err: series.map(\.std), xLabel: key,
                                        yLabel: "aperture variance ratio", to: png)
            }
        }
        return (md, FileManager.default.fileExists(atPath: png))
    }
}
