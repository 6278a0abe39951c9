// Atomic file creation (DESIGN §2 "Outputs"): content is written to a
// temporary name in the destination's directory, flushed, and renamed over the
// destination, so a crash or a kill never leaves a partial file that looks
// valid. On any error the temporary is removed and a `TweedieError` is thrown.

import Foundation
import TweedieCore

enum AtomicFile {
    /// A temporary path beside `url` (same directory, hence same file system, so rename is atomic).
    static func temporarySibling(of url: URL) -> URL {
        let dir = url.deletingLastPathComponent()
        let tag = "\(ProcessInfo.processInfo.processIdentifier)-\(UInt32.random(in: 0...UInt32.max))"
        return dir.appendingPathComponent(".\(url.lastPathComponent).tmp-\(tag)")
    }

    /// Creates `url` by calling `body` with a handle on a temporary file, then renaming it into place.
    static func write(to url: URL, _ body: (FileHandle) throws -> Void) throws {
        let tmp = temporarySibling(of: url)
        guard FileManager.default.createFile(atPath: tmp.path, contents: nil) else {
            throw TweedieError.io(path: url.path,
                                  problem: "cannot create a file in \(url.deletingLastPathComponent().path) (missing directory or no permission)")
        }
        do {
            let handle = try FileHandle(forWritingTo: tmp)
            do {
                try body(handle)
                try handle.synchronize()
                try handle.close()
            } catch {
                try? handle.close()
                throw error
            }
            if rename(tmp.path, url.path) != 0 {
                throw TweedieError.io(path: url.path,
                                      problem: "cannot move the finished file into place: \(String(cString: strerror(errno)))")
            }
        } catch let error as TweedieError {
            try? FileManager.default.removeItem(at: tmp)
            throw error
        } catch {
            try? FileManager.default.removeItem(at: tmp)
            throw TweedieError.io(path: url.path, problem: "write failed: \(error.localizedDescription)")
        }
    }

    /// Writes `data` to `url` atomically.
    static func write(_ data: Data, to url: URL) throws {
        try write(to: url) { try $0.write(contentsOf: data) }
    }
}
