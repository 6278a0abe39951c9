// `tweedie uv` run as a process: dirty image + beam of the real 3C273 UVFITS,
// dirty beam + coverage of a synthetic ALMA observation (negative declination
// and hour angles on the command line), and one clear error with no output
// file for each kind of bad input.
import Foundation
import Testing
import TweedieCore

@Suite struct UVCommandTests {
    @Test func dirtyImageOf3C273() throws {
        let dir = try CLIRunner.temporaryDirectory(); defer { CLIRunner.removeDirectory(dir) }
        let out = dir.appendingPathComponent("dirty.fits").path, png = dir.appendingPathComponent("dirty.png").path
        let r = try CLIRunner.run(["uv", "--uvfits", "../shared/data/real/vla_3C273_Xband_C.uvfits", "--size", "256",
                                   "--cell", "0.2", "--weighting", "uniform", "-o", out, "--png", png])
        #expect(r.status == 0 && r.stderr.isEmpty, "\(r)")
        #expect(r.stdout.contains("λ/B_max = 2.05"))
        let dirty = try FITSReader.read(out, hdu: .name("DIRTY"))
        let beam = try FITSReader.read(out, hdu: .name("BEAM"))
        let coverage = try FITSReader.read(out, hdu: .name("COVERAGE"))
        #expect(dirty.shape == ImageShape(channels: 1, height: 256, width: 256) && dirty.unit == "Jy/beam")
        #expect(coverage.shape.width == 512)
        // Peak on the phase centre (pixel 128, 0-based = CRPIX 129), beam peak 1 there.
        let i = dirty.data.indices.max { dirty.data[$0] < dirty.data[$1] }!
        #expect(i % 256 == 128 && i / 256 == 128)
        #expect(abs(beam[0, 0, 128, 128] - 1) < 1e-5)
        #expect(dirty.header?.double("CRPIX1") == 129 && dirty.header?.double("CDELT1") ?? 0 < 0)
        #expect(abs((dirty.header?.double("CRVAL2") ?? 0) - 2.3287) < 1e-3)
        #expect(dirty.header?.string("WEIGHTNG") == "uniform")
        let png1 = try PNGPreview.read(png)
        #expect(png1.width == 2 * 256 + 1 && png1.height == 256)
    }

    @Test func beamOfASyntheticALMAObservation() throws {
        let dir = try CLIRunner.temporaryDirectory(); defer { CLIRunner.removeDirectory(dir) }
        let out = dir.appendingPathComponent("beam.fits").path
        let r = try CLIRunner.run(["uv", "--config", "../shared/data/antennas/alma.cycle10.3.cfg", "--dec", "-30",
                                   "--ha-range", "-0.17,0.17", "--freq", "230e9", "--integration", "30",
                                   "--size", "128", "--cell", "0.1", "--weighting", "briggs", "--robust", "0.5", "-o", out])
        #expect(r.status == 0 && r.stderr.isEmpty, "\(r)")
        let beam = try FITSReader.read(out, hdu: .name("BEAM"))
        #expect(beam.shape.width == 128 && abs(beam[0, 0, 64, 64] - 1) < 1e-5)
        #expect(beam.header?.double("ROBUST") == 0.5)
        // λ/B_max = 0.54″ for the 500 m C-3 baselines at 230 GHz; the main lobe is about that
        // (natural weighting at 512² gives 0.89″ × 0.75″, paper 000's Cycle 5.3 beam 0.89″ × 0.82″).
        let fx = beam.header?.double("BEAMFWX") ?? 0, fy = beam.header?.double("BEAMFWY") ?? 0
        #expect(fx > 0.5 && fx < 1.1 && fy > 0.5 && fy < 1.1, "FWHM \(fx)″ × \(fy)″")
        let coverage = try FITSReader.read(out, hdu: .name("COVERAGE"))
        // Hermitian: the coverage map is point-symmetric about its centre (M/2, M/2).
        let m = coverage.shape.width
        var asym: Float = 0
        for y in 1..<m { for x in 1..<m { asym = max(asym, abs(coverage[0, 0, y, x] - coverage[0, 0, m - y, m - x])) } }
        #expect(asym == 0)
    }

    @Test func badInputGivesOneErrorAndNoFile() throws {
        let dir = try CLIRunner.temporaryDirectory(); defer { CLIRunner.removeDirectory(dir) }
        let out = dir.appendingPathComponent("out.fits").path
        let badCfg = dir.appendingPathComponent("bad.cfg").path
        try "# observatory=ALMA\n10 20 0 12\n30 40 0 12\n".write(toFile: badCfg, atomically: true, encoding: .utf8)
        let noUV = CLIRunner.repositoryRoot.appendingPathComponent("Tests/TweedieOperatorsTests/Fixtures/uv_no_uv.uvfits").path
        let cases: [([String], String)] = [
            (["uv", "--config", badCfg, "--dec", "-30", "--ha-range", "-1,1", "--freq", "230e9", "--size", "64", "--cell", "0.1", "-o", out],
             "unknown format"),
            (["uv", "--uvfits", noUV, "--size", "64", "--cell", "0.2", "-o", out], "no u, v"),
            (["uv", "--uvfits", "../shared/data/real/m51_kpno_B_devpix.fits", "--size", "64", "--cell", "0.2", "-o", out],
             "not a random-groups UVFITS"),
            (["uv", "--config", "../shared/data/antennas/vla.c.cfg", "--dec", "-80", "--ha-range", "-1,1", "--freq", "8e9",
              "--size", "64", "--cell", "0.5", "-o", out], "below"),
            (["uv", "--config", "../shared/data/antennas/vla.c.cfg", "--dec", "30", "--freq", "8e9", "--size", "64", "--cell", "0.5", "-o", out],
             "--ha-range"),
            (["uv", "--uvfits", noUV, "--config", badCfg, "--size", "64", "--cell", "0.2", "-o", out], "exactly one"),
            (["uv", "--uvfits", noUV, "--size", "64", "--cell", "0.2", "--robust", "1", "-o", out], "briggs"),
        ]
        for (args, text) in cases {
            let r = try CLIRunner.run(args)
            #expect(r.status != 0, "\(args): \(r)")
            #expect(r.stderr.contains(text), "\(args): \(r)")
            let errorLines = r.stderrLines.filter { $0.hasPrefix("error: ") || $0.hasPrefix("Error: ") }
            #expect(errorLines.count == 1, "\(args): \(r)")
            #expect(!FileManager.default.fileExists(atPath: out))
        }
    }
}
