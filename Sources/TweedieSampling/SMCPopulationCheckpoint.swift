// The state of one adaptive SMC population between two tempering steps, on disk.
//
// An adaptive population on a 64×64×3 neural prior runs for hours as one unit
// (its particles couple, so PosteriorRun's checkpoint, written between whole
// populations, cannot cut it). SMCSplitGibbsSampler writes this state at the top
// of its tempering loop — after a step's move and the new log L_ρ — so a killed
// run resumes from the last step written and finishes with exactly the particles
// an uninterrupted run gives (the computation is deterministic given the state and
// every random stream's position).
//
// File layout (little-endian, written atomically):
//   "TWSMCPOP" (8 bytes), UInt32 format version (1), UInt64 length L of the header,
//   L bytes of JSON (`SMCPopulationCheckpoint.Header`), then the particle arrays
//   z and u as Float32 (P × valueCount each), then the P + 1 random-stream states
//   (P particle streams in index order, then the resampling stream), `streamStateSize`
//   bytes each.
// The header's identity fields (population, seed, particles, valueCount, the
// tempering settings) must match the run that reads it; anything else is ignored.

import Foundation
import TweedieCore

struct SMCPopulationCheckpoint {
    struct Header: Codable, Equatable {
        var population: Int
        var seed: UInt64
        var particles: Int
        var valueCount: Int
        var stepESS: Double
        var essThreshold: Double
        var levelsPlanned: [Int]
        /// The timestep the population has reached (its target is π at this level).
        var level: Int
        var traceLevels: [Int]
        var traceESS: [Double]
        var resamplings: Int
        var ancestry: [Int]
        var logW: [Double]
        var logL: [Double]
        var streamStateSize: Int
    }

    var header: Header
    var z: [Float]
    var u: [Float]
    /// P particle streams, then the resampling stream.
    var streamStates: [[UInt8]]

    static let magic = Array("TWSMCPOP".utf8)
    static let version: UInt32 = 1

    /// Writes the checkpoint atomically to `url`.
    func write(to url: URL) throws {
        let encoder = JSONEncoder()
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        let json: Data
        do { json = try encoder.encode(header) } catch {
            throw TweedieError.numerical(problem: "the SMC population checkpoint could not be encoded (\(error))")
        }
        var data = Data(Self.magic)
        withUnsafeBytes(of: Self.version.littleEndian) { data.append(contentsOf: $0) }
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { data.append(contentsOf: $0) }
        data.append(json)
        for array in [z, u] {
            data.reserveCapacity(data.count + 4 * array.count)
            for v in array { withUnsafeBytes(of: v.bitPattern.littleEndian) { data.append(contentsOf: $0) } }
        }
        for s in streamStates { data.append(contentsOf: s) }
        try AtomicFileWrite.write(to: url.path) { tmp in
            do { try data.write(to: URL(fileURLWithPath: tmp)) }
            catch { throw TweedieError.io(path: url.path, problem: "cannot write the SMC population checkpoint (\(error.localizedDescription))") }
        }
    }

    /// Reads a checkpoint; nil when there is no file. A file that exists but cannot be
    /// read is an error naming the file (delete it to start the population again).
    static func read(_ url: URL) throws -> SMCPopulationCheckpoint? {
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        func bad(_ why: String) -> TweedieError {
            TweedieError.io(path: url.path, problem: "SMC population checkpoint is unreadable (\(why)); delete it to start that population again")
        }
        let data: Data
        do { data = try Data(contentsOf: url) } catch { throw bad(error.localizedDescription) }
        let bytes = [UInt8](data)
        var at = 0
        func take(_ n: Int) throws -> ArraySlice<UInt8> {
            guard n >= 0, at + n <= bytes.count else { throw bad("truncated at byte \(at)") }
            defer { at += n }
            return bytes[at..<(at + n)]
        }
        func uint<T: FixedWidthInteger>(_: T.Type) throws -> T {
            try take(MemoryLayout<T>.size).reversed().reduce(T(0)) { ($0 << 8) | T($1) }
        }
        guard Array(try take(magic.count)) == magic else { throw bad("not an SMC population checkpoint") }
        let v = try uint(UInt32.self)
        guard v == version else { throw bad("format version \(v), this tweedie reads \(version)") }
        let length = try uint(UInt64.self)
        guard length < UInt64(bytes.count) else { throw bad("header length \(length) exceeds the file") }
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        let header: Header
        do { header = try decoder.decode(Header.self, from: Data(try take(Int(length)))) } catch { throw bad("header: \(error)") }
        let n = header.particles * header.valueCount
        func floats() throws -> [Float] {
            let raw = try take(4 * n)
            var out = [Float](repeating: 0, count: n)
            raw.withUnsafeBytes { src in
                for i in 0..<n { out[i] = Float(bitPattern: UInt32(littleEndian: src.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))) }
            }
            return out
        }
        let z = try floats(), u = try floats()
        var states: [[UInt8]] = []
        for _ in 0...header.particles { states.append(Array(try take(header.streamStateSize))) }
        guard at == bytes.count else { throw bad("\(bytes.count - at) unexpected trailing bytes") }
        return SMCPopulationCheckpoint(header: header, z: z, u: u, streamStates: states)
    }
}
