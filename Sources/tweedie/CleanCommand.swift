// `tweedie clean`: Högbom CLEAN of a dirty image (TweedieAnalysis HogbomClean,
// RestoringBeam), the deconvolution baseline of paper 000 — a thin layer: the
// observation options are those of `tweedie uv` (UVObservationOptions).
//
//   tweedie clean --uvfits FILE --size N --cell ARCSEC [--weighting …] [--gain G] [--threshold K]
//                 [--sigma S] [--max-iterations N] [--box X0,Y0,X1,Y1] -o clean.fits [--png restored.png]
//   tweedie clean --cfg CFG --dec DEG --ha-range H1,H2 --freq HZ --sky SKY.fits --size N --cell ARCSEC … -o clean.fits
import ArgumentParser
import Foundation
import TweedieAnalysis
import TweedieCore
import TweedieOperators

struct CleanCommand: TweedieCommand {
    static let configuration = CommandConfiguration(
        commandName: "clean",
        abstract: "Högbom CLEAN: model, residual and restored image from UVFITS visibilities or a simulated observation.",
        discussion: """
        The dirty image and the dirty beam are made as in `tweedie uv`; with --cfg
        (synthetic coverage) the dirty image is that of the --sky model (N×N,
        Jy/pixel), noiseless.
        CLEAN subtracts --gain × the peak × the dirty beam (on the padded 2N grid, so
        it shifts to any pixel) until the largest |residual| inside the window is
        below --threshold × σ, σ given by --sigma or re-estimated from the residual
        (1.4826·MAD after 3σ clipping), or after --max-iterations. The window is the
        union of the --box options (default everywhere), in FITS pixels: 1-based and
        inclusive, as --cutout and `tweedie psf` count them (pixel 1,1 is the first).
        The restoring beam is an elliptical Gaussian fitted (GSL nonlinear least
        squares) to the dirty beam's main lobe above half maximum. Writes HDUs
        RESTORED (model ⊛ restoring beam + residual, Jy/beam, with BMAJ/BMIN/BPA),
        MODEL (CLEAN components, Jy/pixel), RESIDUAL (Jy/beam) and DIRTY (Jy/beam).

        Examples:
          tweedie clean --uvfits ../shared/data/real/vla_3C273_Xband_C.uvfits \\
            --size 512 --cell 0.2 --weighting uniform -o 3c273.fits --png 3c273.png
          tweedie clean --cfg ../shared/data/antennas/alma.cycle10.3.cfg \\
            --dec=-30 --ha-range=-1,1 --freq 230e9 --sky sky.fits \\
            --size 128 --cell 0.1 -o clean.fits
        """
    )

    @OptionGroup var observation: UVObservationOptions

    @Option(help: ArgumentHelp("Sky model (N×N FITS, Jy/pixel) to observe with --cfg coverage.", valueName: "SKY.fits"))
    var sky: String?

    @Option(help: ArgumentHelp("Loop gain (0 < g ≤ 1).", valueName: "G"))
    var gain: Double = 0.1

    @Option(help: ArgumentHelp("Stop when max |residual| < K·σ.", valueName: "K"))
    var threshold: Double = 3

    @Option(help: ArgumentHelp("Residual noise σ, Jy/beam (default: robust estimate from the residual).", valueName: "S"))
    var sigma: Double?

    @Option(name: .customLong("max-iterations"), help: ArgumentHelp("Maximum number of CLEAN iterations.", valueName: "N"))
    var maxIterations: Int = 10_000

    @Option(help: ArgumentHelp("Clean window: a box of FITS pixels X0,Y0,X1,Y1 (1-based as --cutout and psf, inclusive); repeat for several.",
                               valueName: "X0,Y0,X1,Y1"))
    var box: [String] = []

    @Flag(name: .customLong("positive-only"), help: "Only positive components (stop at the first negative peak).")
    var positiveOnly = false

    @Option(name: [.short, .long], help: ArgumentHelp("Output FITS file (written atomically).", valueName: "OUT.fits"))
    var output: String

    @Option(help: ArgumentHelp("Also write a PNG preview: dirty | restored | residual.", valueName: "OUT.png"))
    var png: String?

    func validate() throws {
        if observation.config != nil && sky == nil {
            throw ValidationError("--cfg gives coverage only: add --sky SKY.fits (an N×N model in Jy/pixel) to observe")
        }
        if observation.uvfits != nil && sky != nil {
            throw ValidationError("--sky belongs to --cfg; a UVFITS file carries its own visibilities")
        }
        guard gain > 0, gain <= 1 else { throw ValidationError("--gain must be in (0, 1], got \(gain)") }
        guard threshold > 0, threshold.isFinite else { throw ValidationError("--threshold must be > 0 (in units of σ), got \(threshold)") }
        if let sigma, !(sigma > 0 && sigma.isFinite) { throw ValidationError("--sigma must be > 0, got \(sigma)") }
        guard maxIterations >= 0 else { throw ValidationError("--max-iterations must be ≥ 0, got \(maxIterations)") }
        _ = try window()
        if let png, !png.lowercased().hasSuffix(".png") { throw ValidationError("--png must name a .png file (got '\(png)')") }
    }

