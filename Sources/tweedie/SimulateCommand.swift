// `tweedie simulate --spec S.yaml --truth X.fits (--sigma S | --snr R) --seed K -o obs.fits
// [--flux-scale F]`: a noisy observation y = A(F·x) + n, n ~ N(0, σ²) (DESIGN §3) —
// a thin layer over OperatorSpec and ObservationSimulator (Operators/Noise).
import ArgumentParser
import Foundation
import TweedieCore
import TweedieStudies
import TweedieOperators
import TweedieSampling

struct SimulateCommand: TweedieCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Simulate a noisy observation y = A(F·x) + n of a truth image through an operator spec.",
        discussion: """
        The truth must have the spec's prior shape (bands along NAXIS3). The noise is white
        Gaussian with σ given (--sigma, in the truth's units × F) or set from a signal-to-noise
        ratio SNR = ‖A(F·x)‖₂ / σ over all output values (--snr). It is drawn from the stream
        of --seed, so the same seed gives the same observation on any machine. The header
        records NOISESIG (σ), NOISESNR, SEED, FLUXSCL, the operator (TWOPER) and the spec.

        A spec whose chain ends in a uv step (radio) gives gridded visibilities: the noise is
        the spec's noise_rms (the natural-weighted dirty-image rms, Jy/beam) turned into a σ per
        uv cell, so --sigma / --snr are not taken. The file holds HDU VIS (NAXIS1 = re, im;
        NAXIS2 = cells; keywords IMSIZE, CELLASEC, NCELLS, UVCELL, NOISERMS, UVSIGMA) and HDU
        CELLS (fx, fy, σ_c, natural weight per cell), which `tweedie sample --spec` checks.

        Example:
          tweedie simulate --spec hsc.yaml --truth galaxy.fits --snr 50 --seed 1 -o obs.fits
          tweedie simulate --spec alma.yaml --truth sky.fits --seed 1 -o vis.fits
        """
    )

    @Option(name: .long, help: ArgumentHelp("Operator spec file (YAML).", valueName: "S.yaml"))
    var spec: String

    @Option(name: .long, help: ArgumentHelp("Truth image on the prior grid (FITS).", valueName: "X.fits"))
    var truth: String

    @Option(name: .long, help: ArgumentHelp("HDU of the truth: a number or an EXTNAME.", valueName: "N|NAME"))
    var hdu: String?

    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp("Noise σ per output pixel.", valueName: "S"))
    var sigma: Double?

    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp("Signal-to-noise ratio ‖A x‖₂ / σ.", valueName: "R"))
    var snr: Double?

    @Option(name: .long, help: "Seed of the noise stream.")
    var seed: UInt64 = 1

    @Option(name: .customLong("flux-scale"), parsing: .unconditional,
            help: ArgumentHelp("Multiply the truth by F before the operator.", valueName: "F"))
    var fluxScale: Double = 1

    @Option(name: [.short, .long], help: ArgumentHelp("Output FITS file (written atomically).", valueName: "obs.fits"))
    var output: String

    func validate() throws {
        if sigma != nil && snr != nil { throw ValidationError("give at most one of --sigma S and --snr R") }
    }

    func execute() throws {
        guard fluxScale.isFinite, fluxScale > 0 else {
            throw TweedieError.invalidInput(what: "--flux-scale", problem: "must be a positive finite number, got \(fluxScale)")
        }
        let built = try buildOperatorChain(specPath: spec)
        for w in built.warnings { printNote("warning: \(w)") }
        let op = built.forwardOperator
        var x = try readOperatorImage(truth, hdu: hdu, expected: op.inputShape, role: "input (prior grid)")
        guard x.count == 1 else {
            throw TweedieError.invalidInput(what: truth, problem: "holds \(x.count) images (NAXIS4); simulate one truth at a time")
        }
        if fluxScale != 1 { for j in x.data.indices { x.data[j] = Float(Double(x.data[j]) * fluxScale) } }
        if let uv = built.uv {
            try simulateVisibilities(x, uv: uv, built: built)
            return
        }
        guard sigma != nil || snr != nil else {
            throw TweedieError.invalidInput(what: "simulate", problem: "give the noise: --sigma S or --snr R (only a uv spec carries its own noise)")
        }
        let sim = try ObservationSimulator.simulate(truth: x, operator: op,
                                                    noise: sigma.map(NoiseLevel.sigma) ?? .snr(snr!), seed: seed)
        var y = sim.noisy
        y.bands = built.outputBands.count == y.shape.channels ? built.outputBands : []
        // The truth's unit, WCS (mapped onto the observed grid) and identity keywords carry over.
        y.unit = x.unit ?? ""
        y.header = x.header.flatMap { ProductHeader.carried(from: $0, sourceShape: x.shape, productShape: y.shape) }
        var cards = [
            FITSCard(keyword: "NOISESIG", value: .double(sim.sigma), comment: "Gaussian noise sigma per pixel"),
            FITSCard(keyword: "NOISESNR", value: .double(sim.snr), comment: "SNR = |A x|_2 / sigma"),
        ] + simulationCards(op)
        if let p = built.outputPixelScaleArcsec {
            cards.append(FITSCard(keyword: "PIXSCALE", value: .double(p), comment: "pixel scale, arcsec/px"))
        }
        try FITSWriter.write(y, to: output, provenance: FITSProvenance(commandLine: commandLineForProvenance, extraCards: cards))
        print(built.report)
        print("wrote \(output): \(y.shape) (channels×height×width), σ = \(String(format: "%.6g", sim.sigma)), "
              + "SNR = \(String(format: "%.4g", sim.snr)), seed \(seed)")
    }

    /// Radio: visibilities with the per-cell noise of the spec's noise_rms.
    private func simulateVisibilities(_ x: ImageBatch, uv: UVChainStep, built: BuiltOperatorChain) throws {
        if sigma != nil || snr != nil {
            throw TweedieError.invalidInput(what: "--sigma / --snr", problem: "\(spec) ends in a uv step whose noise is noise_rms: (Jy/beam); drop --sigma / --snr or change noise_rms in the spec")
        }
        let noise = try uv.noiseModel(what: "\(spec) uv step")
        let sim = try ObservationSimulator.simulate(truth: x, operator: built.forwardOperator, noiseModel: noise, seed: seed)
        let cards = simulationCards(built.forwardOperator)
        let hdus = try VisibilityObservation.hdus(sim.noisy, step: uv, noise: noise, extraCards: cards)
        try FITSWriter.write(hdus: hdus, to: output, provenance: FITSProvenance(commandLine: commandLineForProvenance))
        print(built.report)
        print("noise: \(noise.summary); natural-weighted dirty-image rms \(String(format: "%.4g", uv.noiseRMS!)) Jy/beam")
        print("wrote \(output): VIS \(uv.grid.cellCount) cells × (re, im)\(x.shape.channels > 1 ? " × \(x.shape.channels) channels" : ""), CELLS; seed \(seed)")
    }

    /// Provenance of a simulation: noise seed, flux scale, operator, spec and truth.
    private func simulationCards(_ op: any ForwardOperator) -> [FITSCard] {
        [FITSCard(keyword: "SEED", value: .int(Int(truncatingIfNeeded: seed)), comment: "noise stream seed"),
         FITSCard(keyword: "FLUXSCL", value: .double(fluxScale), comment: "truth multiplied by this"),
         FITSCard(keyword: "TWOPER", value: .string(FITSCard.asciiText(op.summary)), comment: "forward operator"),
         FITSCard(keyword: "TWSPEC", value: .string(spec), comment: "operator spec file"),
         FITSCard(keyword: "TWTRUTH", value: .string(truth), comment: "truth image")]
    }
}
