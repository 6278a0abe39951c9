// UVFITS reading against astropy: the real VLA 3C273 file and two small
// fixtures written by Fixtures/make_uv_reference.py (XX/YY with two channels
// and PSCAL-scaled u, v; a random-groups file without u, v).
import Foundation
import Testing
import TweedieCore
@testable import TweedieOperators

@Suite("Radio UVFITS reader")
struct RadioUVFITSTests {
    @Test("3C273: counts, weights, u, v (wavelengths) and Stokes I agree with astropy")
    func reads3C273() throws {
        let ref = RadioTestData.reference
        let data = try UVFITSReader.read(path: RadioTestData.vla3C273)
        let s = data.samples
        #expect(data.rowCount == ref["rows"] as! Int)
        #expect(s.count == ref["visibilities"] as! Int)
        #expect(data.flaggedCount == ref["flagged_correlations"] as! Int)
        #expect(data.stokesSource == "RR/LL")
        #expect(data.telescope == "VLA" && data.object == "3C273")
        #expect(s.frequencies == [ref["frequency_hz"] as! Double])
        let wsum = s.weight.reduce(0, +)
        #expect(abs(wsum - (ref["weight_sum"] as! Double)) < 1e-9 * wsum)
        #expect(abs(s.maxBaseline - (ref["max_baseline_wavelengths"] as! Double)) < 1e-3)
        var mre = 0.0, mim = 0.0
        for k in 0..<s.count { mre += s.weight[k] * Double(s.real[k]); mim += s.weight[k] * Double(s.imag[k]) }
        #expect(abs(mre / wsum - (ref["weighted_mean_re"] as! Double)) < 1e-5)
        #expect(abs(mim / wsum - (ref["weighted_mean_im"] as! Double)) < 1e-5)
        for (k, e) in (ref["first_samples"] as! [[String: Double]]).enumerated() {
            #expect(abs(s.u[k] - e["u"]!) < 1e-6 * abs(e["u"]!) + 1e-6)
            #expect(abs(s.v[k] - e["v"]!) < 1e-6 * abs(e["v"]!) + 1e-6)
            #expect(abs(Double(s.real[k]) - e["re"]!) < 1e-5)
            #expect(abs(Double(s.imag[k]) - e["im"]!) < 1e-5)
            #expect(s.weight[k] == e["weight"]!)
        }
        // λ/B_max ≈ 2.05″ with B_max ≈ 100.5 kλ (issue 3).
        #expect(abs(s.maxBaseline - 100_500) < 500)
        #expect(abs(1 / s.maxBaseline / arcsec - 2.05) < 0.02)
    }

    @Test("XX/YY, two channels, PSCAL-scaled u, v, flagged hands: per-channel wavelengths and weighted Stokes I")
    func readsXXYYChannels() throws {
        let ref = (RadioTestData.reference["xxyy_2chan"] as! [String: Any])
        let data = try UVFITSReader.read(path: RadioTestData.fixture(ref["file"] as! String))
        #expect(data.stokesSource == "XX/YY")
        #expect(data.flaggedCount == ref["flagged_correlations"] as! Int)
        #expect(data.samples.frequencies == [1.4e9, 1.5e9])
        let expected = ref["samples"] as! [[String: Double]]
        #expect(data.samples.count == expected.count)
        for (k, e) in expected.enumerated() where k < data.samples.count {
            #expect(abs(data.samples.u[k] - e["u"]!) < 1e-6 * abs(e["u"]!) + 1e-6)
            #expect(abs(data.samples.v[k] - e["v"]!) < 1e-6 * abs(e["v"]!) + 1e-6)
            #expect(abs(data.samples.weight[k] - e["weight"]!) < 1e-6)
            #expect(abs(Double(data.samples.real[k]) - e["re"]!) < 1e-6)
            #expect(abs(Double(data.samples.imag[k]) - e["im"]!) < 1e-6)
        }
    }

    @Test("A UVFITS without u, v, a FITS image and a missing file each give one clear error")
    func rejectsBadFiles() throws {
        func message(_ path: String) -> String {
            do { _ = try UVFITSReader.read(path: path); return "no error" }
            catch let e as TweedieError { return e.description } catch { return "\(error)" }
        }
        let noUV = message(RadioTestData.fixture("uv_no_uv.uvfits"))
        #expect(noUV.contains("uv_no_uv.uvfits") && noUV.contains("no u, v") && noUV.contains("BASELINE"))
        let image = message(RadioTestData.shared("real/m51_kpno_B_devpix.fits"))
        #expect(image.contains("not a random-groups UVFITS"))
        #expect(message("/nonexistent/file.uvfits").contains("no such file"))
        let cfg = message(RadioTestData.antennas("vla.c.cfg"))
        #expect(cfg.contains("vla.c.cfg") && cfg.contains("cannot open as FITS"))
    }
}
