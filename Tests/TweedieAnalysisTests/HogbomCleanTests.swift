// Högbom CLEAN and the restoring-beam fit against independent oracles:
// - the padded 2N dirty beam, shifted, equals the dirty image of a point source
//   made by the UV operator + dirty imaging (the linear-convolution identity);
// - CLEAN of a noiseless dirty image of point sources (ALMA Cycle 10.3 layout,
//   Earth-rotation synthesis) recovers their fluxes to 2 %;
// - the restored image of a point source peaks at its flux (Jy/beam);
// - the fitted restoring beam of an exactly Gaussian beam has its FWHMs and PA;
//   the fit to a real dirty beam is close to its main-lobe half-maximum widths.
import Foundation
import Testing
import TweedieCore
import TweedieOperators
@testable import TweedieAnalysis

@Suite struct HogbomCleanTests {
    static let arcsec = Double.pi / 180 / 3600

    /// ALMA C-10.3, 230 GHz, dec −30°, ±1 h, 64² image of 0.1″ pixels (beam ≈ 0.6″ ≈ 6 px).
    static func almaGrid(size n: Int = 64) throws -> UVGrid {
        let cfg = try AntennaConfiguration(contentsOf: SharedData.path("antennas/alma.cycle10.3.cfg"))
        let samples = try EarthRotationSynthesis.coverage(
            of: cfg, setup: SynthesisSetup(declinationDegrees: -30, hourAngleStart: -1, hourAngleEnd: 1,
                                           integrationSeconds: 300, frequencies: [230e9]))
        return try UVGrid(samples: samples, imageSize: n, cell: 0.1 * arcsec)
    }

    /// Noiseless dirty image of point sources (x, y, flux) through A and the dirty imaging.
    static func dirtyImage(_ grid: UVGrid, points: [(x: Int, y: Int, flux: Float)]) throws -> [Float] {
        let n = grid.imageSize
        let op = try UVSamplingOperator(grid: grid)
        var sky = ImageBatch(count: 1, shape: ImageShape(channels: 1, height: n, width: n))
        for p in points { sky.data[p.y * n + p.x] += p.flux }
        let vis = try op.apply(sky)
        return try grid.dirtyImage(of: vis.data)
    }

    @Test func paddedBeamShiftedIsThePointSourceDirtyImage() throws {
        let grid = try Self.almaGrid()
        let n = grid.imageSize, m = grid.gridSize
        let beam = try grid.paddedDirtyBeam()
        #expect(m == 2 * n && beam.count == m * m && abs(beam[n * m + n] - 1) < 1e-5)
        // Its central N×N crop is the N×N dirty beam.
        let small = try grid.dirtyBeam()
        var crop: Float = 0
        for y in 0..<n { for x in 0..<n { crop = max(crop, abs(small[y * n + x] - beam[(y + n / 2) * m + x + n / 2])) } }
        #expect(crop < 1e-5)
        // A corner source sees the beam out to offsets ±(N−1).
        for q in [(x: 0, y: 0), (x: n - 1, y: 3), (x: 5, y: n - 1)] {
            let d = try Self.dirtyImage(grid, points: [(q.x, q.y, 1)])
            var worst: Float = 0
            for y in 0..<n { for x in 0..<n { worst = max(worst, abs(d[y * n + x] - beam[(y - q.y + n) * m + x - q.x + n])) } }
            #expect(worst < 2e-5, "source at \(q): max |dirty − shifted beam| \(worst)")
        }
    }

    @Test func cleanRecoversPointSourceFluxes() throws {
        let grid = try Self.almaGrid()
        let n = grid.imageSize
        let points: [(x: Int, y: Int, flux: Float)] = [(20, 22, 1.0), (44, 30, 0.5), (30, 48, 0.25), (8, 56, 0.1)]
        let dirty = try Self.dirtyImage(grid, points: points)
        let beam = try grid.paddedDirtyBeam()
        let result = try HogbomClean.clean(dirty: dirty, size: n, beam: beam, beamSize: 2 * n,
                                           settings: CleanSettings(gain: 0.1, threshold: 0, absoluteThreshold: 1e-3,
                                                                   maxIterations: 5000))
        #expect(result.stop == .threshold, "stopped: \(result.stop.rawValue) after \(result.iterations)")
        for p in points {
            // Model flux within 1 pixel of the source.
            var f = 0.0
            for y in max(0, p.y - 1)...min(n - 1, p.y + 1) { for x in max(0, p.x - 1)...min(n - 1, p.x + 1) { f += Double(result.model[y * n + x]) } }
            #expect(abs(f / Double(p.flux) - 1) < 0.02, "source \(p): CLEAN flux \(f)")
        }
        #expect(abs(result.totalFlux - 1.85) < 0.02 * 1.85)
        #expect(result.residual.allSatisfy { abs($0) < 1e-3 })
        // Restored image: model ⊛ restoring beam (peak 1) + residual peaks at the flux, Jy/beam.
        let rb = try RestoringBeam.fit(beam: beam, width: 2 * n, height: 2 * n)
        let restored = try result.restored(with: rb)
        #expect(abs(restored[22 * n + 20] - 1) < 0.02, "restored peak \(restored[22 * n + 20])")
        #expect(abs(restored[30 * n + 44] - 0.5) < 0.01)
    }

