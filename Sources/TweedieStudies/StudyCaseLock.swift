// A lock file for work that two processes must not do at once: a case of `tweedie study run`
// (processes sharing a study directory: shards, or two given the same shard by mistake) and a
// `tweedie sample` run directory (a second `--resume` while the first still runs).
//
// The lock is a file (cases/case-NNNN.lock; DIR.lock beside a run directory), created with O_CREAT | O_EXCL (atomic on a local
// file system) and holding "PID HOST". A lock whose process no longer exists on this host (kill
// with signal 0 fails with ESRCH: the run was killed, even by SIGKILL) is stale and taken over; a
// lock from another host cannot be checked and is respected, with an error that names the file.
// The lock is removed when the case returns, finished or failed.

import Foundation
import TweedieCore

/// A held lock file (see above); `release()` removes it.
public struct StudyCaseLock {
    public let path: String

    public enum Outcome {
        case acquired(StudyCaseLock)
        /// Held by a live process on this host.
        case heldBy(pid: Int32)
    }

    /// `holder` names, in messages, what takes such locks (e.g. "`tweedie study run`").
    public static func acquire(at path: String, holder: String = "`tweedie study run`") throws -> Outcome {
        // One word: the lock is "PID HOST".
        let name = ProcessInfo.processInfo.hostName.filter { !$0.isWhitespace }
        let host = name.isEmpty ? "localhost" : name
        for _ in 0..<2 {
            let fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0o644)
            if fd >= 0 {
                let text = "\(getpid()) \(host)\n"
                _ = text.withCString { write(fd, $0, strlen($0)) }
                close(fd)
                return .acquired(StudyCaseLock(path: path))
            }
            guard errno == EEXIST else {
                throw TweedieError.io(path: path, problem: "cannot create the lock (\(String(cString: strerror(errno))))")
            }
            let owner = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
            let fields = owner.split(whereSeparator: { $0 == " " || $0 == "\n" })
            guard fields.count >= 2, let pid = Int32(fields[0]) else {
                // Being written this instant, or damaged: treat as held rather than race its writer.
                throw TweedieError.invalidInput(what: path, problem: "is an unreadable lock; if no \(holder) is running, delete it and rerun")
            }
            guard String(fields[1]) == host else {
                throw TweedieError.invalidInput(what: path, problem: "is held by process \(pid) on \(fields[1]); if that run has stopped, delete the lock and rerun")
            }
            if kill(pid, 0) == 0 || errno == EPERM { return .heldBy(pid: pid) }
            // Stale: its process is gone. Remove it and try once more (one of two racing takers wins).
            unlink(path)
        }
        throw TweedieError.invalidInput(what: path, problem: "lock changed hands twice while being taken over; rerun")
    }

    public func release() { unlink(path) }
}
