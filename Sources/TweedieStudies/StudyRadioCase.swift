// The radio case of a study (issue 7 item 6, study 3: paper 000 on simulated
// ALMA data). A case with a `uv` parameter observes truth `truth` of the spec's
// truths cube (Jy/px skies) through a UV operator (operator.yaml with a uv step:
// antenna configuration, declination, hour angles, frequency, noise_rms), adds
// the per-cell visibility noise of noise_rms (stream 0 of noise_seed), samples
// the posterior from the gridded visibilities (keeping the samples in the case's
// run/ directory, for the median and detect-aggregate), and scores sources
// (RadioSourceScoring): posterior mean, median, detect-aggregate, Högbom CLEAN
// of the dirty image, and the true sky measured the same way. Per case it writes
// source_metrics.json (columns of results.csv), sources.csv (one row per true
// source: its SNR, matched or not and recovered flux per method) and
// detections.csv (one row per detection per method, with its matched source).
import Foundation
import TweedieAnalysis
import TweedieCore
import TweedieOperators
import TweedieSampling
import Yams

extension StudyCase {
    static let radioKeys: Set<String> = ["uv", "declination", "ha_range", "frequency", "integration", "min_elevation",
                                         "weighting", "robust", "dish_diameter", "primary_beam", "noise_rms",
                                         "sky_detect_threshold", "clean_detect_threshold", "clean_threshold", "match_radius",
                                         "merge_radius", "posterior_detect_snr", "flux_aperture", "flux_tolerance", "reliability"]
    static let radioMethods = ["mean", "median", "detect_aggregate", "clean", "truth"]

    var isRadio: Bool { parameters["uv"] != nil }

    func writeRadioInputs(into dir: URL) throws -> Inputs {
        for k in ["magnitude", "flux", "redshift", "pixel_scale", "bands", "psf", "sigma"] where parameters[k] != nil {
            throw TweedieError.invalidInput(what: "study parameter \(k)", problem: "does not apply to a radio case (uv:); the truths are skies in Jy/px and the noise is noise_rms")
        }
        let selected = try selectedTruth(describing: "a FITS cube of sky models (Jy/px) on the prior grid")
        let shape = selected.shape
        guard shape.channels == 1, shape.height == shape.width else {
            throw TweedieError.shapeMismatch(what: "truths cube (radio)", expected: "square single-channel skies", got: "\(shape)")
        }
        let truth = try ImageBatch(count: 1, shape: shape, data: selected.data, unit: "Jy/pixel")
        let truthPath = dir.appendingPathComponent("truth.fits").path
        try FITSWriter.write(truth, to: truthPath)

        // Operator spec: the prior grid (from the cube) and the uv step.
        let prior = try SamplingPrior.resolve(context.priorArgument)
        let scale = try radioPixelScale(selected.header, prior: prior)
        guard let dec = try number("declination") else {
            throw TweedieError.invalidInput(what: "study parameter declination", problem: "a radio case needs the source declination (degrees)")
        }
        guard let freq = parameters["frequency"]?.numbers, !freq.isEmpty else {
            throw TweedieError.invalidInput(what: "study parameter frequency", problem: "a radio case needs the frequency in Hz (a number or a list)")
        }
        guard let rms = try number("noise_rms") else {
            throw TweedieError.invalidInput(what: "study parameter noise_rms", problem: "a radio case needs the natural-weighted dirty-image rms (Jy/beam)")
        }
        let ha = parameters["ha_range"]?.numbers ?? [-1.0 / 6, 1.0 / 6]
        guard ha.count == 2 else {
            throw TweedieError.invalidInput(what: "study parameter ha_range", problem: "needs [start, end] in hours, got '\(parameters["ha_range"]!)'")
        }
        let uv = OperatorSpec.UV(config: context.resolve(string("uv")!), declination: dec, hourAngle: ha, frequency: freq,
                                 integration: try number("integration"), minElevation: try number("min_elevation"),
                                 weighting: string("weighting"), robust: try number("robust"),
                                 dishDiameter: try number("dish_diameter"), primaryBeam: string("primary_beam"), noiseRMS: rms)
        let spec = OperatorSpec(prior: .init(height: shape.height, width: shape.width, pixelScaleArcsec: scale), chain: [.uv(uv)])
        let specText = "# written by tweedie study run (radio case)\n" + (try YAMLEncoder().encode(spec))
        let specPath = dir.appendingPathComponent("operator.yaml").path
        try AtomicFileWrite.write(to: specPath) { try Data(specText.utf8).write(to: URL(fileURLWithPath: $0)) }
        let built = try buildOperatorChain(specPath: specPath)
        guard let step = built.uv else { throw TweedieError.invalidInput(what: specPath, problem: "has no uv step") }

        // Noisy visibilities.
        let noise = try step.noiseModel(what: "study parameter noise_rms")
        let sim = try ObservationSimulator.simulate(truth: truth, operator: built.forwardOperator, noiseModel: noise,
                                                    seed: UInt64(try number("noise_seed") ?? 1))
        let obsPath = dir.appendingPathComponent("observation.fits").path
        try FITSWriter.write(hdus: try VisibilityObservation.hdus(sim.noisy, step: step, noise: noise), to: obsPath)

        let geometry = try RadioCaseGeometry(step: step, noise: noise)
        let sources = try trueSources(Int(try number("truth") ?? 0))
        let meta: [String: Any] = ["n_true_sources": sources.count, "true_flux": sources.reduce(0) { $0 + $1.flux },
                                   "image_rms": geometry.imageRMS, "beam_major": geometry.beam.majorFWHM * scale,
                                   "beam_minor": geometry.beam.minorFWHM * scale, "uv_cells": step.grid.cellCount,
                                   "true_flux_scale": 1.0]
        return Inputs(truth: truthPath, observation: obsPath, spec: specPath, sigma: [], flux: 1, metadata: meta)
    }

