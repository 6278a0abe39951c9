// Sequential Monte Carlo over the split-Gibbs annealing (an SMC sampler in the
// sense of Del Moral, Doucet & Jasra 2006, with SplitGibbsSampler's two
// conditional draws as its MCMC move). It fixes what plain annealed split-Gibbs
// gets wrong on multimodal posteriors: when ρ shrinks faster than the Gibbs chain
// mixes between modes, a sample's mode freezes early and the mode weights come
// out of the annealing schedule rather than the posterior. Importance weights
// carry the change of target from one ρ to the next, so the population's mode
// weights stay right however few moves are made.
//
// Targets (network space u, coupling variable z as in SplitGibbsSampler): the
// z-marginals of π_ρ(u, z) ∝ p(z) N(u; z, ρ²I) p(y | u),
//
//   π_ρ(z) ∝ p(z) L_ρ(z),  L_ρ(z) = ∫ N(u; z, ρ²I) p(y | u) du.
//
// With x = s·T(u) linearised at z (exact when T is affine), y = A x + n,
// n ~ N(0, W⁻¹), B = A·diag(s T'(z)), r = y − A s T(z):
//
//   L_ρ(z) = N(r; 0, W⁻¹ + ρ² B Bᵀ)
//   −2 log L_ρ(z) = rᵀ W r − gᵀ P_ρ⁻¹ g + log det(…) ,  g = Bᵀ W r,
//   P_ρ = Bᵀ W B + I/ρ²                                   (Woodbury identity)
//
// P_ρ is the precision of the likelihood step, solved by conjugate gradients.
// The log-determinant term depends on z only through T'(z): for an affine T it
// is the same for every particle and cancels in the normalised weights. For a
// non-affine T (the galaxy prior's asinh stretch) it does not, and it cannot be
// computed at this size; dropping it per particle favours particles whose T' is
// large — a brighter image explains any residual with a wider ρ² B Bᵀ — and the
// weights then pick particles that do not fit the data (measured on the demo:
// reduced χ² 26–312 for three of four one-per-population samples). So each
// tempering step linearises every particle at one common point z̄ (the weighted
// population mean in network space; B̄ = A·diag(s T'(z̄))): the intermediate
// targets become p(z) N(y; A s T(z), W⁻¹ + ρ² B̄ B̄ᵀ), whose log-determinant is
// common to all particles and cancels, and whose ρ → 0 end is the exact
// posterior p(z) p(y | z). Each target is one function (z̄ is fixed when the
// step's weights are computed), so the weights telescope as SMC needs; the moves
// keep π_ρ rather than this target invariant, an approximation that vanishes as
// ρ → 0 (stated in `summary`). For an affine T, z̄ changes nothing.
// Also for a non-affine T, the likelihood step is an MH chain (independence
// proposals from the Gaussian linearised at z) that needs a starting u; a
// particle has none before its first step, so that chain starts at its first
// proposal. Starting it at u = z (a prior sample: a fit to the data no proposal
// beats while ρ is large) left u unmoved above ρ ≈ 0.02 on the galaxy prior's
// demo and the samples unfitted (reduced χ² 1.4); starting at N(0, I) noise, as
// SplitGibbsSampler does, left chains stuck at noise on the 16-pixel asinh
// oracle of the tests (pooled variance 8.9× the exact).
//
// Algorithm for one population of P particles (levels ρ_0 > ρ_1 > … ≥ ρ_min as
// SplitGibbsSampler's; equal consecutive levels need no reweighting):
//   z_i ~ p(z) (unconditional ancestral sample), log w_i = log L_{ρ_0}(z_i);
//   for k = 0 … K−1:
//     if k > 0: log w_i += log L_{ρ_k}(z_i) − log L_{ρ_{k−1}}(z_i)
//     if ESS = (Σw)²/Σw² < threshold·P: systematic resampling, w_i = 1
//     move: u_i ~ π_{ρ_k}(u | z_i, y), z_i ~ p(z | u_i) at ρ_k
//   finally a systematic resampling to P equally weighted particles.
// The move leaves π_{ρ_k}(z) invariant (exact conditionals for affine T), so
// the weighted population targets π_{ρ_k}(z) at every level, consistently as P → ∞.
//
// Adaptive tempering (`adaptive`, Jasra, Stephens, Doucet & Tsagaris 2011): in high
// dimension the weight increment between two planned levels is a sum over every
// data value, and one particle takes all the weight (a 64×64×3 image with 16
// particles collapses to one). The adaptive run starts at the top of the training
// schedule, where ρ_T is so large that L_ρ is flat and the prior sample needs no
// weight, and at each step takes the lowest timestep t' < t whose weight increment
// keeps the conditional ESS (Zhou, Johansen & Aston 2016) ≥ `stepESS`·P (bisection
// over the integer timesteps; it falls as t' does),
// but never below the next planned level (so the run anneals at least as slowly as
// the fixed schedule). A step of one timestep is taken even when its ESS is lower.
// At every step: reweight, resample when the ESS is below the threshold, move at t'.
// After the last resampling at t = 0 the population takes `finalMoves` more moves, so
// that resampled copies of one particle separate. `maxSteps` bounds the steps; beyond
// it the run stops with an error rather than return a collapsed population.
//
// One sample per population (`samplesPerPopulation`, S ≤ P): the samples a
// population returns are drawn from its final weighted particles, so they are
// consistent as P → ∞ but share ancestors — in high dimension the weights
// collapse onto one lineage and all P returned samples are copies of it. Keeping
// S < P samples (a uniform subset of the final equally weighted resample; with
// S = 1 one draw from the weighted particles, index i with probability w_i) makes
// samples from different populations independent, at P/S times the work per
// sample. Where the weights collapse, each sample is in effect the best-weighted
// of P annealed split-Gibbs chains — distinct, never a duplicate; where they do
// not (the small analytic oracles), the population's reweighting corrects the mode
// weights that a single annealed chain freezes. (The draw is the proposal of
// particle independent Metropolis–Hastings, Andrieu, Doucet & Holenstein 2010.)
//
// Conventions: particles of one population couple (resampling), populations
// never do. Population q holds samples [qS, (q+1)S); particle i of it uses the
// sample stream of index qP + i, the resampling uses a separate stream of the
// seed per population, so sample k is the same whatever the batch size, thread
// count or resume point (PosteriorRun asks for whole populations: sampleGroupSize).
// Cost per sample: split-Gibbs's network evaluations (no VJPs) plus one prior
// sample at the start, and two CG solves of P_ρ per iteration for the weights.
// Checkpoints: an adaptive population writes its whole state between tempering
// steps to `populationCheckpointURL` (SMCPopulationCheckpoint, at most every
// `populationCheckpointInterval` s) and resumes from it, bit-identically.

