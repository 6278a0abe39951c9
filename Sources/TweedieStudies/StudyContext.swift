// A study on disk (`tweedie study run`): the spec and its expanded cases, one directory per case,
// the directory's claim on its spec, and running one case — its inputs, its typed posterior
// request and the library's pipeline, resumed from its checkpoint when interrupted. A case run
// made before studies used typed requests (its run.json holds a command line) is resumed by the
// caller's `legacyResume`: the library never parses a command line.
import Foundation
import TweedieCore
import TweedieOperators
import TweedieSampling
import Yams

/// A study on disk: the spec, its cases, and one directory per case.
public struct StudyContext {
    public let spec: StudySpec
    public let specPath: String
    /// The folder relative paths of the spec are resolved against.
    public let specDir: URL
    public let directory: URL
    /// The spec's cases, expanded (fixed values, then the grid or the case list).
    public let cases: [[String: StudyValue]]
    /// Resumes an interrupted case run whose run.json records a command line instead of a typed
    /// request (runs made before studies used requests): the record and the run directory. Nil: such
    /// a run cannot be resumed here (an error says so).
    public var legacyResume: ((PosteriorJobRecord, URL) throws -> Void)?
    /// Receives the notes of a case's run: the sampler's start line, tempering lines and warnings.
    public var note: @Sendable (String) -> Void = { _ in }

    /// Reads the spec at `specPath` for the study directory `directory`; `specIsCopy`: the spec is the
    /// directory's own copy (spec.yaml), whose relative paths stay relative to the original's folder.
    public init(specPath: String, directory: String, specIsCopy: Bool = false) throws {
        guard let text = try? String(contentsOfFile: specPath, encoding: .utf8) else {
            throw TweedieError.io(path: specPath, problem: specIsCopy ? "no study spec copy here; is this a study directory?" : "cannot read the study spec")
        }
        spec = try SpecFile.decode(StudySpec.self, text: text, path: specPath, kind: "study spec")
        self.specPath = specPath
        self.directory = URL(fileURLWithPath: directory)
        // Paths in a copied spec stay relative to the original spec's folder, recorded beside it.
        if specIsCopy, let origin = try? String(contentsOfFile: self.directory.appendingPathComponent("spec-origin.txt").path, encoding: .utf8) {
            specDir = URL(fileURLWithPath: origin.trimmingCharacters(in: .whitespacesAndNewlines))
        } else {
            specDir = URL(fileURLWithPath: specPath).deletingLastPathComponent().standardizedFileURL
        }
        cases = try spec.expandedCases()
    }

    /// `path` relative to the spec's folder (absolute paths as they are).
    public func resolve(_ path: String) -> String { path.hasPrefix("/") ? path : specDir.appendingPathComponent(path).standardizedFileURL.path }

    /// The prior argument: an analytic spec as it is, a directory relative to the spec.
    var priorArgument: String {
        spec.prior.hasPrefix("gaussian:") || spec.prior.hasPrefix("mixture:") ? spec.prior : resolve(spec.prior)
    }

    public func caseDirectory(_ i: Int) -> URL { directory.appendingPathComponent(String(format: "cases/case-%04d", i)) }

    /// The grid values of case `i`, e.g. "sigma=0.03, truth=1".
    public func caseLabel(_ i: Int) -> String {
        spec.grid.keys.sorted().map { "\($0)=\(cases[i][$0]?.description ?? "")" }.joined(separator: ", ")
    }

    /// Checks every case's parameters before anything is written (StudyCase.validate); errors name
    /// the case.
    public func validateCases() throws {
        for i in cases.indices {
            do { try StudyCase(parameters: cases[i], context: self).validate() } catch let e as TweedieError {
                throw TweedieError.invalidInput(what: specPath, problem: "case \(i) (\(caseLabel(i).isEmpty ? "fixed values" : caseLabel(i))): \(e.description)")
            }
        }
    }

    /// Creates the study directory (or checks that it belongs to this spec) and copies the spec.
    /// A directory where no case run has started (no cases/case-NNNN/run: an earlier spec was
    /// refused, its inputs could not be made, or the run stopped at once) takes the new spec.
    public func prepareDirectory() throws {
        let fm = FileManager.default
        let copy = directory.appendingPathComponent("spec.yaml")
        let text = try String(contentsOfFile: specPath, encoding: .utf8)
        if let old = try? String(contentsOf: copy, encoding: .utf8), Self.significantLines(old) != Self.significantLines(text) {
            let started = ((try? fm.contentsOfDirectory(atPath: directory.appendingPathComponent("cases").path)) ?? [])
                .contains { $0.hasPrefix("case-") && fm.fileExists(atPath: directory.appendingPathComponent("cases/\($0)/run").path) }
            if started {
                throw TweedieError.invalidInput(what: directory.path, problem: "holds a study made from a different spec (its cases have started); use a new -o directory, or the spec in \(copy.path)")
            }
        }
        try fm.createDirectory(at: directory.appendingPathComponent("cases"), withIntermediateDirectories: true)
        try AtomicFileWrite.write(to: copy.path) { try Data(text.utf8).write(to: URL(fileURLWithPath: $0)) }
        try AtomicFileWrite.write(to: directory.appendingPathComponent("spec-origin.txt").path) {
            try Data(self.specDir.path.utf8).write(to: URL(fileURLWithPath: $0))
        }
    }

