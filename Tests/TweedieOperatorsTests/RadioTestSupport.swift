// Shared helpers of the radio tests: paths to the shared data and fixtures
// (found from #filePath, so tests run from any working directory), the
// reference JSON written by Fixtures/make_uv_reference.py, a seeded generator.
import Foundation
import TweedieCore
@testable import TweedieOperators

enum RadioTestData {
    /// Tests/TweedieOperatorsTests
    static let testsDir = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    /// The repository root.
    static let root = testsDir.deletingLastPathComponent().deletingLastPathComponent()
    static func fixture(_ name: String) -> String { testsDir.appendingPathComponent("Fixtures/\(name)").path }
    static func shared(_ relative: String) -> String {
        root.deletingLastPathComponent().appendingPathComponent("shared/data/\(relative)").path
    }
    static var vla3C273: String { shared("real/vla_3C273_Xband_C.uvfits") }
    static func antennas(_ name: String) -> String { shared("antennas/\(name)") }

    /// Fixtures/uv_reference.json (astropy + numpy, see make_uv_reference.py).
    static var reference: [String: Any] {
        let data = try! Data(contentsOf: URL(fileURLWithPath: fixture("uv_reference.json")))
        return try! JSONSerialization.jsonObject(with: data) as! [String: Any]
    }
    static func referenceImage(_ weighting: String) -> [String: Any] {
        (reference["images"] as! [[String: Any]]).first { $0["weighting"] as! String == weighting }!
    }
}

let arcsec = Double.pi / 180 / 3600

enum RadioRegistry {
    /// A UV operator with no file dependencies, for the operator registry's dot-product test:
    /// a 7-antenna array (in-memory ENU, one antenna on a north–south line so the fx = 0
    /// column is hit), 2 h of synthesis at 1.4 GHz, 48² image of 3″ pixels, Gaussian primary beam, 2 channels.
    /// Registry line: `OperatorCase("uv sampling 48², 2 channels") { try RadioRegistry.uvOperator() },`
    static func uvOperator() throws -> any ForwardOperator {
        let site = ObservatorySite(name: "test", latitudeDegrees: -30.7, longitudeDegrees: 21.4)
        let enu: [(east: Double, north: Double, up: Double)] =
            [(0, 0, 0), (0, 180, 1), (95, -40, 0), (-210, 60, 2), (330, 250, -1), (-120, -310, 0), (40, 520, 3)]
        let cfg = try AntennaConfiguration(enu: enu, diameters: [Double](repeating: 13.5, count: enu.count), site: site)
        let samples = try EarthRotationSynthesis.coverage(
            of: cfg, setup: SynthesisSetup(declinationDegrees: -45, hourAngleStart: -1, hourAngleEnd: 1,
                                           integrationSeconds: 600, frequencies: [1.4e9]))
        let grid = try UVGrid(samples: samples, imageSize: 48, cell: 3 * arcsec)
        let pb = try PrimaryBeam(shape: .gaussian, diameter: 13.5, frequency: 1.4e9)
        return try UVSamplingOperator(grid: grid, primaryBeam: pb, channels: 2)
    }
}