import Foundation
import TweedieCore

public struct SMCSettings: Equatable, Sendable, Codable {
    /// The move kernel's settings and the ρ levels (iterations, ρmax, prior steps).
    public var gibbs: SplitGibbsSettings
    /// Particles per population (P ≥ 2).
    public var particles: Int
    /// Resample when the effective sample size falls below this fraction of P.
    public var essThreshold: Double
    /// Adaptive tempering from the top of the schedule (file comment); false: the planned levels only.
    public var adaptive: Bool
    /// Adaptive: the most tempering steps before the run fails.
    public var maxSteps: Int
    /// Adaptive: moves at t = 0 after the final resampling.
    public var finalMoves: Int
    /// Adaptive: each step's conditional ESS target, a fraction of P.
    public var stepESS: Double
    /// Samples kept from each population (1 … P; nil: all P). Fewer than P trades work for
    /// independence: with 1, every sample comes from a population of its own (file comment).
    public var samplesPerPopulation: Int?

    public init(gibbs: SplitGibbsSettings, particles: Int = 64, essThreshold: Double = 0.5,
                adaptive: Bool = false, maxSteps: Int = 1000, finalMoves: Int = 1, stepESS: Double = 0.9,
                samplesPerPopulation: Int? = nil) {
        self.gibbs = gibbs; self.particles = particles; self.essThreshold = essThreshold
        self.adaptive = adaptive; self.maxSteps = maxSteps; self.finalMoves = finalMoves; self.stepESS = stepESS
        self.samplesPerPopulation = samplesPerPopulation
    }

    /// Samples taken from each population.
    public var kept: Int { samplesPerPopulation ?? particles }
}

