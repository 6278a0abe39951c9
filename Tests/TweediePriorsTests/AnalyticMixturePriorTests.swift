// Tests of the Gaussian-mixture prior (Priors/Analytic/GaussianMixturePrior.swift) against
// independent oracles: E[x0 | x_t] and the responsibilities by brute-force numerical
// integration (a trapezoid rule per pixel and component of p(x_t | x0) p(x0 | k) — no
// Gaussian-product formula used), the VJP by central finite differences, and moments of
// the exact sampler.

import Foundation
import Testing
import TweedieCore
import TweedieTestSupport
@testable import TweediePriors

@Suite("Analytic priors: Gaussian mixture")
struct AnalyticMixturePriorTests {
    static let shape = ImageShape(channels: 2, height: 3, width: 2)

    static func makePrior() throws -> GaussianMixturePrior {
        let n = shape.count
        let means = (0..<3).map { k in DenseReference.normals(n, seed: 51, index: k).map { 1.5 * $0 } }
        let stream = SampleStream(seed: 52, index: 0)
        let diag1 = (0..<n).map { _ in 0.2 + 1.3 * stream.uniform() }
        let diag2 = (0..<n).map { _ in 0.2 + 1.3 * stream.uniform() }
        return try GaussianMixturePrior(shape: shape, components: [
            MixtureComponent(weight: 0.2, mean: means[0], variance: diag1),
            MixtureComponent(weight: 0.5, mean: means[1], variance: [0.6]),           // isotropic
            MixtureComponent(weight: 0.3, mean: means[2], variance: diag2),
        ], schedule: NoiseSchedule(kind: .linear, steps: 1000))
    }

    /// log of ∫ f(x) dx and ∫ x f(x) dx / ∫ f(x) dx for f(x) = N(xt; a x, s²) N(x; μ, D), by the trapezoid rule.
    static func quadrature(xt: Double, a: Double, s: Double, mu: Double, d: Double) -> (logZ: Double, mean: Double) {
        let sd = d.squareRoot()
        let lo = min(mu - 12 * sd, xt / a - 12 * s / a), hi = max(mu + 12 * sd, xt / a + 12 * s / a)
        let nodes = 6001
        let dx = (hi - lo) / Double(nodes - 1)
        var z = 0.0, m = 0.0
        for j in 0..<nodes {
            let x = lo + Double(j) * dx
            let r1 = xt - a * x, r2 = x - mu
            let f = exp(-0.5 * r1 * r1 / (s * s) - 0.5 * r2 * r2 / d) / (2 * Double.pi * s * sd)
            let wgt = (j == 0 || j == nodes - 1) ? 0.5 : 1.0
            z += wgt * f * dx; m += wgt * x * f * dx
        }
        return (log(z), m / z)
    }

    /// Brute-force E[x0 | x_t] and responsibilities.
    static func bruteForce(_ prior: GaussianMixturePrior, xt: [Double], alphaBar: Double) -> (x0: [Double], pi: [Double]) {
        let a = alphaBar.squareRoot(), s = (1 - alphaBar).squareRoot()
        let n = xt.count, kk = prior.componentCount
        var logp = [Double](repeating: 0, count: kk)
        var condMean = [[Double]](repeating: [Double](repeating: 0, count: n), count: kk)
        for k in 0..<kk {
            logp[k] = log(prior.weights[k])
            for i in 0..<n {
                let q = quadrature(xt: xt[i], a: a, s: s, mu: prior.means[k][i], d: prior.variances[k][i])
                logp[k] += q.logZ
                condMean[k][i] = q.mean
            }
        }
        let top = logp.max()!
        let unnorm = logp.map { exp($0 - top) }
        let total = unnorm.reduce(0, +)
        let pi = unnorm.map { $0 / total }
        let x0 = (0..<n).map { i in (0..<kk).reduce(0.0) { $0 + pi[$1] * condMean[$1][i] } }
        return (x0, pi)
    }

    @Test("x̂0 and responsibilities equal brute-force numerical integration; ε̂ is consistent")
    func bruteForcePosteriorMean() throws {
        let prior = try Self.makePrior()
        let n = prior.valueCount
        var mixed = 0
        for (j, alphaBar) in [0.9, 0.5, 0.15, 0.05].enumerated() {
            let a = alphaBar.squareRoot(), s = (1 - alphaBar).squareRoot()
            let x0 = prior.sample(using: SampleStream(seed: 53, index: j))
            let e = DenseReference.normals(n, seed: 54, index: j)
            let xt = (0..<n).map { a * x0[$0] + s * e[$0] }
            let reference = Self.bruteForce(prior, xt: xt, alphaBar: alphaBar)
            let (x0hat, epshat) = try prior.denoise(xt, alphaBar: alphaBar)
            let pi = try prior.responsibilities(xt, alphaBar: alphaBar)
            #expect(DenseReference.maxAbsDiff(x0hat, reference.x0) < 1e-9, "ᾱ = \(alphaBar)")
            #expect(DenseReference.maxAbsDiff(pi, reference.pi) < 1e-9, "ᾱ = \(alphaBar)")
            let epsExpected = (0..<n).map { (xt[$0] - a * x0hat[$0]) / s }
            #expect(DenseReference.maxAbsDiff(epshat, epsExpected) < 1e-10 * max(1, DenseReference.maxAbs(epsExpected)))
            if reference.pi.filter({ $0 > 0.01 }).count >= 2 { mixed += 1 }
        }
        // At least one case must exercise genuinely mixed responsibilities.
        #expect(mixed >= 1)
    }

