// Every FITS file the CLI writes, opened by astropy (scripts/check_fits_astropy.py) with every
// warning an error: `sample` (a 2-band observation with a TAN WCS, resampled 2× and convolved),
// `simulate` and `operator apply` (a truth with a TAN WCS), `clean` and `uv` on the real VLA 3C273
// UVFITS, `psf`, `prior sample` and `prior variance`.
// Oracles, independent of Tweedie's WCS code:
// - the field mapping of the operator chain: prior pixel k (0-based) covers observed pixel
//   (k + 0.5)·r − 0.5 with r = observed/prior pixels, so astropy's sky position of a product pixel
//   must be astropy's sky position of that observed pixel (within 0.01 px);
// - 3C273's ICRS position (RA 12h29m06.6997s, Dec +02°03′08.598″): the bright core of the clean
//   image of the B1950 UVFITS, converted by astropy from the file's frame, lies within 1″.
// Needs python3 with astropy (Notebooks/requirements.txt, installed by scripts/setup-python.sh,
// which `make test` runs); without them the test fails and says so.
import Foundation
import Testing
import TweedieCore

@Suite(.serialized) struct AstropyReadsOutputsTests {
    static let prior = "gaussian:n=16,channels=2,amplitude=1,slope=3,k0=0.1"
    static let spec = """
        prior: {size: 16, pixel_scale_arcsec: 0.1, channels: 2}
        chain:
          - resample: {pixel_scale: 0.2}
          - psf: {gaussian_fwhm: 0.5, size: 5, boundary: periodic}
        """

    /// A 2-band image of `size`² pixels of `scaleArcsec` with a TAN WCS near M51 and the
    /// identity keywords an observation carries; pure noise of σ 0.1 (seed `seed`).
    static func image(size: Int, scaleArcsec: Double, seed: UInt64) throws -> ImageBatch {
        let deg = scaleArcsec / 3600
        let header = FITSHeader(cards: [
            FITSCard(keyword: "CTYPE1", value: .string("RA---TAN")), FITSCard(keyword: "CTYPE2", value: .string("DEC--TAN")),
            FITSCard(keyword: "CRPIX1", value: .double(Double(size) / 2 + 0.5)), FITSCard(keyword: "CRPIX2", value: .double(Double(size) / 2)),
            FITSCard(keyword: "CRVAL1", value: .double(202.4696)), FITSCard(keyword: "CRVAL2", value: .double(47.1952)),
            FITSCard(keyword: "CD1_1", value: .double(-deg)), FITSCard(keyword: "CD1_2", value: .double(0)),
            FITSCard(keyword: "CD2_1", value: .double(0)), FITSCard(keyword: "CD2_2", value: .double(deg)),
            FITSCard(keyword: "OBJECT", value: .string("M51 ζ-field")), FITSCard(keyword: "FILTER", value: .string("g,r")),
            FITSCard(keyword: "TELESCOP", value: .string("Subaru")), FITSCard(keyword: "EXPTIME", value: .double(30)),
            FITSCard(keyword: "DATE-OBS", value: .string("2020-01-02T03:04:05")),
        ])
        let n = 2 * size * size
        let data = SampleStream(seed: seed, index: 0).normals(n).map { $0 * 0.1 }
        return try ImageBatch(count: 1, shape: ImageShape(channels: 2, height: size, width: size), data: data,
                              bands: ["g", "r"], unit: "nanomaggy", header: header)
    }

    /// One file's checks for the script: a sky check of product pixel (3, 5) against the source
    /// pixel the field mapping puts under it (r source pixels per product pixel).
    static func mapped(_ path: String, source: String, r: Double, celestial: Bool = true) -> [String: Any] {
        let k = [3.0, 5.0]
        return ["path": path, "celestial": celestial,
                "sky": [["hdu": 0, "pixel": k, "reference": ["path": source, "hdu": 0, "pixel": k.map { ($0 + 0.5) * r - 0.5 }]]]]
    }