public struct SMCSplitGibbsSampler: PosteriorSampler {
    public let settings: SMCSettings
    /// The move kernel (its ρ levels and prior-step grids).
    public let kernel: SplitGibbsSampler
    /// The grid of the initial unconditional prior sample (from the top of the schedule).
    let initialGrid: NoiseSchedule
    /// Where an adaptive population writes its state between tempering steps, and reads it back
    /// to resume (SMCPopulationCheckpoint); nil: nowhere. `tweedie sample` puts it in the run directory.
    public var populationCheckpointURL: URL? = nil
    /// The least wall time between two population checkpoints, seconds (0: after every step).
    public var populationCheckpointInterval: Double = 60
    /// Called after every adaptive tempering step (population, steps so far, timestep reached, ESS
    /// after the reweighting): an adaptive population's length is not known ahead, so this is its progress.
    public var temperingObserver: (@Sendable (_ population: Int, _ steps: Int, _ timestep: Int, _ ess: Double) -> Void)? = nil

    public init(prior: any Denoiser, problem: PosteriorProblem, settings: SMCSettings) throws {
        guard settings.particles >= 2 else {
            throw TweedieError.setting(name: "particles", problem: "must be ≥ 2 (an SMC population), got \(settings.particles)")
        }
        guard settings.essThreshold > 0, settings.essThreshold <= 1 else {
            throw TweedieError.invalidInput(what: "SMC ESS threshold", problem: "must be in (0, 1], got \(settings.essThreshold)")
        }
        if let k = settings.samplesPerPopulation, !(1...settings.particles).contains(k) {
            throw TweedieError.setting(name: "samples_per_population", problem: "must be between 1 and the particles (\(settings.particles)), got \(k)")
        }
        guard settings.maxSteps >= 1, settings.finalMoves >= 0, settings.stepESS > 0, settings.stepESS < 1 else {
            throw TweedieError.invalidInput(what: "SMC adaptive settings", problem: "need max steps ≥ 1, final moves ≥ 0 and a step ESS in (0, 1), got \(settings.maxSteps), \(settings.finalMoves), \(settings.stepESS)")
        }
        kernel = try SplitGibbsSampler(prior: prior, problem: problem, settings: settings.gibbs)
        self.settings = settings
        initialGrid = try SplitGibbsSampler.priorGrid(from: prior.schedule.count - 1, schedule: prior.schedule,
                                                      steps: settings.gibbs.priorSteps)
    }

    public var name: String { "smc" }
    /// Network evaluations of the initial unconditional prior sample.
    public var initialGridCount: Int { initialGrid.count }
    public var sampleGroupSize: Int { settings.kept }
    public var summary: String {
        "SMC split-Gibbs (\(settings.particles) particles per population"
            + (settings.kept < settings.particles ? ", \(settings.kept) sample(s) kept from each" : "")
            + ", resampling below ESS \(settings.essThreshold)·P; "
            + (settings.adaptive ? "adaptive tempering from the top of the schedule, at least the planned levels, "
                + "conditional ESS \(settings.stepESS)·P per step, ≤ \(settings.maxSteps) steps, \(settings.finalMoves) move(s) after the final resampling; " : "")
            + "moves: \(kernel.summary)"
            + (kernel.transformIsAffine ? ")" : "; weights from the likelihood linearised at the population's weighted mean)")
    }

    public func sample(indices: Range<Int>, seed: UInt64) throws -> ImageBatch {
        let p = settings.kept
        let first = indices.lowerBound / p, last = (indices.upperBound - 1) / p
        let shape = kernel.prior.imageShape, per = shape.count
        var out = ImageBatch(count: indices.count, shape: shape)
        for q in first...last {
            let population = try samplePopulation(q, seed: seed)
            for k in indices where k / p == q {
                let i = k - q * p, o = k - indices.lowerBound
                out.data.replaceSubrange((o * per)..<((o + 1) * per), with: population.data[(i * per)..<((i + 1) * per)])
            }
        }
        return out
    }

