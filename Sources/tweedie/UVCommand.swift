// `tweedie uv`: radio uv coverage, dirty beam and dirty image (DESIGN §3 "UV
// masking") — a thin layer over Operators/Radio (UVImagingProducts).
//
//   tweedie uv --config CFG --dec DEG --ha-range H1,H2 --freq HZ[,HZ…] [--integration S]
//              --size N --cell ARCSEC [--weighting natural|uniform|briggs --robust R] -o beam.fits
//   tweedie uv --uvfits FILE --size N --cell ARCSEC [--weighting …] -o dirty.fits
import ArgumentParser
import Foundation
import TweedieCore
import TweedieOperators

struct UVCommand: TweedieCommand {
    static let configuration = CommandConfiguration(
        commandName: "uv",
        abstract: "Dirty beam and uv coverage of an array, or dirty image and beam of UVFITS visibilities.",
        discussion: """
        Two modes:
          --config CFG   an antenna configuration (CASA .cfg, coordsys LOC or XYZ) observed
                         by Earth-rotation synthesis at --dec over --ha-range at --freq;
                         writes HDUs BEAM (dirty beam, peak 1) and COVERAGE (uv weights).
          --uvfits FILE  Stokes I of a random-groups UVFITS file (RR/LL or XX/YY, flagged
                         data dropped); writes DIRTY (Jy/beam), BEAM and COVERAGE.
        The N×N image has --cell pixels with the phase centre on pixel N/2 (0-based). The
        image is zero-padded to 2N, so the uv grid has cells Δu = 1/(2N·cell) and the
        dirty image is a linear (not wrapped) convolution with the beam. Uniform and
        Briggs weighting count density on cells of 1/(N·cell). Briggs weights are
        w/(1 + D·f²), f² = (5·10^−R)² / (Σ w·D / Σ w) (Briggs 1995; CASA's 'briggs').

        Examples:
          tweedie uv --config ../shared/data/antennas/alma.cycle10.3.cfg --dec=-30 \\
                     --ha-range=-0.17,0.17 --freq 230e9 --size 512 --cell 0.1 -o beam.fits
          tweedie uv --uvfits ../shared/data/real/vla_3C273_Xband_C.uvfits --size 512 --cell 0.2 \\
                     -o dirty.fits --png dirty.png
        """
    )

    @OptionGroup var observation: UVObservationOptions

    @Option(name: [.short, .long], help: ArgumentHelp("Output FITS file (written atomically).", valueName: "OUT.fits"))
    var output: String

    @Option(help: ArgumentHelp("Also write a PNG preview: dirty image (if any) and beam, side by side.", valueName: "OUT.png"))
    var png: String?

    func validate() throws {
        if let png, !png.lowercased().hasSuffix(".png") {
            throw ValidationError("--png must name a .png file (got '\(png)')")
        }
    }

    func execute() throws {
        let products = try observation.products()
        let hdus = try products.hdus()
        try FITSWriter.write(hdus: hdus, to: output, provenance: FITSProvenance(commandLine: commandLineForProvenance))
        for line in products.report { print(line) }
        print("wrote \(output): " + hdus.map { "\($0.name ?? "?") \($0.image.shape.width)×\($0.image.shape.height)" }.joined(separator: ", "))
        if let png {
            var panels: [PreviewPanel] = []
            if let dirty = products.dirty {
                panels.append(try PreviewPanel(values: dirty, width: observation.size, height: observation.size, stretch: .asinh))
            }
            panels.append(try PreviewPanel(values: products.beam, width: observation.size, height: observation.size, stretch: .linear))
            let mappings = try PNGPreview.write(panels, to: png)
            print("wrote \(png): " + (products.dirty != nil ? "dirty image (\(mappings[0])) | " : "")
                  + "dirty beam (\(mappings.last!))")
        }
    }
}
