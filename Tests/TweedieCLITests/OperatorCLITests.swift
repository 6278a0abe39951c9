// `tweedie psf`, `tweedie simulate` and `tweedie operator apply|adjoint|check` run as
// processes: an analytic PSF against its closed form, the M51 star PSF, a simulated
// observation through resampling at z = 0.3 and a Moffat PSF at 0.168″/px (m from
// astropy, the noise level, the adjoint identity through files), and one clear error
// with no output file for each kind of bad input (DESIGN §8).
import Foundation
import Testing
import TweedieCore

@Suite struct OperatorCLITests {
    /// A w×h image (one band per entry of `bands`) holding a smooth blob.
    static func writeTruth(_ path: String, size: Int, bands: Int = 1) throws {
        var x = ImageBatch(count: 1, shape: ImageShape(channels: bands, height: size, width: size))
        for c in 0..<bands { for y in 0..<size { for xx in 0..<size {
            let dy = Double(y - size / 2) + 0.3, dx = Double(xx - size / 2) - 0.7
            x[0, c, y, xx] = Float(10 * exp(-(dx * dx + 0.5 * dy * dy) / 40) + 0.5 * Double(c))
        } } }
        try FITSWriter.write(x, to: path)
    }

    @Test func analyticMoffatPSF() throws {
        let dir = try CLIRunner.temporaryDirectory(); defer { CLIRunner.removeDirectory(dir) }
        let out = dir.appendingPathComponent("psf.fits").path
        let r = try CLIRunner.run(["psf", "--moffat-fwhm", "0.6", "--beta", "3", "--pixel-scale", "0.168", "--size", "41", "-o", out])
        #expect(r.status == 0 && r.stderr.isEmpty, "\(r)")
        let psf = try FITSReader.read(out)
        #expect(psf.shape == ImageShape(channels: 1, height: 41, width: 41))
        #expect(abs(psf.data.reduce(0.0) { $0 + Double($1) } - 1) < 1e-5)
        // Moffat closed form (1 + r²/α²)^(−3), integrated here over the pixels by 40×40
        // midpoint sums: the pixel 2 px right of the centre against the centre pixel.
        let alpha = 0.6 / (2 * (pow(2, 1 / 3.0) - 1).squareRoot()), p = 0.168
        func pixel(_ i: Int) -> Double {
            var acc = 0.0
            for a in 0..<40 { for b in 0..<40 {
                let dx = (Double(i) - 0.5 + (Double(a) + 0.5) / 40) * p, dy = (-0.5 + (Double(b) + 0.5) / 40) * p
                acc += pow(1 + (dx * dx + dy * dy) / (alpha * alpha), -3)
            } }
            return acc
        }
        let expected = pixel(2) / pixel(0)
        let ratio = Double(psf[0, 0, 20, 22] / psf[0, 0, 20, 20])
        #expect(abs(ratio - expected) / expected < 1e-3, "ratio \(ratio) vs \(expected)")
        #expect(psf.header?.string("PSFTYPE") == "moffat" && psf.header?.double("PSFBETA") == 3)
        #expect(psf.header?.double("PIXSCALE") == 0.168 && psf.header?.int("PSFCTR1") == 21)
        #expect(psf.header?.string("TWCMD")?.contains("--moffat-fwhm") == true)
    }

    @Test func psfFromTheStarsOfM51() throws {
        let dir = try CLIRunner.temporaryDirectory(); defer { CLIRunner.removeDirectory(dir) }
        let out = dir.appendingPathComponent("psf.fits").path
        let r = try CLIRunner.run(["psf", "--from-stars", "../shared/data/real/m51_kpno_B_devpix.fits", "--pixel-scale", "0.766",
                                   "-o", out])
        #expect(r.status == 0 && r.stderr.isEmpty, "\(r)")
        #expect(r.stdout.contains("bad rows (1-based) 110"), "\(r)")
        let psf = try FITSReader.read(out)
        let h = try #require(psf.header)
        let fwhm = try #require(h.double("PSFFWHMP")), beta = try #require(h.double("PSFBETA"))
        #expect(fwhm >= 2.2 && fwhm <= 2.7 && beta >= 2.5 && beta <= 4.5, "\(r.stdout)")
        #expect((h.int("NSTARS") ?? 0) >= 6)
        #expect(abs((h.double("PSFFWHM") ?? 0) - fwhm * 0.766) < 1e-9)
        #expect(psf.shape.width % 2 == 1 && psf.shape.height == psf.shape.width)
        #expect(abs(psf.data.reduce(0.0) { $0 + Double($1) } - 1) < 1e-5)
        #expect(r.stdout.contains("″ at 0.766″/px"))
    }

