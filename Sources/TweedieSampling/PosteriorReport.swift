// The console report of a finished posterior run: what `tweedie sample` prints, and what any front
// end (a study, the catalogue) can print for one object. One line per item: samples and time, flux
// scale and where it came from, noise, the variance ratio over the observed bands (and per band,
// unobserved bands marked), the reduced χ² of the mean and of the samples, the truth's scores and
// the coverage rule when a truth was given, and the output files.
import Foundation

extension PosteriorRunOutcome {
    /// The report's lines; `directory` is the run directory the files are in.
    public func report(prepared: PreparedPosterior, directory: URL) -> [String] {
        let sc = scores, problem = prepared.problem, description = prepared.description
        func f(_ x: Double?) -> String { x.map { String(format: "%.4g", $0) } ?? "n/a" }
        let observed = sc.observedBands.isEmpty ? "none" : sc.observedBands.joined(separator: ",")
        var lines = ["samples            \(summary.samplesDrawn) in \(String(format: "%.1f", summary.wallSeconds)) s (\(String(format: "%.2f", summary.secondsPerSample)) s/sample)",
                     "flux scale         \(f(problem.fluxScale))  (\(description.fluxScaleSource))",
                     "noise              \(problem.noise.summary)",
                     "variance ratio     aperture mean \(f(sc.apertureVarianceRatio)) over observed bands [\(observed)] (r = \(f(sc.apertureRadius)) px at \(f(sc.apertureCenter[0])),\(f(sc.apertureCenter[1]))), their image median \(f(sc.medianVarianceRatio))"]
        if sc.apertureVarianceRatio != nil {
            let perBand = sc.priorBands.map { b in
                "\(b.name) \(f(b.apertureVarianceRatio))/\(f(b.medianVarianceRatio))" + (b.observed ? "" : " (unobserved)")
            }
            lines.append("  per band         aperture/median: " + perBand.joined(separator: ", "))
        }
        for d in summary.run.samplerDiagnostics ?? [] { lines.append("sampler            " + d) }
        lines.append("reduced χ²         mean \(f(sc.reducedChiSquaredOfMean)); samples median \(f(sc.sampleReducedChiSquared.median)) [16–84 %: \(f(sc.sampleReducedChiSquared.p16))–\(f(sc.sampleReducedChiSquared.p84))]")
        if let t = sc.truth {
            lines.append("truth              PSNR \(f(t.psnr)) dB, SSIM \(f(t.ssim)), MSE \(f(t.mse)); coverage 50/68/95 %: \(f(t.coverage50))/\(f(t.coverage68))/\(f(t.coverage95))")
            lines.append("  coverage rule    \(t.coverageRule)")
        }
        lines.append("outputs            \(directory.path)/ : " + files.joined(separator: ", "))
        return lines
    }
}
