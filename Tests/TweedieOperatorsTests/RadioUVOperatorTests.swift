// The UV sampling operator and its derived products, against independent
// oracles: the dot-product identity (Float64 accumulation), the direct DFT of
// the physical visibility definition, the point-source / primary-beam closed
// form, a directly summed dirty beam (no wrap-around), the full-plane complex
// gridding (Hermitian symmetry), Briggs limits, and astropy/numpy gridding of
// the real VLA 3C273 data (Fixtures/make_uv_reference.py).
import Foundation
import TweedieTestSupport
import Testing
import TweedieCore
@testable import TweedieOperators

/// ⟨A u, v⟩ and ⟨u, Aᵀ v⟩ in Double for random u, v; returns the relative difference.
func uvDotProductError(_ op: any ForwardOperator, batch: Int = 2, seed: UInt64 = 1) throws -> Double {
    var g = SplitMix64Generator(seed: seed)
    let u = try ImageBatch(count: batch, shape: op.inputShape,
                           data: (0..<(batch * op.inputShape.count)).map { _ in Float(g.normal()) })
    let v = try ImageBatch(count: batch, shape: op.outputShape,
                           data: (0..<(batch * op.outputShape.count)).map { _ in Float(g.normal()) })
    let au = try op.apply(u), atv = try op.adjoint(v)
    var lhs = 0.0, rhs = 0.0
    for i in 0..<au.data.count { lhs += Double(au.data[i]) * Double(v.data[i]) }
    for i in 0..<u.data.count { rhs += Double(u.data[i]) * Double(atv.data[i]) }
    return abs(lhs - rhs) / max(abs(lhs), abs(rhs))
}

@Suite("Radio UV operator")
struct RadioUVOperatorTests {
    /// ALMA Cycle 10 C-1 at 230 GHz, 1 h around transit of δ = −30°.
    static func almaCoverage() throws -> UVSamples {
        let cfg = try AntennaConfiguration(contentsOf: RadioTestData.antennas("alma.cycle10.1.cfg"))
        return try EarthRotationSynthesis.coverage(
            of: cfg, setup: SynthesisSetup(declinationDegrees: -30, hourAngleStart: -0.5, hourAngleEnd: 0.5,
                                           integrationSeconds: 300, frequencies: [230e9]))
    }
    /// Hand-placed samples hitting the DC cell, the fx = 0 column (both signs of v) and the fy = 0 row.
    static func edgeCaseSamples(cell: Double, n: Int) -> UVSamples {
        let du = 1 / (Double(2 * n) * cell)
        let u: [Double] = [0, 0, 0, 3 * du, -5 * du, 7.2 * du, -2.6 * du, 0.2 * du, 11 * du]
        let v: [Double] = [0, 4 * du, -6 * du, 0, 0, -3.1 * du, 9.7 * du, 0.3 * du, -13 * du]
        return UVSamples(u: u, v: v, w: [Double](repeating: 0, count: u.count),
                         weight: [1, 2, 1, 0.5, 1, 1, 3, 1, 1], frequencies: [1e9], origin: "edge cases")
    }

    @Test("Dot-product test ⟨Au, v⟩ = ⟨u, Aᵀv⟩ to 1e-5 (Float64 accumulation): synthetic coverage, edge cells, odd N, batches, channels")
    func dotProduct() throws {
        let cell = 0.3 * arcsec
        let pb = try PrimaryBeam(shape: .gaussian, diameter: 12, frequency: 230e9)
        let grid = try UVGrid(samples: Self.almaCoverage(), imageSize: 64, cell: cell)
        let op = try UVSamplingOperator(grid: grid, primaryBeam: pb, channels: 2)
        #expect(op.outputShape == ImageShape(channels: 2, height: grid.cellCount, width: 2))
        #expect(try uvDotProductError(op, batch: 3) <= 1e-5)
        for n in [16, 17] {
            let g2 = try UVGrid(samples: Self.edgeCaseSamples(cell: cell, n: n), imageSize: n, cell: cell)
            #expect(g2.fx.contains(0) && g2.fy.contains(0))
            let airy = try PrimaryBeam(shape: .airy, diameter: 25, frequency: 5e9)
            #expect(try uvDotProductError(UVSamplingOperator(grid: g2, primaryBeam: airy), seed: UInt64(n)) <= 1e-5)
        }
        // Compositions: the adjoint in reverse order still passes.
        let composed = try composeOperators([op])
        #expect(try uvDotProductError(composed, seed: 9) <= 1e-5)
        // The registry's case (no file dependencies).
        #expect(try uvDotProductError(RadioRegistry.uvOperator(), batch: 2, seed: 11) <= 1e-5)
    }

