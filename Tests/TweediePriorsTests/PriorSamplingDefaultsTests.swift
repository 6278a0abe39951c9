// The sampling settings a prior's config.json declares (PriorSamplingDefaults): parsed and
// validated when the config is read, written back unchanged, and DPS's ζ rule for step counts the
// prior does not tabulate (ζ·steps kept, from the nearest tabulated count in log steps).
import Foundation
import Testing
import TweedieCore
@testable import TweediePriors

@Suite struct PriorSamplingDefaultsTests {
    /// The training-flags layout of CheckpointPriorDirectoryTests with `prior` keys added.
    static func config(_ sampling: [String: Any]) throws -> PriorConfig {
        let data = CheckpointPriorDirectoryTests.flags { o in for (k, v) in sampling { o[k] = v } }
        return try PriorConfig.parse(data, path: "dir/config.json", defaultName: "dir")
    }

    @Test func everyDeclaredSettingIsTypedAndWrittenBack() throws {
        let c = try Self.config([
            "dps_guidance": ["100": 0.005, "1000": 0.0004],
            "split_gibbs": ["iterations": 30, "rho_max": 1, "prior_steps": 20, "likelihood_moves": 4,
                            "prior_step_variance": "analytic", "coupling": "midpoint", "prior_step_variance_scale": 0.5,
                            "cg_error_tolerance": 0.1, "gauss_newton_error_tolerance": 10],
            "x0_clip": [-1.2, 1.2],
            "unconditional_sampler": ["method": "ddim", "eta": 0.5, "steps": 100],
        ])
        let s = c.sampling
        #expect(s.dpsGuidance == [100: 0.005, 1000: 0.0004])
        #expect(s.splitGibbs == .init(iterations: 30, rhoMax: 1, priorSteps: 20, likelihoodMoves: 4, gaussNewtonSteps: nil,
                                     priorStepVariance: "analytic", cgErrorTolerance: 0.1, coupling: "midpoint",
                                     priorStepVarianceScale: 0.5, gaussNewtonErrorTolerance: 10))
        #expect(s.x0Clip == -1.2...1.2)
        #expect(s.unconditionalSampler == .init(method: .ddim(eta: 0.5), steps: 100))
        // Interpreted keys are not also kept as verbatim extras, and they survive a write and read.
        #expect(c.otherPriorKeys["split_gibbs"] == nil && c.otherKeys["split_gibbs"] == nil)
        let back = try PriorConfig.parse(try c.jsonData(), path: "b", defaultName: "x")
        #expect(back.sampling == s)
        // Nothing declared: empty defaults.
        let none = try Self.config([:]).sampling
        #expect(none == PriorSamplingDefaults())
    }

    /// ζ·steps is kept from the nearest tabulated count (in log steps); a tabulated count is exact.
    @Test func guidanceForAnUntabulatedStepCountKeepsZetaTimesSteps() throws {
        let s = PriorSamplingDefaults(dpsGuidance: [4: 0.25, 40: 0.01])
        let four = try #require(s.recommendedGuidance(steps: 4))
        #expect(four.zeta == 0.25 && four.tabulatedAt == 4)
        // 8 steps: |log(8/4)| < |log(8/40)| → from 4: ζ = 0.25·4/8.
        let eight = try #require(s.recommendedGuidance(steps: 8))
        #expect(eight.tabulatedAt == 4 && abs(eight.zeta - 0.125) < 1e-15)
        // 30 steps: nearer 40 → ζ = 0.01·40/30.
        let thirty = try #require(s.recommendedGuidance(steps: 30))
        #expect(thirty.tabulatedAt == 40 && abs(thirty.zeta - 0.01 * 40 / 30) < 1e-15)
        #expect(PriorSamplingDefaults().recommendedGuidance(steps: 100) == nil)
    }

    /// A malformed value fails when the config is read, naming the file and the key.
    @Test func aMalformedSettingIsRefusedByName() throws {
        let cases: [([String: Any], String)] = [
            (["dps_guidance": ["100": -1.0]], "prior.dps_guidance.100"),
            (["dps_guidance": ["many": 0.1]], "prior.dps_guidance.many"),
            (["dps_guidance": 0.1], "prior.dps_guidance"),
            (["split_gibbs": ["rho_max": -1.0]], "prior.split_gibbs.rho_max"),
            (["split_gibbs": ["iterations": 2.5]], "prior.split_gibbs.iterations"),
            (["split_gibbs": ["likelihood_moves": 0]], "prior.split_gibbs.likelihood_moves"),
            (["split_gibbs": ["gauss_newton_steps": -1]], "prior.split_gibbs.gauss_newton_steps"),
            (["split_gibbs": ["iteration": 30]], "prior.split_gibbs.iteration"),
            (["split_gibbs": ["prior_step_variance": "exact"]], "prior.split_gibbs.prior_step_variance"),
            (["split_gibbs": ["coupling": "fast"]], "prior.split_gibbs.coupling"),
            (["split_gibbs": ["prior_step_variance_scale": -0.5]], "prior.split_gibbs.prior_step_variance_scale"),
            (["split_gibbs": ["gauss_newton_error_tolerance": 0]], "prior.split_gibbs.gauss_newton_error_tolerance"),
            (["x0_clip": [1.2, -1.2]], "prior.x0_clip"),
            (["x0_clip": [1]], "prior.x0_clip"),
            (["unconditional_sampler": ["method": "euler"]], "prior.unconditional_sampler.method"),
            (["unconditional_sampler": ["method": "ddpm", "eta": 0.3]], "prior.unconditional_sampler.eta"),
            (["unconditional_sampler": ["method": "ddim", "steps": 2.5]], "prior.unconditional_sampler.steps"),
        ]
        for (keys, name) in cases {
            do {
                _ = try Self.config(keys)
                Issue.record("accepted \(keys)")
            } catch let e as TweedieError {
                let text = e.description
                #expect(text.contains("dir/config.json") && text.contains("'\(name)'"), "\(text)")
            }
        }
    }
}
