// `tweedie calibrate` end to end on a tiny study (4×4 Gaussian prior, two
// operators, exact draws and a short DPS): the table has one row per case ×
// sampler with the promised columns, the exact rows use the route they must
// (Fourier for a periodic PSF, dense otherwise) and cover the truth at about
// the nominal rate, the plots are PNGs of the stated size, a rerun resumes
// (skips every case and rewrites the same table), and bad specs fail with a
// one-line error naming the key, without creating the output directory.
import Foundation
import Testing
import TweedieCore

@Suite struct CalibrateCommandTests {
    static let spec = """
        seed: 7
        observations: 6
        samples: 40
        levels: [0.5, 0.68, 0.95]
        priors:
          - {name: g4, spec: "gaussian:n=4,amplitude=1,slope=2,k0=0.5"}
        operators:
          - name: periodic
            chain: [{psf: {gaussian_fwhm: 1.5, size: 3, boundary: periodic}}]
          - name: padded
            chain: [{psf: {gaussian_fwhm: 1.5, size: 3}}]
        noise: {sigma: 0.2}
        samplers:
          - {kind: exact}
          - {kind: dps, steps: 20, guidance: 0.2}
        """

    static func rows(_ csv: String) -> [[String: String]] {
        let lines = csv.split(separator: "\n").map(String.init)
        let header = lines[0].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        // The test spec has no commas inside fields except operator_summary / prior_spec, which are quoted;
        // parse quoted fields properly.
        func fields(_ line: String) -> [String] {
            var out: [String] = [], cur = "", quoted = false
            var it = Array(line), i = 0
            while i < it.count {
                let c = it[i]
                if quoted {
                    if c == "\"" { if i + 1 < it.count && it[i + 1] == "\"" { cur.append("\""); i += 1 } else { quoted = false } }
                    else { cur.append(c) }
                } else if c == "\"" { quoted = true } else if c == "," { out.append(cur); cur = "" } else { cur.append(c) }
                i += 1
            }
            out.append(cur); it = []
            return out
        }
        return lines.dropFirst().map { Dictionary(uniqueKeysWithValues: zip(header, fields($0))) }
    }

    @Test func tinyStudyWritesTheTableAndResumes() throws {
        let dir = try CLIRunner.temporaryDirectory(); defer { CLIRunner.removeDirectory(dir) }
        let specPath = dir.appendingPathComponent("spec.yaml").path
        try Self.spec.write(toFile: specPath, atomically: true, encoding: .utf8)
        let out = dir.appendingPathComponent("out").path
        let r = try CLIRunner.run(["calibrate", specPath, "-o", out])
        #expect(r.status == 0, "\(r)")
        let csv = try String(contentsOfFile: out + "/calibration.csv", encoding: .utf8)
        let rows = Self.rows(csv)
        #expect(rows.count == 4)
        for key in ["prior", "operator", "sigma", "snr", "sampler", "steps", "guidance", "coverage50", "coverage68", "coverage95",
                    "coverage95_se", "mean_error_rms", "std_ratio", "z_std", "z_exact_std", "seconds_per_sample", "meets_targets"] {
            #expect(rows[0][key] != nil, "column \(key) missing")
        }
        let exact = rows.filter { $0["sampler"] == "exact" }
        #expect(exact.map { $0["route"]! }.sorted() == ["dense", "fourier"])
        for row in exact {
            // 6 observations × 16 pixels: generous bounds (binomial SE ≈ 0.04 at 68 %, correlated pixels).
            let c68 = Double(row["coverage68"]!)!, c95 = Double(row["coverage95"]!)!
            #expect(abs(c68 - 0.68) < 0.2 && abs(c95 - 0.95) < 0.12, "exact coverage \(c68), \(c95)")
            #expect(abs(Double(row["std_ratio"]!)! - 1) < 0.1)
        }
        for s in ["exact", "dps-s20-g0.2"] {
            let png = try PNGPreview.read(out + "/coverage_\(s).png")
            #expect(png.width == 720 && png.height == 540)
        }
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/calibration.json"))) as! [String: Any]
        #expect((json["rows"] as! [Any]).count == 4)

        // Rerun: every case is skipped and the table is the same.
        let again = try CLIRunner.run(["calibrate", specPath, "-o", out])
        #expect(again.status == 0)
        #expect(again.stderrLines.filter { $0.contains("skipped") }.count == 4, "\(again)")
        #expect(try String(contentsOfFile: out + "/calibration.csv", encoding: .utf8) == csv)
    }

