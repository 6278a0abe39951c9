// The split-Gibbs likelihood step u ~ π(u | z, y) (SplitGibbsSampler.swift's header, step 1): the
// precision P = D Aᵀ W A D + I/ρ² of the conditional linearised at a, damped Gauss–Newton steps
// towards its mode, a perturb-then-optimise draw by conjugate gradients, and for a non-affine pixel
// transform a Metropolis–Hastings test against the exact conditional.
import Foundation
import TweedieCore

extension SplitGibbsSampler {
    /// The likelihood step's precision P v = Dᵀ Aᵀ W A D v + v/ρ² (D = s·T'(z) per pixel and image),
    /// with the curvature vᵀPv = ‖√W A D v‖² + ‖v‖²/ρ² per image as a sum of squares (positive for
    /// every v ≠ 0 whatever the SNR, ρ or rounding; ConjugateGradient's file header).
    func likelihoodPrecision(d: ImageBatch, rho: Double) -> SPDOperator {
        let op = problem.forwardOperator
        let obsPer = problem.observation.shape.count
        let sw = problem.noise.sqrtWeights
        let invRho2 = Float(1 / (rho * rho))
        return { v in
            let b = v.count, per = v.shape.count
            var dv = v
            for j in 0..<dv.valueCount { dv.data[j] *= d.data[j] }
            var av = try op.apply(dv)
            var curvature = [Double](repeating: 0, count: b)
            for k in 0..<b {
                var data = 0.0, prior = 0.0
                for j in 0..<obsPer {
                    let w = Double(sw[j]) * Double(av.data[k * obsPer + j])
                    data += w * w
                    av.data[k * obsPer + j] *= sw[j] * sw[j]
                }
                for j in (k * per)..<((k + 1) * per) { prior += Double(v.data[j]) * Double(v.data[j]) }
                curvature[k] = data + Double(invRho2) * prior
            }
            var out = try op.adjoint(av)
            for j in 0..<out.valueCount { out.data[j] = d.data[j] * out.data[j] + invRho2 * v.data[j] }
            return (out, curvature)
        }
    }

    /// M⁻¹ for `likelihoodPrecision(d:rho:)` (LikelihoodPreconditioner), nil for plain CG.
    func likelihoodPreconditioner(d: ImageBatch, rho: Double) -> Preconditioner? {
        preconditioner?.inverse(d: d, rho: rho)
    }