    @Test func sigmaThresholdAndWindow() throws {
        let grid = try Self.almaGrid()
        let n = grid.imageSize
        let dirty = try Self.dirtyImage(grid, points: [(20, 22, 1.0), (44, 30, 0.5)])
        let beam = try grid.paddedDirtyBeam()
        // Window around the first source only: nothing is cleaned at the second.
        var window = [Bool](repeating: false, count: n * n)
        for y in 14...30 { for x in 12...28 { window[y * n + x] = true } }
        let r = try HogbomClean.clean(dirty: dirty, size: n, beam: beam, beamSize: 2 * n,
                                      settings: CleanSettings(threshold: 0, absoluteThreshold: 0.01, maxIterations: 3000, window: window))
        #expect(r.components.allSatisfy { window[$0.y * n + $0.x] })
        #expect(abs(r.residual[30 * n + 44] - dirty[30 * n + 44]) < 0.1 && r.residual[30 * n + 44] > 0.3)
        // A given σ sets the stopping level k·σ.
        let s = try HogbomClean.clean(dirty: dirty, size: n, beam: beam, beamSize: 2 * n,
                                      settings: CleanSettings(threshold: 5, sigma: 0.02, maxIterations: 3000))
        #expect(s.stop == .threshold && s.thresholdLevel == 0.1 && s.finalPeak < 0.1)
        #expect(s.residual.map { abs($0) }.max()! < 0.1)
        // Bad input.
        #expect(throws: TweedieError.self) {
            try HogbomClean.clean(dirty: dirty, size: n, beam: [Float](repeating: 0, count: n * n), beamSize: n)
        }
        #expect(throws: TweedieError.self) {
            try HogbomClean.clean(dirty: dirty, size: n, beam: beam, beamSize: 2 * n, settings: CleanSettings(gain: 0))
        }
    }

    @Test func restoringBeamOfAGaussianBeam() throws {
        // An elliptical Gaussian of FWHM 7 × 4 px at PA 30° (east of north; north +y, east −x),
        // written out with its own rotation here.
        let m = 96, c = 48
        for (major, minor, pa) in [(7.0, 4.0, 30.0), (5.0, 5.0, 0.0), (9.0, 3.0, -70.0), (6.0, 2.5, 90.0)] {
            let t = pa * .pi / 180
            var beam = [Float](repeating: 0, count: m * m)
            for y in 0..<m {
                for x in 0..<m {
                    let dx = Double(x - c), dy = Double(y - c)
                    let along = -dx * sin(t) + dy * cos(t), across = dx * cos(t) + dy * sin(t)
                    beam[y * m + x] = Float(exp(-4 * log(2.0) * (along * along / (major * major) + across * across / (minor * minor))))
                }
            }
            let fit = try RestoringBeam.fit(beam: beam, width: m, height: m)
            #expect(abs(fit.majorFWHM - major) < 1e-3 * major && abs(fit.minorFWHM - minor) < 1e-3 * minor,
                    "\(fit.majorFWHM) × \(fit.minorFWHM) vs \(major) × \(minor)")
            if major != minor {
                var dpa = fit.positionAngle - pa
                while dpa > 90 { dpa -= 180 }
                while dpa <= -90 { dpa += 180 }
                #expect(abs(dpa) < 0.1, "PA \(fit.positionAngle) vs \(pa)")
            }
            // Area of a Gaussian, π/(4 ln 2)·major·minor.
            #expect(abs(fit.areaPixels / (Double.pi / (4 * log(2.0)) * major * minor) - 1) < 2e-3)
            // Round trip through the FWHM constructor.
            let back = RestoringBeam(majorFWHM: fit.majorFWHM, minorFWHM: fit.minorFWHM, positionAngle: fit.positionAngle)
            #expect(abs(back.a - fit.a) < 1e-9 && abs(back.b - fit.b) < 1e-9 && abs(back.c - fit.c) < 1e-9)
        }
    }

    @Test func restoringBeamOfARealDirtyBeam() throws {
        let grid = try Self.almaGrid(size: 128)
        let beam = try grid.paddedDirtyBeam()
        let fit = try RestoringBeam.fit(beam: beam, width: 256, height: 256)
        // The half-maximum widths of the main lobe along x and y (BeamMeasurement) bracket the fit.
        let w = BeamMeasurement.mainLobeFWHM(beam, size: 256)
        #expect(fit.minorFWHM <= min(w.x, w.y) * 1.1 && fit.majorFWHM >= max(w.x, w.y) * 0.9,
                "fit \(fit.majorFWHM) × \(fit.minorFWHM), cuts \(w.x) × \(w.y)")
        #expect(fit.majorFWHM < 1.5 * max(w.x, w.y))
    }
}