    @Test func astropyReadsEveryOutputWithoutWarnings() throws {
        let dir = try CLIRunner.temporaryDirectory(); defer { CLIRunner.removeDirectory(dir) }
        func path(_ name: String) -> String { dir.appendingPathComponent(name).path }
        try Self.spec.write(toFile: path("spec.yaml"), atomically: true, encoding: .utf8)
        var observation = try Self.image(size: 8, scaleArcsec: 0.2, seed: 1)
        observation.data[2 * 8 + 5] = .nan  // a masked pixel: band g, x = 5, y = 2
        try FITSWriter.write(observation, to: path("obs.fits"))
        try FITSWriter.write(try Self.image(size: 16, scaleArcsec: 0.1, seed: 2), to: path("truth.fits"))
        let uvfits = "../shared/data/real/vla_3C273_Xband_C.uvfits"

        let runs: [[String]] = [
            ["sample", "--prior", Self.prior, "--observation", path("obs.fits"), "--spec", path("spec.yaml"), "--sigma", "0.1",
             "--sampler", "dps", "--steps", "20", "--samples", "4", "--seed", "3", "--keep-samples", "--quiet", "--background", "0.25",
             "-o", path("post")],
            ["simulate", "--spec", path("spec.yaml"), "--truth", path("truth.fits"), "--sigma", "0.1", "--seed", "5", "-o", path("sim.fits")],
            ["clean", "--uvfits", uvfits, "--size", "256", "--cell", "0.2", "--weighting", "uniform", "-o", path("clean.fits")],
            ["uv", "--uvfits", uvfits, "--size", "128", "--cell", "0.2", "-o", path("dirty.fits")],
            ["psf", "--moffat-fwhm", "0.6", "--beta", "3", "--pixel-scale", "0.168", "--size", "41", "-o", path("psf.fits")],
            ["prior", "sample", "--prior", Self.prior, "--samples", "2", "--steps", "2", "-o", path("prior.fits")],
            ["prior", "variance", "--prior", Self.prior, "--samples", "3", "--steps", "2", "-o", path("variance.fits")],
            ["operator", "apply", "--spec", path("spec.yaml"), "--input", path("truth.fits"), "-o", path("applied.fits")],
        ]
        for arguments in runs {
            let r = try CLIRunner.run(arguments)
            #expect(r.status == 0, "tweedie \(arguments.joined(separator: " ")): \(r)")
        }

        // 3C273, ICRS (NED / VLBI): 12h29m06.6997s +02°03′08.598″.
        let core: [String: Any] = ["hdu": "RESTORED", "ra": 187.2779154, "dec": 2.0523883, "tolerance_arcsec": 1.0]
        var files: [[String: Any]] = ["mean.fits", "std.fits", "variance_ratio.fits", "samples.fits"].map {
            Self.mapped(path("post/" + $0), source: path("obs.fits"), r: 0.5)
        }
        files.append(Self.mapped(path("post/residual.fits"), source: path("obs.fits"), r: 1))
        files.append(Self.mapped(path("sim.fits"), source: path("truth.fits"), r: 2))
        files.append(["path": path("clean.fits"), "celestial": true, "source": core])
        files.append(["path": path("dirty.fits")])
        files.append(["path": path("psf.fits"), "celestial": false])
        files.append(["path": path("prior.fits"), "celestial": false])
        files.append(["path": path("variance.fits"), "celestial": false])
        files.append(Self.mapped(path("applied.fits"), source: path("truth.fits"), r: 2))
        let checks = try JSONSerialization.data(withJSONObject: ["files": files], options: [.prettyPrinted])
        try checks.write(to: dir.appendingPathComponent("checks.json"))

        let result = try Self.python(["scripts/check_fits_astropy.py", path("checks.json")])
        #expect(result.status != 2, "python3 with astropy is needed (scripts/setup-python.sh): \(result.output)")
        #expect(result.status == 0, "astropy rejects Tweedie's outputs:\n\(result.output)")
        #expect(result.output.split(separator: "\n").filter { $0.hasPrefix("OK ") }.count == files.count, "\(result.output)")

        // Carried identity keywords, ASCII spellings (ζ in OBJECT, the sampler's ζ and σ²), the whole operator string.
        let mean = try FITSReader.read(path("post/mean.fits"))
        let h = try #require(mean.header)
        #expect(h.string("OBJECT") == "M51 zeta-field" && h.string("FILTER") == "g,r" && h.string("TELESCOP") == "Subaru")
        #expect(h.double("EXPTIME") == 30 && h.string("DATE-OBS") == "2020-01-02T03:04:05" && mean.unit == "nanomaggy")
        #expect((h.string("TWOPER") ?? "").hasSuffix("periodic boundary)"), "TWOPER \(h.string("TWOPER") ?? "none")")
        #expect(h.cards.allSatisfy { $0.comment.allSatisfy(\.isASCII) && $0.value.description.allSatisfy(\.isASCII) })
        #expect(h.string("TWSIGMA") == "0.1,0.1" && h.int("TWMASKED") == 1)
        #expect(h.string("TWSKYMTH") == "given" && h.string("TWSKY") == "0.25,0.25", "\(h.string("TWSKY") ?? "no TWSKY")")
        let sampler = try #require(h.card("TWSAMPLR"))
        #expect(sampler.comment.contains("zeta=") && !sampler.comment.contains("?"), "TWSAMPLR comment \(sampler.comment)")
        // The masked pixel is NaN in residual.fits (not 0, a perfect fit), every other value finite.
        let residual = try FITSReader.read(path("post/residual.fits"))
        #expect(residual[0, 0, 2, 5].isNaN && residual.data.filter { !$0.isFinite }.count == 1)
        // The clean image keeps the UVFITS frame and identity: B1950 FK4, 3C273, VLA, 1989-06-27.
        let restored = try #require(try FITSReader.read(path("clean.fits"), hdu: .name("RESTORED")).header)
        #expect(restored.string("RADESYS") == "FK4" && restored.double("EQUINOX") == 1950)
        #expect(restored.string("OBJECT") == "3C273" && restored.string("TELESCOP") == "VLA" && restored.string("DATE-OBS") == "1989-06-27")
    }

    /// Runs python3 with `arguments` in the repository root; status and stdout + stderr.
    static func python(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3"] + arguments
        process.currentDirectoryURL = CLIRunner.repositoryRoot
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        do { try process.run() } catch {
            throw TweedieError.invalidInput(what: "python3", problem: "cannot be started (\(error)); install python3 and scripts/setup-python.sh")
        }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
