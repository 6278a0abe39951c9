// `tweedie operator describe|check|apply|adjoint --spec S`: a thin layer over
// OperatorSpec (Operators/OperatorSpec.swift) and OperatorChecks. apply and
// adjoint read a FITS image of the operator's input (output) shape and write
// A x (Aᵀ y) with provenance keywords.
import ArgumentParser
import Foundation
import TweedieCore
import TweedieStudies
import TweedieOperators
import TweedieSampling

struct OperatorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "operator",
        abstract: "Describe and check forward-operator chains given as a YAML spec.",
        discussion: """
        A spec lists the prior grid and the chain, applied in order, e.g.
          prior: {size: 256, bands: [g, r, i], pixel_scale_kpc: 0.4}
          chain:
            - resample: {redshift: 0.3, pixel_scale: 0.168}
            - psf: {moffat_fwhm: 0.6, beta: 3, size: 41}
        Steps: resample (redshift, pixel_scale, H0, Om0), bands ([names]), psf
        (gaussian_fwhm | moffat_fwhm + beta | airy_lambda + diameter [metres] | file
        [+ hdu; relative to the spec's folder], size, pixel_scale, boundary linear|periodic,
        normalize; or per_band: [...]).
        """,
        subcommands: [Describe.self, Check.self, Apply.self, Adjoint.self]
    )
}

struct OperatorSpecOption: ParsableArguments {
    @Option(name: .long, help: "Operator spec file (YAML).")
    var spec: String

    func build() throws -> BuiltOperatorChain { try buildOperatorChain(specPath: spec) }
}

extension OperatorCommand {
    struct Describe: TweedieCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print each step of the chain: shapes, m(z,p), resampling factors, PSFs, warnings.")
        @OptionGroup var options: OperatorSpecOption

        func execute() throws {
            let built = try options.build()
            print(built.report)
            for w in built.warnings { printNote("warning: \(w)") }
        }
    }

    struct Check: TweedieCommand {
        static let configuration = CommandConfiguration(
            abstract: "Dot-product test ⟨Au,v⟩ = ⟨u,Aᵀv⟩ (relative 1e-5, Float64 sums), operator norm by power iteration, shapes.")
        @OptionGroup var options: OperatorSpecOption
        @Option(name: .long, help: "Seed of the random test vectors.")
        var seed: UInt64 = 1
        @Option(name: .long, help: "Power-iteration rounds for the operator norm.")
        var iterations: Int = 30

        func validate() throws {
            guard iterations >= 1 else { throw ValidationError("--iterations must be ≥ 1") }
        }

        func execute() throws {
            let built = try options.build()
            print(built.report)
            for w in built.warnings { printNote("warning: \(w)") }
            let op = built.forwardOperator
            let result = try OperatorChecks.dotProductTest(op, seed: seed, count: 1)
            let pass = result.passes(tolerance: 1e-5)
            print("dot-product test: \(result) → \(pass ? "PASS" : "FAIL") (tolerance 1e-5)")
            for (i, step) in built.steps.enumerated() {
                let r = try OperatorChecks.dotProductTest(step, seed: seed &+ UInt64(i + 1))
                print("  step \(i + 1): relative error \(r.relativeError)")
            }
            let norm = try OperatorChecks.operatorNorm(op, iterations: iterations, seed: seed)
            print("operator norm ‖A‖₂ ≈ \(norm) (\(iterations) power iterations)")
            if !pass {
                throw TweedieError.numerical(problem: "operator check failed: the adjoint does not match the operator (\(result))")
            }
        }
    }
}

/// Input / output options shared by `operator apply` and `operator adjoint`.
struct OperatorIOOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Input FITS image (bands along NAXIS3; several images along NAXIS4).", valueName: "X.fits"))
    var input: String

    @Option(name: .long, help: ArgumentHelp("HDU of the input: a number or an EXTNAME.", valueName: "N|NAME"))
    var hdu: String?

    @Option(name: [.short, .long], help: ArgumentHelp("Output FITS file (written atomically; an existing file needs --overwrite).", valueName: "Y.fits"))
    var output: String

    @Flag(name: .long, help: "Replace the output file if it exists.")
    var overwrite = false

    /// Applies A (or Aᵀ) to the input and writes the result.
    func run(_ spec: OperatorSpecOption, adjoint: Bool) throws {
        if !overwrite, FileManager.default.fileExists(atPath: output) {
            throw TweedieError.invalidInput(what: output, problem: "exists; give --overwrite to replace it, or another -o")
        }
        let built = try spec.build()
        for w in built.warnings { printNote("warning: \(w)") }
        let op = built.forwardOperator
        let x = try readOperatorImage(input, hdu: hdu, expected: adjoint ? op.outputShape : op.inputShape,
                                      role: adjoint ? "output (observation grid; the adjoint maps it back)" : "input (prior grid)")
        var y = adjoint ? try op.adjoint(x) : try op.apply(x)
        // The input's unit and its WCS mapped onto the output grid (the chain keeps the field).
        y.unit = x.unit ?? ""
        y.header = x.header.flatMap { ProductHeader.carried(from: $0, sourceShape: x.shape, productShape: y.shape) }
        y.bands = adjoint ? (try loadOperatorSpec(spec.spec).priorShape().bands) : built.outputBands
        if y.bands.count != y.shape.channels { y.bands = [] }
        var cards = [FITSCard(keyword: "TWOPER", value: .string(FITSCard.asciiText((adjoint ? "adjoint of " : "") + op.summary)),
                              comment: "forward operator"),
                     FITSCard(keyword: "TWSPEC", value: .string(spec.spec), comment: "operator spec file")]
        if !adjoint, let p = built.outputPixelScaleArcsec {
            cards.append(FITSCard(keyword: "PIXSCALE", value: .double(p), comment: "pixel scale, arcsec/px"))
        }
        try FITSWriter.write(y, to: output, provenance: FITSProvenance(commandLine: commandLineForProvenance, extraCards: cards))
        print("\(adjoint ? "Aᵀ" : "A"): \(input) [\(x.shape)] → \(output) [\(y.shape)] (channels×height×width)\(x.count > 1 ? ", \(x.count) images" : "")")
    }
}

extension OperatorCommand {
    struct Apply: TweedieCommand {
        static let configuration = CommandConfiguration(
            abstract: "Apply the operator: write A x for an image x on the prior grid.",
            discussion: """
            Example:
              tweedie operator apply --spec hsc.yaml --input truth.fits -o blurred.fits
            """)
        @OptionGroup var options: OperatorSpecOption
        @OptionGroup var io: OperatorIOOptions
        func execute() throws { try io.run(options, adjoint: false) }
    }

    struct Adjoint: TweedieCommand {
        static let configuration = CommandConfiguration(
            abstract: "Apply the adjoint: write Aᵀ y for an image y on the observation grid.",
            discussion: """
            Example:
              tweedie operator adjoint --spec hsc.yaml --input obs.fits -o backprojected.fits
            """)
        @OptionGroup var options: OperatorSpecOption
        @OptionGroup var io: OperatorIOOptions
        func execute() throws { try io.run(options, adjoint: true) }
    }
}
