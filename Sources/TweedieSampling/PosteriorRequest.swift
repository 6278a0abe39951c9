// A posterior run as a typed value: what to observe, through which operator, with which noise,
// flux scale, background and sampler, how many samples. `PosteriorPipeline.prepare` turns it into
// a ready problem and sampler; `tweedie sample` builds one from its options, and studies and the
// catalogue build one without going through a command line. It is Codable: a run directory's
// run.json records the request it was made from (`PosteriorJobRecord`), so it can be resumed
// without the command line that made it.
import Foundation
import TweedieCore
import TweedieOperators

public struct PosteriorRequest: Sendable {
    /// A SIZE×SIZE box centred on 1-based pixel (x, y) of the observation.
    public struct Cutout: Sendable, Equatable, Codable {
        public var x: Int, y: Int, size: Int
        public init(x: Int, y: Int, size: Int) { self.x = x; self.y = y; self.size = size }
    }
    /// The noise model of an image observation.
    public enum Noise: Sendable, Equatable, Codable {
        /// σ per band (one value for all bands, or one per band), physical units.
        case sigma([Double])
        /// A FITS variance map on the observation grid: the cutout's, or the whole frame's (cut with it).
        case varianceMap(String)
        /// A FITS inverse-variance (weight) map on the observation grid: the cutout's or the whole frame's.
        case weightMap(String)
        /// σ per band from the sigma-clipped MAD of the observation.
        case estimated
    }
    /// The flux scale s (physical = s · T(network)).
    public enum FluxScale: Sendable, Equatable, Codable {
        case given(Double)
        /// Σ y / Σ A(prior mean) over the usable values (A conserves flux).
        case estimated
    }
    /// What is subtracted from the observation before sampling.
    public enum Background: Sendable, Equatable, Codable {
        case none
        /// Each band's sigma-clipped median.
        case sigmaClippedMedian
        case value(Double)
    }
    /// How errors name the request's fields (a command line passes its option names).
    public struct FieldNames: Sendable {
        public var cutout = "cutout", background = "background", sigma = "sigma", noiseMaps = "variance / weight map"
        public var fluxScale = "flux scale", truth = "truth", apertureRadius = "aperture radius", sampler = "sampler"
        public init() {}
    }

    public var prior: String
    public var observation: String
    public var hdu: FITSHDUSelector?
    public var cutout: Cutout?
    /// The operator chain, and the file it came from (relative PSF and antenna files, messages).
    public var operatorSpec: OperatorSpec
    public var operatorSpecPath: String
    public var background: Background = .none
    public var noise: Noise = .estimated
    public var fluxScale: FluxScale = .estimated
    /// The sampler: its kind and the settings given (the rest resolved against the prior).
    public var sampler = SamplerRequest(kind: PosteriorDefaults.sampler)
    public var samples: Int
    public var batch: Int = 8
    public var seed: UInt64 = 0
    /// A truth image on the prior grid (physical units), for PSNR, SSIM, MSE and coverage.
    public var truth: String?
    /// The variance-ratio aperture (prior pixels; nil: PosteriorMetrics.defaultAperture).
    public var apertureRadius: Double?
    public var apertureCenter: (x: Double, y: Double)?
    /// The command line (or call) recorded in the provenance.
    public var command: String
    public var names = FieldNames()

    public init(prior: String, observation: String, operatorSpec: OperatorSpec, operatorSpecPath: String,
                samples: Int, command: String) {
        self.prior = prior; self.observation = observation
        self.operatorSpec = operatorSpec; self.operatorSpecPath = operatorSpecPath
        self.samples = samples; self.command = command
    }
}

