// Typed errors of the library (DESIGN §8). The library throws; only the CLI
// turns an error into a one-line message and a non-zero exit code.
//
// Every message names the thing at fault (a file, a parameter, a tensor), the
// problem, and — where there is one — what to do about it.

/// An error raised anywhere in Tweedie. `description` is the one-line message
/// the CLI prints after `error: `.
public enum TweedieError: Error, CustomStringConvertible, Equatable, Sendable {
    /// A file could not be found, opened or written.
    case io(path: String, problem: String)
    /// A FITS file is malformed or lacks what was asked of it (CFITSIO status included in `problem`).
    case fits(path: String, problem: String)
    /// A user-supplied value is out of range or inconsistent (`what` names the quantity or file).
    case invalidInput(what: String, problem: String)
    /// A setting of a library call is out of range: `name` is the setting's key as specs write it
    /// (`guidance`, `min_pixels`); a front end may name it its own way (the CLI as `--guidance`,
    /// `--min-pixels` where the user gave that option, `CommandSupport.swift`).
    case setting(name: String, problem: String)
    /// Shapes or band counts disagree between two things that must match.
    case shapeMismatch(what: String, expected: String, got: String)
    /// A model / checkpoint / prior directory is missing or inconsistent (names the tensor or key).
    case model(path: String, problem: String)
    /// A numerical failure (non-finite values, failed convergence) with where it happened.
    case numerical(problem: String)
    /// A C library reported an error that is not the user's fault.
    case library(name: String, problem: String)

    public var description: String {
        switch self {
        case let .io(path, problem): return "\(path): \(problem)"
        case let .fits(path, problem): return "\(path): \(problem)"
        case let .invalidInput(what, problem): return "\(what): \(problem)"
        case let .setting(name, problem): return "setting \(name): \(problem)"
        case let .shapeMismatch(what, expected, got): return "\(what): expected \(expected), got \(got)"
        case let .model(path, problem): return "\(path): \(problem)"
        case let .numerical(problem): return problem
        case let .library(name, problem): return "\(name): \(problem)"
        }
    }
}