    /// Runs population q: P equally weighted particles (network space).
    func samplePopulation(_ q: Int, seed: UInt64) throws -> ImageBatch {
        if settings.adaptive { return try samplePopulationAdaptive(q, seed: seed).particles }
        let p = settings.particles
        var (streams, resampling, z) = try initialPopulation(q, seed: seed)
        // No u until the first likelihood step (non-affine T: its MH chain starts at its first proposal).
        var u: ImageBatch? = nil
        var reference = linearisationPoint(z)
        var logW = try logMarginalLikelihood(z, rho: kernel.coupling(kernel.levels[0]), linearisedAt: reference)

        for (k, level) in kernel.levels.enumerated() {
            let rho = kernel.coupling(level)
            if k > 0 && level != kernel.levels[k - 1] {
                // γ_k / γ_{k−1} at the moved particles, each target with its own common linearisation.
                let next = linearisationPoint(z, logW: logW)
                let new = try logMarginalLikelihood(z, rho: rho, linearisedAt: next)
                let old = try logMarginalLikelihood(z, rho: kernel.coupling(kernel.levels[k - 1]), linearisedAt: reference)
                for i in 0..<p { logW[i] += new[i] - old[i] }
                reference = next
            }
            if Self.effectiveSampleSize(logW) < settings.essThreshold * Double(p) {
                let a = Self.systematicResample(logW, uniform: resampling.uniform())
                z = Self.gather(z, a); u = u.map { Self.gather($0, a) }
                logW = [Double](repeating: 0, count: p)
            }
            let drawn = try kernel.likelihoodStep(current: u, z: z, rho: rho, streams: streams)
            z = try kernel.priorStep(drawn, level: level, streams: streams)
            u = drawn
            guard z.allFinite, logW.allSatisfy({ $0.isFinite || $0 == -.infinity }) else {
                throw TweedieError.numerical(problem: "SMC split-Gibbs produced a non-finite value at iteration \(k + 1) of \(kernel.levels.count) (population \(q))")
            }
        }
        if logW.contains(where: { $0 != logW[0] }) {
            z = Self.gather(z, Self.systematicResample(logW, uniform: resampling.uniform()))
        }
        return Self.shuffled(z, stream: resampling)
    }

    /// Population q's sample streams, its resampling stream, and its P particles drawn from p(z): the
    /// ancestral reverse process from x_T ~ N(0, I) at the top of the schedule (priorStep scales u by √ᾱ_T).
    func initialPopulation(_ q: Int, seed: UInt64) throws -> (streams: [SampleStream], resampling: SampleStream, z: ImageBatch) {
        let p = settings.particles
        let shape = kernel.prior.imageShape, per = shape.count
        let (streams, resampling) = populationStreams(q, seed: seed)
        let top = kernel.schedule.count - 1
        var z = ImageBatch(count: p, shape: shape)
        let invSqrtTop = Float(1 / kernel.schedule.alphasCumprod[top].squareRoot())
        for i in 0..<p {
            let e = streams[i].normals(per)
            for j in 0..<per { z.data[i * per + j] = invSqrtTop * e[j] }
        }
        return (streams, resampling, try kernel.priorStep(z, level: top, streams: streams, grid: initialGrid))
    }

    /// Population q's P particle streams (sample indices qP …) and its resampling stream, at their start.
    func populationStreams(_ q: Int, seed: UInt64) -> (streams: [SampleStream], resampling: SampleStream) {
        let p = settings.particles
        return ((0..<p).map { SampleStream(seed: seed, index: q * p + $0) },
                SampleStream(seed: streamSeed(seed: seed, index: 0x534D_435F_5245_5341), index: q))  // "SMC_RESA"
    }

    /// Systematic resampling orders particles by ancestor: shuffle (Fisher–Yates, the population's
    /// own stream) so that any prefix — fewer samples asked than particles — is an exchangeable subset.
    static func shuffled(_ z: ImageBatch, stream: SampleStream) -> ImageBatch {
        var order = Array(0..<z.count)
        for i in stride(from: z.count - 1, to: 0, by: -1) { order.swapAt(i, stream.uniformInt(i + 1)) }
        return gather(z, order)
    }

    /// What one adaptive population did (for tests and diagnostics).
    struct AdaptiveTrace {
        /// Timestep of every tempering step, from the first below the top to 0.
        var levels: [Int] = []
        /// ESS after each step's reweighting (before any resampling).
        var ess: [Double] = []
        var resamplings = 0
        /// Distinct ancestors (at the start) of the final population.
        var distinctAncestors = 0
    }

