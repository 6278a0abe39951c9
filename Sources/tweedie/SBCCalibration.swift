// `tweedie calibrate SPEC.yaml` with a top-level `sbc:` section: simulation-based
// calibration of one posterior sampler (TweedieStudies' SBCStudy, whose header
// shows the spec). This file runs it and prints one line per truth, the verdict
// per scale and the run's metadata for sbc.json.
import Foundation
import TweedieCore
import TweediePriors
import TweedieStudies

/// Runs the SBC study of `specPath` into `output`; prints one line per truth and the verdict per scale.
func runSBC(specPath: String, output: String, quiet: Bool) throws {
    let study = try SBCStudy(specPath: specPath, warn: { printNote("warning: \($0)") })
    let settings = study.settings, chain = study.chain
    if !quiet { printNote("SBC: \(settings.truths) truths × \(settings.samples) samples at SNR ×\(settings.snrScales.map { shortSBC($0) }.joined(separator: ", ×")); \(study.samplerSummary)") }
    let start = Date()
    let metadata = { () -> [String: String] in [
        "command": commandLineForProvenance, "spec": specPath, "tool_version": TweedieVersion.string,
        "sampler": study.samplerSummary, "truths_from": study.truthDescription, "prior": study.prior.source,
        "operator": chain.forwardOperator.summary, "bands": chain.outputBands.joined(separator: ","),
        "wall_seconds_this_invocation": String(format: "%.1f", Date().timeIntervalSince(start)),
        "load_average": loadAverageText(),
        "cpu_cores": String(ProcessInfo.processInfo.activeProcessorCount),
        "unet_threads": String(UNetThreading.threads),
    ] }
    let reports = try study.run(directory: URL(fileURLWithPath: output), metadata: metadata, progress: { p in
        guard !quiet else { return }
        printNote(p.skipped ? "truth \(p.truth + 1)/\(p.truths) at ×\(shortSBC(p.scale)): done earlier, kept"
                            : String(format: "truth %d/%d at ×%@: %.1f s", p.truth + 1, p.truths, shortSBC(p.scale), p.seconds))
    })
    if !quiet {
        for r in reports { printNote(sbcReportLine(r)) }
        printNote("wrote sbc.json and sbc_ranks.csv to \(output); figure: python3 Notebooks/calibration/plot_sbc.py \(output)")
    }
}

private func shortSBC(_ v: Double) -> String { v == v.rounded() ? String(Int(v)) : String(v) }

/// One line per scale: p-values, coverage and the verdict.
func sbcReportLine(_ r: SBCScaleReport) -> String {
    func f(_ v: Double) -> String { String(format: "%.3f", v) }
    let cov = { (c: [MeanWithError]) in c.map { "\(f($0.mean))±\(f($0.standardError))" }.joined(separator: "/") }
    return "SNR ×\(shortSBC(r.scale)) (\(r.truths) truths × \(r.samples)): expected coverage \(r.expectedCoverage.map(f).joined(separator: "/")); rank p source \(f(r.sourcePixels.pValue)), sky \(f(r.skyPixels.pValue)), "
        + "aperture flux \(r.apertureFlux.map { f($0.pValue) }.joined(separator: ",")); coverage source \(cov(r.sourceCoverage)), sky \(cov(r.skyCoverage)); "
        + "reduced χ² of mean \(f(r.reducedChiSquaredOfMean.mean)); \(String(format: "%.2f", r.secondsPerSample)) s/sample — "
        + (r.consistentWithCalibration ? "consistent with calibration" : "NOT consistent with calibration")
}
