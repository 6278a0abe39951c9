// One posterior run on disk (issue 5 items 2, 6, 7; DESIGN §6): an output
// directory that holds, while the run is going, only its checkpoint
// (`checkpoint.json`: Welford state + next sample index), the arguments needed to
// resume it (`run.json`) and, with --keep-samples, the raw samples so far; and at
// the end mean.fits, std.fits, variance_ratio.fits, residual.fits, samples.fits,
// summary.json and preview.png. A run killed at any point resumes from its last
// checkpoint and ends with exactly the statistics of an uninterrupted run (the
// samples are folded in index order; see PosteriorRun).

import Foundation
import TweedieCore

/// What the run directory records so that `--resume DIR` can rebuild the run.
public struct PosteriorJobRecord: Codable, Sendable {
    /// The command's arguments (after the subcommand name), with -o pointing at the directory;
    /// empty for a run made from a typed request.
    public var arguments: [String]
    /// The directory relative paths in `arguments` (or the request) are relative to.
    public var workingDirectory: String
    public var toolVersion: String
    public var started: String
    /// The request and run settings of a run made without a command line (studies, the catalogue);
    /// nil in records of command-line runs, which `--resume` rebuilds from `arguments`.
    public var request: PosteriorRequest?
    public var settings: PosteriorRunSettings?

    public init(arguments: [String], workingDirectory: String, toolVersion: String, started: String) {
        self.arguments = arguments; self.workingDirectory = workingDirectory
        self.toolVersion = toolVersion; self.started = started
    }

    /// The record of a run made from `request` (started now, in the current directory).
    public init(request: PosteriorRequest, settings: PosteriorRunSettings) {
        self.init(arguments: [], workingDirectory: FileManager.default.currentDirectoryPath, toolVersion: TweedieVersion.string,
                  started: ISO8601DateFormatter().string(from: Date()))
        self.request = request; self.settings = settings
    }
}

public enum PosteriorJob {
    public static let checkpointName = "checkpoint.json"
    public static let recordName = "run.json"
    public static let rawSamplesName = "samples.raw"
    /// An adaptive SMC population's state between tempering steps (SMCPopulationCheckpoint); removed when the run ends.
    public static let smcPopulationCheckpointName = "smc-population.ckpt"

    /// True for what a run that stopped before its first checkpoint leaves (killed in its first
    /// moments, or out of disk space): run.json and hidden temporary files of atomic writes.
    /// Such a directory holds no samples, so a new run may take it.
    static func isStartLeftover(_ name: String) -> Bool {
        name == recordName || (name.hasPrefix(".") && name.contains(".tmp-"))
    }

    /// Prepares a fresh output directory: it may exist only if empty, or holding only what a run
    /// that stopped before its first checkpoint left (removed here).
    public static func createOutputDirectory(_ dir: URL) throws {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        if fm.fileExists(atPath: dir.path, isDirectory: &isDir) {
            guard isDir.boolValue else {
                throw TweedieError.io(path: dir.path, problem: "exists and is not a directory; choose another output directory")
            }
            var contents = (try? fm.contentsOfDirectory(atPath: dir.path)) ?? []
            if contents.contains(checkpointName) {
                throw TweedieError.io(path: dir.path, problem: "already holds a run; resume it, or choose another output directory")
            }
            if !contents.isEmpty && contents.allSatisfy(isStartLeftover) {
                for name in contents { try? fm.removeItem(at: dir.appendingPathComponent(name)) }
                contents = (try? fm.contentsOfDirectory(atPath: dir.path)) ?? []
            }
            guard contents.isEmpty else {
                throw TweedieError.io(path: dir.path, problem: "is not empty; choose a new or empty output directory")
            }
        } else {
            do { try fm.createDirectory(at: dir, withIntermediateDirectories: true) }
            catch { throw TweedieError.io(path: dir.path, problem: "cannot create the output directory (\(error.localizedDescription))") }
        }
    }

    /// Writes run.json atomically.
    public static func writeRecord(_ record: PosteriorJobRecord, in dir: URL) throws {
        let enc = JSONEncoder(); enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        let data = try enc.encode(record)
        let url = dir.appendingPathComponent(recordName)
        try AtomicFileWrite.write(to: url.path) { tmp in
            do { try data.write(to: URL(fileURLWithPath: tmp)) }
            catch { throw TweedieError.io(path: url.path, problem: "cannot write (\(error.localizedDescription))") }
        }
    }

    /// Reads run.json of a run directory (for --resume).
    public static func readRecord(in dir: URL) throws -> PosteriorJobRecord {
        let url = dir.appendingPathComponent(recordName)
        guard let data = FileManager.default.contents(atPath: url.path) else {
            let contents = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
            if FileManager.default.fileExists(atPath: dir.path), contents.allSatisfy(isStartLeftover) {
                throw TweedieError.io(path: dir.path, problem: "holds no \(recordName): its run stopped before it began and recorded nothing to resume; start it again with -o \(dir.path)")
            }
            throw TweedieError.io(path: dir.path, problem: "holds no \(recordName); it is not a tweedie run directory, so it cannot be resumed")
        }
        do { return try JSONDecoder().decode(PosteriorJobRecord.self, from: data) }
        catch { throw TweedieError.io(path: url.path, problem: "unreadable (\(error)); start the run again") }
    }