    /// Adaptive tempering (file comment) for population q.
    func samplePopulationAdaptive(_ q: Int, seed: UInt64) throws -> (particles: ImageBatch, trace: AdaptiveTrace) {
        let p = settings.particles
        let threshold = settings.essThreshold * Double(p), stepTarget = settings.stepESS * Double(p)
        var trace = AdaptiveTrace()
        var ancestry = Array(0..<p)
        let planned = kernel.levels
        var level: Int, streams: [SampleStream], resampling: SampleStream
        var z: ImageBatch, u: ImageBatch?, logL: [Double], logW: [Double]
        let resumed = try resumableCheckpoint(q, seed: seed)
        if let c = resumed {
            // The state written at the top of the tempering loop (SMCPopulationCheckpoint).
            (streams, resampling) = populationStreams(q, seed: seed)
            for (stream, state) in zip(streams + [resampling], c.streamStates) { try stream.restoreState(state) }
            let shape = kernel.prior.imageShape
            z = ImageBatch(count: p, shape: shape); z.data = c.z
            var saved = ImageBatch(count: p, shape: shape); saved.data = c.u; u = saved
            level = c.header.level; logL = c.header.logL; logW = c.header.logW; ancestry = c.header.ancestry
            trace.levels = c.header.traceLevels; trace.ess = c.header.traceESS; trace.resamplings = c.header.resamplings
        } else {
            // z ~ p(z), weighted by L_{ρ_T}: the start of the path.
            level = kernel.schedule.count - 1
            (streams, resampling, z) = try initialPopulation(q, seed: seed)
            u = nil  // until the first likelihood step (see samplePopulation)
            logL = try logMarginalLikelihood(z, rho: kernel.coupling(level),
                                             linearisedAt: linearisationPoint(z))
            logW = logL
        }
        var lastCheckpoint = Date()
        func checkpointIfDue() throws {
            guard let url = populationCheckpointURL,
                  Date().timeIntervalSince(lastCheckpoint) >= populationCheckpointInterval else { return }
            let states = (streams + [resampling]).map { $0.stateBytes() }
            let header = SMCPopulationCheckpoint.Header(
                population: q, seed: seed, particles: p, valueCount: z.shape.count, stepESS: settings.stepESS,
                essThreshold: settings.essThreshold, levelsPlanned: planned, level: level, traceLevels: trace.levels,
                traceESS: trace.ess, resamplings: trace.resamplings, ancestry: ancestry, logW: logW, logL: logL,
                streamStateSize: states[0].count)
            try SMCPopulationCheckpoint(header: header, z: z.data, u: (u ?? z).data, streamStates: states).write(to: url)
            lastCheckpoint = Date()
        }

        func resampleIfNeeded() {
            guard Self.effectiveSampleSize(logW) < threshold else { return }
            let a = Self.systematicResample(logW, uniform: resampling.uniform())
            z = Self.gather(z, a); u = u.map { Self.gather($0, a) }
            logL = a.map { logL[$0] }; ancestry = a.map { ancestry[$0] }
            logW = [Double](repeating: 0, count: p)
            trace.resamplings += 1
        }
        func move(at t: Int) throws {
            let drawn = try kernel.likelihoodStep(current: u, z: z, rho: kernel.coupling(t), streams: streams)
            z = try kernel.priorStep(drawn, level: t, streams: streams)
            u = drawn
            guard z.allFinite else {
                throw TweedieError.numerical(problem: "adaptive SMC produced a non-finite value at timestep \(t) (population \(q))")
            }
        }
        if resumed == nil { resampleIfNeeded() }
        while level > 0 {
            guard trace.levels.count < settings.maxSteps else {
                throw TweedieError.numerical(problem: "adaptive SMC needed more than \(settings.maxSteps) tempering steps to reach t = 0 "
                    + "with conditional ESS ≥ \(settings.stepESS)·\(p) per step (stopped at timestep \(level), population \(q)); "
                    + "use more particles, a lower ESS threshold, or the split-gibbs sampler")
            }
            // The next planned level below this one bounds the step from below.
            let floor = planned.first { $0 < level } ?? 0
            // logL holds the current target at z (its own linearisation); every candidate next
            // target is linearised at this step's weighted mean.
            let reference = linearisationPoint(z, logW: logW)
            var cache: [Int: [Double]] = [:]
            func ess(_ t: Int) throws -> Double {
                let l = try cache[t] ?? logMarginalLikelihood(z, rho: kernel.coupling(t), linearisedAt: reference)
                cache[t] = l
                return Self.conditionalESS(logW: logW, increment: (0..<p).map { l[$0] - logL[$0] })
            }
            var next = floor
            if try ess(floor) < stepTarget {
                // Smallest t in (floor, level) with conditional ESS ≥ the target; it grows with t.
                var lo = floor, hi = level
                while hi - lo > 1 {
                    let mid = (lo + hi) / 2
                    if try ess(mid) >= stepTarget { hi = mid } else { lo = mid }
                }
                next = min(hi, level - 1)
            }
            let l = try cache[next] ?? logMarginalLikelihood(z, rho: kernel.coupling(next), linearisedAt: reference)
            for i in 0..<p { logW[i] += l[i] - logL[i] }
            logL = l
            trace.levels.append(next); trace.ess.append(Self.effectiveSampleSize(logW))
            resampleIfNeeded()
            try move(at: next)
            level = next
            logL = try logMarginalLikelihood(z, rho: kernel.coupling(level), linearisedAt: reference)
            try checkpointIfDue()
            temperingObserver?(q, trace.levels.count, level, trace.ess.last ?? .nan)
        }
        // The planned final iterations at t = 0 (same target: no reweighting), the final
        // resampling, and moves after it.
        for _ in 0..<kernel.settings.finalIterations { try move(at: 0) }
        if logW.contains(where: { $0 != logW[0] }) {
            let a = Self.systematicResample(logW, uniform: resampling.uniform())
            z = Self.gather(z, a); u = u.map { Self.gather($0, a) }; ancestry = a.map { ancestry[$0] }
            trace.resamplings += 1
        }
        for _ in 0..<settings.finalMoves { try move(at: 0) }
        trace.distinctAncestors = Set(ancestry).count
        return (Self.shuffled(z, stream: resampling), trace)
    }

