// `tweedie study run` as a process on a small analytic-prior study: a grid of
// 2 noise levels × 2 truths (16×16 stationary Gaussian prior, Gaussian PSF);
// killed with SIGKILL after its first finished case, rerun with the same
// command: finished cases are skipped, the study completes, and the table has
// one row per case whose parameters and scores are sane (posterior narrower
// where the noise is lower). Also: `study report` writes the summary, and a bad
// parameter is one clear error; the directory accepts its spec with edited
// comments and refuses one with a changed parameter. A case locked by a live process
// (cases/case-NNNN.lock) is skipped by a second process; a lock left by a dead one is taken over.
import Foundation
import Testing
import TweedieCore
import TweediePriors

@Suite(.serialized) struct StudyCommandTests {
    static func makeStudy(in dir: URL) throws -> String {
        let prior = try AnalyticPriorSpec.parseAnalytic(SampleCommandTests.priorSpec)
        var cube = ImageBatch(count: 2, shape: prior.imageShape)
        for k in 0..<2 {
            let x = prior.sample(using: SampleStream(seed: 21, index: k)).map { Float($0) }
            cube.data.replaceSubrange((k * 256)..<((k + 1) * 256), with: x)
        }
        try FITSWriter.write(cube, to: dir.appendingPathComponent("truths.fits").path)
        let spec = """
            name: noise-sweep
            prior: "\(SampleCommandTests.priorSpec)"
            truths: truths.fits
            fixed: {psf: gaussian, psf_fwhm: 2.5, psf_size: 9, psf_pixel_scale: 1,
                    sampler: split-gibbs, samples: 8, batch: 4, seed: 2}
            grid: {sigma: [0.03, 0.3], truth: [0, 1]}
            """
        let path = dir.appendingPathComponent("study.yaml").path
        try spec.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func killedStudyResumesAndSkipsFinishedCases() throws {
        let dir = try CLIRunner.temporaryDirectory(); defer { CLIRunner.removeDirectory(dir) }
        let spec = try Self.makeStudy(in: dir)
        let out = dir.appendingPathComponent("out").path
        let p = Process()
        p.executableURL = try CLIRunner.binary()
        p.arguments = ["study", "run", spec, "-o", out, "--quiet"]
        p.standardOutput = FileHandle.nullDevice; p.standardError = FileHandle.nullDevice
        try p.run()
        let first = URL(fileURLWithPath: out).appendingPathComponent("cases/case-0000/run/summary.json").path
        let deadline = Date().addingTimeInterval(180)
        while Date() < deadline && p.isRunning && !FileManager.default.fileExists(atPath: first) { usleep(5_000) }
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        #expect(FileManager.default.fileExists(atPath: first), "the first case should have finished before the kill")

        let r = try CLIRunner.run(["study", "run", spec, "-o", out, "--quiet"])
        #expect(r.status == 0, "\(r)")
        #expect(r.stderr.contains("case 1/4 already finished"), "\(r.stderr)")
        #expect(r.stdout.contains("4 of 4 cases finished"))
        let csv = try String(contentsOfFile: out + "/results.csv", encoding: .utf8).split(separator: "\n")
        #expect(csv.count == 5)
        let header = csv[0].split(separator: ",").map(String.init)
        let rows = csv.dropFirst().map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        func col(_ name: String) -> [String] { let i = header.firstIndex(of: name)!; return rows.map { $0[i] } }
        #expect(col("sigma") == ["0.03", "0.03", "0.3", "0.3"] && col("truth") == ["0", "1", "0", "1"])
        let vr = col("aperture_variance_ratio").map { Double($0)! }
        let snr = col("snr").map { Double($0)! }
        // Ten times less noise: ten times the SNR and a narrower posterior for the same truth.
        #expect(abs(snr[0] / snr[2] - 10) < 1e-6 && abs(snr[1] / snr[3] - 10) < 1e-6)
        #expect(vr[0] < vr[2] && vr[1] < vr[3], "variance ratios \(vr)")
        #expect(vr.allSatisfy { $0 > 0 && $0 < 1 })

        let rep = try CLIRunner.run(["study", "report", out])
        #expect(rep.status == 0, "\(rep)")
        #expect(rep.stdout.contains("| sigma | n |"))
        #expect(FileManager.default.fileExists(atPath: out + "/summary.md") && FileManager.default.fileExists(atPath: out + "/summary.png"))

        // A case whose run lost its summary and checkpoint (a clone of committed results taken
        // mid-case, or a kill before the first checkpoint) starts again and completes.
        let last = URL(fileURLWithPath: out).appendingPathComponent("cases/case-0003/run")
        for name in ["summary.json", "checkpoint.json"] { try? FileManager.default.removeItem(at: last.appendingPathComponent(name)) }
        let again = try CLIRunner.run(["study", "run", spec, "-o", out, "--quiet"])
        #expect(again.status == 0 && again.stderr.contains("case 4/4 done") && again.stdout.contains("4 of 4 cases finished"), "\(again)")

        // The directory accepts its spec with edited comment lines, and refuses a changed parameter.
        let text = try String(contentsOfFile: spec, encoding: .utf8)
        try ("# a header comment added after the run\n" + text).write(toFile: spec, atomically: true, encoding: .utf8)
        let commented = try CLIRunner.run(["study", "run", spec, "-o", out, "--quiet"])
        #expect(commented.status == 0 && commented.stdout.contains("4 of 4 cases finished"), "\(commented)")
        try text.replacingOccurrences(of: "samples: 8", with: "samples: 9").write(toFile: spec, atomically: true, encoding: .utf8)
        let changed = try CLIRunner.run(["study", "run", spec, "-o", out, "--quiet"])
        #expect(changed.status == 1 && changed.stderr.contains("different spec"), "\(changed)")
    }

    @Test func lockedCaseIsSkippedAndStaleLockTakenOver() throws {
        let dir = try CLIRunner.temporaryDirectory(); defer { CLIRunner.removeDirectory(dir) }
        let spec = try Self.makeStudy(in: dir)
        let out = dir.appendingPathComponent("out")
        let lock = out.appendingPathComponent("cases/case-0001.lock").path
        try FileManager.default.createDirectory(at: out.appendingPathComponent("cases"), withIntermediateDirectories: true)
        // Held by a live process (this test's own flock).
        let fd = try CLIRunner.holdLock(lock)
        let held = try CLIRunner.run(["study", "run", spec, "-o", out.path, "--quiet"])
        close(fd)
        #expect(held.status == 0 && held.stderr.contains("case 2/4 running in process \(getpid()), skipped"), "\(held)")
        #expect(held.stdout.contains("3 of 4 cases finished"), "\(held)")
        #expect(!FileManager.default.fileExists(atPath: out.appendingPathComponent("cases/case-0001/run").path))
        // Left by a process that has exited (the file remains, nobody holds its lock): taken, and
        // removed when the case is done.
        #expect(FileManager.default.fileExists(atPath: lock))
        let stale = try CLIRunner.run(["study", "run", spec, "-o", out.path, "--quiet"])
        #expect(stale.status == 0 && stale.stderr.contains("case 2/4 done") && stale.stdout.contains("4 of 4 cases finished"), "\(stale)")
        #expect(!FileManager.default.fileExists(atPath: lock))
    }

    /// A case interrupted in a study directory made before studies recorded typed requests: its
    /// run.json holds `tweedie sample` arguments (absolute paths, as those studies wrote them) and a
    /// checkpoint. `study run` resumes it from those arguments, and the result is bit for bit the
    /// uninterrupted run of the same arguments.
    @Test func caseRecordedAsACommandLineResumes() throws {
        let dir = try CLIRunner.temporaryDirectory(); defer { CLIRunner.removeDirectory(dir) }
        let spec = try Self.makeStudy(in: dir)
        let out = URL(fileURLWithPath: dir.appendingPathComponent("out").path)
        let done = try CLIRunner.run(["study", "run", spec, "-o", out.path, "--quiet"])
        #expect(done.status == 0, "\(done)")

        // Case 2's run replaced by a `tweedie sample` run killed after a few checkpoints.
        try SampleCommandTests.makeProblem(in: dir)
        let run = out.appendingPathComponent("cases/case-0001/run")
        try FileManager.default.removeItem(at: run)
        let common = ["--samples", "60", "--batch", "2", "--steps", "50", "--checkpoint-every", "1"]
        let killedAt = try CLIRunner.killAtCheckpoint(SampleCommandTests.args(dir, "out/cases/case-0001/run", common),
                                                      checkpoint: run.appendingPathComponent("checkpoint.json"), atLeast: 10)
        #expect(killedAt.map { $0 < 60 } == true, "the run should have been killed mid-way (killed at \(killedAt ?? -1))")
        let record = try JSONSerialization.jsonObject(with: Data(contentsOf: run.appendingPathComponent("run.json"))) as? [String: Any]
        #expect(record?["arguments"] is [String] && record?["request"] == nil, "not a command-line record: \(record ?? [:])")

        let resumed = try CLIRunner.run(["study", "run", spec, "-o", out.path, "--quiet"])
        #expect(resumed.status == 0 && resumed.stderr.contains("case 2/4 resumed"), "\(resumed)")
        #expect(resumed.stdout.contains("4 of 4 cases finished"), "\(resumed)")
        let full = try CLIRunner.run(SampleCommandTests.args(dir, "full", common))
        #expect(full.status == 0, "\(full)")
        for f in ["mean.fits", "std.fits", "variance_ratio.fits"] {
            let a = try FITSReader.read(dir.appendingPathComponent("full/\(f)").path)
            let b = try FITSReader.read(run.appendingPathComponent(f).path)
            #expect(a.data == b.data, "\(f) differs from the uninterrupted run")
        }
    }

    /// Sampler keys reach the sampler: `dps_eta` as in `tweedie sample`, and any setting as a
    /// `sampler.KEY` parameter (here `sampler.guidance: 0.125`, which the summary's settings show).
    @Test func samplerKeysReachTheSampler() throws {
        let dir = try CLIRunner.temporaryDirectory(); defer { CLIRunner.removeDirectory(dir) }
        let spec = try Self.makeStudy(in: dir)
        let text = try String(contentsOfFile: spec, encoding: .utf8)
            .replacingOccurrences(of: "sampler: split-gibbs, samples: 8", with: "sampler: dps, dps_eta: 0.5, steps: 20, samples: 2, sampler.guidance: 0.125")
            .replacingOccurrences(of: "grid: {sigma: [0.03, 0.3], truth: [0, 1]}", with: "grid: {sigma: [0.3], truth: [0]}")
        try text.write(toFile: spec, atomically: true, encoding: .utf8)
        let out = dir.appendingPathComponent("out")
        let r = try CLIRunner.run(["study", "run", spec, "-o", out.path, "--quiet"])
        #expect(r.status == 0, "\(r)")
        let summary = try String(contentsOf: out.appendingPathComponent("cases/case-0000/run/summary.json"), encoding: .utf8)
        #expect(summary.contains("DDIM steps η=0.5"), "\(summary.prefix(2000))")
        #expect(summary.contains("ζ=0.125"), "the sampler.guidance parameter did not reach DPS: \(summary.prefix(2000))")
    }

    @Test func unknownParameterIsOneClearError() throws {
        let dir = try CLIRunner.temporaryDirectory(); defer { CLIRunner.removeDirectory(dir) }
        let spec = try Self.makeStudy(in: dir)
        let text = try String(contentsOfFile: spec, encoding: .utf8).replacingOccurrences(of: "seed: 2", with: "seed: 2, magnitdue: 20")
        try text.write(toFile: spec, atomically: true, encoding: .utf8)
        let r = try CLIRunner.run(["study", "run", spec, "-o", dir.appendingPathComponent("out").path])
        #expect(r.status != 0 && r.stderr.contains("magnitdue") && r.stderrLines.count == 1, "\(r)")
    }
}
