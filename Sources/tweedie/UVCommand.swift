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

enum UVWeightingName: String, ExpressibleByArgument, CaseIterable {
    case natural, uniform, briggs
}

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

    @Option(help: ArgumentHelp("Antenna configuration (CASA .cfg).", valueName: "CFG"))
    var config: String?

    @Option(help: ArgumentHelp("Random-groups UVFITS visibilities.", valueName: "FILE"))
    var uvfits: String?

    @Option(parsing: .unconditional, help: ArgumentHelp("Source declination, degrees (with --config).", valueName: "DEG"))
    var dec: Double?

    @Option(name: .customLong("ha-range"), parsing: .unconditional,
            help: ArgumentHelp("Hour-angle range H1,H2 in hours (with --config); write --ha-range=-1,1 or --ha-range -1,1.",
                               valueName: "H1,H2"))
    var haRange: String?

    @Option(help: ArgumentHelp("Observing frequency in Hz, or several separated by commas (with --config).", valueName: "HZ"))
    var freq: String?

    @Option(help: ArgumentHelp("Integration (dump) time, seconds (with --config).", valueName: "S"))
    var integration: Double = 60

    @Option(name: .customLong("min-elevation"), parsing: .unconditional,
            help: ArgumentHelp("Drop integrations with the source below this elevation, degrees (with --config).", valueName: "DEG"))
    var minElevation: Double = 0

    @Option(help: ArgumentHelp("Image size N (pixels per side).", valueName: "N"))
    var size: Int

    @Option(help: ArgumentHelp("Pixel size, arcseconds.", valueName: "ARCSEC"))
    var cell: Double

    @Option(help: "Visibility weighting.")
    var weighting: UVWeightingName = .natural

    @Option(parsing: .unconditional, help: ArgumentHelp("Briggs robustness R (with --weighting briggs; −2 ≈ uniform, +2 ≈ natural).", valueName: "R"))
    var robust: Double?

    @Option(name: [.short, .long], help: ArgumentHelp("Output FITS file (written atomically).", valueName: "OUT.fits"))
    var output: String

    @Option(help: ArgumentHelp("Also write a PNG preview: dirty image (if any) and beam, side by side.", valueName: "OUT.png"))
    var png: String?

    func validate() throws {
        guard (config == nil) != (uvfits == nil) else {
            throw ValidationError("give exactly one of --config CFG (synthetic coverage) or --uvfits FILE (visibilities)")
        }
        if config != nil {
            guard dec != nil, haRange != nil, freq != nil else {
                throw ValidationError("--config needs --dec DEG, --ha-range H1,H2 and --freq HZ")
            }
            _ = try hourAngles(); _ = try frequencies()
        } else if dec != nil || haRange != nil || freq != nil {
            throw ValidationError("--dec, --ha-range and --freq belong to --config; a UVFITS file carries its own coverage")
        }
        guard size >= 4 else { throw ValidationError("--size must be at least 4, got \(size)") }
        guard cell > 0, cell.isFinite else { throw ValidationError("--cell must be > 0 arcsec, got \(cell)") }
        if robust != nil && weighting != .briggs {
            throw ValidationError("--robust applies to --weighting briggs only")
        }
        if let png, !png.lowercased().hasSuffix(".png") {
            throw ValidationError("--png must name a .png file (got '\(png)')")
        }
    }

    func hourAngles() throws -> (Double, Double) {
        let parts = (haRange ?? "").split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard parts.count == 2, let h1 = parts[0], let h2 = parts[1] else {
            throw ValidationError("--ha-range must be two hour angles H1,H2 in hours, e.g. --ha-range=-1,1 (got '\(haRange ?? "")')")
        }
        return (h1, h2)
    }

    func frequencies() throws -> [Double] {
        let parts = (freq ?? "").split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard !parts.isEmpty, parts.allSatisfy({ $0 != nil }) else {
            throw ValidationError("--freq must be one or more frequencies in Hz separated by commas, e.g. 230e9 (got '\(freq ?? "")')")
        }
        return parts.map { $0! }
    }

    var uvWeighting: UVWeighting {
        switch weighting {
        case .natural: return .natural
        case .uniform: return .uniform
        case .briggs: return .briggs(robust: robust ?? 0)
        }
    }

    func execute() throws {
        let products: UVImagingProducts
        if let config {
            let (h1, h2) = try hourAngles()
            let setup = SynthesisSetup(declinationDegrees: dec!, hourAngleStart: h1, hourAngleEnd: h2,
                                       integrationSeconds: integration, frequencies: try frequencies(),
                                       minimumElevationDegrees: minElevation)
            products = try UVImagingProducts.synthesise(configuration: config, setup: setup, size: size,
                                                        cellArcsec: cell, weighting: uvWeighting)
        } else {
            products = try UVImagingProducts.image(uvfits: uvfits!, size: size, cellArcsec: cell, weighting: uvWeighting)
        }
        let hdus = try products.hdus()
        try FITSWriter.write(hdus: hdus, to: output, provenance: FITSProvenance(commandLine: commandLineForProvenance))
        for line in products.report { print(line) }
        print("wrote \(output): " + hdus.map { "\($0.name ?? "?") \($0.image.shape.width)×\($0.image.shape.height)" }.joined(separator: ", "))
        if let png {
            var panels: [PreviewPanel] = []
            if let dirty = products.dirty {
                panels.append(try PreviewPanel(values: dirty, width: size, height: size, stretch: .asinh))
            }
            panels.append(try PreviewPanel(values: products.beam, width: size, height: size, stretch: .linear))
            let mappings = try PNGPreview.write(panels, to: png)
            print("wrote \(png): " + (products.dirty != nil ? "dirty image (\(mappings[0])) | " : "")
                  + "dirty beam (\(mappings.last!))")
        }
    }
}
