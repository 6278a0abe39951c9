// A posterior run as a typed value: what to observe, through which operator, with which noise,
// flux scale, background and sampler, how many samples. `PosteriorPipeline.prepare` turns it into
// a ready problem and sampler; `tweedie sample` builds one from its options, and studies and the
// catalogue build one without going through a command line.
import Foundation
import TweedieCore
import TweedieOperators

public struct PosteriorRequest: Sendable {
    /// A SIZE×SIZE box centred on 1-based pixel (x, y) of the observation.
    public struct Cutout: Sendable, Equatable {
        public var x: Int, y: Int, size: Int
        public init(x: Int, y: Int, size: Int) { self.x = x; self.y = y; self.size = size }
    }
    /// The noise model of an image observation.
    public enum Noise: Sendable, Equatable {
        /// σ per band (one value for all bands, or one per band), physical units.
        case sigma([Double])
        /// A FITS variance map on the observation grid (after the cutout).
        case varianceMap(String)
        /// A FITS inverse-variance (weight) map on the observation grid (after the cutout).
        case weightMap(String)
        /// σ per band from the sigma-clipped MAD of the observation.
        case estimated
    }
    /// The flux scale s (physical = s · T(network)).
    public enum FluxScale: Sendable, Equatable {
        case given(Double)
        /// Σ y / Σ A(prior mean) over the usable values (A conserves flux).
        case estimated
    }
    /// What is subtracted from the observation before sampling.
    public enum Background: Sendable, Equatable {
        case none
        /// Each band's sigma-clipped median.
        case sigmaClippedMedian
        case value(Double)
    }
    /// DPS's x̂0 clipping.
    public enum Clip: Sendable, Equatable {
        /// The prior's declared range (config x0_clip), if any.
        case priorDeclared
        case none
        case range(lo: Float, hi: Float)
    }
    /// Split-Gibbs settings that override the prior's declared ones (nil: keep the prior's).
    public struct SplitGibbsOverrides: Sendable, Equatable {
        public var iterations: Int?, rhoMax: Double?, priorSteps: Int?
        public init(iterations: Int? = nil, rhoMax: Double? = nil, priorSteps: Int? = nil) {
            self.iterations = iterations; self.rhoMax = rhoMax; self.priorSteps = priorSteps
        }
    }
    /// The sampler, its settings resolved against the prior's declared defaults by the pipeline.
    public enum Sampler: Sendable, Equatable {
        /// DPS with `steps` DDPM steps; ζ given, or the prior's (extrapolated with a warning).
        case dps(steps: Int, guidance: Double?, clip: Clip, ddimEta: Double?)
        case splitGibbs(SplitGibbsOverrides)
        /// SMC over the split-Gibbs annealing (60 iterations unless overridden).
        case smc(SplitGibbsOverrides, particles: Int, adaptive: Bool, samplesPerPopulation: Int?)
    }
    /// How errors name the request's fields (a command line passes its option names).
    public struct FieldNames: Sendable {
        public var cutout = "cutout", background = "background", sigma = "sigma", noiseMaps = "variance / weight map"
        public var fluxScale = "flux scale", truth = "truth", apertureRadius = "aperture radius"
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
    public var sampler: Sampler = .splitGibbs(SplitGibbsOverrides())
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
