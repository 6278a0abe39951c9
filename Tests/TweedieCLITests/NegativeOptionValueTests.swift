// A negative number after a long option is the option's value (`--background -0.5`), so it reaches
// the option's own check instead of the argument parser's "Missing value".
import Foundation
import Testing
import TweedieCore
@testable import tweedie

@Suite struct NegativeOptionValueTests {
    @Test func negativeNumbersAreJoinedToTheirOption() {
        #expect(joiningNegativeNumberValues(["sample", "--background", "-0.5", "--samples", "8"])
                == ["sample", "--background=-0.5", "--samples", "8"])
        #expect(joiningNegativeNumberValues(["--aperture-center", "-1.5,2", "-o", "-3"])
                == ["--aperture-center=-1.5,2", "-o", "-3"])
        // Option names, "--", and words that are not numbers stay as they are.
        #expect(joiningNegativeNumberValues(["--quiet", "--sigma", "--", "-x"]) == ["--quiet", "--sigma", "--", "-x"])
        #expect(joiningNegativeNumberValues(["--seed=-1", "--clip", "-1.2,1.2"]) == ["--seed=-1", "--clip=-1.2,1.2"])
    }

    @Test func aNegativeCountIsRefusedByItsOwnCheck() throws {
        let dir = try CLIRunner.temporaryDirectory(); defer { CLIRunner.removeDirectory(dir) }
        let out = dir.appendingPathComponent("s.fits").path
        let r = try CLIRunner.run(["prior", "sample", "--prior", "gaussian:n=8,amplitude=1,slope=3,k0=0.3",
                                   "--samples", "-5", "-o", out])
        #expect(r.status != 0 && r.stderr.contains("--samples must be > 0 (got -5)") && !r.stderr.contains("Missing value"), "\(r)")
        #expect(!FileManager.default.fileExists(atPath: out))
    }
}

/// A library setting's error is named as the option the user gave for it, and keeps its key when
/// the value came from elsewhere (a spec, a prior, a default); other errors are printed as they are.
@Suite struct SettingErrorLineTests {
    @Test func aSettingIsNamedAsTheOptionGiven() {
        let e = TweedieError.setting(name: "min_pixels", problem: "0 must be ≥ 1")
        #expect(errorLine(e, arguments: ["tweedie", "sources", "x.fits", "--min-pixels", "0"]) == "--min-pixels: 0 must be ≥ 1")
        #expect(errorLine(e, arguments: ["tweedie", "sources", "x.fits", "--min-pixels=0"]) == "--min-pixels: 0 must be ≥ 1")
        #expect(errorLine(e, arguments: ["tweedie", "study", "run", "s.yaml"]) == "setting min_pixels: 0 must be ≥ 1")
        let other = TweedieError.invalidInput(what: "observation", problem: "is empty")
        #expect(errorLine(other, arguments: ["tweedie", "--observation"]) == "observation: is empty")
    }
}
