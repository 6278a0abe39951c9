// Operator specs (the model behind `tweedie operator --spec`): a spec builds the
// same chain as the operators composed by hand, and malformed specs give errors
// (unknown keys are never silently ignored). Decoded from JSON here; the CLI reads YAML.
import Foundation
import Testing
import TweedieCore
@testable import TweedieOperators

private func spec(_ json: String) throws -> OperatorSpec {
    try JSONDecoder().decode(OperatorSpec.self, from: Data(json.utf8))
}

@Suite struct OperatorSpecTests {
    @Test func specBuildsThePaperChain() throws {
        let s = try spec("""
        {"prior": {"size": 64, "bands": ["g", "r", "i"], "pixel_scale_kpc": 0.4},
         "chain": [{"resample": {"redshift": 0.3, "pixel_scale": 0.168}},
                   {"psf": {"moffat_fwhm": 0.6, "beta": 3, "size": 11}}]}
        """)
        let built = try s.build()
        let prior = ImageShape(channels: 3, height: 64, width: 64)
        let r = try RedshiftResampling(priorShape: prior, redshift: 0.3, priorPixelKpc: 0.4, observedPixelArcsec: 0.168)
        let p = try PSFConvolution(psf: MoffatPSF(fwhm: 0.6, beta: 3).render(pixelScale: 0.168, height: 11, width: 11),
                                   imageShape: r.outputShape)
        #expect(built.forwardOperator.inputShape == prior && built.forwardOperator.outputShape == r.outputShape)
        #expect(built.geometries.first?.observedWidth == r.geometry.observedWidth)
        #expect(built.outputBands == ["g", "r", "i"] && built.outputPixelScaleArcsec == 0.168)
        let x = try ImageBatch(count: 1, shape: prior, data: SampleStream(seed: 5, index: 0).normals(prior.count))
        #expect(try built.forwardOperator.apply(x).data == p.apply(r.apply(x)).data)
    }

    @Test func bandsAndPerBandPSFs() throws {
        let s = try spec("""
        {"prior": {"size": 32, "bands": ["g", "r", "i"], "pixel_scale_arcsec": 0.1},
         "chain": [{"bands": ["i", "g"]},
                   {"psf": {"boundary": "periodic", "per_band": [{"gaussian_fwhm": 0.3, "size": 7},
                                                                 {"airy_lambda": 8e-7, "diameter": 2.4, "size": 8}]}}]}
        """)
        let built = try s.build()
        #expect(built.outputBands == ["i", "g"] && built.forwardOperator.outputShape.channels == 2)
        let psf = try #require(built.steps.last as? PSFConvolution)
        #expect(psf.boundary == .periodic && psf.psf.height == 8 && psf.psf.bandCount == 2)
    }

    @Test func malformedSpecsAreRejected() throws {
        let prior = #""prior": {"size": 32, "pixel_scale_kpc": 0.4}"#
        let bad = [
            // unknown keys, at every level
            #"{"prior": {"size": 32, "pixelscale": 0.4}, "chain": [{"bands": ["0"]}]}"#,
            "{\(prior), \"chain\": [{\"resample\": {\"redshift\": 0.3, \"pixel_scal\": 0.17}}]}",
            "{\(prior), \"chain\": [{\"psf\": {\"gaussian_fwhm\": 0.3, \"size\": 7, \"bondary\": \"linear\"}}]}",
            "{\(prior), \"chain\": [{\"blur\": {}}]}",
            // two step kinds in one item
            "{\(prior), \"chain\": [{\"bands\": [\"0\"], \"psf\": {\"gaussian_fwhm\": 0.3, \"size\": 7}}]}",
        ]
        for b in bad { #expect(throws: (any Error).self, "\(b)") { try spec(b) } }

        let unbuildable = [
            "{\(prior), \"chain\": []}",
            "{\(prior), \"chain\": [{\"resample\": {\"pixel_scale\": 0.17}}]}",                        // no redshift for a kpc prior
            "{\(prior), \"chain\": [{\"resample\": {\"redshift\": -1, \"pixel_scale\": 0.17}}]}",      // z ≤ 0
            "{\(prior), \"chain\": [{\"psf\": {\"gaussian_fwhm\": 0.3, \"size\": 7}}]}",                // no pixel scale known
            "{\(prior), \"chain\": [{\"psf\": {\"gaussian_fwhm\": 0.3, \"moffat_fwhm\": 0.3, \"size\": 7, \"pixel_scale\": 0.1}}]}",
            "{\(prior), \"chain\": [{\"psf\": {\"file\": \"psf.fits\"}}]}",                            // no loader
            "{\(prior), \"chain\": [{\"psf\": {\"gaussian_fwhm\": 9, \"size\": 40, \"pixel_scale\": 0.1}}]}", // PSF > image
            "{\(prior), \"chain\": [{\"psf\": {\"per_band\": [{\"gaussian_fwhm\": 0.3, \"size\": 7, \"pixel_scale\": 0.1}, {\"gaussian_fwhm\": 0.3, \"size\": 7, \"pixel_scale\": 0.1}]}}]}", // 2 PSFs, 1 band
            "{\"prior\": {\"size\": 32, \"bands\": [\"g\"]}, \"chain\": [{\"bands\": [\"r\"]}]}",
        ]
        for u in unbuildable {
            let s = try spec(u)
            #expect(throws: TweedieError.self, "\(u)") { try s.build() }
        }
    }

    @Test func psfFilesGoThroughTheLoader() throws {
        let s = try spec(#"{"prior": {"size": 16}, "chain": [{"psf": {"file": "star.fits", "hdu": 2}}]}"#)
        let built = try s.build { path, hdu in
            #expect(path == "star.fits" && hdu == "2")
            return try ImageBatch(count: 1, shape: ImageShape(channels: 1, height: 3, width: 3),
                                  data: [0, 1, 0, 1, 4, 1, 0, 1, 0])
        }
        let psf = try #require(built.steps.first as? PSFConvolution)
        #expect(psf.psf.kernels.data[4] == 0.5 && psf.psf.warnings.count == 1)  // normalised and reported
    }
}
