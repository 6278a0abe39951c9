// Runs the built `tweedie` executable for CLI tests and captures its output.
//
// Finding the binary (first that exists wins):
// 1. $TWEEDIE_BINARY, if set;
// 2. next to the running test bundle: SwiftPM puts test bundles and executables
//    in the same products directory (.build/<triple>/debug, or release);
//    on Linux the test runner is `<products>/TweediePackageTests.xctest`, on
//    macOS inside `<products>/TweediePackageTests.xctest/Contents/MacOS/`;
// 3. <repository root>/.build/debug/tweedie, then …/release/tweedie (the
//    repository root found from this file's #filePath).
// `swift build --build-tests` / `swift test` build `tweedie` because this test
// target depends on it.
//
// Output goes to temporary files, not pipes, so a chatty command can never
// block on a full pipe. Commands run in the repository root unless told
// otherwise, so paths like ../shared/data/… work as in the README.
import Foundation

/// What one run of the CLI produced.
struct CLIResult: CustomStringConvertible {
    var status: Int32
    var stdout: String
    var stderr: String
    /// Non-empty stderr lines.
    var stderrLines: [String] { stderr.split(separator: "\n").map(String.init) }
    var description: String { "exit \(status)\n--- stdout\n\(stdout)--- stderr\n\(stderr)" }
}

enum CLIRunner {
    /// The repository root (two levels above Tests/TweedieCLITests/).
    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// ../shared beside the repository root.
    static let shared = repositoryRoot.deletingLastPathComponent().appendingPathComponent("shared")

    /// A file of the core tests' fixtures (Tests/TweedieCoreTests/Fixtures/<name>).
    static func coreFixture(_ name: String) -> String {
        repositoryRoot.appendingPathComponent("Tests/TweedieCoreTests/Fixtures/\(name)").path
    }

    struct BinaryNotFound: Error, CustomStringConvertible {
        var tried: [String]
        var description: String {
            "the tweedie executable was not found (build it with `swift build --build-tests`); looked at: "
                + tried.joined(separator: ", ")
        }
    }

    /// The `tweedie` executable to test.
    static func binary() throws -> URL {
        var candidates: [URL] = []
        if let env = ProcessInfo.processInfo.environment["TWEEDIE_BINARY"], !env.isEmpty {
            candidates.append(URL(fileURLWithPath: env))
        }
        var starts = [Bundle.main.bundleURL]
        if let exe = Bundle.main.executableURL { starts.append(exe.deletingLastPathComponent()) }
        for b in Bundle.allBundles where b.bundleURL.pathExtension == "xctest" { starts.append(b.bundleURL) }
        for start in starts {
            // Walk up out of any *.xctest bundle to the products directory.
            var d = start
            for _ in 0..<4 {
                candidates.append(d.appendingPathComponent("tweedie"))
                if d.path == "/" { break }
                d = d.deletingLastPathComponent()
            }
        }
        candidates.append(repositoryRoot.appendingPathComponent(".build/debug/tweedie"))
        candidates.append(repositoryRoot.appendingPathComponent(".build/release/tweedie"))
        let fm = FileManager.default
        for c in candidates {
            var isDirectory: ObjCBool = false
            if fm.fileExists(atPath: c.path, isDirectory: &isDirectory), !isDirectory.boolValue,
               fm.isExecutableFile(atPath: c.path) {
                return c
            }
        }
        throw BinaryNotFound(tried: candidates.map(\.path))
    }

    /// Runs `tweedie <arguments>` in `directory` (default: the repository root) and waits for it.
    static func run(_ arguments: [String], in directory: URL? = nil,
                    environment: [String: String] = [:]) throws -> CLIResult {
        let fm = FileManager.default
        let scratch = fm.temporaryDirectory.appendingPathComponent("tweedie-cli-\(UUID().uuidString)")
        try fm.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? fm.removeItem(at: scratch) }
        let outURL = scratch.appendingPathComponent("stdout"), errURL = scratch.appendingPathComponent("stderr")
        _ = fm.createFile(atPath: outURL.path, contents: nil)
        _ = fm.createFile(atPath: errURL.path, contents: nil)
        let out = try FileHandle(forWritingTo: outURL), err = try FileHandle(forWritingTo: errURL)

        let process = Process()
        process.executableURL = try binary()
        process.arguments = arguments
        process.currentDirectoryURL = directory ?? repositoryRoot
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = out
        process.standardError = err
        try process.run()
        process.waitUntilExit()
        try out.close()
        try err.close()
        return CLIResult(status: process.terminationStatus,
                         stdout: String(decoding: try Data(contentsOf: outURL), as: UTF8.self),
                         stderr: String(decoding: try Data(contentsOf: errURL), as: UTF8.self))
    }

    /// A fresh empty directory for a test's outputs; remove it with `removeDirectory`.
    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("tweedie-cli-out-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    static func removeDirectory(_ url: URL) { try? FileManager.default.removeItem(at: url) }

    /// Holds an exclusive flock on `path` as a running tweedie would (the file records this
    /// process's PID); close the returned descriptor to let go.
    static func holdLock(_ path: String) throws -> Int32 {
        let fd = open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0o644)
        guard fd >= 0, flock(fd, LOCK_EX | LOCK_NB) == 0 else { throw CocoaError(.fileLocking) }
        let text = "\(getpid()) test\n"
        _ = text.withCString { write(fd, $0, strlen($0)) }
        return fd
    }

    /// Runs `tweedie arguments` and kills it with SIGKILL once the run's checkpoint (`checkpoint`,
    /// a checkpoint.json) records at least `atLeast` samples done; nil when the process ended or
    /// two minutes passed first. Returns the checkpoint's nextIndex at the kill.
    static func killAtCheckpoint(_ arguments: [String], checkpoint: URL, atLeast: Int) throws -> Int? {
        let p = Process()
        p.executableURL = try binary()
        p.arguments = arguments
        p.standardOutput = FileHandle.nullDevice; p.standardError = FileHandle.nullDevice
        try p.run()
        let deadline = Date().addingTimeInterval(120)
        var killedAt: Int? = nil
        while Date() < deadline && p.isRunning {
            if let d = try? Data(contentsOf: checkpoint), let o = try? JSONSerialization.jsonObject(with: d) as? [String: Any],
               let next = o["nextIndex"] as? Int, next >= atLeast {
                kill(p.processIdentifier, SIGKILL)
                killedAt = next
                break
            }
            usleep(2_000)
        }
        p.waitUntilExit()
        return p.terminationReason == .uncaughtSignal ? killedAt : nil
    }
}
