// Replica exchange over the split-Gibbs coupling as a sampler kind (SamplerSettings) and its spec
// entry, every key one value or a list (lists expand to a grid, the first key outermost):
//   {kind: replica-exchange, rungs: 40, rho_max: 10, rho_low: 0.02, sweeps: 40, tail_iterations: 20,
//    prior_steps: 100, batch: 16}                # unset keys: these values (ReplicaExchangeSettings())
// In a calibration run it reports, per observation, the exchange acceptance of each neighbouring
// pair of rungs and, for a mixture prior, each rung's mode weight against the exact one
// (CalibrationDiagnosedSampler).
import Foundation
import TweedieCore
import TweediePriors

extension ReplicaExchangeSettings: SamplerSettings {
    public static let kind = "replica-exchange"
    public var label: String {
        "replica-exchange-l\(rungs)-r\(shortNumber(rhoMax))-lo\(shortNumber(rhoLow))-s\(sweeps)-t\(tailIterations)-j\(priorSteps)"
    }

    public func makeSampler(prior: any Denoiser, problem: PosteriorProblem) throws -> any PosteriorSampler {
        try ReplicaExchangeSampler(prior: prior, problem: problem, settings: self)
    }

    public func calibrationDescription(route: String) -> SamplerSettingsDescription {
        SamplerSettingsDescription(summary: "replica-exchange split-Gibbs \(rungs) rungs, ρ \(rhoMax)→\(rhoLow), \(sweeps) sweeps, \(tailIterations)-iteration tail, ≤\(priorSteps) prior steps",
                                   priorSteps: priorSteps, rhoMax: rhoMax)
    }

    public static func networkEvaluationsPerSample(of sampler: any PosteriorSampler) -> Int? {
        (sampler as? ReplicaExchangeSampler)?.networkEvaluationsPerSample
    }

    /// `rungs`, `rho_max`, `rho_low`, `sweeps`, `tail_iterations`, `prior_steps`, one value or a list each.
    public struct Grid: SamplerSettingsGrid, Decodable {
        public static let keys = CodingKeys.allCases.map(\.rawValue) + ["batch"]
        public var rungs, sweeps, tailIterations, priorSteps: OneOrMany<Int>?
        public var rhoMax, rhoLow: OneOrMany<Double>?
        enum CodingKeys: String, CodingKey, CaseIterable {
            case rungs, rhoMax = "rho_max", rhoLow = "rho_low", sweeps, tailIterations = "tail_iterations", priorSteps = "prior_steps"
        }

        public init(reading entry: SamplerSpecEntry) throws { try self.init(from: entry.decoder) }

        public func validate(samples: Int) throws {
            if let v = priorSteps?.values, v.contains(where: { $0 < 1 }) { throw samplerSpecError("replica-exchange prior_steps", "must be ≥ 1, got \(v)") }
            if let v = rhoMax?.values, v.contains(where: { !($0.isFinite && $0 > 0) }) { throw samplerSpecError("replica-exchange rho_max", "must be > 0, got \(v)") }
        }

        public func choices(samples: Int) -> [SamplerChoice] {
            let d = ReplicaExchangeSettings()
            var out: [SamplerChoice] = []
            for l in rungs?.values ?? [d.rungs] {
                for r in rhoMax?.values ?? [d.rhoMax] { for lo in rhoLow?.values ?? [d.rhoLow] { for sw in sweeps?.values ?? [d.sweeps] {
                    for tail in tailIterations?.values ?? [d.tailIterations] { for j in priorSteps?.values ?? [d.priorSteps] {
                        out.append(.replicaExchange(ReplicaExchangeSettings(rungs: l, rhoMax: r, rhoLow: lo, sweeps: sw,
                                                                            tailIterations: tail, priorSteps: j)))
                    } }
                } } }
            }
            return out
        }

        public func resolved(prior: SamplingPrior, what: String, warn: (String) -> Void) throws -> SamplerChoice {
            func one<T: Codable & Sendable & Equatable>(_ v: OneOrMany<T>?, _ key: String) throws -> T? { try SamplerSpecEntry.single(v?.values, key, what: what) }
            let d = ReplicaExchangeSettings()
            return .replicaExchange(ReplicaExchangeSettings(
                rungs: try one(rungs, "rungs") ?? d.rungs, rhoMax: try one(rhoMax, "rho_max") ?? d.rhoMax,
                rhoLow: try one(rhoLow, "rho_low") ?? d.rhoLow, sweeps: try one(sweeps, "sweeps") ?? d.sweeps,
                tailIterations: try one(tailIterations, "tail_iterations") ?? d.tailIterations,
                priorSteps: try one(priorSteps, "prior_steps") ?? d.priorSteps))
        }
    }
}

extension ReplicaExchangeSampler: CalibrationDiagnosedSampler {
    public func makeCalibrationDiagnostic(samples: Int) -> any CalibrationDiagnostic {
        ExchangeDiagnostic(sampler: self, samples: samples)
    }

    /// The exchange acceptance of each neighbouring pair, weighted by the samples of each call, and
    /// every call's rung states.
    final class ExchangeDiagnostic: CalibrationDiagnostic {
        let sampler: ReplicaExchangeSampler
        let samples: Int
        var rates: [Double]
        var rungStates: [[ImageBatch]] = []

        init(sampler: ReplicaExchangeSampler, samples: Int) {
            self.sampler = sampler; self.samples = samples
            rates = [Double](repeating: 0, count: sampler.settings.rungs - 1)
        }

        func sample(indices: Range<Int>, seed: UInt64) throws -> ImageBatch {
            let (s, r, states) = try sampler.sampleWithExchangeRates(indices: indices, seed: seed)
            for i in rates.indices { rates[i] += r[i] * Double(indices.count) / Double(samples) }
            rungStates.append(states)
            return s
        }

        /// Exchange acceptance per neighbouring pair and, for a mixture prior, each rung's mean
        /// responsibility of component 0 against the exact weight of that rung's ρ-smoothed target
        /// (CalibrationOracle.smoothedComponentWeights).
        func report(_ c: CalibrationDiagnosticContext) throws -> String {
            var line = String(format: "replica exchange, observation %d: exchange acceptance min %.2f, mean %.2f (pairs top→bottom: %@)",
                              c.index, rates.min() ?? 0, rates.reduce(0, +) / Double(max(rates.count, 1)),
                              rates.map { String(format: "%.2f", $0) }.joined(separator: " "))
            if let mix = c.prior as? GaussianMixturePrior, mix.componentCount > 1 {
                let n = c.prior.imageShape.count
                let sampled = sampler.rungCouplings.indices.map { r -> Double in
                    let all = rungStates.map { $0[r] }
                    let count = all.reduce(0) { $0 + $1.count }
                    return all.reduce(0.0) { acc, st in
                        acc + (0..<st.count).reduce(0.0) { $0 + CalibrationOracle.responsibilities(of: st.data[($1 * n)..<(($1 + 1) * n)], prior: mix)[0] }
                    } / Double(count)
                }
                let exact = try sampler.rungCouplings.map {
                    try CalibrationOracle.smoothedComponentWeights(prior: mix, operator: c.forwardOperator, sigma: c.sigma,
                                                                   observation: c.observation, rho: $0)[0]
                }
                line += "\n  rung ρ / sampled / exact weight of component 0: "
                    + zip(sampler.rungCouplings, zip(sampled, exact)).map { String(format: "%.3g %.3f %.3f", $0, $1.0, $1.1) }.joined(separator: " | ")
            }
            return line
        }
    }
}
