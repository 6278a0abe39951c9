// A simulated problem for CLI tests, written through the library: an operator
// spec, a truth drawn from an analytic prior and its noisy observation
// (Gaussian noise of known σ), as spec.yaml, truth.fits and obs.fits in a
// directory.
import Foundation
import TweedieCore
import TweedieOperators
import TweediePriors

enum SimulatedProblem {
    /// Writes `specText` as spec.yaml, a truth drawn from `priorSpec` (stream 0 of `truthSeed`,
    /// bands `bands` when given) as truth.fits, and `makeOperator(prior's shape)` of it plus noise
    /// of σ `sigma` (seed `noiseSeed`) as obs.fits, into `dir`.
    static func write(in dir: URL, specText: String, priorSpec: String, truthSeed: UInt64, bands: [String]? = nil,
                      sigma: Double, noiseSeed: UInt64,
                      operator makeOperator: (ImageShape) throws -> any ForwardOperator) throws {
        try specText.write(to: dir.appendingPathComponent("spec.yaml"), atomically: true, encoding: .utf8)
        let prior = try AnalyticPriorSpec.parseAnalytic(priorSpec)
        var truth = ImageBatch(count: 1, shape: prior.imageShape)
        truth.data = prior.sample(using: SampleStream(seed: truthSeed, index: 0)).map { Float($0) }
        if let bands { truth.bands = bands }
        let op = try makeOperator(prior.imageShape)
        let sim = try ObservationSimulator.simulate(truth: truth, operator: op, noise: .sigma(sigma), seed: noiseSeed)
        try FITSWriter.write(truth, to: dir.appendingPathComponent("truth.fits").path)
        try FITSWriter.write(sim.noisy, to: dir.appendingPathComponent("obs.fits").path)
    }
}
