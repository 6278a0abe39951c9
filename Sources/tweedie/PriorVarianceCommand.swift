// `tweedie prior variance`: the prior's pixel variance map (DESIGN §4.4) from unconditional
// samples drawn with the options `prior sample` shares (UnconditionalSamplingOptions), over
// PriorVarianceEstimate.
import ArgumentParser
import Foundation
import TweedieCore
import TweediePriors
import TweedieSampling

struct PriorVarianceCommand: TweedieCommand {
    static let configuration = CommandConfiguration(
        commandName: "variance",
        abstract: "Compute a prior's variance map from N unconditional samples (N ≥ 256 recommended).",
        discussion: """
        The pixel-wise variance (Welford, Double, n − 1 denominator) of N unconditional samples, in \
        the prior's network space u — the space the variance ratio is computed in — with the \
        physical-space variance of x = T(u) as a second HDU (EXTNAME PHYSVAR) and the mean of T(u) as a third (PHYSMEAN, for the flux-scale estimate of `tweedie sample`).

        For a prior directory the map is written atomically into the directory (variance.fits) and \
        recorded in config.json (file, N, steps, sampler, seed, space); -o is not allowed. An analytic \
        prior has no directory: give -o FILE, and the file is all that is written.

        Example:
          tweedie prior variance --prior Priors/Models/galaxies-64 --samples 512 --steps 250 --seed 0
        """
    )

    @OptionGroup var options: UnconditionalSamplingOptions

    @Option(name: [.short, .long], help: ArgumentHelp("Output FITS file (analytic priors only).", valueName: "FILE"))
    var output: String?

    static let fileName = "variance.fits"
    static let physicalHDU = "PHYSVAR"
    /// Mean of x = T(u) (for the flux-scale estimate of `tweedie sample`).
    static let meanHDU = "PHYSMEAN"

    func validate() throws {
        guard options.samples >= 2 else {
            throw ValidationError("--samples must be ≥ 2 for a variance (got \(options.samples)); \(PriorVarianceEstimate.recommendedSamples) or more recommended")
        }
    }

    func execute() throws {
        let isAnalytic = PriorResolver.isAnalyticSpec(options.prior)
        if isAnalytic && output == nil {
            throw TweedieError.invalidInput(what: "-o/--output", problem: "an analytic prior (\(options.prior)) has no directory to write into; give -o FILE.fits")
        }
        if !isAnalytic && output != nil {
            throw TweedieError.invalidInput(what: "-o/--output", problem: "the variance map of a prior directory is written into the directory (\(Self.fileName)) and recorded in config.json; leave out -o")
        }
        let (resolved, sampler) = try options.makeSampler()
        let n = options.samples
        if n < PriorVarianceEstimate.recommendedSamples {
            printNote("warning: N = \(n) samples is below the recommended \(PriorVarianceEstimate.recommendedSamples); the variance map will be noisy (relative error ≈ √(2/N) = \(String(format: "%.0f", 100 * (2.0 / Double(n)).squareRoot()))% per pixel)")
        }
        let progress = ProgressLine(what: "samples", whenNotATerminal: .lines)
        let estimate = try PriorVarianceEstimate.estimate(sampler: sampler, count: n, seed: options.seed,
                                                          batch: options.batch) { done, _ in progress.update(done: done, total: n) }
        progress.finish()
        let bands = resolved.denoiser.bands
        let net = estimate.varianceImage(physical: false, bands: bands)
        let phys = estimate.varianceImage(physical: true, bands: bands)
        var cards = resolved.provenanceCards + sampler.provenanceCards(seed: options.seed, count: n)
        cards.append(FITSCard(keyword: "SPACE", value: .string("network"), comment: "primary HDU: variance of u (network space)"))
        let provenance = FITSProvenance(commandLine: commandLineForProvenance, extraCards: cards)
        // BUNIT '': network space is dimensionless, and a prior declares no physical flux unit.
        let hdus: [(name: String?, image: ImageBatch)] = [("VARIANCE", net), (Self.physicalHDU, phys),
                                                          (Self.meanHDU, estimate.physicalMeanImage(bands: bands))].map { hdu in
            var image = hdu.1
            image.unit = image.unit ?? ""
            return (hdu.0, image)
        }
        let meanVariance = estimate.network.variance.reduce(0, +) / Double(max(1, net.valueCount))
        if let output {
            try FITSWriter.write(hdus: hdus, to: output, provenance: provenance)
            print("wrote \(output): variance of \(n) samples (\(sampler.summary)), mean network-space variance \(String(format: "%.6g", meanVariance))")
            return
        }
        guard let directory = resolved.directory else { return }
        let file = directory.url.appendingPathComponent(Self.fileName).path
        try FITSWriter.write(hdus: hdus, to: file, provenance: provenance)
        let info = VarianceMapInfo(file: Self.fileName, samples: n, space: .network, steps: sampler.schedule.count,
                                   sampler: sampler.name, seed: options.seed, physicalHDU: Self.physicalHDU)
        _ = try directory.recordingVarianceMap(info)
        print("wrote \(file): variance of \(n) samples (\(sampler.summary)), mean network-space variance \(String(format: "%.6g", meanVariance)); recorded in \(directory.configURL.path)")
    }
}
