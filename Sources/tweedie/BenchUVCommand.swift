// `tweedie bench uv`: ms per image for the UV operator's apply and adjoint at a
// given size — a thin layer over UVOperatorBenchmark (Operators/Radio).
import ArgumentParser
import Foundation
import TweedieCore
import TweedieOperators

struct BenchUV: TweedieCommand {
    static let configuration = CommandConfiguration(
        commandName: "uv",
        abstract: "Time the radio UV operator: apply and adjoint per image.",
        discussion: """
        Coverage: the real VLA 3C273 UVFITS file by default, or --uvfits FILE. The image is
        N×N (--size) at --cell arcsec, padded to 2N; Gaussian primary beam (25 m dish
        unless the telescope is known). Reports median times over --repeats runs.

        Example:
          tweedie bench uv --size 512 --cell 0.2 --repeats 20
        """
    )

    @Option(help: ArgumentHelp("Random-groups UVFITS file giving the coverage.", valueName: "FILE"))
    var uvfits: String = "../shared/data/real/vla_3C273_Xband_C.uvfits"

    @Option(help: ArgumentHelp("Image size N.", valueName: "N"))
    var size: Int = 512

    @Option(help: ArgumentHelp("Pixel size, arcseconds.", valueName: "ARCSEC"))
    var cell: Double = 0.2

    @Option(help: "Timed runs (median reported).")
    var repeats: Int = 20

    func validate() throws {
        if repeats < 1 { throw ValidationError("--repeats must be at least 1, got \(repeats)") }
        if size < 4 { throw ValidationError("--size must be at least 4, got \(size)") }
        if !(cell > 0) { throw ValidationError("--cell must be > 0, got \(cell)") }
    }

    func execute() throws {
        let data = try UVFITSReader.read(path: uvfits)
        let grid = try UVGrid(samples: data.samples, imageSize: size, cell: cell * .pi / 180 / 3600)
        let pb = try PrimaryBeam(shape: .gaussian, diameter: PrimaryBeam.dishDiameter(telescope: data.telescope) ?? 25,
                                 frequency: data.samples.meanFrequency)
        let op = try UVSamplingOperator(grid: grid, primaryBeam: pb)
        let t = try UVOperatorBenchmark.run(op, repeats: repeats)
        var load = [Double](repeating: 0, count: 3)
        let got = getloadavg(&load, 3)
        print("UV operator benchmark: \(op.summary)")
        print(String(format: "%d² image → %d cells: apply %.2f ms, adjoint %.2f ms, apply + adjoint %.2f ms (median of %d, 1 thread)",
                     size, grid.cellCount, t.apply, t.adjoint, t.apply + t.adjoint, repeats))
        if got == 3 { print(String(format: "load average: %.2f %.2f %.2f", load[0], load[1], load[2])) }
    }
}