    @Test("VJP equals the transposed Jacobian from central finite differences (through the responsibilities)")
    func vjpFiniteDifferences() throws {
        let prior = try Self.makePrior()
        let n = prior.valueCount
        for (j, alphaBar) in [0.3, 0.8].enumerated() {
            let a = alphaBar.squareRoot(), s = (1 - alphaBar).squareRoot()
            // Between components 1 and 2, so that both carry weight and ∂π/∂x_t matters.
            let noise = DenseReference.normals(n, seed: 61, index: j)
            let xt = (0..<n).map { a * 0.5 * (prior.means[1][$0] + prior.means[2][$0]) + 0.3 * s * noise[$0] }
            let pi = try prior.responsibilities(xt, alphaBar: alphaBar)
            #expect(pi.filter { $0 > 0.05 }.count >= 2, "responsibilities \(pi) are not mixed")
            let step = 1e-5
            var jac = [Double](repeating: 0, count: n * n)  // jac[i, j] = ∂x̂0_i/∂x_j
            var xp = xt
            for c in 0..<n {
                xp[c] = xt[c] + step
                let plus = try prior.denoise(xp, alphaBar: alphaBar).x0
                xp[c] = xt[c] - step
                let minus = try prior.denoise(xp, alphaBar: alphaBar).x0
                xp[c] = xt[c]
                for r in 0..<n { jac[r * n + c] = (plus[r] - minus[r]) / (2 * step) }
            }
            for t in 0..<3 {
                let v = DenseReference.normals(n, seed: 62, index: 10 * j + t)
                let expected = (0..<n).map { c in (0..<n).reduce(0.0) { $0 + v[$1] * jac[$1 * n + c] } }
                let got = try prior.pullback(v, at: xt, alphaBar: alphaBar)
                #expect(DenseReference.maxAbsDiff(got, expected) < 1e-7 * DenseReference.maxAbs(expected), "ᾱ = \(alphaBar)")
            }
            // Tweedie: ∂x̂0/∂x_t = (√ᾱ/(1−ᾱ)) Cov[x0 | x_t] is symmetric.
            for r in 0..<n { for c in 0..<r { #expect(abs(jac[r * n + c] - jac[c * n + r]) < 1e-7) } }
        }
    }

    @Test("Exact prior draws match the mixture's mean and variance (20,000 draws, 5 standard errors)")
    func exactSampler() throws {
        let prior = try Self.makePrior()
        let n = prior.valueCount, count = 20_000
        var sum = [Double](repeating: 0, count: n), sum2 = sum
        for k in 0..<count {
            let x = prior.sample(using: SampleStream(seed: 71, index: k))
            for i in 0..<n { sum[i] += x[i]; sum2[i] += x[i] * x[i] }
        }
        for i in 0..<n {
            let mean = (0..<3).reduce(0.0) { $0 + prior.weights[$1] * prior.means[$1][i] }
            let second = (0..<3).reduce(0.0) { $0 + prior.weights[$1] * (prior.variances[$1][i] + prior.means[$1][i] * prior.means[$1][i]) }
            let variance = second - mean * mean
            let m = sum[i] / Double(count)
            #expect(abs(m - mean) < 5 * (variance / Double(count)).squareRoot(), "pixel \(i) mean")
            // Standard error of the second moment from the exact fourth moment of a Gaussian mixture.
            let fourth = (0..<3).reduce(0.0) { acc, k in
                let mu = prior.means[k][i], d = prior.variances[k][i]
                return acc + prior.weights[k] * (mu * mu * mu * mu + 6 * mu * mu * d + 3 * d * d)
            }
            let m2 = sum2[i] / Double(count)
            #expect(abs(m2 - second) < 5 * ((fourth - second * second) / Double(count)).squareRoot(), "pixel \(i) second moment")
        }
    }

    @Test("Bad mixtures are refused with errors naming the component")
    func badInput() throws {
        let schedule = try NoiseSchedule(kind: .cosine, steps: 100)
        let shape = ImageShape(channels: 1, height: 2, width: 2)
        #expect(throws: TweedieError.self) { try GaussianMixturePrior(shape: shape, components: [], schedule: schedule) }
        do {
            _ = try GaussianMixturePrior(shape: shape, components: [
                MixtureComponent(weight: 1, mean: [0], variance: [1]),
                MixtureComponent(weight: 1, mean: [0, 1, 2], variance: [1]),
            ], schedule: schedule)
            Issue.record("a 3-value mean for a 1×2×2 prior was accepted")
        } catch let e as TweedieError {
            #expect(e.description.contains("component 1 mean"))
        }
        #expect(throws: TweedieError.self) {
            try GaussianMixturePrior(shape: shape, components: [MixtureComponent(weight: 1, mean: [0], variance: [-1])], schedule: schedule)
        }
        #expect(throws: TweedieError.self) {
            try GaussianMixturePrior(shape: shape, components: [MixtureComponent(weight: 0, mean: [0], variance: [1])], schedule: schedule)
        }
    }
}