    @Test func simulateThenCheckThroughRedshiftAndMoffat() throws {
        let dir = try CLIRunner.temporaryDirectory(); defer { CLIRunner.removeDirectory(dir) }
        let truth = dir.appendingPathComponent("truth.fits").path, obs = dir.appendingPathComponent("obs.fits").path
        let clean = dir.appendingPathComponent("clean.fits").path, back = dir.appendingPathComponent("back.fits").path
        let spec = dir.appendingPathComponent("hsc.yaml").path
        try Self.writeTruth(truth, size: 64)
        try """
        prior: {size: 64, pixel_scale_kpc: 0.4}
        chain:
          - resample: {redshift: 0.3, pixel_scale: 0.168}
          - psf: {moffat_fwhm: 0.6, beta: 3, size: 15}
        """.write(toFile: spec, atomically: true, encoding: .utf8)
        // m = round(64 · θ / 0.168), θ = 0.4 kpc / D_A(0.3) = 0.086981″ with D_A = 948.550 Mpc
        // (astropy FlatLambdaCDM(H0=67.66, Om0=0.30966, Tcmb0=0)): 33.14 → 33.
        let m = 33
        let sim = try CLIRunner.run(["simulate", "--spec", spec, "--truth", truth, "--sigma", "0.05", "--seed", "3", "-o", obs])
        #expect(sim.status == 0 && !sim.stderr.contains("error"), "\(sim)")
        let y = try FITSReader.read(obs)
        #expect(y.shape == ImageShape(channels: 1, height: m, width: m))
        #expect(y.header?.double("NOISESIG") == 0.05 && y.header?.int("SEED") == 3 && y.header?.double("PIXSCALE") == 0.168)

        let check = try CLIRunner.run(["operator", "check", "--spec", spec])
        #expect(check.status == 0, "\(check)")
        #expect(check.stdout.contains("m(z,p) = \(m)×\(m)") && check.stdout.contains("1×64×64 → 1×\(m)×\(m)"), "\(check)")
        #expect(check.stdout.contains("PASS"), "\(check)")

        // The noise: y − A x has the requested σ.
        let a = try CLIRunner.run(["operator", "apply", "--spec", spec, "--input", truth, "-o", clean])
        #expect(a.status == 0, "\(a)")
        // An existing output is refused (untouched) unless --overwrite.
        let before = try Data(contentsOf: URL(fileURLWithPath: clean))
        let again = try CLIRunner.run(["operator", "apply", "--spec", spec, "--input", truth, "-o", clean])
        #expect(again.status != 0 && again.stderr.contains("--overwrite"), "\(again)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: clean)) == before)
        let replaced = try CLIRunner.run(["operator", "apply", "--spec", spec, "--input", truth, "-o", clean, "--overwrite"])
        #expect(replaced.status == 0, "\(replaced)")
        let ax = try FITSReader.read(clean)
        var s2 = 0.0
        for j in y.data.indices { let d = Double(y.data[j] - ax.data[j]); s2 += d * d }
        #expect(abs((s2 / Double(m * m)).squareRoot() - 0.05) < 0.05 * 0.1)
        // The adjoint through files: ⟨A x, y⟩ = ⟨x, Aᵀ y⟩.
        let b = try CLIRunner.run(["operator", "adjoint", "--spec", spec, "--input", obs, "-o", back])
        #expect(b.status == 0, "\(b)")
        let aty = try FITSReader.read(back), x = try FITSReader.read(truth)
        #expect(aty.shape == x.shape)
        var lhs = 0.0, rhs = 0.0
        for j in y.data.indices { lhs += Double(ax.data[j]) * Double(y.data[j]) }
        for j in x.data.indices { rhs += Double(x.data[j]) * Double(aty.data[j]) }
        #expect(abs(lhs - rhs) / abs(lhs) < 1e-5, "\(lhs) vs \(rhs)")
    }

    /// A random-groups file whose parameters are BASELINE and DATE only (no UU/VV),
    /// written card by card (FITS: 80-character ASCII cards in 2880-byte blocks, big-endian data).
    static func writeUVFITSWithoutUV(_ path: String) throws {
        func card(_ k: String, _ v: String) -> String {
            (k.padding(toLength: 8, withPad: " ", startingAt: 0) + "= " + String(repeating: " ", count: max(0, 20 - v.count)) + v)
                .padding(toLength: 80, withPad: " ", startingAt: 0)
        }
        func str(_ s: String) -> String { "'" + s.padding(toLength: max(8, s.count), withPad: " ", startingAt: 0) + "'" }
        var cards = [card("SIMPLE", "T"), card("BITPIX", "-32"), card("NAXIS", "7"), card("NAXIS1", "0")]
        for (k, n) in [3, 1, 1, 1, 1, 1].enumerated() { cards.append(card("NAXIS\(k + 2)", "\(n)")) }
        cards += [card("EXTEND", "T"), card("GROUPS", "T"), card("PCOUNT", "2"), card("GCOUNT", "2"),
                  card("PTYPE1", str("BASELINE")), card("PTYPE2", str("DATE"))]
        for (k, (t, v)) in [("COMPLEX", "1."), ("STOKES", "-1."), ("FREQ", "8.0E9"), ("IF", "1."), ("RA", "10."), ("DEC", "2.")].enumerated() {
            cards += [card("CTYPE\(k + 2)", str(t)), card("CRVAL\(k + 2)", v), card("CDELT\(k + 2)", "1."), card("CRPIX\(k + 2)", "1.")]
        }
        cards.append("END".padding(toLength: 80, withPad: " ", startingAt: 0))
        var header = cards.joined()
        header += String(repeating: " ", count: (2880 - header.count % 2880) % 2880)
        var data = Data(header.utf8)
        var payload = Data()
        for v: Float in [258, 2447704.5, 1, 0, 1, 258, 2447704.5, 1, 0, 1] {
            withUnsafeBytes(of: v.bitPattern.bigEndian) { payload.append(contentsOf: $0) }
        }
        payload.append(Data(count: 2880 - payload.count))
        data.append(payload)
        try data.write(to: URL(fileURLWithPath: path))
    }