    /// The population checkpoint at `populationCheckpointURL` when it holds population q of this
    /// run (same seed, particle count, image size and tempering settings); nil otherwise (none, or
    /// another population's: a population finished, or a run with other settings, is not resumed).
    func resumableCheckpoint(_ q: Int, seed: UInt64) throws -> SMCPopulationCheckpoint? {
        guard settings.adaptive, let url = populationCheckpointURL, let c = try SMCPopulationCheckpoint.read(url) else { return nil }
        let h = c.header
        guard h.population == q, h.seed == seed, h.particles == settings.particles,
              h.valueCount == kernel.prior.imageShape.count, h.stepESS == settings.stepESS,
              h.essThreshold == settings.essThreshold, h.levelsPlanned == kernel.levels,
              h.streamStateSize == SampleStream(seed: seed, index: 0).stateBytes().count,
              h.logW.count == settings.particles, h.logL.count == settings.particles, h.ancestry.count == settings.particles
        else { return nil }
        return c
    }

    /// The common linearisation point of one tempering step for a non-affine pixel transform
    /// (file header): the population's weighted mean of z, Σ wᵢ zᵢ / Σ wᵢ (equal weights when
    /// `logW` is nil); nil for an affine T.
    func linearisationPoint(_ z: ImageBatch, logW: [Double]? = nil) -> [Float]? {
        if kernel.transformIsAffine { return nil }
        let per = z.shape.count
        let logW = logW ?? [Double](repeating: 0, count: z.count)
        let m = logW.max() ?? 0
        let w = logW.map { m.isFinite ? exp($0 - m) : 1 }
        let total = w.reduce(0, +)
        var mean = [Double](repeating: 0, count: per)
        for (i, wi) in w.enumerated() where wi > 0 {
            for j in 0..<per { mean[j] += wi * Double(z.data[i * per + j]) }
        }
        return mean.map { Float($0 / total) }
    }

