// `tweedie prior sample` (unconditional samples as a FITS cube, optional PNG grid), a thin
// layer over AncestralSampler, and the options it shares with `tweedie prior variance`
// (PriorVarianceCommand.swift). Progress goes to stderr after every batch.
import ArgumentParser
import Foundation
import TweedieCore
import TweediePriors
import TweedieSampling

/// In which space samples are written.
enum SampleSpace: String, ExpressibleByArgument, CaseIterable {
    case network, physical
}

/// Options shared by `prior sample` and `prior variance`.
struct UnconditionalSamplingOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(PriorLoader.help, valueName: "dir|spec"))
    var prior: String

    @Option(name: .long, help: ArgumentHelp("Number of samples N.", valueName: "N"))
    var samples: Int

    @Option(name: .long, help: ArgumentHelp("Respaced sampling steps S (1 … the prior's T; default the prior's declared steps, else 250, or T if smaller).", valueName: "S"))
    var steps: Int?

    @Option(name: .long, help: ArgumentHelp("Random seed: sample k uses stream (seed, k), whatever the batch.", valueName: "K"))
    var seed: UInt64 = 0

    @Option(name: .long, help: ArgumentHelp("Samples drawn together (memory vs speed; results do not depend on it).", valueName: "B"))
    var batch: Int = 8

    @Option(name: .long, help: ArgumentHelp("Clip x̂0 to LO,HI in network space at every step (default: the prior's declared range, x0_clip in its config; 'none' to disable).", valueName: "LO,HI"))
    var clip: String?

    @Flag(name: .long, help: "Sample with DDIM (default: the prior's declared sampler, prior.unconditional_sampler in its config, else DDPM).")
    var ddim = false

    @Flag(name: .long, help: "Sample with DDPM ancestral steps (σ² = β̃), whatever the prior declares.")
    var ddpm = false

    @Option(name: .long, help: ArgumentHelp("DDIM noise level η ≥ 0 (0: deterministic; 1: DDPM-like; default the prior's declared DDIM η, else 0). Needs --ddim.", valueName: "E"))
    var eta: Double?

    func validate() throws {
        guard samples > 0 else { throw ValidationError("--samples must be > 0 (got \(samples))") }
        if let steps, steps < 1 { throw ValidationError("--steps must be ≥ 1 (got \(steps))") }
        guard batch > 0 else { throw ValidationError("--batch must be > 0 (got \(batch))") }
        if ddim && ddpm { throw ValidationError("--ddim and --ddpm exclude each other; give one") }
        if let eta {
            guard ddim else { throw ValidationError("--eta needs --ddim") }
            guard eta.isFinite && eta >= 0 else { throw ValidationError("--eta must be a finite number ≥ 0 (got \(eta))") }
        }
    }

    /// Loads the prior and builds the sampler: --ddim / --ddpm, else the prior's declared sampler, else DDPM;
    /// --steps, else the declared steps, else 250 (or T if smaller); --clip, else the declared x̂0 range.
    func makeSampler() throws -> (ResolvedPrior, AncestralSampler) {
        let resolved = try PriorLoader.load(prior, maxBatch: batch)
        var method: AncestralMethod? = ddpm ? .ddpm(useBetaVariance: false) : nil
        if ddim {
            // --ddim without --eta keeps a declared DDIM's η (so --ddim --steps 250 changes only the steps).
            var declaredEta = 0.0
            if case .ddim(let e)? = AncestralMethod.declared(by: resolved)?.method { declaredEta = e }
            method = .ddim(eta: eta ?? declaredEta)
        }
        var range: (Float, Float)?? = nil
        if let c = clip {
            range = .some(nil)
            if c != "none" {
                let v = try parseNumbers(c, option: "--clip")
                guard v.count == 2, v[0] < v[1] else {
                    throw TweedieError.invalidInput(what: "--clip", problem: "needs LO,HI with LO < HI (or none), got '\(c)'")
                }
                range = .some((Float(v[0]), Float(v[1])))
            }
        }
        return (resolved, try AncestralSampler(unconditional: resolved, method: method, steps: steps, clip: range))
    }
}