    /// The lines of a spec that can change a case: all but blank and whole-line comment lines, so a
    /// study directory accepts its spec with an edited header comment.
    static func significantLines(_ text: String) -> [Substring] {
        text.split(separator: "\n", omittingEmptySubsequences: true).filter { line in
            let body = line.drop { $0 == " " || $0 == "\t" }
            return !body.isEmpty && !body.hasPrefix("#")
        }
    }

    /// Runs case `i` unless finished; returns what happened ("done", "resumed", "already finished", …).
    /// `quiet`: no sampler start or tempering notes (warnings are still noted).
    public func runCase(_ i: Int, quiet: Bool) throws -> String {
        let dir = caseDirectory(i)
        let run = dir.appendingPathComponent("run")
        let p = StudyCase(parameters: cases[i], context: self)
        let scored = dir.appendingPathComponent("source_metrics.json")
        if FileManager.default.fileExists(atPath: run.appendingPathComponent("summary.json").path) {
            if p.isRadio && !FileManager.default.fileExists(atPath: scored.path) {
                try p.scoreRadio(caseIndex: i, dir: dir)
                return "scored"
            }
            return "already finished"
        }
        let lock: StudyCaseLock
        try FileManager.default.createDirectory(at: dir.deletingLastPathComponent(), withIntermediateDirectories: true)
        switch try StudyCaseLock.acquire(at: dir.path + ".lock") {
        case let .acquired(l): lock = l
        case let .heldBy(pid): return "running in process \(pid), skipped"
        }
        defer { lock.release() }
        if FileManager.default.fileExists(atPath: run.appendingPathComponent("summary.json").path) {
            return "already finished"   // finished by another process since the check above
        }
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let inputs = try p.writeInputs(into: dir)
        let meta = try JSONSerialization.data(withJSONObject: inputs.metadata, options: [.prettyPrinted, .sortedKeys])
        try AtomicFileWrite.write(to: dir.appendingPathComponent("case.json").path) { try meta.write(to: URL(fileURLWithPath: $0)) }
        // Radio: the samples stay in run/ for the median and detect-aggregate.
        let settings = PosteriorRunSettings(samples: 0, seed: 0, batch: 1, keepSamples: p.isRadio, checkpointEvery: 1)
        if FileManager.default.fileExists(atPath: run.appendingPathComponent(PosteriorJob.checkpointName).path) {
            // Interrupted: the inputs above were rewritten identically; continue the run from its record
            // (a typed request, or the command line of runs made before studies used requests).
            let record = try PosteriorJob.readRecord(in: run)
            if let request = record.request, let recorded = record.settings {
                try runPosterior(request, settings: recorded, in: run, resuming: true, record: record, quiet: quiet)
            } else if let legacyResume {
                try legacyResume(record, run)
            } else {
                throw TweedieError.invalidInput(what: run.path, problem: "holds a run recorded as a command line (made before studies used typed requests); resume it with `tweedie study run`")
            }
            if p.isRadio { try p.scoreRadio(caseIndex: i, dir: dir) }
            return "resumed"
        }
        if FileManager.default.fileExists(atPath: run.path) {
            // No summary and no checkpoint: the run stopped before its first checkpoint, or its
            // checkpoint did not travel (a fresh clone of committed results). Nothing in it can be
            // resumed, so the case starts again.
            try FileManager.default.removeItem(at: run)
        }
        let request = try p.request(inputs: inputs, prior: priorArgument, caseIndex: i)
        var fresh = settings
        fresh.samples = request.samples; fresh.seed = request.seed; fresh.batch = request.batch
        try runPosterior(request, settings: fresh, in: run, resuming: false,
                         record: PosteriorJobRecord(request: request, settings: fresh), quiet: quiet)
        if p.isRadio { try p.scoreRadio(caseIndex: i, dir: dir) }
        return "done"
    }

    /// Prepares and runs one case's posterior into `run` (its run.json records the request).
    func runPosterior(_ request: PosteriorRequest, settings: PosteriorRunSettings, in run: URL, resuming: Bool,
                      record: PosteriorJobRecord, quiet: Bool) throws {
        let note = self.note
        let prepared = try PosteriorPipeline.prepare(request, warn: { note("warning: \($0)") })
        _ = try PosteriorPipeline.run(prepared, in: run, settings: settings, resuming: resuming, record: record) { event in
            guard !quiet else { return }
            switch event {
            case let .starting(line): note("tweedie sample: " + line)
            case let .tempering(line): note(line)
            case let .warning(w): note("warning: \(w)")
            case .progress, .sampled: break
            }
        }
    }
}