    /// The truths' pixel scale (PIXSCALE, or the y scale of a celestial WCS read by wcslib), else the prior's arcsec scale.
    private func radioPixelScale(_ header: FITSHeader?, prior: SamplingPrior) throws -> Double {
        if let p = header?.double("PIXSCALE"), p > 0 { return p }
        if let s = header?.wcs?.pixelScaleArcsec, s.y > 0 { return s.y }
        if let ps = prior.pixelScale, ps.unit.hasPrefix("arcsec") || ps.unit == "\"/px" || ps.unit == "″/px" { return ps.value }
        throw TweedieError.invalidInput(what: "study truths \(context.spec.truths ?? "")", problem: "carry no pixel scale (PIXSCALE in arcsec or a celestial WCS) and the prior has no arcsec scale; add PIXSCALE to the cube")
    }

    /// The catalogue's sources of cube image `t` (column `sky` = cube index).
    func trueSources(_ t: Int) throws -> [TrueRadioSource] {
        guard let path = context.spec.catalogue else {
            throw TweedieError.invalidInput(what: "study spec", problem: "a radio study needs catalogue: a CSV of the truths' sources (sky, x, y, flux_jy, fwhm_major_arcsec, fwhm_minor_arcsec)")
        }
        return try RadioCatalogueCSV.read(context.resolve(path)).filter { $0.sky == t }.map(\.source)
    }

