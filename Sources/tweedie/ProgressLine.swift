// The tool's one progress display on stderr: "samples 12/64 (19 %), 0.41 samples/s, ETA 2m05s".
//
// On a terminal the line is redrawn in place (carriage return) and ended with a newline by
// `finish()`; when stderr is not a terminal (a log file, a batch job) it is written as one
// line per update if the command asks for that (`whenNotATerminal: .lines`), else nothing.
// The rate and ETA are the caller's when it has them (a resumed run knows its own), else
// measured from the display's creation.
import Foundation

final class ProgressLine: @unchecked Sendable {  // drawn from the thread that runs the samples only
    /// What a display not on a terminal does.
    enum Fallback { case silent, lines }

    let what: String
    private let terminal: Bool
    private let enabled: Bool
    private let start = Date()
    private var drawn = false

    init(what: String, quiet: Bool = false, whenNotATerminal fallback: Fallback = .silent) {
        self.what = what
        terminal = isatty(STDERR_FILENO) != 0
        enabled = !quiet && (terminal || fallback == .lines)
    }

    /// `done` of `total`, at the rate and ETA measured since this display was made.
    func update(done: Int, total: Int) {
        let elapsed = Date().timeIntervalSince(start)
        let rate = elapsed > 0 ? Double(done) / elapsed : 0
        update(done: done, total: total, rate: rate, eta: rate > 0 ? Double(total - done) / rate : .infinity)
    }

    func update(done: Int, total: Int, rate: Double, eta: Double) {
        guard enabled else { return }
        let pct = total > 0 ? 100 * Double(done) / Double(total) : 100
        let text = String(format: "%@ %d/%d (%.0f %%), %.3g %@/s, ETA %@", what, done, total, pct, rate, what,
                          Self.duration(eta))
        if terminal {
            FileHandle.standardError.write(Data(("\r" + text + "   ").utf8))
            drawn = true
        } else {
            printNote(text)
        }
    }

    func finish() {
        if drawn { FileHandle.standardError.write(Data("\n".utf8)) }
        drawn = false
    }

    static func duration(_ s: Double) -> String {
        guard s.isFinite else { return "?" }
        let t = Int(s.rounded())
        return t >= 3600 ? String(format: "%dh%02dm", t / 3600, (t % 3600) / 60)
             : t >= 60 ? String(format: "%dm%02ds", t / 60, t % 60) : "\(t)s"
    }
}
