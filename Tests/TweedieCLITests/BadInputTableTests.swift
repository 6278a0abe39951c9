// The bad-input table of issue 24: each row is a command line run as a process in a directory of
// prepared inputs (damaged and hostile FITS files, specs with wrong values, empty and garbage
// YAML), and must end with a non-zero exit that is not a crash (< 128), exactly one error line
// holding the expected words, and the directory exactly as it was (no new file, no changed one).
// The per-command tables (InfoCommandTests, OperatorCLITests, AnalysisCommandTests,
// PriorSamplingCommandTests, SampleCommandTests, UVCommandTests) hold the earlier cases. The
// flows that need more than one command — a refused spec followed by the corrected one, a second
// process on a run directory, a run stopped before its first checkpoint — follow the table.
import Foundation
import Testing
import TweedieCore

@Suite(.serialized) struct BadInputTableTests {
    struct Row: CustomStringConvertible {
        var arguments: [String]
        var message: String
        var description: String { arguments.joined(separator: " ") }
        init(_ arguments: [String], _ message: String) { self.arguments = arguments; self.message = message }
    }

    /// Writes the inputs the rows read into `dir`.
    static func prepare(_ dir: URL) throws {
        func path(_ n: String) -> String { dir.appendingPathComponent(n).path }
        func bytes(_ fixture: String) throws -> [UInt8] { try [UInt8](Data(contentsOf: URL(fileURLWithPath: CLIRunner.coreFixture(fixture)))) }
        try AnalysisCommandTests.writeSources(path("stars.fits"))
        try SampleCommandTests.makeProblem(in: dir)
        var huge = try bytes("bitpix_m32.fits")
        #expect(Self.setCard(&huge, "NAXIS1", "9223372036854775807"))
        try Data(huge).write(to: URL(fileURLWithPath: path("huge.fits")))
        var znaxis = try bytes("compressed.fits")
        for key in ["ZNAXIS1", "ZNAXIS2"] { #expect(Self.setCard(&znaxis, key, "9111001500")) }
        for key in ["ZTILE1", "ZTILE2"] { #expect(Self.setCard(&znaxis, key, "3037000500")) }
        try Data(znaxis).write(to: URL(fileURLWithPath: path("znaxis.fits")))
        var crpix = try bytes("bitpix_m32.fits")
        #expect(Self.insertBeforeEnd(&crpix, "CRPIX2  =                 8.0j"))
        try Data(crpix).write(to: URL(fileURLWithPath: path("crpix.fits")))
        try FITSWriter.write(ImageBatch(count: 1, shape: ImageShape(channels: 1, height: 16, width: 16), repeating: .nan),
                             to: path("allnan.fits"))
        try FITSWriter.write(ImageBatch(count: 1, shape: ImageShape(channels: 1, height: 16, width: 16), repeating: 1),
                             to: path("existing.fits"))
        let texts = [
            "lots.yaml": """
                name: lots
                prior: "\(SampleCommandTests.priorSpec)"
                truths: truths.fits
                fixed: {psf: gaussian, psf_fwhm: 2.5, sampler: split-gibbs, samples: "lots"}
                grid: {sigma: [0.1]}
                """,
            "toomany.yaml": """
                name: toomany
                prior: "\(SampleCommandTests.priorSpec)"
                truths: truths.fits
                fixed: {psf: gaussian, psf_fwhm: 2.5, sampler: split-gibbs, samples: 1000000000}
                grid: {sigma: [0.1]}
                """,
            "empty.yaml": "# nothing but a comment\n",
            "garbage.yaml": "name: [unclosed\nfixed: {a: 1\n",
            "wrongtype.yaml": "name: x\nprior: \"\(SampleCommandTests.priorSpec)\"\nfixed: 5\n",
            "binary.yaml": "\u{1}\u{2}GARBAGE\u{7f}: : :\n",
        ]
        for (name, text) in texts { try text.write(toFile: path(name), atomically: true, encoding: .utf8) }
        // A run directory made by a run killed before it wrote anything.
        try FileManager.default.createDirectory(atPath: path("emptyrun"), withIntermediateDirectories: true)
    }

    static func rows(_ dir: URL) -> [Row] {
        func path(_ n: String) -> String { dir.appendingPathComponent(n).path }
        let sample = ["sample", "--prior", SampleCommandTests.priorSpec, "--observation", path("obs.fits"),
                      "--spec", path("spec.yaml"), "--sigma", "0.05", "--quiet", "-o", path("run")]
        let clean = ["clean", "--cfg", "../shared/data/antennas/vla.c.cfg", "--dec", "30", "--ha-range=-1,1", "--freq", "8e9",
                     "--sky", path("stars.fits"), "--size", "64", "--cell", "0.5", "-o", path("clean.fits")]
        return [
            // The overflow crash: every command that reads the image.
            Row(["info", path("huge.fits")], "declares a data size beyond any file"),
            Row(["preview", path("huge.fits"), "-o", path("p.png")], "declares a data size beyond any file"),
            Row(["sources", path("huge.fits"), "-o", path("cat.csv")], "declares a data size beyond any file"),
            Row(["info", path("znaxis.fits")], "more than any image Tweedie can hold"),
            // Unparsable numbers, all-NaN images, overwriting.
            Row(["info", path("crpix.fits")], "card CRPIX2 = '8.0j' is not a number"),
            Row(["preview", path("allnan.fits"), "-o", path("p.png")], "has no finite pixel"),
            Row(["operator", "apply", "--spec", path("spec.yaml"), "--input", path("existing.fits"), "-o", path("existing.fits")],
                "exists; give --overwrite to replace it"),
            // Numeric options: negative values reach the option's own check; bounds name the value.
            Row(["prior", "sample", "--prior", SampleCommandTests.priorSpec, "--samples", "-5", "-o", path("s.fits")],
                "--samples must be > 0 (got -5)"),
            Row(["prior", "sample", "--prior", SampleCommandTests.priorSpec, "--samples", "4000000000", "-o", path("s.fits")],
                "GiB in memory"),
            Row(sample + ["--samples", "-3"], "--samples must be ≥ 1, got -3"),
            Row(sample + ["--samples", "1000000000"], "--samples 1000000000 is more than the 1000000 a run takes"),
            Row(sample + ["--batch", "-2"], "--batch must be ≥ 1, got -2"),
            Row(["sources", path("stars.fits"), "--min-pixels", "-1"], "--min-pixels"),
            Row(["sources", path("stars.fits"), "--threshold", "-2"], "--threshold must be > 0"),
            Row(["psf", "--from-stars", path("stars.fits"), "--threshold", "-1", "-o", path("psf.fits")], "--threshold must be > 0 (in units of σ), got -1.0"),
            Row(["sample", "--resume", path("emptyrun")], "its run stopped before it began and recorded nothing to resume; start it again with -o"),
            Row(clean + ["--max-iterations", "-1"], "--max-iterations must be ≥ 0, got -1"),
            // --box in FITS pixels (1-based, inclusive): 0 and N + 1 are outside.
            Row(clean + ["--box", "0,0,10,10"], "1 ≤ X0 ≤ X1 ≤ 64"),
            Row(clean + ["--box", "1,1,65,10"], "1 ≤ X0 ≤ X1 ≤ 64"),
            // Study and calibration specs: values named as the spec's, YAML errors with a line.
            Row(["study", "run", path("lots.yaml"), "-o", path("study")], "study parameter samples: must be a number, got 'lots'"),
            Row(["study", "run", path("toomany.yaml"), "-o", path("study")], "study parameter samples 1000000000 is more than"),
            Row(["study", "run", path("empty.yaml"), "-o", path("study")], "is empty: a study spec is a YAML mapping"),
            Row(["study", "run", path("garbage.yaml"), "-o", path("study")], "is not valid YAML: line 2, column"),
            Row(["study", "run", path("wrongtype.yaml"), "-o", path("study")], "line 3: fixed: expected a mapping"),
            Row(["study", "run", path("binary.yaml"), "-o", path("study")], "line 1"),
            Row(["calibrate", path("empty.yaml"), "-o", path("cal")], "is empty"),
            Row(["calibrate", path("garbage.yaml"), "-o", path("cal")], "is not valid YAML: line 2, column"),
        ]
    }

    @Test func everyRowFailsInOneLineAndLeavesNothing() throws {
        let dir = try CLIRunner.temporaryDirectory(); defer { CLIRunner.removeDirectory(dir) }
        try Self.prepare(dir)
        let before = try Self.snapshot(dir)
        for row in Self.rows(dir) {
            let r = try CLIRunner.run(row.arguments)
            #expect(r.status != 0 && r.status < 128, "\(row): \(r)")
            let errors = r.stderrLines.filter { $0.hasPrefix("error: ") || $0.hasPrefix("Error: ") }
            #expect(errors.count == 1, "\(row): \(r)")
            #expect(errors.first?.contains(row.message) == true, "\(row): expected '\(row.message)' in \(r)")
            let after = try Self.snapshot(dir)
            #expect(after == before, "\(row) changed the directory: \(Set(after.keys).symmetricDifference(before.keys).sorted())")
        }
    }

    /// A spec refused for a wrong value leaves no study directory; a directory a refused or
    /// never-started spec did leave (spec.yaml, empty cases/) takes the corrected spec.
    @Test func aCorrectedStudySpecIsAccepted() throws {
        let dir = try CLIRunner.temporaryDirectory(); defer { CLIRunner.removeDirectory(dir) }
        try Self.prepare(dir)
        _ = try StudyCommandTests.makeStudy(in: dir)
        let out = dir.appendingPathComponent("study")
        let refused = try CLIRunner.run(["study", "run", dir.appendingPathComponent("lots.yaml").path, "-o", out.path])
        #expect(refused.status == 1 && !FileManager.default.fileExists(atPath: out.path), "\(refused)")
        // What an earlier version left behind: the refused spec's copy and an empty cases/.
        try FileManager.default.createDirectory(at: out.appendingPathComponent("cases"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: dir.appendingPathComponent("lots.yaml"), to: out.appendingPathComponent("spec.yaml"))
        let fixed = try String(contentsOf: dir.appendingPathComponent("lots.yaml"), encoding: .utf8)
            .replacingOccurrences(of: "samples: \"lots\"", with: "samples: 4, psf_size: 9, psf_pixel_scale: 1, truth: 0")
        let good = dir.appendingPathComponent("fixed.yaml")
        try fixed.write(to: good, atomically: true, encoding: .utf8)
        let r = try CLIRunner.run(["study", "run", good.path, "-o", out.path, "--quiet"])
        #expect(r.status == 0 && r.stdout.contains("1 of 1 cases finished"), "\(r)")
    }

    /// A second process on a run directory (`--resume` while the first still runs) is refused by
    /// the flock the first holds, naming its PID; a run stopped before its first checkpoint (only
    /// run.json and a temporary file in its directory) is resumed — started again — and its
    /// directory can also be given to -o.
    @Test func secondProcessAndEarlyStoppedRuns() throws {
        let dir = try CLIRunner.temporaryDirectory(); defer { CLIRunner.removeDirectory(dir) }
        try SampleCommandTests.makeProblem(in: dir)
        let args = SampleCommandTests.args(dir, "run", ["--sampler", "split-gibbs", "--samples", "2", "--gibbs-iterations", "2"])
        let first = try CLIRunner.run(args)
        #expect(first.status == 0, "\(first)")
        let run = dir.appendingPathComponent("run")

        let fd = try CLIRunner.holdLock(dir.appendingPathComponent("run.lock").path)
        let second = try CLIRunner.run(["sample", "--resume", run.path])
        close(fd)
        #expect(second.status == 1 && second.stderrLines.count == 1
                && second.stderr.contains("run directory \(run.path): is in use by another tweedie process (pid \(getpid())")
                && second.stderr.contains("wait for it or choose another -o"), "\(second)")

        for (name, resume) in [("early-resume", true), ("early-o", false)] {
            let early = dir.appendingPathComponent(name)
            try FileManager.default.createDirectory(at: early, withIntermediateDirectories: true)
            try FileManager.default.copyItem(at: run.appendingPathComponent("run.json"), to: early.appendingPathComponent("run.json"))
            try Data("partial".utf8).write(to: early.appendingPathComponent(".checkpoint.json.tmp-1-2"))
            let r = try CLIRunner.run(resume ? ["sample", "--resume", early.path]
                                             : SampleCommandTests.args(dir, name, ["--sampler", "split-gibbs", "--samples", "2", "--gibbs-iterations", "2"]))
            #expect(r.status == 0, "\(name): \(r)")
            #expect(FileManager.default.fileExists(atPath: early.appendingPathComponent("summary.json").path), "\(name)")
            #expect(!FileManager.default.fileExists(atPath: early.appendingPathComponent(".checkpoint.json.tmp-1-2").path), "\(name)")
        }
    }

    /// A handful of seeded header mutations (the library's fuzz test has hundreds) through the
    /// command: `info` either reports the file (exit 0) or prints one error line naming it (exit 1).
    @Test func mutatedHeadersThroughInfo() throws {
        let dir = try CLIRunner.temporaryDirectory(); defer { CLIRunner.removeDirectory(dir) }
        var state: UInt64 = 2024
        func next(_ n: Int) -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int((state >> 33) % UInt64(n))
        }
        let hostile = ["9223372036854775807", "-1", "0", "4294967296", "-9223372036854775808", "1E30"]
        for i in 0..<16 {
            var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: CLIRunner.coreFixture(["bitpix16.fits", "compressed.fits", "cube3.fits", "int32_blank.fits"][i % 4]))))
            switch next(4) {
            case 0: _ = Self.setCard(&bytes, ["NAXIS1", "NAXIS2", "ZNAXIS1", "NAXIS3"][next(4)], hostile[next(hostile.count)])
            case 1: _ = Self.setCard(&bytes, ["BITPIX", "ZBITPIX", "NAXIS"][next(3)], ["7", "-1", "999", "64", "-9223372036854775808"][next(5)])
            case 2: bytes = Array(bytes[0..<next(bytes.count)])
            default: for _ in 0..<4 { bytes[next(2880)] ^= UInt8(1 << next(8)) }
            }
            let path = dir.appendingPathComponent("m\(i).fits").path
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            let r = try CLIRunner.run(["info", path])
            if r.status == 0 {
                #expect(r.stdout.contains("size") && r.stderr.isEmpty, "case \(i): \(r)")
            } else {
                #expect(r.status == 1 && r.stderrLines.count == 1 && r.stderr.hasPrefix("error: \(path): "), "case \(i): \(r)")
            }
        }
    }

    /// Every file under `dir` with its size and modification time.
    static func snapshot(_ dir: URL) throws -> [String: String] {
        var out: [String: String] = [:]
        let fm = FileManager.default
        for case let rel as String in fm.enumerator(atPath: dir.path) ?? FileManager.DirectoryEnumerator() {
            let a = try fm.attributesOfItem(atPath: dir.appendingPathComponent(rel).path)
            out[rel] = "\(a[.size] ?? 0) \((a[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0)"
        }
        return out
    }

    /// Sets every `key` card of the first two headers to `value` (right-justified to column 30).
    static func setCard(_ bytes: inout [UInt8], _ key: String, _ value: String) -> Bool {
        var found = false
        for r in 0..<min(72, bytes.count / 80)
        where String(decoding: bytes[(r * 80)..<(r * 80 + 8)], as: UTF8.self).trimmingCharacters(in: .whitespaces) == key {
            let text = key.padding(toLength: 8, withPad: " ", startingAt: 0) + "= " + String(repeating: " ", count: max(0, 20 - value.count)) + value
            bytes.replaceSubrange((r * 80)..<(r * 80 + 80), with: Array(text.padding(toLength: 80, withPad: " ", startingAt: 0).utf8))
            found = true
        }
        return found
    }

    /// Writes `card` where the primary header's END is and END into the (blank) record after it.
    static func insertBeforeEnd(_ bytes: inout [UInt8], _ card: String) -> Bool {
        guard let end = (0..<35).first(where: { String(decoding: bytes[($0 * 80)..<($0 * 80 + 8)], as: UTF8.self) == "END     " }) else { return false }
        bytes.replaceSubrange(((end + 1) * 80)..<((end + 2) * 80), with: bytes[(end * 80)..<((end + 1) * 80)])
        bytes.replaceSubrange((end * 80)..<((end + 1) * 80), with: Array(card.padding(toLength: 80, withPad: " ", startingAt: 0).utf8))
        return true
    }
}
