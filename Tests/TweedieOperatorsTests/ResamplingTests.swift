// Redshift / pixel-scale resampling against independent oracles: D_A(z) and
// m(z, p) from astropy (Fixtures/cosmology.json, made by
// Fixtures/make_cosmology_fixture.py), hand-computed overlap weights, flux
// conservation, and the errors for bad input.
import Foundation
import Testing
import TweedieCore
@testable import TweedieOperators

private struct CosmologyFixture: Decodable {
    struct Row: Decodable {
        let z: Double
        let angular_diameter_distance_mpc: Double
        let comoving_distance_mpc: Double
        let m: Int
    }
    let H0: Double, Om0: Double, n: Int, prior_pixel_kpc: Double, observed_pixel_arcsec: Double
    let rows: [Row]

    static func load() throws -> CosmologyFixture {
        let url = try #require(Bundle.module.url(forResource: "cosmology", withExtension: "json", subdirectory: "Fixtures"))
        return try JSONDecoder().decode(CosmologyFixture.self, from: Data(contentsOf: url))
    }
}

@Suite struct ResamplingTests {
    @Test func angularDiameterDistanceMatchesAstropy() throws {
        let f = try CosmologyFixture.load()
        let c = try FlatLambdaCDM(hubbleConstant: f.H0, matterDensity: f.Om0)
        #expect(c == FlatLambdaCDM.planck2018)
        for r in f.rows {
            let da = try c.angularDiameterDistance(r.z), dc = try c.comovingDistance(r.z)
            #expect(abs(da - r.angular_diameter_distance_mpc) / r.angular_diameter_distance_mpc < 1e-4, "z=\(r.z)")
            #expect(abs(dc - r.comoving_distance_mpc) / r.comoving_distance_mpc < 1e-4, "z=\(r.z)")
        }
    }

    @Test func observedSizeMatchesThePaperCase() throws {
        let f = try CosmologyFixture.load()
        let prior = ImageShape(channels: 3, height: f.n, width: f.n)
        for r in f.rows where r.m <= 4096 {
            let op = try RedshiftResampling(priorShape: prior, redshift: r.z, priorPixelKpc: f.prior_pixel_kpc,
                                            observedPixelArcsec: f.observed_pixel_arcsec)
            #expect(op.geometry.observedWidth == r.m && op.outputShape.height == r.m, "z=\(r.z)")
        }
        // The values quoted in issue 3 (n = 256, 0.4 kpc/px, p = 0.17″).
        for (z, m) in [(0.15, 223), (0.2, 177), (0.7, 82), (1.0, 73)] {
            let g = try ResamplingGeometry.redshift(z, priorPixelKpc: 0.4, observedPixelArcsec: 0.17,
                                                    priorHeight: 256, priorWidth: 256)
            #expect(g.observedWidth == m)
            #expect(abs(g.upsamplingFactor - 256.0 / Double(m)) < 1e-12)
        }
        // Beyond z ≈ 0.7 the reconstruction upsamples by more than 2: reported.
        let far = try ResamplingGeometry.redshift(1.0, priorPixelKpc: 0.4, observedPixelArcsec: 0.17,
                                                  priorHeight: 256, priorWidth: 256)
        #expect(far.warnings.contains { $0.contains("> 2") })
        let near = try ResamplingGeometry.redshift(0.15, priorPixelKpc: 0.4, observedPixelArcsec: 0.17,
                                                   priorHeight: 256, priorWidth: 256)
        #expect(near.warnings.isEmpty)
        let finer = try ResamplingGeometry.redshift(0.05, priorPixelKpc: 0.4, observedPixelArcsec: 0.17,
                                                    priorHeight: 256, priorWidth: 256)
        #expect(finer.warnings.contains { $0.contains("finer") })
    }