    @Test("Primary beams: Gaussian half power at FWHM/2 = 0.565 λ/D; Airy half power at 0.5145 λ/D, first null at 1.2197 λ/D")
    func primaryBeams() throws {
        let d = 12.0, nu = 100e9
        let lambda = EarthRotationSynthesis.speedOfLight / nu
        let g = try PrimaryBeam(shape: .gaussian, diameter: d, frequency: nu)
        #expect(abs(g.value(atRadius: 0) - 1) < 1e-12)
        #expect(abs(g.value(atRadius: 0.565 * lambda / d) - 0.5) < 1e-9)
        let a = try PrimaryBeam(shape: .airy, diameter: d, frequency: nu)
        #expect(abs(a.value(atRadius: 0) - 1) < 1e-12)
        // (2 J1(x)/x)² = 1/2 at x = 1.616340; the first zero of J1 is x = 3.831706.
        #expect(abs(a.value(atRadius: 1.616340 / Double.pi * lambda / d) - 0.5) < 1e-6)
        #expect(a.value(atRadius: 3.831706 / Double.pi * lambda / d) < 1e-12)
        #expect(abs(a.fwhm - 2 * 1.616340 / Double.pi * lambda / d) < 1e-4 * a.fwhm)
        #expect(PrimaryBeam.unity.value(atRadius: 1) == 1)
        #expect(throws: TweedieError.self) { try PrimaryBeam(shape: .gaussian, diameter: 0, frequency: nu) }
        // The image is centred on (N/2, N/2).
        let img = g.image(size: 9, cell: 0.1 * lambda / d)
        #expect(img[4 * 9 + 4] == 1 && img[4 * 9 + 5] == img[4 * 9 + 3] && img[5 * 9 + 4] == img[4 * 9 + 5])
    }

    @Test("Forward values equal the direct DFT of V(u,v) = Σ A_pb I e^{−2πi(ul + vm)}, l = −dx·Δl (east left), m = dy·Δl")
    func forwardMatchesDirectDFT() throws {
        let n = 24, cell = 0.3 * arcsec
        let pb = try PrimaryBeam(shape: .gaussian, diameter: 12, frequency: 230e9)
        let grid = try UVGrid(samples: Self.edgeCaseSamples(cell: cell, n: n), imageSize: n, cell: cell)
        let op = try UVSamplingOperator(grid: grid, primaryBeam: pb)
        var g = SplitMix64Generator(seed: 3)
        let x = try ImageBatch(count: 1, shape: op.inputShape, data: (0..<(n * n)).map { _ in Float(g.normal()) })
        let y = try op.apply(x)
        var err = 0.0, norm = 0.0
        for c in 0..<grid.cellCount {
            // Cell centre in wavelengths: u = −fx·Δu, v = fy·Δu.
            let uc = -Double(grid.fx[c]) * grid.cellWavelengths, vc = Double(grid.fy[c]) * grid.cellWavelengths
            var re = 0.0, im = 0.0
            for py in 0..<n {
                for px in 0..<n {
                    let l = -Double(px - n / 2) * cell, m = Double(py - n / 2) * cell
                    let a = Double(x.data[py * n + px]) * pb.value(atRadius: (l * l + m * m).squareRoot())
                    let phase = -2 * Double.pi * (uc * l + vc * m)
                    re += a * cos(phase); im += a * sin(phase)
                }
            }
            err += pow(Double(y.data[2 * c]) - re, 2) + pow(Double(y.data[2 * c + 1]) - im, 2)
            norm += re * re + im * im
        }
        #expect((err / norm).squareRoot() < 1e-5)
    }

    @Test("A point source gives a dirty-image peak equal to its flux × the primary beam there (centre and off-centre)")
    func pointSourcePeakIsPrimaryBeam() throws {
        let n = 64, cell = 0.3 * arcsec
        let pb = try PrimaryBeam(shape: .gaussian, diameter: 12, frequency: 230e9)
        for weighting in [UVWeighting.natural, .uniform, .briggs(robust: 0.5)] {
            let grid = try UVGrid(samples: Self.almaCoverage(), imageSize: n, cell: cell, weighting: weighting)
            let op = try UVSamplingOperator(grid: grid, primaryBeam: pb)
            for (dx, dy) in [(0, 0), (20, -13), (-25, 9)] {
                var x = ImageBatch(count: 1, shape: op.inputShape)
                let flux: Float = 2.5
                x[0, 0, n / 2 + dy, n / 2 + dx] = flux
                let dirty = try grid.dirtyImage(of: op.apply(x).data)
                let expected = Double(flux) * pb.value(atRadius: cell * Double(dx * dx + dy * dy).squareRoot())
                let peak = BeamMeasurement.peak(dirty, size: n)
                #expect(peak.x == n / 2 + dx && peak.y == n / 2 + dy, "\(weighting) source at \(dx),\(dy): peak at \(peak)")
                #expect(abs(Double(dirty[(n / 2 + dy) * n + n / 2 + dx]) - expected) < 1e-5 * Double(flux),
                        "\(weighting) \(dx),\(dy): \(dirty[(n / 2 + dy) * n + n / 2 + dx]) vs \(expected)")
                if dx != 0 { #expect(expected < 0.9 * Double(flux)) }   // the beam does attenuate there
            }
        }
    }