struct PriorSampleCommand: TweedieCommand {
    static let configuration = CommandConfiguration(
        commandName: "sample",
        abstract: "Draw unconditional samples from a prior (DDPM ancestral or DDIM) into a FITS cube.",
        discussion: """
        Samples are drawn over a respaced schedule of S steps (the network is called with the \
        original timesteps). Sample k uses the random stream (seed, k): it is the same whatever \
        --batch is. The cube is [N][C][H][W] (NAXIS4 = sample), in network space (the prior's \
        own normalised space) or, with --space physical, mapped through the prior's pixel transform. \
        --grid writes a PNG of the first (up to 64) samples, 8 per row: colour (R = i, G = r, B = g) \
        for a 3-band prior, else grey, with one linear stretch for all.

        The sampler: --ddim or --ddpm, else the one the prior's config declares \
        (prior.unconditional_sampler: method ddpm|ddim, eta, steps — the setting its evaluation used), \
        else DDPM ancestral with σ² = β̃.

        Example:
          tweedie prior sample --prior Priors/Models/galaxies-64 --samples 64 --steps 250 --seed 1 -o samples.fits --grid samples.png
          tweedie prior sample --prior gaussian:n=32,amplitude=1,slope=3,k0=0.1 --samples 16 --ddim -o g.fits
        """
    )

    @OptionGroup var options: UnconditionalSamplingOptions

    @Option(name: .long, help: "Space of the written samples.")
    var space: SampleSpace = .network

    @Option(name: [.short, .long], help: ArgumentHelp("Output FITS cube (written atomically).", valueName: "samples.fits"))
    var output: String

    @Option(name: .long, help: ArgumentHelp("Also write a PNG grid of the first samples (up to 64).", valueName: "grid.png"))
    var grid: String?

    func validate() throws {
        if let grid, !grid.lowercased().hasSuffix(".png") {
            throw ValidationError("--grid must name a .png file (got '\(grid)')")
        }
    }

    func execute() throws {
        let (resolved, sampler) = try options.makeSampler()
        let n = options.samples
        // The cube is held in memory until it is written (the batches, their stack and the physical
        // copy: 12 bytes a value); refuse a count that cannot fit before sampling for hours.
        let perSample = resolved.denoiser.imageShape.count * 12
        let memory = Int(clamping: ProcessInfo.processInfo.physicalMemory / 2)
        if checkedElementCount([n, perSample]).map({ $0 > memory }) ?? true {
            throw TweedieError.invalidInput(what: "--samples", problem: "\(n) samples of \(resolved.denoiser.imageShape) need \(String(format: "%.1f", Double(n) * Double(perSample) / 1_073_741_824)) GiB in memory, more than half of this machine's \(ProcessInfo.processInfo.physicalMemory >> 30) GiB; give at most \(memory / perSample), or run several times with different --seed")
        }
        let progress = ProgressLine(what: "samples", whenNotATerminal: .lines)
        var parts: [ImageBatch] = []
        var start = 0
        while start < n {
            let range = start..<min(n, start + options.batch)
            parts.append(try sampler.sample(indices: range, seed: options.seed))
            start = range.upperBound
            progress.update(done: start, total: n)
        }
        progress.finish()
        var samples = try ImageBatch.stack(parts)
        if space == .physical { samples = sampler.physical(samples) }
        if samples.shape.channels == resolved.denoiser.bands.count { samples.bands = resolved.denoiser.bands }
        samples.unit = ""  // the network's space, or the prior's physical space, whose unit a prior does not declare
        // The grid is rendered before anything is written, so a failure leaves no file.
        let picture = try grid.map { _ in try PreviewGrid.render(samples) }
        var cards = resolved.provenanceCards + sampler.provenanceCards(seed: options.seed, count: n)
        cards.append(FITSCard(keyword: "SPACE", value: .string(space.rawValue), comment: "network space u or physical x = T(u)"))
        try FITSWriter.write(samples, to: output, provenance: FITSProvenance(commandLine: commandLineForProvenance, extraCards: cards))
        print("wrote \(output): \(n) samples of \(samples.shape) (\(space.rawValue) space), \(sampler.summary), seed \(options.seed)")
        if let grid, let picture {
            do {
                switch picture.picture {
                case .grey(let g): try PNGPreview.write(g, to: grid)
                case .colour(let c): try PNGPreview.write(c, to: grid)
                }
            } catch {
                try? FileManager.default.removeItem(atPath: output)
                throw error
            }
            print("wrote \(grid): first \(picture.shown) samples, \(picture.mapping)")
        }
    }
}
