// The demo observation bundled with a prior (Priors/Models/<prior>/demo: observation.fits,
// truth.fits, psf.fits, operator.yaml, made by Priors/training/make_demo_observation.py) and
// where the bundled priors are: $TWEEDIE_MODELS, else ./Priors/Models, else walking up from the
// executable. σ per band comes from the observation's SIGMA_G/R/I keywords; the flux scale from
// its catalogue magnitude MAG_R (AB, zero point 27): the galaxy prior is normalised to unit r-band
// flux, so s = 10^(−0.4 (MAG_R − 27)). (The estimate Σ y / Σ A(prior mean) needs a prior whose
// mean image has a clean background; the interim prior's has not.)
import Foundation
import TweedieCore

public struct DemoObservation: Sendable {
    /// The prior directory and the demo's files in it.
    public let prior: String, observation: String, operatorSpec: String, truth: String
    /// σ per band (g, r, i) and the flux scale s (physical = s·T(u)).
    public let sigmas: [Double]
    public let fluxScale: Double

    /// The demo of prior `name` in `models` (nil: the bundled priors, `locateModels()`).
    public init(models: String?, prior name: String) throws {
        let modelsDir = try models ?? Self.locateModels()
        prior = (modelsDir as NSString).appendingPathComponent(name)
        let demo = (prior as NSString).appendingPathComponent("demo")
        for f in ["observation.fits", "truth.fits", "psf.fits", "operator.yaml"] {
            let p = (demo as NSString).appendingPathComponent(f)
            guard FileManager.default.fileExists(atPath: p) else {
                throw TweedieError.io(path: p, problem: "bundled demo file missing; the repository checkout is incomplete (regenerate with python3 Priors/training/make_demo_observation.py)")
            }
        }
        observation = (demo as NSString).appendingPathComponent("observation.fits")
        operatorSpec = (demo as NSString).appendingPathComponent("operator.yaml")
        truth = (demo as NSString).appendingPathComponent("truth.fits")
        let h = try FITSReader.read(observation).header ?? FITSHeader()
        let values = ["SIGMA_G", "SIGMA_R", "SIGMA_I"].compactMap { h.double($0) }
        guard values.count == 3 else {
            throw TweedieError.fits(path: observation, problem: "lacks SIGMA_G/R/I keywords; regenerate it with python3 Priors/training/make_demo_observation.py")
        }
        sigmas = values
        guard let m = h.double("MAG_R") else {
            throw TweedieError.fits(path: observation, problem: "lacks the MAG_R keyword; regenerate it with python3 Priors/training/make_demo_observation.py")
        }
        fluxScale = pow(10, -0.4 * (m - 27))
    }

    /// Finds Priors/Models: $TWEEDIE_MODELS, else ./Priors/Models, else walking up from the executable.
    public static func locateModels() throws -> String {
        let fm = FileManager.default
        if let env = ProcessInfo.processInfo.environment["TWEEDIE_MODELS"], !env.isEmpty { return env }
        var tried: [String] = []
        let cwd = URL(fileURLWithPath: fm.currentDirectoryPath).appendingPathComponent("Priors/Models")
        tried.append(cwd.path)
        if fm.fileExists(atPath: cwd.path) { return cwd.path }
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<6 {
            let c = dir.appendingPathComponent("Priors/Models")
            tried.append(c.path)
            if fm.fileExists(atPath: c.path) { return c.path }
            dir = dir.deletingLastPathComponent()
        }
        throw TweedieError.io(path: tried.joined(separator: ", "),
                              problem: "bundled priors not found; run from the repository root or set TWEEDIE_MODELS=<repo>/Priors/Models")
    }
}
