// Drawing many posterior samples with one-pass statistics, checkpoints and
// resume (issue 5 items 2, 3, 7; DESIGN §6).
//
// Samples are drawn in batches of B consecutive indices and folded into the
// running statistics in index order, so the result is bit-identical for any
// batch size and after any resume: a checkpoint stores the exact Welford state
// (Double) and the next sample index, written atomically every few batches.

import Foundation
import TweedieCore

/// What a run accumulates: statistics in physical units and in network space, per-sample χ².
public struct PosteriorAccumulator: Codable, Equatable, Sendable {
    /// Fingerprint of everything that determines the samples (refuses a resume with other settings).
    public var fingerprint: String
    public var totalSamples: Int
    public var nextIndex: Int
    public var physicalCount: Int
    public var physicalMean: [Double]
    public var physicalM2: [Double]
    public var networkCount: Int
    public var networkMean: [Double]
    public var networkM2: [Double]
    /// ‖√W (y − A x_k)‖² for every finished sample k, in index order.
    public var sampleChiSquared: [Double]
    /// Wall time spent so far (seconds), summed over resumed segments.
    public var elapsedSeconds: Double

    public var physical: RunningStatistics {
        get { try! RunningStatistics(count: physicalCount, mean: physicalMean, m2: physicalM2) }
        set { physicalCount = newValue.count; physicalMean = newValue.mean; physicalM2 = newValue.m2 }
    }
    public var network: RunningStatistics {
        get { try! RunningStatistics(count: networkCount, mean: networkMean, m2: networkM2) }
        set { networkCount = newValue.count; networkMean = newValue.mean; networkM2 = newValue.m2 }
    }

    public init(fingerprint: String, totalSamples: Int, valueCount: Int) {
        self.fingerprint = fingerprint
        self.totalSamples = totalSamples
        nextIndex = 0
        physicalCount = 0; physicalMean = .init(repeating: 0, count: valueCount); physicalM2 = physicalMean
        networkCount = 0; networkMean = physicalMean; networkM2 = physicalMean
        sampleChiSquared = []
        elapsedSeconds = 0
    }

    public var isComplete: Bool { nextIndex >= totalSamples }
}

/// Progress of a run, reported after every batch.
public struct RunProgress: Sendable {
    public var done: Int
    public var total: Int
    public var samplesPerSecond: Double
    public var etaSeconds: Double
}

/// Runs a sampler over sample indices nextIndex..<total with checkpoints.
public struct PosteriorRun {
    public let sampler: any PosteriorSampler
    public let problem: PosteriorProblem
    public let transform: any PixelTransform
    public let seed: UInt64
    public let batchSize: Int
    /// Checkpoint file (nil: no checkpoints).
    public let checkpointURL: URL?
    /// Write a checkpoint every this many batches.
    public let checkpointEvery: Int
    /// Raw Float32 file the samples (physical units) are appended to, in index order (nil: not kept).
    public let samplesURL: URL?

    public init(sampler: any PosteriorSampler, problem: PosteriorProblem, transform: any PixelTransform,
                seed: UInt64, batchSize: Int, checkpointURL: URL? = nil, checkpointEvery: Int = 1,
                samplesURL: URL? = nil) throws {
        guard batchSize >= 1 else {
            throw TweedieError.setting(name: "batch", problem: "must be ≥ 1, got \(batchSize)")
        }
        self.sampler = sampler; self.problem = problem; self.transform = transform
        self.seed = seed; self.batchSize = batchSize
        self.checkpointURL = checkpointURL; self.checkpointEvery = max(1, checkpointEvery)
        self.samplesURL = samplesURL
    }