    /// Draws u ~ π(u | z, y) (exact for affine T; MH-corrected independence proposal otherwise).
    /// `current` is where the MH chain starts; nil starts it at the first proposal (a draw from the
    /// Gaussian linearised at z), for a chain with no u yet.
    /// `final`: the sampler's last step (file header): the linearised conditional's draw with the data
    /// noise n₁ but without the coupling noise n₂/ρ, and no MH test.
    func likelihoodStep(current: ImageBatch?, z: ImageBatch, rho: Double,
                        streams: [SampleStream], final: Bool = false) throws -> ImageBatch {
        let op = problem.forwardOperator
        let transform = prior.pixelTransform
        let s = Float(problem.fluxScale)
        let b = z.count, per = z.shape.count
        let obsPer = problem.observation.shape.count
        let sw = problem.noise.sqrtWeights
        let zero = ImageBatch(count: b, shape: z.shape)
        let invRho = Float(1 / rho), invRho2 = Float(1 / (rho * rho))
        /// The Gaussian conditional of u linearised at a: x ≈ s·T(a) + D_a (u − a), D_a = s·T'(a).
        /// With ỹ_a = y − A(s·T(a)), v = u − a has precision P_a = D_a Aᵀ W A D_a + I/ρ² and mean
        /// m_a = P_a⁻¹ (D_a Aᵀ W ỹ_a + (z − a)/ρ²).
        /// `meanRHS` is r_a = D_a Aᵀ W ỹ_a + (z − a)/ρ² (so P_a m_a = r_a; zero where nothing uses it); `mean` is m_a, solved for only
        /// where a Gauss–Newton step needs it (zero otherwise).
        struct Linearisation {
            var point: ImageBatch; var d: ImageBatch; var rw: ImageBatch; var applyP: SPDOperator; var inverseM: Preconditioner?
            var meanRHS: ImageBatch; var mean: ImageBatch
        }
        func linearise(at a: ImageBatch, withMean: Bool) throws -> Linearisation {
            var d = a
            for j in 0..<d.valueCount { d.data[j] = s * transform.derivative(a.data[j]) }
            let (rw, _) = try problem.whitenedResiduals(ofPhysical: problem.physical(a, transform: transform))  // √W ỹ_a
            let applyP = likelihoodPrecision(d: d, rho: rho), mInv = likelihoodPreconditioner(d: d, rho: rho)
            // r_a is needed by a mean solve or by the MH test (neither for an affine T or the last step's draw).
            guard withMean || !(transformIsAffine || final) else {
                return Linearisation(point: a, d: d, rw: rw, applyP: applyP, inverseM: mInv, meanRHS: zero, mean: zero)
            }
            var wr = rw
            for k in 0..<b { for j in 0..<obsPer { wr.data[k * obsPer + j] *= sw[j] } }
            var rhs = try op.adjoint(wr)
            for j in 0..<rhs.valueCount { rhs.data[j] = d.data[j] * rhs.data[j] + invRho2 * (z.data[j] - a.data[j]) }
            guard withMean else {
                return Linearisation(point: a, d: d, rw: rw, applyP: applyP, inverseM: mInv, meanRHS: rhs, mean: zero)
            }
            let (m, _) = try ConjugateGradient.solve(applyP, rhs: rhs, initial: zero, tolerance: settings.cgTolerance,
                                                     maxIterations: settings.cgMaxIterations, preconditioner: mInv,
                                                     errorTolerance: final ? settings.cgErrorTolerance
                                                         : settings.gaussNewtonErrorTolerance ?? settings.cgErrorTolerance)
            return Linearisation(point: a, d: d, rw: rw, applyP: applyP, inverseM: mInv, meanRHS: rhs, mean: m)
        }
        /// log π(u | z, y) up to a constant, per image (−∞ where not finite).
        func logTarget(_ x: ImageBatch) throws -> [Double] {
            let (_, chi2) = try problem.whitenedResiduals(ofPhysical: problem.physical(x, transform: transform))
            return (0..<b).map { k in
                var q = 0.0
                for j in (k * per)..<((k + 1) * per) { let e = Double(x.data[j] - z.data[j]); q += e * e }
                let v = -0.5 * chi2[k] - 0.5 * q / (rho * rho)
                return v.isFinite ? v : -.infinity
            }
        }
        // The linearisation point: z for an affine T (the conditional is then exactly Gaussian);
        // otherwise Gauss–Newton steps a ← a + m_a from z towards the conditional's mode, so the
        // independence proposal is the Laplace approximation there rather than a Gaussian centred
        // where z happens to be (which drifts off the conditional as the data grow precise).
        // The mean m_a of the last linearisation is never needed: the draw's solve carries it, and the
        // MH test's proposal density is written through r_a = P_a m_a (logProposal), so each
        // likelihood step makes gaussNewtonSteps mean solves plus one per draw.
        let gaussNewtonSteps = transformIsAffine ? 0 : (final ? max(settings.gaussNewtonSteps, Self.finalGaussNewtonSteps) : settings.gaussNewtonSteps)
        var lin = try linearise(at: z, withMean: gaussNewtonSteps > 0)
        if gaussNewtonSteps > 0 {
            // Damped by backtracking: an image takes the step t·m_a with the first t in 1, ½, ¼ that
            // raises log π(u | z, y), and keeps its point if none does (Gauss–Newton overshoots on the
            // exponential wings of asinh, e.g. from the N(0, I) start). The last step, whose draw is
            // the sample, takes up to `finalGaussNewtonSteps` (its solves are cheap at ρ₀).
            var current = try logTarget(lin.point)
            for gnStep in 0..<gaussNewtonSteps {
                var a = lin.point
                var step = [Float](repeating: 1, count: b), accepted = [Bool](repeating: false, count: b)
                for _ in 0..<3 {
                    for k in 0..<b where !accepted[k] {
                        for j in (k * per)..<((k + 1) * per) { a.data[j] = lin.point.data[j] + step[k] * lin.mean.data[j] }
                    }
                    let candidate = try logTarget(a)
                    for k in 0..<b where !accepted[k] {
                        if candidate[k] > current[k] { current[k] = candidate[k]; accepted[k] = true } else { step[k] /= 2 }
                    }
                    if !accepted.contains(false) { break }
                }
                for k in 0..<b where !accepted[k] {
                    a.data.replaceSubrange((k * per)..<((k + 1) * per), with: lin.point.data[(k * per)..<((k + 1) * per)])
                }
                guard accepted.contains(true) else { break }
                lin = try linearise(at: a, withMean: gnStep + 1 < gaussNewtonSteps)
            }
        }
        /// One perturb-then-optimise draw a + v, v ~ N(m_a, P_a⁻¹).
        func perturbedSolve() throws -> ImageBatch {
            // Right-hand side D Aᵀ √W (√W ỹ_a + n₁) + n₂/ρ + (z − a)/ρ².
            var obs = lin.rw
            for k in 0..<b {
                let n1 = streams[k].normals(obsPer)
                for j in 0..<obsPer where sw[j] > 0 { obs.data[k * obsPer + j] = sw[j] * (obs.data[k * obsPer + j] + n1[j]) }
                for j in 0..<obsPer where sw[j] == 0 { obs.data[k * obsPer + j] = 0 }
            }
            var rhs = try op.adjoint(obs)
            for k in 0..<b {
                let n2 = final ? [Float](repeating: 0, count: per) : streams[k].normals(per)
                for j in 0..<per {
                    let i = k * per + j
                    rhs.data[i] = lin.d.data[i] * rhs.data[i] + invRho * n2[j] + invRho2 * (z.data[i] - lin.point.data[i])
                }
            }
            let (v, _) = try ConjugateGradient.solve(lin.applyP, rhs: rhs, initial: zero, tolerance: settings.cgTolerance,
                                                     maxIterations: settings.cgMaxIterations, preconditioner: lin.inverseM,
                                                     errorTolerance: settings.cgErrorTolerance)
            var proposal = lin.point
            for j in 0..<proposal.valueCount { proposal.data[j] += v.data[j] }
            return proposal
        }
        let first = try perturbedSolve()
        if transformIsAffine || final { return first }
        var proposals = [first]
        for _ in 1..<settings.likelihoodMoves {
            proposals.append(try perturbedSolve())
        }

        // Metropolis–Hastings against the exact conditional (independence proposal N(a + m_a, P_a⁻¹)).
        // With e = x − a: (e − m_a)ᵀ P_a (e − m_a) = eᵀ P_a e − 2 eᵀ r_a + m_aᵀ r_a, and the last term is
        // the same for every x under one linearisation, so it cancels from the acceptance ratio; the
        // density needs P_a products only, no solve for m_a.
        func logProposal(_ x: ImageBatch) throws -> [Double] {
            var e = x
            for j in 0..<e.valueCount { e.data[j] = x.data[j] - lin.point.data[j] }
            let pe = try lin.applyP(e).curvature
            return (0..<b).map { k in
                var er = 0.0
                for j in (k * per)..<((k + 1) * per) { er += Double(e.data[j]) * Double(lin.meanRHS.data[j]) }
                return -0.5 * pe[k] + er
            }
        }
        var out = current ?? first
        var lpOld = try logTarget(out), lqOld = try logProposal(out)
        for proposal in proposals {
            let lpNew = try logTarget(proposal), lqNew = try logProposal(proposal)
            for k in 0..<b {
                let logA = (lpNew[k] - lpOld[k]) - (lqNew[k] - lqOld[k])
                let accept = log(streams[k].uniform()) < logA
                acceptance.record(accepted: accept, late: rho <= lateCoupling)
                if accept {
                    out.data.replaceSubrange((k * per)..<((k + 1) * per), with: proposal.data[(k * per)..<((k + 1) * per)])
                    lpOld[k] = lpNew[k]; lqOld[k] = lqNew[k]
                }
            }
        }
        return out
    }

    /// Gauss–Newton steps (at least) before the last likelihood step's draw.
    static let finalGaussNewtonSteps = 4
}

/// Counts of Metropolis–Hastings decisions, overall and late in the annealing; safe to record from
/// the concurrent batches of one run.
final class AcceptanceTally: @unchecked Sendable {
    private let lock = NSLock()
    private var all = (accepted: 0, proposed: 0), late = (accepted: 0, proposed: 0)

    func record(accepted: Bool, late isLate: Bool) {
        lock.lock(); defer { lock.unlock() }
        all.proposed += 1; if accepted { all.accepted += 1 }
        if isLate { late.proposed += 1; if accepted { late.accepted += 1 } }
    }

    var counts: (all: (accepted: Int, proposed: Int), late: (accepted: Int, proposed: Int)) {
        lock.lock(); defer { lock.unlock() }
        return (all, late)
    }
}