    /// The clean window from --box (nil: everywhere).
    func window() throws -> [Bool]? {
        guard !box.isEmpty else { return nil }
        let n = observation.size
        var w = [Bool](repeating: false, count: n * n)
        for b in box {
            let v = b.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard v.count == 4, let x0 = v[0], let y0 = v[1], let x1 = v[2], let y1 = v[3],
                  1 <= x0, x0 <= x1, x1 <= n, 1 <= y0, y0 <= y1, y1 <= n else {
                throw ValidationError("--box must be X0,Y0,X1,Y1 in FITS pixels (1-based, inclusive) with 1 ≤ X0 ≤ X1 ≤ \(n) and 1 ≤ Y0 ≤ Y1 ≤ \(n) (got '\(b)')")
            }
            // FITS pixel (x, y) is element (y − 1)·N + (x − 1) of the row-major image.
            for y in y0...y1 { for x in x0...x1 { w[(y - 1) * n + (x - 1)] = true } }
        }
        return w
    }

    func execute() throws {
        let products = try observation.products()
        let n = observation.size
        let dirty: [Float]
        if let sky {
            let model = try FITSReader.read(sky)
            guard model.shape.width == n, model.shape.height == n else {
                throw TweedieError.shapeMismatch(what: "--sky \(sky)", expected: "\(n)×\(n) pixels (--size)",
                                                 got: "\(model.shape.width)×\(model.shape.height)")
            }
            dirty = try products.dirtyImage(ofSky: Array(model.plane(0, 0)), name: "--sky \(sky)")
        } else {
            dirty = try products.dirty ?? { throw TweedieError.invalidInput(what: "clean", problem: "no dirty image") }()
        }
        let beam = try products.grid.paddedDirtyBeam()
        let settings = CleanSettings(gain: gain, threshold: threshold, sigma: sigma, maxIterations: maxIterations,
                                     window: try window(), positiveOnly: positiveOnly)
        let result = try HogbomClean.clean(dirty: dirty, size: n, beam: beam, beamSize: 2 * n, settings: settings)
        let restoring = try RestoringBeam.fit(beam: beam, width: 2 * n, height: 2 * n, centre: (n, n))
        let restored = try result.restored(with: restoring)

        let cell = observation.cell
        let beamCards = result.provenanceCards(restoring: restoring, cellArcsec: cell, gain: gain)
        let shape = ImageShape(channels: 1, height: n, width: n)
        func hdu(_ name: String, _ data: [Float], _ unit: String, _ comment: String) throws -> (name: String?, image: ImageBatch) {
            (name, try ImageBatch(count: 1, shape: shape, data: data, unit: unit,
                                  header: products.skyHeader(beamCards + [FITSCard(keyword: "COMMENT", value: .none, comment: comment)])))
        }
        let hdus = [
            try hdu("RESTORED", restored, "Jy/beam", "CLEAN model (x) restoring beam + residual"),
            try hdu("MODEL", result.model, "Jy/pixel", "Hogbom CLEAN components"),
            try hdu("RESIDUAL", result.residual, "Jy/beam", "dirty image minus model (x) dirty beam"),
            try hdu("DIRTY", dirty, "Jy/beam", "dirty image F^-1[W V]/sum W"),
        ]
        try FITSWriter.write(hdus: hdus, to: output, provenance: FITSProvenance(commandLine: commandLineForProvenance))
        for line in products.report { print(line) }
        print(String(format: "CLEAN: %d iterations, stopped: %@; final |residual| peak %.4g Jy/beam, σ %.4g Jy/beam, level %.4g Jy/beam",
                     result.iterations, result.stop.rawValue, result.finalPeak, result.sigma, result.thresholdLevel))
        print(String(format: "CLEAN model: %d components, total flux %.6g Jy", result.components.count, result.totalFlux))
        print(String(format: "restoring beam: %.4f″ × %.4f″, PA %.1f° (Gaussian fit to the dirty beam's main lobe above half maximum)",
                     restoring.majorFWHM * cell, restoring.minorFWHM * cell, restoring.positionAngle))
        let peak = restored.indices.max { restored[$0] < restored[$1] }!
        print(String(format: "restored: peak %.6g Jy/beam at FITS pixel (%d, %d)", restored[peak], peak % n + 1, peak / n + 1))
        print("wrote \(output): RESTORED, MODEL, RESIDUAL, DIRTY \(n)×\(n)")
        if let png {
            let panels = [try PreviewPanel(values: dirty, width: n, height: n, stretch: .asinh),
                          try PreviewPanel(values: restored, width: n, height: n, stretch: .asinh),
                          try PreviewPanel(values: result.residual, width: n, height: n, stretch: .asinh)]
            let m = try PNGPreview.write(panels, to: png)
            print("wrote \(png): dirty (\(m[0])) | restored (\(m[1])) | residual (\(m[2]))")
        }
    }
}