    /// Continues `state` until all samples are drawn; calls `progress` after each batch.
    public func run(_ state: PosteriorAccumulator,
                    progress: (RunProgress) -> Void = { _ in }) throws -> PosteriorAccumulator {
        var acc = state
        var physical = acc.physical
        var network = acc.network
        let per = problem.forwardOperator.inputShape.count
        let start = Date()
        let startIndex = acc.nextIndex
        let startElapsed = acc.elapsedSeconds
        var batches = 0
        var samplesHandle: FileHandle? = nil
        if let url = samplesURL {
            if !FileManager.default.fileExists(atPath: url.path),
               !FileManager.default.createFile(atPath: url.path, contents: nil) {
                throw TweedieError.io(path: url.path, problem: "cannot create the samples file (check the directory is writable)")
            }
            samplesHandle = try FileHandle(forUpdating: url)
            // Drop anything written after the last checkpoint (a kill between a write and a checkpoint).
            try samplesHandle!.truncate(atOffset: UInt64(acc.nextIndex * per * MemoryLayout<Float>.size))
            try samplesHandle!.seekToEnd()
        }
        defer { try? samplesHandle?.close() }

        // A sampler whose samples come in coupled groups (SMC populations) gets whole groups.
        let group = max(1, sampler.sampleGroupSize)
        let chunk = group == 1 ? batchSize : group * max(1, batchSize / group)
        while acc.nextIndex < acc.totalSamples {
            let lo = acc.nextIndex, hi = min(acc.totalSamples, (lo / group) * group + chunk)
            let u = try sampler.sample(indices: lo..<hi, seed: seed)
            let x = problem.physical(u, transform: transform)
            // A sample outside the range the pixel transform can map (e.g. sinh overflow of an asinh
            // prior) would poison the statistics: stop and say which sample.
            if let bad = x.data.firstIndex(where: { !$0.isFinite }) {
                let k = bad / per
                throw TweedieError.numerical(problem:
                    "sample \(lo + k) has a non-finite physical value (network value u = \(u.data[bad])) after the prior's pixel transform; the sampler left the prior's range — try a smaller guidance ζ, more steps or x̂0 clipping")
            }
            let (_, chi2) = try problem.whitenedResiduals(ofPhysical: x)
            for k in 0..<(hi - lo) {
                physical.add(x.data[(k * per)..<((k + 1) * per)])
                network.add(u.data[(k * per)..<((k + 1) * per)])
            }
            acc.sampleChiSquared.append(contentsOf: chi2)
            if let h = samplesHandle {
                x.data.withUnsafeBytes { h.write(Data($0)) }
            }
            acc.nextIndex = hi
            acc.physical = physical
            acc.network = network
            acc.elapsedSeconds = startElapsed + Date().timeIntervalSince(start)
            batches += 1
            if let url = checkpointURL, batches % checkpointEvery == 0 || acc.isComplete {
                try samplesHandle?.synchronize()
                try Self.writeCheckpoint(acc, to: url)
            }
            let rate = Double(acc.nextIndex - startIndex) / max(1e-9, Date().timeIntervalSince(start))
            progress(RunProgress(done: acc.nextIndex, total: acc.totalSamples, samplesPerSecond: rate,
                                 etaSeconds: Double(acc.totalSamples - acc.nextIndex) / max(rate, 1e-12)))
        }
        return acc
    }

    /// Writes a checkpoint atomically (temporary file, then rename).
    public static func writeCheckpoint(_ acc: PosteriorAccumulator, to url: URL) throws {
        let data: Data
        do { data = try JSONEncoder().encode(acc) } catch {
            throw TweedieError.numerical(problem: "the checkpoint could not be encoded (\(error)); the statistics hold a non-finite value")
        }
        try AtomicFileWrite.write(to: url.path) { tmp in
            do { try data.write(to: URL(fileURLWithPath: tmp)) }
            catch { throw TweedieError.io(path: url.path, problem: "cannot write the checkpoint (\(error.localizedDescription))") }
        }
    }

    /// Reads a checkpoint.
    public static func readCheckpoint(_ url: URL) throws -> PosteriorAccumulator {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw TweedieError.io(path: url.path, problem: "no checkpoint here; cannot resume (was the run started with -o this directory?)")
        }
        do { return try JSONDecoder().decode(PosteriorAccumulator.self, from: data) }
        catch { throw TweedieError.io(path: url.path, problem: "checkpoint is unreadable (\(error)); start the run again") }
    }
}