    /// Two `--shard K/2` processes share a directory: each writes only its case files (group +
    /// sampler ≡ K mod 2, no tables), an unsharded rerun then skips all four, and the scores equal those of an
    /// unsharded run elsewhere (seeds do not depend on which cases a process ran). A bad K/N is a
    /// one-line error.
    @Test func shardsSplitTheCasesAndCombine() throws {
        let dir = try CLIRunner.temporaryDirectory(); defer { CLIRunner.removeDirectory(dir) }
        let specPath = dir.appendingPathComponent("spec.yaml").path
        try Self.spec.write(toFile: specPath, atomically: true, encoding: .utf8)
        let shared = dir.appendingPathComponent("shared").path
        let s0 = try CLIRunner.run(["calibrate", specPath, "-o", shared, "--shard", "0/2"])
        #expect(s0.status == 0, "\(s0)")
        let cases = shared + "/cases"
        #expect(try FileManager.default.contentsOfDirectory(atPath: cases).sorted()
                == ["g4__padded__sigma0.2__dps-s20-g0.2.json", "g4__periodic__sigma0.2__exact.json"])
        #expect(!FileManager.default.fileExists(atPath: shared + "/calibration.csv"))
        let s1 = try CLIRunner.run(["calibrate", specPath, "-o", shared, "--shard", "1/2"])
        #expect(s1.status == 0, "\(s1)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: cases).count == 4)
        let all = try CLIRunner.run(["calibrate", specPath, "-o", shared])
        #expect(all.stderrLines.filter { $0.contains("skipped") }.count == 4, "\(all)")
        let single = dir.appendingPathComponent("single").path
        #expect(try CLIRunner.run(["calibrate", specPath, "-o", single]).status == 0)
        func scores(_ out: String) throws -> [String] {
            try Self.rows(String(contentsOfFile: out + "/calibration.csv", encoding: .utf8))
                .map { "\($0["sampler"]!) \($0["operator"]!) \($0["coverage68"]!) \($0["coverage95"]!) \($0["mean_error_rms"]!)" }
        }
        #expect(try scores(shared) == scores(single))

        let bad = try CLIRunner.run(["calibrate", specPath, "-o", dir.appendingPathComponent("bad").path, "--shard", "2/2"])
        #expect(bad.status == 1 && bad.stderr.contains("--shard"), "\(bad)")
    }

    @Test func badSpecsAreRejectedWithoutOutput() throws {
        let dir = try CLIRunner.temporaryDirectory(); defer { CLIRunner.removeDirectory(dir) }
        let cases: [(String, String)] = [
            (Self.spec.replacingOccurrences(of: "samples: 40", with: "samples: 40\nwibble: 1"), "wibble"),
            (Self.spec.replacingOccurrences(of: "noise: {sigma: 0.2}", with: "noise: {sigma: 0.2, snr: 5}"), "noise"),
            (Self.spec.replacingOccurrences(of: "{kind: dps, steps: 20, guidance: 0.2}", with: "{kind: dps, steps: 20}"), "guidance"),
            (Self.spec.replacingOccurrences(of: "{kind: exact}", with: "{kind: exact, steps: 3}"), "steps"),
            (Self.spec.replacingOccurrences(of: "observations: 6", with: "observations: 1"), "observations"),
            (Self.spec.replacingOccurrences(of: "{kind: exact}", with: "{kind: smc, particles: 4, keep: 8}"), "keep"),
            (Self.spec.replacingOccurrences(of: "{kind: exact}", with: "{kind: smc, keep: 50}"), "keep"),   // particles default to samples (40)
            (Self.spec.replacingOccurrences(of: "{kind: exact}", with: "{kind: split-gibbs, keep: 1}"), "keep"),
        ]
        for (i, (text, word)) in cases.enumerated() {
            let path = dir.appendingPathComponent("bad\(i).yaml").path
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            let out = dir.appendingPathComponent("out\(i)").path
            let r = try CLIRunner.run(["calibrate", path, "-o", out])
            #expect(r.status == 1, "\(r)")
            #expect(r.stderrLines.count == 1 && r.stderr.hasPrefix("error: ") && r.stderr.contains(word), "\(r)")
            #expect(!FileManager.default.fileExists(atPath: out))
        }
    }
}