    /// log L_ρ(z) per particle up to a constant common to all particles (file header):
    /// −½ (‖√W r‖² − gᵀ P_ρ⁻¹ g), g = D Aᵀ W r, D = s·T'(z̄) with z̄ the step's common
    /// linearisation point (`linearisationPoint`), or D = s·T'(z) per particle when nil (affine T,
    /// where T' is a constant and the two agree).
    func logMarginalLikelihood(_ z: ImageBatch, rho: Double, linearisedAt reference: [Float]? = nil) throws -> [Double] {
        let problem = kernel.problem
        let transform = kernel.prior.pixelTransform
        let s = Float(problem.fluxScale)
        let b = z.count, per = z.shape.count, obsPer = problem.observation.shape.count
        let sw = problem.noise.sqrtWeights
        var d = z
        if let r = reference {
            let dr = r.map { s * transform.derivative($0) }
            for k in 0..<b { d.data.replaceSubrange((k * per)..<((k + 1) * per), with: dr) }
        } else {
            for j in 0..<d.valueCount { d.data[j] = s * transform.derivative(z.data[j]) }
        }
        var (rw, chi2) = try problem.whitenedResiduals(ofPhysical: problem.physical(z, transform: transform))
        for k in 0..<b { for j in 0..<obsPer { rw.data[k * obsPer + j] *= sw[j] } }  // W r
        var g = try problem.forwardOperator.adjoint(rw)
        for j in 0..<g.valueCount { g.data[j] *= d.data[j] }
        let (v, _) = try ConjugateGradient.solve(kernel.likelihoodPrecision(d: d, rho: rho), rhs: g,
                                                 initial: ImageBatch(count: b, shape: z.shape),
                                                 tolerance: min(1e-6, kernel.settings.cgTolerance),
                                                 maxIterations: max(500, kernel.settings.cgMaxIterations),
                                                 preconditioner: kernel.likelihoodPreconditioner(d: d, rho: rho))
        return (0..<b).map { k in
            var gv = 0.0
            for j in (k * per)..<((k + 1) * per) { gv += Double(g.data[j]) * Double(v.data[j]) }
            return -0.5 * (chi2[k] - gv)
        }
    }

    /// Conditional ESS of an incremental weight (Zhou, Johansen & Aston 2016):
    /// P·(Σ Wᵢ wᵢ)² / Σ Wᵢ wᵢ², W the normalised current weights, w = exp(increment).
    /// It measures the step alone, whatever the weights already carry; = ESS(increment) for equal W.
    static func conditionalESS(logW: [Double], increment: [Double]) -> Double {
        let m = logW.max() ?? 0, mi = increment.max() ?? 0
        guard m.isFinite, mi.isFinite else { return 0 }
        var total = 0.0, s1 = 0.0, s2 = 0.0
        for (l, d) in zip(logW, increment) {
            let w = exp(l - m), v = exp(d - mi)
            total += w; s1 += w * v; s2 += w * v * v
        }
        return Double(logW.count) * s1 * s1 / (total * s2)
    }

    /// (Σ w)² / Σ w² of weights exp(logW).
    static func effectiveSampleSize(_ logW: [Double]) -> Double {
        let m = logW.max() ?? 0
        guard m.isFinite else { return 0 }
        var s = 0.0, s2 = 0.0
        for l in logW { let w = exp(l - m); s += w; s2 += w * w }
        return s * s / s2
    }

    /// Systematic resampling (Kitagawa 1996): ancestors of P particles from one uniform U on [0, 1):
    /// particle i takes the ancestor whose cumulative normalised weight first exceeds (i + U)/P.
    static func systematicResample(_ logW: [Double], uniform: Double) -> [Int] {
        let p = logW.count
        let m = logW.max()!
        let w = logW.map { exp($0 - m) }
        let total = w.reduce(0, +)
        var ancestors = [Int](repeating: 0, count: p)
        var cumulative = w[0] / total, a = 0
        for i in 0..<p {
            let t = (Double(i) + uniform) / Double(p)
            while cumulative < t && a < p - 1 { a += 1; cumulative += w[a] / total }
            ancestors[i] = a
        }
        return ancestors
    }

    static func gather(_ x: ImageBatch, _ ancestors: [Int]) -> ImageBatch {
        let per = x.shape.count
        var out = x
        for (i, a) in ancestors.enumerated() where a != i {
            out.data.replaceSubrange((i * per)..<((i + 1) * per), with: x.data[(a * per)..<((a + 1) * per)])
        }
        return out
    }
}