    /// Scores a finished radio case: writes source_metrics.json, sources.csv and detections.csv into `dir`.
    func scoreRadio(caseIndex i: Int, dir: URL) throws {
        let built = try buildOperatorChain(specPath: dir.appendingPathComponent("operator.yaml").path)
        guard let step = built.uv else { throw TweedieError.invalidInput(what: dir.path, problem: "operator.yaml has no uv step") }
        let noise = try step.noiseModel()
        let geometry = try RadioCaseGeometry(step: step, noise: noise)
        let n = step.grid.imageSize
        let scale = step.cellArcsec
        let truth = try FITSReader.read(dir.appendingPathComponent("truth.fits").path)
        let vis = try FITSReader.read(dir.appendingPathComponent("observation.fits").path)
        let cube = try FITSReader.read(dir.appendingPathComponent("run/samples.fits").path)
        let per = n * n
        let samples = (0..<cube.count).map { Array(cube.data[($0 * per)..<(($0 + 1) * per)]) }
        let t = Int(try number("truth") ?? 0)
        let sources = try trueSources(t)
        var settings = RadioScoringSettings(noiseRMS: geometry.imageRMS, pixelScaleArcsec: scale,
                                            matchRadius: (try number("match_radius") ?? 0.18) / scale,
                                            fluxAperture: (try number("flux_aperture") ?? 1.0) / scale,
                                            fluxTolerance: try number("flux_tolerance"))
        if let v = try number("sky_detect_threshold") { settings.skyDetectThreshold = v }
        if let v = try number("clean_detect_threshold") { settings.cleanDetectThreshold = v }
        if let v = try number("clean_threshold") { settings.cleanThreshold = v }
        if let v = try number("reliability") { settings.reliability = v }
        if let v = try number("merge_radius") { settings.mergeRadius = v / scale }
        if let v = try number("posterior_detect_snr") { settings.posteriorDetectSNR = v }

        var scores = try RadioSourceScoring.posteriorScores(samples: samples, size: n, beam: geometry.beam, truth: sources,
                                                            settings: settings)
        let dirty = try step.dirtyImages(vis)
        let clean = try RadioSourceScoring.cleanScore(dirty: dirty.data, paddedBeam: geometry.paddedBeam,
                                                      primaryBeam: step.forwardOperator.beamImage, size: n, beam: geometry.beam,
                                                      truth: sources, settings: settings)
        scores.append(clean.score)
        scores.append(try RadioSourceScoring.truthScore(sky: truth.data, size: n, beam: geometry.beam, truth: sources,
                                                        settings: settings))
        let snr = sources.map {
            RadioSourceScoring.snr($0, beamMajor: geometry.beam.majorFWHM * scale, beamMinor: geometry.beam.minorFWHM * scale,
                                   sigma: geometry.imageRMS)
        }

        var metrics: [String: Any] = ["clean_iterations": clean.result.iterations, "flux_tolerance": settings.fluxTolerance,
                                      "match_radius_px": settings.matchRadius,
                                      "merge_radius_px": settings.mergeRadius ?? settings.matchRadius]
        for s in scores {
            let m = s.method
            metrics["\(m)_purity"] = s.match.purity; metrics["\(m)_completeness"] = s.match.completeness
            metrics["\(m)_f1"] = s.match.f1; metrics["\(m)_tp"] = s.match.truePositives
            metrics["\(m)_fp"] = s.match.falsePositives; metrics["\(m)_fn"] = s.match.falseNegatives
            metrics["\(m)_flux_accurate"] = s.flux.accurate; metrics["\(m)_flux_accuracy"] = s.flux.fluxAccuracy
            metrics["\(m)_flux_accuracy_of_true"] = s.flux.fluxAccuracyOfTrue
        }
        // NaN (empty denominators) as strings, so JSON can hold them; results.csv shows "nan".
        let json = try JSONSerialization.data(withJSONObject: metrics.mapValues { v -> Any in
            if let d = v as? Double, !d.isFinite { return "nan" }; return v
        }, options: [.prettyPrinted, .sortedKeys])

        func f(_ x: Double) -> String { x.isFinite ? String(format: "%.6g", x) : "nan" }
        // <method>_offset: arcsec from the true source to the method's nearest detection, matched or
        // not (what the match radius would have to be); nearest_source_offset likewise per detection.
        let trueEntries = sources.map { CatalogueEntry(x: $0.x, y: $0.y, flux: $0.flux) }
        func entries(_ sc: RadioMethodScore) -> [CatalogueEntry] { sc.detections.map { CatalogueEntry(x: $0.x, y: $0.y, flux: $0.flux) } }
        let offsets = scores.map { CatalogueMatching.nearestDistances(from: trueEntries, to: entries($0)) }
        var src = ["case,truth,source,x,y,flux,fwhm_major,fwhm_minor,snr,"
                   + scores.map { "\($0.method)_matched,\($0.method)_flux,\($0.method)_offset" }.joined(separator: ",")
                   + ",detect_aggregate_reliability"]
        for (j, s) in sources.enumerated() {
            var cells = ["\(i)", "\(t)", "\(j)", f(s.x), f(s.y), f(s.flux), f(s.fwhmMajor), f(s.fwhmMinor), f(snr[j])]
            var reliability = ""
            for (m, sc) in scores.enumerated() {
                if let d = sc.matchOfTruth[j] {
                    cells += ["1", f(sc.detections[d].flux)]
                    if sc.method == "detect_aggregate" { reliability = f(sc.detections[d].reliability) }
                } else { cells += ["0", ""] }
                cells.append(f(offsets[m][j] * scale))
            }
            src.append((cells + [reliability]).joined(separator: ","))
        }
        var det = ["case,method,x,y,flux,snr,reliability,matched_source,matched_snr,nearest_source_offset"]
        for sc in scores {
            var truthOf = [Int: Int]()
            for p in sc.match.pairs { truthOf[p.predicted] = p.truth }
            let nearest = CatalogueMatching.nearestDistances(from: entries(sc), to: trueEntries)
            for (k, d) in sc.detections.enumerated() {
                let m = truthOf[k]
                det.append(["\(i)", sc.method, f(d.x), f(d.y), f(d.flux), f(d.snr), f(d.reliability),
                            m.map(String.init) ?? "-1", m.map { f(snr[$0]) } ?? "", f(nearest[k] * scale)].joined(separator: ","))
            }
        }
        for (name, text) in [("sources.csv", src.joined(separator: "\n") + "\n"), ("detections.csv", det.joined(separator: "\n") + "\n")] {
            try AtomicFileWrite.write(to: dir.appendingPathComponent(name).path) { try Data(text.utf8).write(to: URL(fileURLWithPath: $0)) }
        }
        try AtomicFileWrite.write(to: dir.appendingPathComponent("source_metrics.json").path) { try json.write(to: URL(fileURLWithPath: $0)) }
    }
}

