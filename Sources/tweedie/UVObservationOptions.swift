// The options shared by the commands that image an interferometric observation
// (`tweedie uv`, `tweedie clean`): synthetic coverage from an antenna
// configuration, or the visibilities of a UVFITS file, on an N×N grid of
// --cell pixels with a visibility weighting. Builds UVImagingProducts.
import ArgumentParser
import Foundation
import TweedieCore
import TweedieOperators

enum UVWeightingName: String, ExpressibleByArgument, CaseIterable {
    case natural, uniform, briggs
}

struct UVObservationOptions: ParsableArguments {
    @Option(name: [.customLong("config"), .customLong("cfg")], help: ArgumentHelp("Antenna configuration (CASA .cfg); --cfg is the same option.", valueName: "CFG"))
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

    mutating func validate() throws {
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

    /// Dirty beam (and, from UVFITS, the dirty image) of the chosen observation.
    func products() throws -> UVImagingProducts {
        if let config {
            let (h1, h2) = try hourAngles()
            let setup = SynthesisSetup(declinationDegrees: dec!, hourAngleStart: h1, hourAngleEnd: h2,
                                       integrationSeconds: integration, frequencies: try frequencies(),
                                       minimumElevationDegrees: minElevation)
            return try UVImagingProducts.synthesise(configuration: config, setup: setup, size: size,
                                                        cellArcsec: cell, weighting: uvWeighting)
        } else {
            return try UVImagingProducts.image(uvfits: uvfits!, size: size, cellArcsec: cell, weighting: uvWeighting)
        }
    }
}