    @Test func overlapWeightsByHand() throws {
        // 3 → 2: out0 = in0 + ½ in1, out1 = ½ in1 + in2.  2 → 3: out0 = ⅔ in0, out1 = ⅓ in0 + ⅓ in1, out2 = ⅔ in1.
        let down = try AreaOverlapResampling(inputShape: ImageShape(channels: 1, height: 2, width: 3),
                                             outputHeight: 3, outputWidth: 2)
        let x: [Float] = [1, 2, 4,
                          8, 16, 32]
        let y = try down.apply(ImageBatch(count: 1, shape: down.inputShape, data: x))
        // Along x: row0 → [1+1, 1+4] = [2, 5]; row1 → [8+8, 8+32] = [16, 40].
        // Along y (2 → 3): [⅔·r0, ⅓·r0 + ⅓·r1, ⅔·r1].
        let want: [Double] = [2 * 2.0 / 3, 5 * 2.0 / 3, (2 + 16) / 3.0, (5 + 40) / 3.0, 16 * 2.0 / 3, 40 * 2.0 / 3]
        for i in want.indices { #expect(abs(Double(y.data[i]) - want[i]) < 1e-5) }
        // n → n is the identity.
        let same = try AreaOverlapResampling(inputShape: ImageShape(channels: 1, height: 5, width: 7), outputHeight: 5, outputWidth: 7)
        let z = try ImageBatch(count: 1, shape: same.inputShape, data: (0..<35).map { Float($0) })
        #expect(try same.apply(z).data == z.data)
    }

    @Test(arguments: [(h: 256, w: 256, m: 223, k: 223), (h: 64, w: 80, m: 27, k: 35), (h: 30, w: 31, m: 67, k: 45)])
    func resamplingConservesFlux(h: Int, w: Int, m: Int, k: Int) throws {
        let op = try AreaOverlapResampling(inputShape: ImageShape(channels: 2, height: h, width: w), outputHeight: m, outputWidth: k)
        let s = SampleStream(seed: 9, index: 0)
        let x = try ImageBatch(count: 1, shape: op.inputShape, data: (0..<op.inputShape.count).map { _ in Float(s.uniform()) })
        let y = try op.apply(x)
        for c in 0..<2 {
            let fin = x.plane(0, c).reduce(0.0) { $0 + Double($1) }
            let fout = y.plane(0, c).reduce(0.0) { $0 + Double($1) }
            #expect(abs(fout - fin) / fin < 1e-5)
        }
    }

    @Test func badInputIsRejected() throws {
        let prior = ImageShape(channels: 1, height: 64, width: 64)
        for z in [0.0, -0.5, .nan, .infinity] {
            do {
                _ = try RedshiftResampling(priorShape: prior, redshift: z, priorPixelKpc: 0.4, observedPixelArcsec: 0.17)
                Issue.record("z=\(z) accepted")
            } catch let e as TweedieError {
                #expect(e.description.contains("redshift"))
            }
        }
        #expect(throws: TweedieError.self) {
            try RedshiftResampling(priorShape: prior, redshift: 0.3, priorPixelKpc: 0, observedPixelArcsec: 0.17)
        }
        #expect(throws: TweedieError.self) {
            try RedshiftResampling(priorShape: prior, redshift: 0.3, priorPixelKpc: 0.4, observedPixelArcsec: -1)
        }
        // A field smaller than one observed pixel (m = 0).
        #expect(throws: TweedieError.self) {
            try RedshiftResampling(priorShape: prior, redshift: 1.0, priorPixelKpc: 0.4, observedPixelArcsec: 100)
        }
        #expect(throws: TweedieError.self) { try FlatLambdaCDM(hubbleConstant: 0, matterDensity: 0.3) }
        #expect(throws: TweedieError.self) { try FlatLambdaCDM(hubbleConstant: 70, matterDensity: 1.2) }
        #expect(throws: TweedieError.self) {
            try PixelScaleResampling(priorShape: prior, priorPixelArcsec: 0, observedPixelArcsec: 0.2)
        }
        // Band selection errors.
        let gri = ImageShape(channels: 3, height: 8, width: 8)
        #expect(throws: TweedieError.self) { try BandSelection(inputShape: gri, inputBands: ["g", "r", "i"], select: ["z"]) }
        #expect(throws: TweedieError.self) { try BandSelection(inputShape: gri, indices: [3]) }
        #expect(throws: TweedieError.self) { try BandSelection(inputShape: gri, indices: [1, 1]) }
        #expect(throws: TweedieError.self) { try BandSelection(inputShape: gri, indices: []) }
        #expect(throws: TweedieError.self) { try BandSelection(inputShape: gri, indices: [0], inputBands: ["g", "r"]) }
    }

    @Test func bandSelectionCopiesTheChosenBands() throws {
        let gri = ImageShape(channels: 3, height: 2, width: 2)
        let op = try BandSelection(inputShape: gri, inputBands: ["g", "r", "i"], select: ["i"])
        let x = try ImageBatch(count: 1, shape: gri, data: (0..<12).map { Float($0) }, bands: ["g", "r", "i"])
        let y = try op.apply(x)
        #expect(y.data == [8, 9, 10, 11] && y.bands == ["i"])
        #expect(try op.adjoint(y).data == [0, 0, 0, 0, 0, 0, 0, 0, 8, 9, 10, 11])
    }
}
