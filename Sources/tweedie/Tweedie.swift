// The `tweedie` command-line tool: a thin layer over the library. Each command
// is one type; library errors become one line on stderr and exit code 1.
import ArgumentParser
import Foundation
import TweedieCore

@main
struct Tweedie: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tweedie",
        abstract: "Bayesian deconvolution of astronomical images with diffusion priors.",
        version: TweedieVersion.string,
        subcommands: [DemoCommand.self, SampleCommand.self, StudyCommand.self, CalibrateCommand.self, InfoCommand.self, PreviewCommand.self, PSFCommand.self, SimulateCommand.self, PriorCommand.self, OperatorCommand.self, UVCommand.self, SourcesCommand.self, CleanCommand.self, Bench.self]
    )

    /// Parses the command line with negative numbers joined to their options (`--background -0.5`).
    static func main() {
        main(joiningNegativeNumberValues(Array(CommandLine.arguments.dropFirst())))
    }
}
