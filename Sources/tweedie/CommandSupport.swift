// Shared CLI plumbing: every command implements `execute()`; library errors
// become one line `error: <message>` on stderr and exit code 1 (DESIGN §8).
import ArgumentParser
import Foundation
import TweedieCore

/// A Tweedie subcommand. Implement `execute()`; `run()` maps errors to exit codes.
protocol TweedieCommand: ParsableCommand {
    func execute() throws
}

extension TweedieCommand {
    func run() throws {
        do {
            try execute()
        } catch let error as TweedieError {
            printError(errorLine(error))
            throw ExitCode(1)
        }
    }
}

/// The error's line, a library setting named as the option the user gave for it
/// (`setting min_pixels` → `--min-pixels`); a setting that came from a spec, a prior or a
/// default keeps its key.
func errorLine(_ error: TweedieError, arguments: [String] = CommandLine.arguments) -> String {
    guard case let .setting(name, problem) = error else { return error.description }
    let flag = "--" + name.replacingOccurrences(of: "_", with: "-")
    return arguments.contains { $0 == flag || $0.hasPrefix(flag + "=") } ? "\(flag): \(problem)" : error.description
}

/// Writes one line to stderr.
func printError(_ message: String) {
    FileHandle.standardError.write(Data("error: \(message)\n".utf8))
}

/// Joins "--option -3.5" (or a comma list "--option -1,2") into "--option=-3.5": the argument
/// parser reads a word starting with "-" as an option name, so a negative value after a long
/// option would otherwise be "Missing value" and never reach the option's own check.
func joiningNegativeNumberValues(_ args: [String]) -> [String] {
    func isNegativeNumbers(_ s: String) -> Bool {
        guard s.hasPrefix("-"), s.count > 1 else { return false }
        return s.split(separator: ",", omittingEmptySubsequences: false)
            .allSatisfy { Double($0.trimmingCharacters(in: .whitespaces)) != nil }
    }
    var out: [String] = []
    var i = 0
    while i < args.count {
        let a = args[i]
        if a.hasPrefix("--"), a.count > 2, !a.contains("="), i + 1 < args.count, isNegativeNumbers(args[i + 1]) {
            out.append(a + "=" + args[i + 1]); i += 2
        } else {
            out.append(a); i += 1
        }
    }
    return out
}

/// Writes a line to stderr (warnings, progress, notes).
func printNote(_ message: String) {
    FileHandle.standardError.write(Data("\(message)\n".utf8))
}

/// The command line as typed, for provenance keywords.
var commandLineForProvenance: String {
    CommandLine.arguments.map { $0.contains(" ") ? "'\($0)'" : $0 }.joined(separator: " ")
}

/// `--shard K/N` (run only a share of the cases: N processes, this one the K-th); (0, 1) when absent.
func parseShard(_ text: String?) throws -> (index: Int, count: Int) {
    guard let text else { return (0, 1) }
    let p = text.split(separator: "/").compactMap { Int($0) }
    guard p.count == 2, p[1] >= 1, p[0] >= 0, p[0] < p[1] else {
        throw TweedieError.invalidInput(what: "--shard", problem: "needs K/N with 0 ≤ K < N, got '\(text)'")
    }
    return (p[0], p[1])
}

/// The 1, 5 and 15 minute load averages as written in /proc/loadavg ("?" where unreadable), for
/// the machine state printed beside timings.
func loadAverageText() -> String {
    (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").prefix(3).joined(separator: " ") ?? "?"
}
