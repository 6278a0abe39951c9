// `tweedie info` run as a process: the real KPNO image's numbers (checked
// independently with astropy / numpy: Tests/TweedieCoreTests/Fixtures/
// make_reference_values.py → reference_values.json), and one-line errors.
import Foundation
import Testing
import TweedieCore

@Suite struct InfoCommandTests {
    static let m51 = "../shared/data/real/m51_kpno_B_devpix.fits"

    /// The value after `label` on the report line starting with `line`.
    static func field(_ report: String, line: String, _ label: String) -> Double? {
        guard let l = report.split(separator: "\n").first(where: { $0.hasPrefix(line) }),
              let r = l.range(of: label + " ") else { return nil }
        let rest = l[r.upperBound...].prefix { !",( ".contains($0) }
        return Double(rest)
    }

    @Test func reportsTheKPNOImage() throws {
        let refData = try Data(contentsOf: URL(fileURLWithPath: CLIRunner.coreFixture("reference_values.json")))
        let ref = (try JSONSerialization.jsonObject(with: refData) as! [String: Any])["m51"] as! [String: Any]
        let r = try CLIRunner.run(["info", Self.m51])
        #expect(r.status == 0 && r.stderr.isEmpty, "\(r)")
        let out = r.stdout
        #expect(out.contains("512 × 512"), "\(out)")
        #expect(out.split(separator: "\n").contains { $0.hasPrefix("BITPIX") && $0.contains(" 16 (16-bit integer)") })
        #expect(Self.field(out, line: "statistics", "min") == -1)
        #expect(Self.field(out, line: "statistics", "max") == 19936)
        #expect(Self.field(out, line: "statistics", "median") == 88)
        let sigma = try #require(Self.field(out, line: "statistics", "robust σ"))
        #expect(abs(sigma - 46) < 0.5 && abs(sigma - (ref["robust_sigma"] as! Double)) < 1e-3, "σ = \(sigma)")
        #expect(Self.field(out, line: "statistics", "NaN") == 0)
        #expect(ref["min"] as! Double == -1 && ref["max"] as! Double == 19936 && ref["median"] as! Double == 88)
    }

    @Test func reportsCubeBandsUnitAndWCS() throws {
        let r = try CLIRunner.run(["info", CLIRunner.coreFixture("cube3.fits")])
        #expect(r.status == 0, "\(r)")
        #expect(r.stdout.contains("bands       3: g, r, i") || r.stdout.contains("3: g, r, i"))
        #expect(r.stdout.contains("nanomaggy"))
        #expect(r.stdout.contains("CRVAL 202.4696, 47.1952") && r.stdout.contains("pixel scale 0.168″ × 0.168″"))
        // One statistics line per band; band r is 100 + x + y/2 over 12 × 9: min 100, max 115, median 107.5.
        #expect(Self.field(r.stdout, line: "stats r", "min") == 100 && Self.field(r.stdout, line: "stats r", "max") == 115)
        #expect(Self.field(r.stdout, line: "stats r", "median") == 107.5)
    }

    @Test func hduByNameOrNumber() throws {
        let path = CLIRunner.coreFixture("extensions.fits")
        let byName = try CLIRunner.run(["info", path, "--hdu", "ERR"])
        let byNumber = try CLIRunner.run(["info", path, "--hdu", "2"])
        #expect(byName.status == 0 && byName.stdout == byNumber.stdout, "\(byName)")
        #expect(byName.stdout.contains("HDU         2 ERR"))
    }

    @Test func badInputGivesOneErrorLine() throws {
        let fixtures: [(args: [String], file: String, words: [String])] = [
            (["info", "no/such/file.fits"], "no/such/file.fits", ["no such file"]),
            (["info", CLIRunner.coreFixture("notfits.fits")], CLIRunner.coreFixture("notfits.fits"), ["not a FITS file"]),
            (["info", CLIRunner.coreFixture("truncated.fits")], CLIRunner.coreFixture("truncated.fits"), ["truncated"]),
            (["info", CLIRunner.coreFixture("empty.fits")], CLIRunner.coreFixture("empty.fits"), ["NAXIS = 0"]),
            (["info", CLIRunner.coreFixture("extensions.fits"), "--hdu", "0"], CLIRunner.coreFixture("extensions.fits"),
             ["HDU 0", "empty", "NAXIS = 0"]),
            (["info", CLIRunner.coreFixture("extensions.fits"), "--hdu", "NOPE"], CLIRunner.coreFixture("extensions.fits"),
             ["no HDU named 'NOPE'"]),
        ]
        for f in fixtures {
            let r = try CLIRunner.run(f.args)
            #expect(r.status != 0, "\(f.args): \(r)")
            #expect(r.stdout.isEmpty, "\(f.args): \(r)")
            #expect(r.stderrLines.count == 1, "\(f.args): \(r)")
            let line = r.stderrLines.first ?? ""
            #expect(line.hasPrefix("error: \(f.file): "), "\(line)")
            for w in f.words { #expect(line.contains(w), "'\(line)' should mention '\(w)'") }
        }
    }

    @Test func helpAndVersion() throws {
        for args in [["--help"], ["info", "--help"], ["preview", "--help"]] {
            let r = try CLIRunner.run(args)
            #expect(r.status == 0 && r.stdout.contains("USAGE:"), "\(args): \(r)")
        }
        #expect(try CLIRunner.run(["--help"]).stdout.contains("info"))
        #expect(try CLIRunner.run(["info", "--help"]).stdout.contains("--hdu"))
        let v = try CLIRunner.run(["--version"])
        #expect(v.status == 0 && v.stdout.trimmingCharacters(in: .whitespacesAndNewlines).range(of: #"^\d+\.\d+\.\d+"#, options: .regularExpression) != nil)
    }

    /// A linear WCS with blank CTYPE and CDELT = 1 (pixel units, as an NTT/EMMI image carries) has
    /// no sky scale: no arcsec figure, where the old reader printed 3600″ per pixel.
    @Test func linearWCSHasNoSkyScale() throws {
        let dir = try CLIRunner.temporaryDirectory(); defer { CLIRunner.removeDirectory(dir) }
        let path = dir.appendingPathComponent("linear.fits").path
        let header = FITSHeader(cards: ["CTYPE1", "CTYPE2"].map { FITSCard(keyword: $0, value: .string("")) }
            + ["CRVAL1", "CRVAL2", "CRPIX1", "CRPIX2", "CDELT1", "CDELT2"].map { FITSCard(keyword: $0, value: .double(1)) })
        try FITSWriter.write(ImageBatch(count: 1, shape: ImageShape(channels: 1, height: 8, width: 8), header: header), to: path)
        let r = try CLIRunner.run(["info", path])
        #expect(r.status == 0, "\(r)")
        #expect(r.stdout.contains("no sky scale") && !r.stdout.contains("″") && !r.stdout.contains("3600"), "\(r.stdout)")
    }
}