    @Test func badInputGivesOneErrorAndNoFile() throws {
        let dir = try CLIRunner.temporaryDirectory(); defer { CLIRunner.removeDirectory(dir) }
        func path(_ n: String) -> String { dir.appendingPathComponent(n).path }
        let out = path("out.fits")
        try Self.writeTruth(path("t16.fits"), size: 16)
        try Self.writeTruth(path("t16x2.fits"), size: 16, bands: 2)
        try FITSWriter.write(ImageBatch(count: 1, shape: ImageShape(channels: 1, height: 5, width: 5)), to: path("zero.fits"))
        try FITSWriter.write(ImageBatch(count: 1, shape: ImageShape(channels: 1, height: 32, width: 32), repeating: .nan),
                             to: path("nan.fits"))
        try "hello, not FITS\n".write(toFile: path("notfits.fits"), atomically: true, encoding: .utf8)
        try "# observatory=ALMA\n10 20 0 12\n30 40 0 12\n".write(toFile: path("bad.cfg"), atomically: true, encoding: .utf8)
        try Self.writeUVFITSWithoutUV(path("nouv.uvfits"))
        let specs = [
            "big.yaml": "prior: {size: 16, pixel_scale_arcsec: 0.2}\nchain:\n  - psf: {gaussian_fwhm: 0.5, size: 21}\n",
            "zero.yaml": "prior: {size: 16}\nchain:\n  - psf: {file: zero.fits}\n",
            "z0.yaml": "prior: {size: 16, pixel_scale_kpc: 0.4}\nchain:\n  - resample: {redshift: 0, pixel_scale: 0.168}\n",
            "ok.yaml": "prior: {size: 16, pixel_scale_arcsec: 0.2}\nchain:\n  - psf: {gaussian_fwhm: 0.5, size: 9}\n",
        ]
        for (name, text) in specs { try text.write(toFile: path(name), atomically: true, encoding: .utf8) }
        let cases: [([String], String)] = [
            (["simulate", "--spec", path("big.yaml"), "--truth", path("t16.fits"), "--sigma", "1", "-o", out],
             "larger than the 16×16 image"),
            (["operator", "apply", "--spec", path("zero.yaml"), "--input", path("t16.fits"), "-o", out], "non-positive sum"),
            (["simulate", "--spec", path("ok.yaml"), "--truth", path("t16.fits"), "--sigma", "0", "-o", out],
             "--sigma: the noise σ must be a positive finite number"),
            (["simulate", "--spec", path("ok.yaml"), "--truth", path("t16.fits"), "--sigma", "-2", "-o", out],
             "--sigma: the noise σ must be a positive finite number"),
            (["simulate", "--spec", path("z0.yaml"), "--truth", path("t16.fits"), "--sigma", "1", "-o", out],
             "redshift z: must be > 0"),
            (["simulate", "--spec", path("ok.yaml"), "--truth", path("t16x2.fits"), "--sigma", "1", "-o", out],
             "(band count) vs the operator's input"),
            (["operator", "adjoint", "--spec", path("ok.yaml"), "--input", path("t16x2.fits"), "-o", out], "band count"),
            (["uv", "--config", path("bad.cfg"), "--dec", "-30", "--ha-range", "-1,1", "--freq", "230e9", "--size", "64",
              "--cell", "0.1", "-o", out], "unknown format"),
            (["uv", "--uvfits", path("nouv.uvfits"), "--size", "64", "--cell", "0.2", "-o", out], "no u, v coordinates"),
            (["psf", "--from-stars", path("notfits.fits"), "-o", out], "not a FITS file"),
            (["operator", "apply", "--spec", path("ok.yaml"), "--input", path("notfits.fits"), "-o", out], "not a FITS file"),
            (["psf", "--from-stars", path("nan.fits"), "-o", out], "no finite pixels"),
            (["psf", "--gaussian-fwhm", "0.7", "--pixel-scale", "0.2", "--size", "0", "-o", out], "PSF size"),
        ]
        for (args, text) in cases {
            let r = try CLIRunner.run(args)
            #expect(r.status != 0, "\(args): \(r)")
            #expect(r.stderr.contains(text), "\(args): \(r)")
            let errorLines = r.stderrLines.filter { $0.hasPrefix("error: ") }
            #expect(errorLines.count == 1 && r.stderrLines.count == 1, "\(args): \(r)")
            #expect(!FileManager.default.fileExists(atPath: out), "\(args)")
        }
    }
}