/// The beams and noise level of a radio case's observation.
struct RadioCaseGeometry {
    /// 2N×2N dirty beam, peak on (N, N); the restoring beam fitted to its main lobe (pixels).
    let paddedBeam: [Float]
    let beam: RestoringBeam
    /// Rms of the dirty image in the spec's weighting (= noise_rms for natural), Jy/beam.
    let imageRMS: Double

    init(step: UVChainStep, noise: VisibilityNoiseModel) throws {
        let n = step.grid.imageSize
        paddedBeam = try step.grid.paddedDirtyBeam()
        beam = try RestoringBeam.fit(beam: paddedBeam, width: 2 * n, height: 2 * n, centre: (n, n))
        imageRMS = noise.dirtyImageRMS(imagingWeights: step.grid.imagingWeight)
    }
}

/// The truths' source catalogue (CSV with a header row; see Priors/training/make_heldout_skies.py).
enum RadioCatalogueCSV {
    static func read(_ path: String) throws -> [(sky: Int, source: TrueRadioSource)] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw TweedieError.io(path: path, problem: "cannot read the source catalogue")
        }
        let lines = text.split(whereSeparator: \.isNewline).map(String.init).filter { !$0.hasPrefix("#") && !$0.isEmpty }
        guard let header = lines.first?.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) else {
            throw TweedieError.invalidInput(what: path, problem: "is empty; expected a CSV with a header row")
        }
        let need = ["sky", "x", "y", "flux_jy", "fwhm_major_arcsec", "fwhm_minor_arcsec"]
        let idx = try need.map { k -> Int in
            guard let i = header.firstIndex(of: k) else {
                throw TweedieError.invalidInput(what: path, problem: "has no column '\(k)'; needs \(need.joined(separator: ", "))")
            }
            return i
        }
        return try lines.dropFirst().enumerated().map { r, line in
            let cells = line.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            let v = idx.map { $0 < cells.count ? Double(cells[$0]) : nil }
            guard v.allSatisfy({ $0 != nil && $0!.isFinite }) else {
                throw TweedieError.invalidInput(what: "\(path) row \(r + 2)", problem: "needs numbers in \(need.joined(separator: ", "))")
            }
            return (Int(v[0]!), TrueRadioSource(x: v[1]!, y: v[2]!, flux: v[3]!, fwhmMajor: v[4]!, fwhmMinor: v[5]!))
        }
    }
}
