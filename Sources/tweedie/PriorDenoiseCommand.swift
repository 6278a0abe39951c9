// `tweedie prior denoise --prior DIR --input XT.fits --timestep T -o EPS.fits`:
// the raw network output for x_t at one original timestep, for parity checks
// against PyTorch (DESIGN §4.3). A thin layer over PriorResolver and
// UNetDenoiser.networkOutput. Input and output are in network space; the
// output has the network's output channels (2·C with learn_sigma). For an
// analytic prior the "network output" is its exact ε̂.
import ArgumentParser
import Foundation
import TweedieCore
import TweediePriors

struct PriorDenoiseCommand: TweedieCommand {
    static let configuration = CommandConfiguration(
        commandName: "denoise",
        abstract: "Run the prior's network once on x_t (network space) and write its raw output (for parity checks).",
        discussion: """
        The input FITS holds one image (2-D for one band, a cube for several) or several images \
        (NAXIS4) of exactly the prior's shape, in the prior's network space. The output has the same \
        number of images and the network's output channels: ε̂ (or x̂0 / v, as the prior predicts); with \
        learn_sigma the second half of the channels is the variance interpolation. An analytic prior \
        writes its exact ε̂.

        Example:
          tweedie prior denoise --prior Priors/Models/galaxies-64 --input xt.fits --timestep 500 -o eps.fits
        """
    )

    @Option(name: .long, help: ArgumentHelp(PriorLoader.help, valueName: "dir|spec"))
    var prior: String

    @Option(name: .long, help: ArgumentHelp("x_t in network space (FITS).", valueName: "XT.fits"))
    var input: String

    @Option(name: .long, help: ArgumentHelp("The original timestep index t (0 … T−1 of the prior's schedule).", valueName: "t"))
    var timestep: Int

    @Option(name: [.short, .long], help: ArgumentHelp("Output FITS file (written atomically).", valueName: "EPS.fits"))
    var output: String

    func validate() throws {
        guard timestep >= 0 else { throw ValidationError("--timestep must be ≥ 0 (got \(timestep))") }
        guard !output.trimmingCharacters(in: .whitespaces).isEmpty else { throw ValidationError("--output must not be empty") }
    }

    func execute() throws {
        let resolved = try PriorLoader.load(prior)
        let denoiser = resolved.denoiser
        let steps = denoiser.schedule.originalSteps
        guard timestep < steps else {
            throw TweedieError.invalidInput(what: "--timestep", problem: "\(timestep) is outside 0…\(steps - 1) of the prior's \(steps)-step schedule")
        }
        let xt = try FITSReader.read(input)
        guard xt.shape == denoiser.imageShape else {
            throw TweedieError.shapeMismatch(what: "\(input): x_t for prior \(resolved.name)",
                                             expected: "images of \(denoiser.imageShape) (channels×height×width)",
                                             got: "\(xt.count) image\(xt.count == 1 ? "" : "s") of \(xt.shape)")
        }
        if let bad = xt.data.firstIndex(where: { !$0.isFinite }) {
            throw TweedieError.invalidInput(what: input, problem: "holds a non-finite value (NaN, BLANK or Inf) at value \(bad); x_t must be finite everywhere")
        }
        let t = [Int](repeating: timestep, count: xt.count)
        var out: ImageBatch
        let what: String
        if let unet = denoiser as? UNetDenoiser {
            out = try unet.networkOutput(xt, timesteps: t)
            what = "raw U-Net output (\(unet.predictionType.rawValue) prediction\(out.shape.channels != xt.shape.channels ? ", learn_sigma: variance half last" : ""))"
        } else {
            out = try denoiser.predict(xt, timesteps: t).eps
            what = "exact ε̂ of the analytic prior"
        }
        if out.shape.channels == denoiser.bands.count { out.bands = denoiser.bands }
        out.unit = ""  // network space: dimensionless
        var cards = resolved.provenanceCards
        cards.append(FITSCard(keyword: "TIMESTEP", value: .int(timestep), comment: "original timestep t of x_t"))
        cards.append(FITSCard(keyword: "ALPHABAR", value: .double(denoiser.schedule.alphasCumprod[timestep]),
                              comment: "alpha-bar at t (training schedule)"))
        cards.append(FITSCard(keyword: "TWINPUT", value: .string(input), comment: "x_t file"))
        try FITSWriter.write(out, to: output, provenance: FITSProvenance(commandLine: commandLineForProvenance, extraCards: cards))
        print("wrote \(output): \(what), \(out.count) × \(out.shape) at t = \(timestep)")
    }
}
