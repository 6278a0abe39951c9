// `tweedie sample` reports scores that mean what they say (issue 22), run as a
// process on a 3-band analytic prior (g, r, i; 8×8 stationary Gaussian) whose
// operator chain observes r only (band selection, then a periodic Gaussian
// PSF), truth drawn from the prior and simulated through the library:
// - summary.json lists observedBands [r] and unobservedBands [g, i], the
//   per-band aperture and median variance ratios keyed by band name, and the
//   headline apertureVarianceRatio is r's alone; the unobserved bands stay at
//   the prior's variance (ratio ≈ 1, the sampler being exact here) while r's
//   is far below;
// - with --truth and ≥ 39 samples, but no --keep-samples, the coverage is the
//   empirical type-6 rule (coverageRule says so) and no samples file is left;
// - the console prints the per-band line and the coverage rule;
// - the reduced-χ² warning's thresholds and wording (a pure function of the CLI).
import Foundation
import Testing
import TweedieCore
import TweedieOperators
import TweediePriors
@testable import tweedie

@Suite(.serialized) struct SampleScoresCLITests {
    static let priorSpec = "gaussian:n=8,channels=3,bands=g;r;i,amplitude=1,slope=3,k0=0.1"
    static let sigma = 0.05
    static let specText = """
        chain:
          - bands: [r]
          - psf:
              gaussian_fwhm: 2
              size: 7
              pixel_scale: 1
              boundary: periodic
        """

    static func makeProblem(in dir: URL) throws {
        try SimulatedProblem.write(in: dir, specText: specText, priorSpec: priorSpec, truthSeed: 5, bands: ["g", "r", "i"],
                                   sigma: sigma, noiseSeed: 9) { shape in
            let sel = try BandSelection(inputShape: shape, inputBands: ["g", "r", "i"], select: ["r"])
            let psf = try GaussianPSF(fwhm: 2).render(pixelScale: 1, height: 7, width: 7)
            let conv = try PSFConvolution(psf: psf, imageShape: sel.outputShape, boundary: .periodic)
            return try composeOperators([sel, conv])
        }
    }

    @Test func perBandVarianceRatioObservedBandsAndCoverageRule() throws {
        let dir = try CLIRunner.temporaryDirectory(); defer { CLIRunner.removeDirectory(dir) }
        try Self.makeProblem(in: dir)
        let out = dir.appendingPathComponent("run")
        let r = try CLIRunner.run(["sample", "--prior", Self.priorSpec,
                                   "--observation", dir.appendingPathComponent("obs.fits").path,
                                   "--spec", dir.appendingPathComponent("spec.yaml").path, "--sigma", "\(Self.sigma)",
                                   "--sampler", "split-gibbs", "--samples", "40", "--batch", "8", "--seed", "1",
                                   "--truth", dir.appendingPathComponent("truth.fits").path, "-o", out.path])
        #expect(r.status == 0, "\(r)")
        let data = try Data(contentsOf: out.appendingPathComponent("summary.json"))
        let s = try JSONSerialization.jsonObject(with: data) as! [String: Any]
        let sc = s["scores"] as! [String: Any]
        #expect(sc["observedBands"] as? [String] == ["r"])
        #expect(sc["unobservedBands"] as? [String] == ["g", "i"])
        let bands = try #require(sc["priorBands"] as? [[String: Any]])
        #expect(bands.map { $0["name"] as? String } == ["g", "r", "i"])
        #expect(bands.map { $0["observed"] as? Bool } == [false, true, false])
        var per: [String: Double] = [:], med: [String: Double] = [:]
        for b in bands {
            let name = try #require(b["name"] as? String)
            per[name] = try #require(b["apertureVarianceRatio"] as? Double)
            med[name] = try #require(b["medianVarianceRatio"] as? Double)
            // Per-band coverage lies in [0, 1] and the 95 % interval holds the 50 % one.
            let t = try #require(b["truth"] as? [String: Any])
            let c50 = try #require(t["coverage50"] as? Double), c95 = try #require(t["coverage95"] as? Double)
            #expect(c50 >= 0 && c50 <= c95 && c95 <= 1, "\(name) coverage \(c50) \(c95)")
        }
        // The observation is the r band alone: one χ² entry, over every usable value.
        let obsBands = try #require(sc["observationBands"] as? [[String: Any]])
        #expect(obsBands.count == 1 && obsBands[0]["usableValues"] as? Int == sc["usableValues"] as? Int)
        let chi2 = try #require(obsBands[0]["reducedChiSquaredOfMean"] as? Double)
        #expect(abs(chi2 - (sc["reducedChiSquaredOfMean"] as! Double)) < 1e-9 * max(1, chi2))
        let headline = try #require(sc["apertureVarianceRatio"] as? Double)
        #expect(abs(headline - per["r"]!) < 1e-12, "headline \(headline) is r's \(per["r"]!)")
        // Unobserved bands keep the prior's variance: ratio 1 up to the noise of 40 draws of strongly
        // correlated pixels (wide bounds; calibrating the sampler there is `calibrate`'s job); σ = 0.05
        // pins r down (ratio ≈ 0.02).
        for b in ["g", "i"] {
            #expect(per[b]! > 0.35 && per[b]! < 2, "\(b) aperture \(per[b]!)")
            #expect(med[b]! > 0.35 && med[b]! < 2, "\(b) median \(med[b]!)")
            #expect(per[b]! > 5 * per["r"]!, "\(b) \(per[b]!) vs r \(per["r"]!)")
        }
        #expect(per["r"]! < 0.2, "r aperture \(per["r"]!)")
        // The old headline, all three bands averaged, would have been ≥ 0.24: the new one is r's.
        #expect((per["g"]! + per["r"]! + per["i"]!) / 3 > 0.24 && headline < 0.2)
        #expect(abs((sc["medianVarianceRatio"] as! Double) - med["r"]!) < 1e-12)
        #expect((sc["varianceRatioScope"] as? String)?.contains("observed bands [r]") == true)
        // Coverage: empirical type-6 from the samples kept for the run, although --keep-samples was not given.
        let truth = sc["truth"] as! [String: Any]
        #expect(truth["coverageMethod"] as? String == "empirical")
        #expect((truth["coverageRule"] as? String)?.contains("type-6") == true)
        #expect((truth["coverageRule"] as? String)?.contains("K = 40") == true)
        for f in ["samples.fits", "samples.raw"] {
            #expect(!FileManager.default.fileExists(atPath: out.appendingPathComponent(f).path), "\(f) left behind")
        }
        #expect(r.stdout.contains("over observed bands [r]"), "\(r.stdout)")
        #expect(r.stdout.contains("g ") && r.stdout.contains("(unobserved)"), "\(r.stdout)")
        #expect(r.stdout.contains("coverage rule") && r.stdout.contains("type-6"), "\(r.stdout)")
    }
}
