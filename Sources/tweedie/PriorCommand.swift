// `tweedie prior …`: working with prior directories (DESIGN §4.4). A thin layer
// over TweediePriors (PriorImport, PriorDirectory). `denoise`, `sample` and
// `variance` live in PriorDenoiseCommand.swift and PriorSampleCommand.swift.
import ArgumentParser
import Foundation
import TweedieCore
import TweediePriors

struct PriorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prior",
        abstract: "Create and inspect score priors (prior directories: config.json, weights, model card, variance map).",
        subcommands: [PriorImportCommand.self, PriorInfoCommand.self, PriorDenoiseCommand.self,
                      PriorSampleCommand.self, PriorVarianceCommand.self]
    )

    /// The network's full expected parameter list (from the U-Net's plan), used to check weights
    /// against a config: every missing, unexpected or mis-shaped tensor is named.
    static let parameterLayout: ParameterLayout? = UNetModel.parameterLayout
}

struct PriorImportCommand: TweedieCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Create a prior directory from a PyTorch (.pt/.pth) or safetensors checkpoint.",
        discussion: """
        The checkpoint is read without Python (torch.save zip or legacy format, or safetensors; \
        float16/bfloat16/float64 converted to float32) and its parameter names are kept unchanged \
        (improved-diffusion / guided-diffusion naming). A training checkpoint that wraps state dicts \
        ({"model": …, "ema": …}) uses the EMA weights unless --key says otherwise.

        The config file holds improved-diffusion's flags (image_size, num_channels, num_res_blocks, \
        channel_mult, attention_resolutions, learn_sigma, noise_schedule, diffusion_steps, …) plus \
        "architecture" ("improved-diffusion" or "guided-diffusion"), "bands" (one per channel), \
        "pixel_scale" ({"value": 0.4, "unit": "kpc/px"} or arcsec/px) and "pixel_transform" \
        ({"type": "asinh", "softening": …}, {"type": "affine", "scale": …, "offset": …} or \
        {"type": "gamma-root", "gamma": …, "max": …}).

        Writes DIR/config.json, DIR/weights.safetensors (float32) and DIR/README.md (a model card \
        with the source file and its SHA-256). The directory appears only when complete.
        """
    )

    @Option(name: .long, help: ArgumentHelp("The checkpoint file (.pt, .pth or .safetensors).", valueName: "file"))
    var checkpoint: String

    @Option(name: .long, help: ArgumentHelp("The flags JSON: network flags plus bands, pixel_scale, pixel_transform.", valueName: "flags.json"))
    var config: String

    @Option(name: [.customShort("o"), .long], help: ArgumentHelp("The prior directory to create.", valueName: "dir"))
    var output: String

    @Option(name: .long, help: ArgumentHelp("Which state dict of a training checkpoint to use (e.g. ema, model, state_dict; a/b for nested).", valueName: "name"))
    var key: String?

    @Option(name: .long, help: "The prior's name (default: the config's \"name\", else the directory name).")
    var name: String?

    @Flag(name: .long, help: "Replace an existing prior directory.")
    var overwrite = false

    func validate() throws {
        for (flag, value) in [("--checkpoint", checkpoint), ("--config", config), ("-o/--output", output)]
        where value.trimmingCharacters(in: .whitespaces).isEmpty {
            throw ValidationError("\(flag) must not be empty")
        }
        if let key, key.isEmpty { throw ValidationError("--key must not be empty") }
    }

    func execute() throws {
        let report = try PriorImport.run(
            checkpoint: URL(fileURLWithPath: checkpoint), flags: URL(fileURLWithPath: config),
            output: URL(fileURLWithPath: output), key: key, name: name,
            layout: PriorCommand.parameterLayout, overwrite: overwrite)
        for note in report.notes { printNote("note: \(note)") }
        print("imported \(report.sourceFormat.rawValue) checkpoint \(checkpoint) (sha256 \(report.sourceSHA256))")
        print("prior \(report.config.name) → \(report.directory.path)")
        print("  \(PriorDirectory.formatCount(report.parameterCount)) parameters in \(report.tensorCount) tensors; weights sha256 \(report.weightsSHA256)")
        if PriorCommand.parameterLayout == nil {
            printNote("note: weights checked against the config's stem tensors only (time embedding, input/output convolutions)")
        }
    }
}

struct PriorInfoCommand: TweedieCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Describe a prior directory and verify its weights (architecture, parameters, SHA-256, bands, pixel scale, transform, schedule)."
    )

    @Argument(help: ArgumentHelp("The prior directory.", valueName: "dir"))
    var directory: String

    @Flag(name: .long, help: "Skip computing the weights' SHA-256 (it reads the whole weights file).")
    var noChecksum = false

    func execute() throws {
        let prior = try PriorDirectory.open(URL(fileURLWithPath: directory))
        try prior.validateWeights(layout: PriorCommand.parameterLayout)
        let c = prior.config
        let dtypes = prior.storedDTypeCounts.map { "\($0.value) \($0.key.rawValue)" }.sorted().joined(separator: ", ")
        var rows: [(String, String)] = [
            ("prior", "\(c.name) (\(prior.url.standardizedFileURL.path))"),
            ("architecture", c.architectureSummary),
            ("parameters", "\(PriorDirectory.formatCount(prior.parameterCount)) in \(prior.tensorCount) tensors (\(dtypes))"),
        ]
        if noChecksum {
            rows.append(("weights", "\(c.weightsFile) (checksum not computed)"))
        } else {
            let (sha, verified) = try prior.verifyWeightsChecksum()
            rows.append(("weights", "\(c.weightsFile), sha256 \(sha) \(verified ? "(matches config.json)" : "(none recorded in config.json)")"))
        }
        rows += [
            ("bands", c.bands.joined(separator: ", ")),
            ("image size", "\(c.unet.imageSize) × \(c.unet.imageSize) px"),
            ("pixel scale", c.pixelScale.description),
            ("pixel transform", c.pixelTransform.description),
            ("schedule", "\(c.unet.noiseSchedule.rawValue), \(c.unet.diffusionSteps) steps; predicts \(c.predictionType.rawValue)"),
        ]
        if let v = c.varianceMap {
            rows.append(("variance map", "\(v.file) (N = \(v.samples) samples, \(v.space.rawValue) space)"))
        } else {
            rows.append(("variance map", "none (tweedie prior variance computes one)"))
        }
        // Sampling settings the prior recommends (tuned by its evaluation and demo; options override them).
        rows += c.sampling.rows
        rows.append(("model card", prior.modelCardURL != nil ? PriorDirectory.modelCardFileName : "none"))
        let width = rows.map(\.0.count).max() ?? 0
        for (k, v) in rows { print("\(k):".padding(toLength: width + 2, withPad: " ", startingAt: 0) + v) }
    }
}