    @Test("Dirty beam: peak 1 at the phase centre, |B| ≤ 1, equals a directly summed Σ W cos(2π f·d/M)/ΣW (no wrap-around)")
    func dirtyBeamAgainstDirectSum() throws {
        let n = 32, cell = 0.3 * arcsec
        for weighting in [UVWeighting.natural, .uniform, .briggs(robust: -0.5)] {
            let grid = try UVGrid(samples: Self.almaCoverage(), imageSize: n, cell: cell, weighting: weighting)
            let beam = try grid.dirtyBeam()
            #expect(abs(beam[(n / 2) * n + n / 2] - 1) < 1e-6)
            #expect(beam.allSatisfy { abs($0) <= 1 + 1e-6 })
            let m = Double(grid.gridSize), wsum = grid.imagingWeightSum
            var maxErr = 0.0
            for py in 0..<n {
                for px in 0..<n {
                    let dx = Double(px - n / 2), dy = Double(py - n / 2)
                    var b = 0.0
                    for c in 0..<grid.cellCount {
                        b += grid.imagingWeight[c] * cos(2 * .pi * (Double(grid.fx[c]) * dx + Double(grid.fy[c]) * dy) / m)
                    }
                    maxErr = max(maxErr, abs(b / wsum - Double(beam[py * n + px])))
                }
            }
            #expect(maxErr < 1e-5, "\(weighting): max |B − direct| = \(maxErr)")
        }
        // Edge source: its dirty image at the far edge equals the beam at offset N−3, not a wrapped one.
        let grid = try UVGrid(samples: Self.almaCoverage(), imageSize: n, cell: cell)
        let op = try UVSamplingOperator(grid: grid)
        var x = ImageBatch(count: 1, shape: op.inputShape)
        x[0, 0, n / 2, 1] = 1
        let dirty = try grid.dirtyImage(of: op.apply(x).data)
        let m = Double(grid.gridSize)
        for px in [n - 1, n - 2] {
            var b = 0.0
            for c in 0..<grid.cellCount {
                b += grid.imagingWeight[c] * cos(2 * .pi * Double(grid.fx[c]) * Double(px - 1) / m)
            }
            #expect(abs(b / grid.imagingWeightSum - Double(dirty[(n / 2) * n + px])) < 1e-5)
        }
    }

    @Test("Dirty image of a real sky is real: full-plane complex gridding has |Im| ≤ 1e-5·max|Re| and equals the operator's dirty image")
    func dirtyImageIsReal() throws {
        let n = 64, cell = 0.3 * arcsec
        var cov = try Self.almaCoverage()
        // Visibilities of three point sources evaluated at the exact (u, v) of each sample.
        // The brightest one sits 9 px west (x increases westward) and 5 px south of the phase centre.
        let sources: [(dx: Double, dy: Double, s: Double)] = [(9, -5, 1.5), (0, 0, 1), (7.3, 4.1, 0.6), (-15, 12.5, 0.3)]
        cov.real = []; cov.imag = []
        for k in 0..<cov.count {
            var re = 0.0, im = 0.0
            for s in sources {
                let phase = -2 * Double.pi * (cov.u[k] * -s.dx * cell + cov.v[k] * s.dy * cell)
                re += s.s * cos(phase); im += s.s * sin(phase)
            }
            cov.real.append(Float(re)); cov.imag.append(Float(im))
        }
        for weighting in [UVWeighting.natural, .uniform] {
            let grid = try UVGrid(samples: cov, imageSize: n, cell: cell, weighting: weighting)
            let fast = try grid.dirtyImage()
            // Sign chain u, v → cells → image: the brightest source shows up where it was put.
            let peak = BeamMeasurement.peak(fast, size: n)
            #expect(peak.x == n / 2 + 9 && peak.y == n / 2 - 5, "\(weighting): peak at \(peak)")
            let full = grid.fullPlaneDirtyImage(samples: cov)
            let maxRe = full.real.map { abs($0) }.max()!, maxIm = full.imag.map { abs($0) }.max()!
            #expect(maxIm <= 1e-5 * maxRe, "\(weighting): max|Im| = \(maxIm), max|Re| = \(maxRe)")
            let diff = zip(fast, full.real).map { abs($0 - $1) }.max()!
            #expect(diff <= 1e-5 * maxRe, "\(weighting): fast vs full-plane differ by \(diff)")
            let beamFull = grid.fullPlaneDirtyImage(samples: UVSamples(u: cov.u, v: cov.v, w: cov.w, weight: cov.weight,
                                                                          frequencies: cov.frequencies, origin: "beam"))
            let beam = try grid.dirtyBeam()
            #expect(zip(beam, beamFull.real).map { abs($0 - $1) }.max()! < 1e-5)
            #expect(beamFull.imag.map { abs($0) }.max()! < 1e-5)
        }
    }

