// The engine's tuning knobs, in one value read once per process from the environment.
// They change speed or memory, never results, except the FFTW rigor (see below):
//   TWEEDIE_FFTW_RIGOR       estimate (default) | measure — how FFTW chooses plans.
//                            FFTW_MEASURE times candidate algorithms, so two processes can
//                            pick different ones and round differently; posterior runs must
//                            give the same bits after a resume in a new process, so the
//                            default is the deterministic FFTW_ESTIMATE (measure: benchmarks).
//   TWEEDIE_COL_BUDGET       floats in one im2col chunk of a convolution (default 2²², 16 MiB);
//                            bigger layers are chunked by output rows.
//   TWEEDIE_WINOGRAD_BUDGET  floats in one Winograd chunk's transformed input and products
//                            (default 2²⁰); chunks are whole tile rows.
// A value that does not parse is reported once on standard error and the default is used.
// docs/usage.md lists them for users.

import Foundation

public struct EngineSettings: Sendable, Equatable {
    public var fftwRigor: FFTPlanRigor
    public var im2colBudgetFloats: Int
    public var winogradBudgetFloats: Int

    public static let defaults = EngineSettings(fftwRigor: .estimate, im2colBudgetFloats: 1 << 22, winogradBudgetFloats: 1 << 20)

    public init(fftwRigor: FFTPlanRigor, im2colBudgetFloats: Int, winogradBudgetFloats: Int) {
        self.fftwRigor = fftwRigor; self.im2colBudgetFloats = im2colBudgetFloats; self.winogradBudgetFloats = winogradBudgetFloats
    }

    /// The settings an environment asks for, with one message per variable that does not parse
    /// (that variable keeps its default).
    public static func parse(environment env: [String: String]) -> (settings: EngineSettings, problems: [String]) {
        var s = defaults
        var problems: [String] = []
        if let v = env["TWEEDIE_FFTW_RIGOR"] {
            if let r = FFTPlanRigor(rawValue: v.lowercased()) { s.fftwRigor = r } else {
                problems.append("TWEEDIE_FFTW_RIGOR=\(v) is not estimate or measure; using estimate")
            }
        }
        func budget(_ name: String, _ value: inout Int) {
            guard let v = env[name] else { return }
            if let n = Int(v), n > 0 { value = n } else {
                problems.append("\(name)=\(v) is not a positive whole number of floats; using \(value)")
            }
        }
        budget("TWEEDIE_COL_BUDGET", &s.im2colBudgetFloats)
        budget("TWEEDIE_WINOGRAD_BUDGET", &s.winogradBudgetFloats)
        return (s, problems)
    }

    /// This process's settings (the environment at first use).
    public static let process: EngineSettings = {
        let (s, problems) = parse(environment: ProcessInfo.processInfo.environment)
        for p in problems { FileHandle.standardError.write(Data("warning: \(p)\n".utf8)) }
        return s
    }()
}