extension PosteriorRequest: Codable {
    private enum CodingKeys: String, CodingKey {
        case prior, observation, hdu, cutout, operatorSpec, operatorSpecPath, background, noise, fluxScale, sampler
        case samples, batch, seed, truth, apertureRadius, apertureCenter, command
    }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(prior, forKey: .prior); try c.encode(observation, forKey: .observation)
        try c.encodeIfPresent(hdu, forKey: .hdu); try c.encodeIfPresent(cutout, forKey: .cutout)
        try c.encode(operatorSpec, forKey: .operatorSpec); try c.encode(operatorSpecPath, forKey: .operatorSpecPath)
        try c.encode(background, forKey: .background); try c.encode(noise, forKey: .noise)
        try c.encode(fluxScale, forKey: .fluxScale); try c.encode(sampler, forKey: .sampler)
        try c.encode(samples, forKey: .samples); try c.encode(batch, forKey: .batch); try c.encode(seed, forKey: .seed)
        try c.encodeIfPresent(truth, forKey: .truth); try c.encodeIfPresent(apertureRadius, forKey: .apertureRadius)
        try c.encodeIfPresent(apertureCenter.map { [$0.x, $0.y] }, forKey: .apertureCenter)
        try c.encode(command, forKey: .command)
    }
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(prior: try c.decode(String.self, forKey: .prior), observation: try c.decode(String.self, forKey: .observation),
                  operatorSpec: try c.decode(OperatorSpec.self, forKey: .operatorSpec),
                  operatorSpecPath: try c.decode(String.self, forKey: .operatorSpecPath),
                  samples: try c.decode(Int.self, forKey: .samples), command: try c.decode(String.self, forKey: .command))
        hdu = try c.decodeIfPresent(FITSHDUSelector.self, forKey: .hdu)
        cutout = try c.decodeIfPresent(Cutout.self, forKey: .cutout)
        background = try c.decode(Background.self, forKey: .background)
        noise = try c.decode(Noise.self, forKey: .noise)
        fluxScale = try c.decode(FluxScale.self, forKey: .fluxScale)
        sampler = try c.decode(SamplerRequest.self, forKey: .sampler)
        batch = try c.decode(Int.self, forKey: .batch); seed = try c.decode(UInt64.self, forKey: .seed)
        truth = try c.decodeIfPresent(String.self, forKey: .truth)
        apertureRadius = try c.decodeIfPresent(Double.self, forKey: .apertureRadius)
        if let v = try c.decodeIfPresent([Double].self, forKey: .apertureCenter) {
            guard v.count == 2 else {
                throw DecodingError.dataCorruptedError(forKey: .apertureCenter, in: c, debugDescription: "needs [x, y], got \(v.count) values")
            }
            apertureCenter = (v[0], v[1])
        }
    }
}

/// The defaults of a posterior run that `tweedie sample` and a study case share: a study case runs
/// as that command would with the same settings.
public enum PosteriorDefaults {
    /// The calibrated sampler (docs/samplers.md, "Which sampler, when").
    public static let sampler = "split-gibbs"
    public static let samples = 64
    /// Samples per batch (they share each network call).
    public static let batch = 4
    /// DPS's respaced schedule length.
    public static let dpsSteps = 250
    /// SMC particles per population.
    public static let particles = 64
    /// The most samples one run takes. The Monte Carlo error of the posterior mean and variance
    /// falls as 1/√samples: 10⁶ samples put it at 0.1 % of the posterior σ, below anything a
    /// posterior summary resolves, while each sample costs a whole sampler trajectory (milliseconds
    /// for the exact Gaussian posterior, seconds for a U-Net prior: 10⁶ of those take weeks). A
    /// count above it is a typing slip; independent runs with different seeds can be pooled.
    public static let maximumSamples = 1_000_000

    /// Why `samples` is refused (as the option or setting `name`), nil when 1 ≤ samples ≤ maximumSamples.
    public static func samplesProblem(_ samples: Int, name: String) -> String? {
        if samples < 1 { return "\(name) must be ≥ 1, got \(samples)" }
        if samples > maximumSamples {
            return "\(name) \(samples) is more than the \(maximumSamples) a run takes (the posterior mean's Monte Carlo error is already 0.1 % of σ there, and each sample is a whole sampler run); give at most \(maximumSamples), or pool runs with different --seed"
        }
        return nil
    }
}