    @Test("Briggs weighting tends to natural for R = +10 and to uniform for R = −10")
    func briggsLimits() throws {
        let n = 64, cell = 0.3 * arcsec
        let cov = try Self.almaCoverage()
        func beam(_ w: UVWeighting) throws -> [Float] { try UVGrid(samples: cov, imageSize: n, cell: cell, weighting: w).dirtyBeam() }
        let natural = try beam(.natural), uniform = try beam(.uniform)
        #expect(zip(natural, uniform).map { abs($0 - $1) }.max()! > 0.01)   // the two really differ here
        #expect(zip(try beam(.briggs(robust: 10)), natural).map { abs($0 - $1) }.max()! < 1e-5)
        #expect(zip(try beam(.briggs(robust: -10)), uniform).map { abs($0 - $1) }.max()! < 1e-5)
        // Uniform: every weighting cell has the same total weight, so ΣW equals the number of
        // occupied weighting cells (sample and mirror cells, halved for the half plane).
        let g = try UVGrid(samples: cov, imageSize: n, cell: cell, weighting: .uniform)
        let duw = 1 / (Double(n) * cell)
        var cells = Set<Int>()
        for k in 0..<cov.count {
            let gx = Int((-cov.u[k] / duw).rounded()), gy = Int((cov.v[k] / duw).rounded())
            cells.insert(gy * 100_000 + gx); cells.insert(-gy * 100_000 - gx)
        }
        #expect(abs(g.imagingWeightSum - Double(cells.count) / 2) < 1e-9 * Double(cells.count))
    }

    @Test("Visibility noise model: σ_c = s/√Σw per component, DC imaginary part masked, σ ≤ 0 rejected")
    func visibilityNoise() throws {
        let cell = 0.3 * arcsec, n = 16
        let grid = try UVGrid(samples: Self.edgeCaseSamples(cell: cell, n: n), imageSize: n, cell: cell)
        let noise = try VisibilityNoiseModel(grid: grid, unitWeightSigma: 0.5)
        let op = try UVSamplingOperator(grid: grid)
        #expect(noise.shape == op.outputShape)
        for c in 0..<grid.cellCount {
            let expected = Float(grid.naturalWeight[c].squareRoot() / 0.5)
            #expect(abs(noise.sqrtWeights[2 * c] - expected) < 1e-6 * expected)
            let isDC = grid.fx[c] == 0 && grid.fy[c] == 0
            #expect(noise.sqrtWeights[2 * c + 1] == (isDC ? 0 : noise.sqrtWeights[2 * c]))
        }
        // The weight-1 and weight-2 samples at (0, ±4Δu·…) etc. land in their own cells: Σw is what was put in.
        #expect(abs(grid.naturalWeight.reduce(0, +) - 11.5) < 1e-12)
        #expect(throws: TweedieError.self) { try VisibilityNoiseModel(grid: grid, unitWeightSigma: 0) }
        #expect(throws: TweedieError.self) { try VisibilityNoiseModel(grid: grid, unitWeightSigma: -1) }
    }

    @Test("Bad gridding input: size, cell, robust, samples beyond the grid")
    func badGriddingInput() throws {
        let cov = try Self.almaCoverage()
        func message(_ body: () throws -> Void) -> String {
            do { try body(); return "no error" } catch let e as TweedieError { return e.description } catch { return "\(error)" }
        }
        #expect(message { _ = try UVGrid(samples: cov, imageSize: 2, cell: arcsec) }.contains("image size"))
        #expect(message { _ = try UVGrid(samples: cov, imageSize: 64, cell: 0) }.contains("cell size"))
        #expect(message { _ = try UVGrid(samples: cov, imageSize: 64, cell: arcsec, weighting: .briggs(robust: .nan)) }.contains("robust"))
        // 30″ cells: the grid reaches 1/(2·30″) ≈ 3.4 kλ; the shortest ALMA C-1 baselines are ~10 kλ at 230 GHz.
        let beyond = message { _ = try UVGrid(samples: cov, imageSize: 8, cell: 30 * arcsec) }
        #expect(beyond.contains("beyond the grid edge") && beyond.contains("smaller cells"))
    }
}