    /// A fingerprint of the settings that determine the samples (a resume with other settings is refused).
    public static func fingerprint(_ parts: [String]) -> String {
        // FNV-1a 64 over the joined parts: enough to catch a changed setting, not a security hash.
        var h: UInt64 = 0xcbf29ce484222325
        for b in parts.joined(separator: "\u{1F}").utf8 { h = (h ^ UInt64(b)) &* 0x100000001b3 }
        return String(h, radix: 16)
    }

    /// Reads the kept raw samples (count × per Float32, physical units).
    public static func readRawSamples(in dir: URL, count: Int, per: Int) throws -> [Float] {
        let url = dir.appendingPathComponent(rawSamplesName)
        guard let data = FileManager.default.contents(atPath: url.path), data.count >= count * per * 4 else {
            throw TweedieError.io(path: url.path, problem: "kept samples are missing or short; rerun without keeping the samples, or start again")
        }
        var out = [Float](repeating: 0, count: count * per)
        _ = out.withUnsafeMutableBytes { dst in data.copyBytes(to: dst.bindMemory(to: UInt8.self), count: count * per * 4) }
        return out
    }

    /// Writes the final products into `dir` (each file atomically) and returns the file names.
    public static func writeProducts(_ p: PosteriorProducts, summary: PosteriorSummary, problem: PosteriorProblem,
                                     samples: [Float]?, sampleShape: ImageShape, wcs: FITSHeader?,
                                     observationWCS: FITSHeader? = nil,
                                     provenance: FITSProvenance, in dir: URL,
                                     residualImage: (image: ImageBatch, comment: String)? = nil,
                                     previewObservation: ImageBatch? = nil, truth: ImageBatch? = nil,
                                     observationPixelArcsec: Double? = nil) throws -> [String] {
        var files: [String] = []
        func fits(_ name: String, _ image: ImageBatch, unit: String?, comment: String, header: FITSHeader? = nil) throws {
            var img = image
            img.unit = unit
            var h = header ?? wcs ?? FITSHeader()
            h.addHistory(comment)
            img.header = h
            try FITSWriter.write(img, to: dir.appendingPathComponent(name).path, provenance: provenance)
            files.append(name)
        }
        // BUNIT: the observation's unit for physical images ('' when it gave none), '' (dimensionless)
        // for the variance ratio and the whitened residual.
        let unit = problem.observation.unit ?? ""
        try fits("mean.fits", p.mean, unit: unit, comment: "posterior mean, physical units, prior grid")
        try fits("std.fits", p.std, unit: unit, comment: "posterior standard deviation, physical units")
        if let r = p.varianceRatio {
            try fits("variance_ratio.fits", r, unit: "", comment: "var_post/var_prior in the prior's network space (dimensionless)")
        }
        if let r = residualImage {
            // An observation that is not an image (visibilities): the caller's image of the residual.
            try fits("residual.fits", r.image, unit: r.image.unit ?? unit, comment: r.comment)
        } else {
            var res = p.residual
            res.bands = problem.observation.bands
            // Masked observation values (zero weight) carry no residual: NaN, not a perfect fit of 0.
            let w = problem.noise.sqrtWeights
            if w.count == res.data.count {
                for j in res.data.indices where w[j] == 0 { res.data[j] = .nan }
            }
            try fits("residual.fits", res, unit: "", comment: "whitened residual sqrt(W)(y - A(mean)), in units of sigma; masked = NaN",
                     header: observationWCS ?? FITSHeader())
        }
        if let s = samples {
            var cube = ImageBatch(count: s.count / sampleShape.count, shape: sampleShape)
            cube.data = s
            cube.bands = p.mean.bands
            try fits("samples.fits", cube, unit: unit, comment: "posterior samples, physical units, index order")
        }
        try writePreview(p, observation: previewObservation ?? problem.observation, to: dir.appendingPathComponent("preview.png").path,
                         priorHeader: wcs, observationHeader: observationWCS, observationIsImageData: previewObservation == nil, truth: truth,
                         observationPixelArcsec: observationPixelArcsec)
        files.append("preview.png")
        files.append("summary.json")
        var full = summary
        full.files = files
        let enc = JSONEncoder(); enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        let data: Data
        do { data = try enc.encode(full) } catch {
            throw TweedieError.numerical(problem: "summary.json could not be encoded (\(error)); a provenance value is not a finite number")
        }
        let url = dir.appendingPathComponent("summary.json")
        try AtomicFileWrite.write(to: url.path) { tmp in
            do { try data.write(to: URL(fileURLWithPath: tmp)) }
            catch { throw TweedieError.io(path: url.path, problem: "cannot write (\(error.localizedDescription))") }
        }
        return files
    }

    /// preview.png: observation | truth (when known) | mean | std | variance ratio | residual for one band, labelled, with
    /// colour bars and a scale bar, on one sky scale (`PosteriorPreview`).
    public static func writePreview(_ p: PosteriorProducts, observation: ImageBatch, to path: String,
                                    priorHeader: FITSHeader? = nil, observationHeader: FITSHeader? = nil,
                                    observationIsImageData: Bool = true, truth: ImageBatch? = nil,
                                    observationPixelArcsec: Double? = nil) throws {
        let figure = try PosteriorPreview.figure(p, observation: observation, priorHeader: priorHeader,
                                                 observationHeader: observationHeader,
                                                 observationIsImageData: observationIsImageData, truth: truth,
                                                 observationPixelArcsec: observationPixelArcsec)
        try figure.write(to: path)
    }
}
