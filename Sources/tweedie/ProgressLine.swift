// A one-line progress display on stderr (done / total, rate, ETA), redrawn in
// place with a carriage return; silent when stderr is not a terminal.
import Foundation

final class ProgressLine: @unchecked Sendable {  // drawn from the thread that runs the samples only
    let enabled: Bool
    let what: String
    private var drawn = false

    init(enabled: Bool, what: String) { self.enabled = enabled; self.what = what }

    func update(done: Int, total: Int, rate: Double, eta: Double) {
        guard enabled else { return }
        let pct = total > 0 ? 100 * Double(done) / Double(total) : 100
        let line = String(format: "\r%d / %d %@ (%.0f %%), %.3g %@/s, ETA %@   ", done, total, what, pct, rate, what,
                          Self.duration(eta))
        FileHandle.standardError.write(Data(line.utf8))
        drawn = true
    }

    func finish() {
        if enabled && drawn { FileHandle.standardError.write(Data("\n".utf8)) }
    }

    static func duration(_ s: Double) -> String {
        guard s.isFinite else { return "?" }
        let t = Int(s.rounded())
        return t >= 3600 ? String(format: "%dh%02dm", t / 3600, (t % 3600) / 60)
             : t >= 60 ? String(format: "%dm%02ds", t / 60, t % 60) : "\(t)s"
    }
}
