// Atomic output files (DESIGN §2 "Outputs", §8): a writer produces a temporary
// file in the destination's own directory and renames it over the destination
// only when everything succeeded, so a failure, a crash or a kill never leaves a
// truncated file under the final name. rename(2) within one directory (one file
// system) is atomic on POSIX.
//
// Conventions: the temporary name is `.<name>.tmp-<pid>-<random>` next to the
// destination; it is removed on any error. A process killed mid-write can leave
// such a hidden temporary file behind, never a partial destination.
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes a file atomically: temporary file in the same directory, then rename.
public enum AtomicFileWrite {
    /// Runs `body` with the path of a fresh temporary file next to `path` (the
    /// file does not exist yet when `body` starts: the writer creates it), then
    /// flushes it to disk and renames it to `path`. If `body` throws, or the
    /// rename fails, the temporary file is removed, `path` is left as it was,
    /// and the error is rethrown.
    ///
    /// Throws `TweedieError.io` naming `path` when its directory is missing,
    /// is not a directory, or cannot be written.
    public static func write<T>(to path: String, _ body: (_ temporaryPath: String) throws -> T) throws -> T {
        let destination = URL(fileURLWithPath: path)
        let directory = destination.deletingLastPathComponent().path
        try checkWritableDirectory(directory, for: path)
        let tmp = directory + "/." + destination.lastPathComponent
            + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        // Probe: can a file be created here at all? (Permissions alone say nothing for root,
        // and read-only file systems only show themselves on creation.)
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0o644)
        if fd < 0 {
            let reason = String(cString: strerror(errno))
            throw TweedieError.io(path: path,
                                  problem: "cannot create a file in directory \(directory) (\(reason.lowercased())); choose a writable output directory")
        }
        close(fd)
        unlink(tmp)

        let result: T
        do {
            result = try body(tmp)
            try flush(tmp, for: path)
            if rename(tmp, path) != 0 {
                let reason = String(cString: strerror(errno))
                throw TweedieError.io(path: path, problem: "cannot rename the finished temporary file into place (\(reason.lowercased()))")
            }
        } catch {
            unlink(tmp)
            throw error
        }
        return result
    }

    /// Writes `data` to `path` atomically.
    public static func write(_ data: Data, to path: String) throws {
        try write(to: path) { try data.write(to: URL(fileURLWithPath: $0)) }
    }

    /// Writes `path` atomically through a file handle on the temporary file (for writers that
    /// stream their output piece by piece, such as a checkpoint's tensors).
    public static func writeStream(to path: String, _ body: (FileHandle) throws -> Void) throws {
        try write(to: path) { tmp in
            guard FileManager.default.createFile(atPath: tmp, contents: nil), let handle = FileHandle(forWritingAtPath: tmp) else {
                throw TweedieError.io(path: path, problem: "cannot create its temporary file \(tmp)")
            }
            defer { try? handle.close() }
            try body(handle)
        }
    }

    /// Throws unless `directory` exists, is a directory and is writable.
    static func checkWritableDirectory(_ directory: String, for path: String) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) else {
            throw TweedieError.io(path: path, problem: "output directory \(directory) does not exist; create it first")
        }
        guard isDirectory.boolValue else {
            throw TweedieError.io(path: path, problem: "\(directory) is not a directory")
        }
        if access(directory, W_OK) != 0 {
            throw TweedieError.io(path: path, problem: "output directory \(directory) is not writable; choose a writable output directory")
        }
    }

    /// fsync the finished file so that the rename never exposes data still in flight.
    private static func flush(_ tmp: String, for path: String) throws {
        let fd = open(tmp, O_RDONLY)
        guard fd >= 0 else {
            throw TweedieError.io(path: path, problem: "the temporary output file vanished before it could be renamed into place")
        }
        defer { close(fd) }
        if fsync(fd) != 0 {
            let reason = String(cString: strerror(errno))
            throw TweedieError.io(path: path, problem: "cannot flush the output to disk (\(reason.lowercased()))")
        }
    }
}
