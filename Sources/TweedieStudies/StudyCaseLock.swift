// A lock for work that two processes must not do at once: a case of `tweedie study run`
// (processes sharing a study directory: shards, or two given the same shard by mistake) and a
// `tweedie sample` run directory (a second `--resume` or `-o` while the first still runs).
//
// The lock is an exclusive flock(2) on a lock file (cases/case-NNNN.lock; DIR.lock beside a run
// directory, so that a run refused before it starts leaves no directory behind). The kernel
// releases it when its process exits, however it ends (SIGKILL included), so a lock file left by a
// killed run is simply taken by the next one; there is nothing stale to clean. The file holds
// "PID HOST" of its holder, for messages. `release()` removes the file and then drops the lock; a
// taker that locked a file just removed this way sees that the path no longer names its file and
// tries again. On NFS, Linux maps flock to byte-range locks that the server arbitrates.

import Foundation
import TweedieCore

/// A held lock (see above); `release()` gives it back.
public struct StudyCaseLock {
    public let path: String
    /// The open lock file; closing it drops the flock.
    let descriptor: Int32

    public enum Outcome {
        case acquired(StudyCaseLock)
        /// Held by another live process (its PID as the lock file records it; 0 when unreadable).
        case heldBy(pid: Int32)
    }

    /// Takes the lock at `path` without waiting. `holder` names, in messages, what takes such
    /// locks (e.g. "`tweedie study run`").
    public static func acquire(at path: String, holder: String = "`tweedie study run`") throws -> Outcome {
        let name = ProcessInfo.processInfo.hostName.filter { !$0.isWhitespace }
        let host = name.isEmpty ? "localhost" : name
        for _ in 0..<4 {
            let fd = open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0o644)
            guard fd >= 0 else {
                throw TweedieError.io(path: path, problem: "cannot create the lock file for \(holder) (\(String(cString: strerror(errno)))); check that its directory is writable")
            }
            if flock(fd, LOCK_EX | LOCK_NB) != 0 {
                let busy = errno == EWOULDBLOCK
                let reason = String(cString: strerror(errno))
                let pid = busy ? recordedPID(fd) : 0
                close(fd)
                if busy { return .heldBy(pid: pid) }
                throw TweedieError.io(path: path, problem: "cannot lock (\(reason)); the file system may not support locks: run \(holder) from a local directory")
            }
            // Locked: make sure the path still names this file (its last holder may have removed it
            // between our open and our flock); if not, the lock guards nothing, so try again.
            var mine = stat(), named = stat()
            if fstat(fd, &mine) == 0, stat(path, &named) == 0, mine.st_ino == named.st_ino, mine.st_dev == named.st_dev {
                let text = "\(getpid()) \(host)\n"
                _ = ftruncate(fd, 0)
                _ = text.withCString { pwrite(fd, $0, strlen($0), 0) }
                return .acquired(StudyCaseLock(path: path, descriptor: fd))
            }
            close(fd)
        }
        throw TweedieError.invalidInput(what: path, problem: "lock changed hands four times while being taken; rerun")
    }

    /// The PID written in an open lock file, 0 when it cannot be read (being written this instant).
    private static func recordedPID(_ fd: Int32) -> Int32 {
        var buffer = [UInt8](repeating: 0, count: 128)
        let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, 127, 0) }
        guard n > 0 else { return 0 }
        let text = String(decoding: buffer[0..<n], as: UTF8.self)
        return text.split(whereSeparator: { $0 == " " || $0 == "\n" }).first.flatMap { Int32($0) } ?? 0
    }

    /// Removes the lock file and drops the lock.
    public func release() {
        unlink(path)
        close(descriptor)
    }
}
