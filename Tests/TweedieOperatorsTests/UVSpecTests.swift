// The `uv` step of operator specs (UVOperatorSpec.swift): a spec builds the same
// operator as the radio types composed by hand, bad uv steps give errors, and the
// noise_rms → per-cell σ relation holds: pure noise drawn from the noise model and
// imaged (natural weighting) has the rms the spec names (Monte Carlo, independent
// of the algebra), and with uniform weighting the rms `dirtyImageRMS` predicts.
import Foundation
import Testing
import TweedieCore
@testable import TweedieOperators

/// A 7-antenna array in memory (one antenna due north of another, so the fx = 0 column is hit).
enum UVSpecData {
    static let site = ObservatorySite(name: "ALMA", latitudeDegrees: -23.0229, longitudeDegrees: -67.7552)
    static func array() throws -> AntennaConfiguration {
        let enu: [(east: Double, north: Double, up: Double)] =
            [(0, 0, 0), (0, 60, 0), (35, -20, 0), (-70, 25, 1), (110, 80, 0), (-45, -100, 0), (15, 170, 1)]
        return try AntennaConfiguration(enu: enu, diameters: [Double](repeating: 12, count: enu.count), site: site)
    }
    /// A loader that hands out the in-memory array for the name "mini.cfg".
    static let loader: AntennaConfigurationLoader = { path in
        guard path == "mini.cfg" else { throw TweedieError.io(path: path, problem: "no such test configuration") }
        return try UVSpecData.array()
    }
    static func spec(_ json: String) throws -> OperatorSpec {
        try JSONDecoder().decode(OperatorSpec.self, from: Data(json.utf8))
    }
    static let uv = #""uv": {"config": "mini.cfg", "declination": -23, "hour_angle": [-0.5, 0.5], "frequency": 230e9, "integration": 120"#
}

@Suite struct UVSpecTests {
    @Test func specBuildsTheHandMadeOperator() throws {
        let s = try UVSpecData.spec("""
        {"prior": {"size": 24, "pixel_scale_arcsec": 0.4},
         "chain": [{\(UVSpecData.uv), "dish_diameter": 12, "noise_rms": 5e-5, "weighting": "briggs", "robust": 0.5}}]}
        """)
        let built = try s.build(antennaLoader: UVSpecData.loader)
        let uv = try #require(built.uv)
        let samples = try EarthRotationSynthesis.coverage(
            of: UVSpecData.array(), setup: SynthesisSetup(declinationDegrees: -23, hourAngleStart: -0.5, hourAngleEnd: 0.5,
                                                         integrationSeconds: 120, frequencies: [230e9]))
        let grid = try UVGrid(samples: samples, imageSize: 24, cell: 0.4 * arcsec, weighting: .briggs(robust: 0.5))
        let op = try UVSamplingOperator(grid: grid, primaryBeam: PrimaryBeam(shape: .gaussian, diameter: 12, frequency: 230e9))
        #expect(built.forwardOperator.outputShape == op.outputShape && uv.grid.cellCount == grid.cellCount)
        #expect(uv.grid.fx == grid.fx && uv.grid.fy == grid.fy && uv.grid.weighting == .briggs(robust: 0.5))
        let x = try ImageBatch(count: 1, shape: op.inputShape, data: SampleStream(seed: 3, index: 0).normals(op.inputShape.count))
        #expect(try built.forwardOperator.apply(x).data == op.apply(x).data)
        // s = σ_D √ΣN, with ΣN the number of gridded samples (unit weights).
        let noise = try uv.noiseModel()
        #expect(abs(noise.unitWeightSigma - 5e-5 * Double(grid.griddedSamples).squareRoot()) < 1e-12)
        #expect(noise.shape == op.outputShape)
    }

    @Test func stepsBeforeTheUVStepSetTheGrid() throws {
        // Resampling 20 px of 0.3″ to 0.25″ gives 24 px; the uv step takes N = 24 and Δl = 0.25″ from there.
        let s = try UVSpecData.spec("""
        {"prior": {"size": 20, "pixel_scale_arcsec": 0.3}, "chain": [{"resample": {"pixel_scale": 0.25}}, {\(UVSpecData.uv)}}]}
        """)
        let built = try s.build(antennaLoader: UVSpecData.loader)
        let uv = try #require(built.uv)
        #expect(uv.grid.imageSize == 24 && abs(uv.cellArcsec - 0.25) < 1e-12 && uv.noiseRMS == nil)
        #expect(throws: TweedieError.self) { try uv.noiseModel() }   // no noise_rms: sampling needs one
    }

    @Test func badUVStepsAreRejected() throws {
        let p = #""prior": {"size": 16, "pixel_scale_arcsec": 0.4}"#
        let notDecodable = [
            "{\(p), \"chain\": [{\(UVSpecData.uv), \"noise\": 1}}]}",                                   // unknown key
            "{\(p), \"chain\": [{\"uv\": {\"declination\": -23, \"hour_angle\": [0, 1], \"frequency\": 1e9}}]}",  // no config
            "{\(p), \"chain\": [{\"uv\": {\"config\": \"mini.cfg\", \"hour_angle\": [0, 1], \"frequency\": 1e9}}]}", // no declination
        ]
        for b in notDecodable { #expect(throws: (any Error).self, "\(b)") { try UVSpecData.spec(b) } }
        let unbuildable = [
            "{\(p), \"chain\": [{\(UVSpecData.uv)}}, {\"bands\": [\"0\"]}]}",                                 // uv not last
            "{\"prior\": {\"height\": 16, \"width\": 20, \"pixel_scale_arcsec\": 0.4}, \"chain\": [{\(UVSpecData.uv)}}]}", // not square
            "{\"prior\": {\"size\": 16, \"pixel_scale_kpc\": 0.4}, \"chain\": [{\(UVSpecData.uv)}}]}",             // kpc grid
            "{\"prior\": {\"size\": 16}, \"chain\": [{\(UVSpecData.uv)}}]}",                                      // no pixel scale
            "{\(p), \"chain\": [{\(UVSpecData.uv), \"weighting\": \"robust\"}}]}",                              // unknown weighting
            "{\(p), \"chain\": [{\(UVSpecData.uv), \"robust\": 0.5}}]}",                                        // robust without briggs
            "{\(p), \"chain\": [{\(UVSpecData.uv), \"noise_rms\": 0}}]}",                                       // σ ≤ 0
            "{\(p), \"chain\": [{\(UVSpecData.uv), \"primary_beam\": \"airy\"}}]}",                             // beam without dish
            "{\(p), \"chain\": [{\"uv\": {\"config\": \"mini.cfg\", \"declination\": -23, \"hour_angle\": [1], \"frequency\": 1e9}}]}",
            "{\(p), \"chain\": [{\"uv\": {\"config\": \"mini.cfg\", \"declination\": 95, \"hour_angle\": [0, 1], \"frequency\": 1e9}}]}",
            "{\(p), \"chain\": [{\"uv\": {\"config\": \"other.cfg\", \"declination\": -23, \"hour_angle\": [0, 1], \"frequency\": 1e9}}]}",
            "{\"prior\": {\"size\": 16, \"pixel_scale_arcsec\": 30.0}, \"chain\": [{\(UVSpecData.uv)}}]}",        // all beyond the grid
        ]
        for u in unbuildable {
            let s = try UVSpecData.spec(u)
            #expect(throws: TweedieError.self, "\(u)") { try s.build(antennaLoader: UVSpecData.loader) }
        }
        // The error names the problem for the most common mistake.
        let s = try UVSpecData.spec("{\(p), \"chain\": [{\(UVSpecData.uv)}}, {\"bands\": [\"0\"]}]}")
        do { _ = try s.build(antennaLoader: UVSpecData.loader); Issue.record("no error") } catch let e as TweedieError {
            #expect(e.description.contains("last step"))
        }
    }

    /// Monte Carlo: 60 noise realisations of the spec's noise model, each imaged; the pixel variance
    /// averaged over pixels and realisations against σ_D². The dirty-image noise is correlated over a
    /// beam (≈ 20 px here), so 60 × 32² pixels hold ≈ 3,000 independent values: relative standard error
    /// of the variance ≈ √(2/3000) ≈ 2.6 %; tolerance 12 % on the variance (≈ 6 % on the rms).
    @Test(arguments: ["natural", "uniform"])
    func noiseRMSRelation(weighting: String) throws {
        let s = try UVSpecData.spec("""
        {"prior": {"size": 32, "pixel_scale_arcsec": 0.4},
         "chain": [{\(UVSpecData.uv), "noise_rms": 5e-5, "weighting": "\(weighting)"}}]}
        """)
        let uv = try #require(try s.build(antennaLoader: UVSpecData.loader).uv)
        let noise = try uv.noiseModel()
        let zero = ImageBatch(count: 1, shape: uv.forwardOperator.inputShape)
        var sum2 = 0.0, count = 0
        for r in 0..<60 {
            let sim = try ObservationSimulator.simulate(truth: zero, operator: uv.forwardOperator, noiseModel: noise, seed: UInt64(100 + r))
            let d = try uv.dirtyImages(sim.noisy)
            for v in d.data { sum2 += Double(v) * Double(v); count += 1 }
        }
        let measured = sum2 / Double(count)
        let expected = weighting == "natural" ? 5e-5 * 5e-5 : pow(noise.dirtyImageRMS(imagingWeights: uv.grid.imagingWeight), 2)
        if weighting == "natural" {
            #expect(abs(noise.dirtyImageRMS(imagingWeights: uv.grid.naturalWeight) - 5e-5) < 1e-12)
        } else {
            #expect(expected > 1.2 * 5e-5 * 5e-5)   // uniform weighting raises the noise
        }
        #expect(abs(measured / expected - 1) < 0.12, "variance \(measured) vs \(expected)")
    }

    @Test func noiselessSimulationIsTheOperatorAndMaskedValuesStayClean() throws {
        let s = try UVSpecData.spec("{\"prior\": {\"size\": 16, \"pixel_scale_arcsec\": 0.4}, \"chain\": [{\(UVSpecData.uv), \"noise_rms\": 1e-3}}]}")
        let uv = try #require(try s.build(antennaLoader: UVSpecData.loader).uv)
        let noise = try uv.noiseModel()
        let x = try ImageBatch(count: 1, shape: uv.forwardOperator.inputShape, data: SampleStream(seed: 9, index: 0).normals(256))
        let sim = try ObservationSimulator.simulate(truth: x, operator: uv.forwardOperator, noiseModel: noise, seed: 4)
        #expect(sim.clean.data == (try uv.forwardOperator.apply(x)).data)
        // Whitened noise √W (y − A x) is standard normal on the usable values: χ²/n within 4 standard errors of 1.
        var chi2 = 0.0, n = 0
        for j in sim.noisy.data.indices where noise.sqrtWeights[j] > 0 {
            let r = Double(noise.sqrtWeights[j]) * Double(sim.noisy.data[j] - sim.clean.data[j])
            chi2 += r * r; n += 1
        }
        #expect(abs(chi2 / Double(n) - 1) < 4 * (2 / Double(n)).squareRoot(), "χ²/n = \(chi2 / Double(n)) over \(n) values")
    }
}
