// Nonlinear least-squares fit of a pixel-integrated elliptical Moffat star
// (EllipticalMoffatPSF.swift) to an image stamp, with GSL's trust-region
// solver `gsl_multifit_nlinear` (Levenberg–Marquardt, Moré scaling) and an
// analytic Jacobian.
//
// Model of pixel (X, Y) (image coordinates of the pixel centre, 0-based):
//   m = B + A · Σ_k w_k (1 + Q(X + ξ_k − x₀, Y + η_k − y₀))^(−β),
//   Q(dx, dy) = u² + v²,  u = l₁₁ dx + l₂₁ dy,  v = l₂₂ dy,
// i.e. Q = dᵀ C d with C = L Lᵀ, L = [[l₁₁, 0], [l₂₁, l₂₂]] (Cholesky factor:
// C stays positive semi-definite whatever the solver tries, and a round star
// has no ill-defined angle). (ξ_k, η_k, w_k) is an n×n Gauss–Legendre rule
// over the pixel, so the fitted profile is the one *before* pixelisation — the
// profile the renderer integrates over pixels again. Parameters
// [A, x₀, y₀, l₁₁, l₂₁, l₂₂, β, B]; B may instead be held fixed (a sky level
// measured elsewhere). Residuals are unweighted (m − data) over the usable
// pixels of the stamp. Used by the star-PSF estimate (StarPSFEstimation.swift,
// StarFitting.swift).
//
// From C: eigenvalues λ₋ ≤ λ₊ give α_major = λ₋^(−½), α_minor = λ₊^(−½); the
// eigenvector of λ₊ lies at φ = ½ atan2(2C₁₂, C₁₁ − C₂₂) from +x, so the major
// axis is at φ + 90°; FWHM_i = α_i · 2√(2^{1/β} − 1).

@preconcurrency import CGSL
import Foundation
import TweedieCore
import TweedieOperators

/// Result of one elliptical Moffat fit; positions in image pixel coordinates (0-based).
public struct EllipticalMoffatFit: Sendable {
    public var amplitude: Double
    public var x: Double
    public var y: Double
    public var background: Double
    /// Whether the background was a free parameter.
    public var backgroundFitted: Bool
    /// The profile in pixel units (nil when the solution is not a valid Moffat: β ≤ 1 or a degenerate shape).
    public var profile: EllipticalMoffatPSF?
    /// β as fitted (also when ≤ 1).
    public var beta: Double
    /// Solver iterations and whether it met its convergence test.
    public var iterations: Int
    public var converged: Bool
    /// RMS of the residuals (data − model) over the fitted pixels.
    public var residualRMS: Double
}

/// Starting point of a fit.
public struct MoffatFitStart: Sendable {
    public var amplitude: Double
    public var x: Double
    public var y: Double
    /// Round FWHM guess in pixels.
    public var fwhm: Double
    public var beta: Double
    public var background: Double
    public init(amplitude: Double, x: Double, y: Double, fwhm: Double, beta: Double = 3, background: Double) {
        self.amplitude = amplitude; self.x = x; self.y = y; self.fwhm = fwhm; self.beta = beta; self.background = background
    }
}

public enum EllipticalMoffatFitter {
    /// Fits a stamp of `width` × `height` pixels whose pixel [0][0] is image pixel (originX, originY).
    /// - Parameters:
    ///   - values: the stamp, row-major `[y][x]`; pixels with `usable[i] == false` (or non-finite) are left out.
    ///   - fixedBackground: hold B at this value (nil: fit it).
    ///   - subpixelOrder: Gauss–Legendre points per axis per pixel.
    public static func fit(values: [Float], width: Int, height: Int, originX: Int, originY: Int,
                           usable: [Bool]? = nil, start: MoffatFitStart, fixedBackground: Double? = nil,
                           subpixelOrder: Int = 4, maxIterations: Int = 200) throws -> EllipticalMoffatFit {
        guard values.count == width * height, usable.map({ $0.count == values.count }) ?? true else {
            throw TweedieError.shapeMismatch(what: "Moffat fit stamp", expected: "\(width * height) values",
                                             got: "\(values.count)")
        }
        let problem = MoffatFitProblem(values: values, width: width, height: height, originX: originX, originY: originY,
                                       usable: usable, fixedBackground: fixedBackground, order: subpixelOrder)
        let p = fixedBackground == nil ? 8 : 7
        guard problem.n > p else {
            throw TweedieError.invalidInput(what: "Moffat fit stamp",
                                            problem: "has \(problem.n) usable pixels, fewer than the \(p + 1) a fit needs")
        }
        GSL.configure()
        let alpha0 = max(start.fwhm, 0.5) / EllipticalMoffatPSF.fwhmPerAlpha(beta: start.beta)
        var initial = [start.amplitude, start.x, start.y, 1 / alpha0, 0, 1 / alpha0, start.beta]
        if fixedBackground == nil { initial.append(start.background) }

        return try withExtendedLifetime(problem) { () throws -> EllipticalMoffatFit in
            var fdf = gsl_multifit_nlinear_fdf()
            fdf.f = moffatResiduals
            fdf.df = moffatJacobian
            fdf.fvv = nil
            fdf.n = problem.n
            fdf.p = p
            fdf.params = Unmanaged.passUnretained(problem).toOpaque()
            var params = gsl_multifit_nlinear_default_parameters()
            guard let work = gsl_multifit_nlinear_alloc(gsl_multifit_nlinear_trust, &params, problem.n, p),
                  let x0 = gsl_vector_alloc(p) else {
                throw TweedieError.library(name: "GSL", problem: "cannot allocate a \(problem.n)×\(p) least-squares workspace")
            }
            defer { gsl_multifit_nlinear_free(work); gsl_vector_free(x0) }
            for i in 0..<p { gsl_vector_set(x0, i, initial[i]) }
            var status = gsl_multifit_nlinear_init(x0, &fdf, work)
            guard status == Int32(GSL_SUCCESS) else {
                throw TweedieError.numerical(problem: "Moffat fit: the model is not finite at the starting point (GSL status \(status))")
            }
            var info: Int32 = 0
            status = gsl_multifit_nlinear_driver(maxIterations, 1e-10, 1e-10, 1e-12, nil, nil, &info, work)
            let sol = gsl_multifit_nlinear_position(work)!
            var q = (0..<p).map { gsl_vector_get(sol, $0) }
            if fixedBackground != nil { q.append(fixedBackground!) }
            let residual = gsl_multifit_nlinear_residual(work)!
            var ss = 0.0
            for i in 0..<problem.n { let r = gsl_vector_get(residual, i); ss += r * r }
            let (l11, l21, l22, beta) = (q[3], q[4], q[5], q[6])
            let c11 = l11 * l11, c12 = l11 * l21, c22 = l21 * l21 + l22 * l22
            let mean = 0.5 * (c11 + c22), half = (0.25 * (c11 - c22) * (c11 - c22) + c12 * c12).squareRoot()
            let lMinus = mean - half, lPlus = mean + half
            var profile: EllipticalMoffatPSF? = nil
            if beta > 1, lMinus > 0, lPlus.isFinite {
                let k = EllipticalMoffatPSF.fwhmPerAlpha(beta: beta)
                let phi = 0.5 * atan2(2 * c12, c11 - c22)
                profile = try? EllipticalMoffatPSF(fwhm1: k / lMinus.squareRoot(), fwhm2: k / lPlus.squareRoot(),
                                                   angle: phi + .pi / 2, beta: beta, unit: "px")
            }
            return EllipticalMoffatFit(amplitude: q[0], x: q[1], y: q[2], background: q[7],
                                       backgroundFitted: fixedBackground == nil, profile: profile, beta: beta,
                                       iterations: Int(gsl_multifit_nlinear_niter(work)),
                                       converged: status == Int32(GSL_SUCCESS) && ss.isFinite,
                                       residualRMS: (ss / Double(problem.n)).squareRoot())
        }
    }
}

/// The data of one fit, reached from GSL's callbacks through `params`.
/// Immutable after init; used by one solver on one thread.
final class MoffatFitProblem {
    let n: Int
    /// Pixel-centre coordinates and values of the usable pixels.
    let px: [Double], py: [Double], data: [Double]
    let nodes: [Double], weights: [Double]
    let fixedBackground: Double?

    init(values: [Float], width: Int, height: Int, originX: Int, originY: Int, usable: [Bool]?,
         fixedBackground: Double?, order: Int) {
        var px: [Double] = [], py: [Double] = [], d: [Double] = []
        for y in 0..<height {
            for x in 0..<width {
                let i = y * width + x
                guard values[i].isFinite, usable?[i] ?? true else { continue }
                px.append(Double(originX + x)); py.append(Double(originY + y)); d.append(Double(values[i]))
            }
        }
        self.px = px; self.py = py; self.data = d; self.n = d.count
        (nodes, weights) = gaussLegendre(max(1, order))
        self.fixedBackground = fixedBackground
    }

    /// Parameters from a GSL vector (B appended when held fixed).
    func parameters(_ v: UnsafePointer<gsl_vector>) -> [Double] {
        let g = v.pointee
        var q = (0..<g.size).map { g.data[$0 * g.stride] }
        if let b = fixedBackground { q.append(b) }
        return q
    }

    /// Calls `body(i, model_i, ∂model_i/∂[A, x₀, y₀, l₁₁, l₂₁, l₂₂, β])` for each pixel.
    func evaluate(_ q: [Double], jacobian: Bool, _ body: (Int, Double, UnsafeBufferPointer<Double>) -> Void) {
        let (a, x0, y0, l11, l21, l22, beta, b) = (q[0], q[1], q[2], q[3], q[4], q[5], q[6], q[7])
        let m = nodes.count, n = self.n
        var grad = [Double](repeating: 0, count: 7)
        // Local buffer pointers: the hot loop reads no class-stored arrays (PLATFORM.md).
        px.withUnsafeBufferPointer { px in py.withUnsafeBufferPointer { py in
        nodes.withUnsafeBufferPointer { nodes in weights.withUnsafeBufferPointer { weights in
        grad.withUnsafeMutableBufferPointer { g in
            for i in 0..<n {
                var s = 0.0, sx = 0.0, sy = 0.0, s11 = 0.0, s21 = 0.0, s22 = 0.0, sb = 0.0
                for ky in 0..<m {
                    let dy = py[i] + nodes[ky] - y0
                    for kx in 0..<m {
                        let dx = px[i] + nodes[kx] - x0
                        let w = weights[ky] * weights[kx]
                        let u = l11 * dx + l21 * dy, v = l22 * dy
                        let onePlusQ = 1 + u * u + v * v
                        let pw = pow(onePlusQ, -beta)
                        s += w * pw
                        if jacobian {
                            // ∂(1+Q)^(−β)/∂Q = −β (1+Q)^(−β−1)
                            let dq = -beta * pw / onePlusQ * w
                            sx += dq * (-2 * u * l11)
                            sy += dq * (-2 * (u * l21 + v * l22))
                            s11 += dq * 2 * u * dx
                            s21 += dq * 2 * u * dy
                            s22 += dq * 2 * v * dy
                            sb += -w * log(onePlusQ) * pw
                        }
                    }
                }
                if jacobian {
                    g[0] = s; g[1] = a * sx; g[2] = a * sy; g[3] = a * s11; g[4] = a * s21; g[5] = a * s22; g[6] = a * sb
                }
                body(i, b + a * s, UnsafeBufferPointer(g))
            }
        } } } } }
    }
}

private func moffatResiduals(_ x: UnsafePointer<gsl_vector>?, _ params: UnsafeMutableRawPointer?,
                             _ f: UnsafeMutablePointer<gsl_vector>?) -> Int32 {
    let problem = Unmanaged<MoffatFitProblem>.fromOpaque(params!).takeUnretainedValue()
    let out = f!.pointee
    var finite = true
    problem.evaluate(problem.parameters(x!), jacobian: false) { i, model, _ in
        let r = model - problem.data[i]
        if !r.isFinite { finite = false }
        out.data[i * out.stride] = r
    }
    return finite ? Int32(GSL_SUCCESS) : Int32(GSL_EDOM)
}

private func moffatJacobian(_ x: UnsafePointer<gsl_vector>?, _ params: UnsafeMutableRawPointer?,
                            _ j: UnsafeMutablePointer<gsl_matrix>?) -> Int32 {
    let problem = Unmanaged<MoffatFitProblem>.fromOpaque(params!).takeUnretainedValue()
    let jm = j!.pointee
    let fitB = problem.fixedBackground == nil
    var finite = true
    problem.evaluate(problem.parameters(x!), jacobian: true) { i, _, g in
        let row = jm.data + i * jm.tda
        for k in 0..<7 {
            row[k] = g[k]
            if !g[k].isFinite { finite = false }
        }
        if fitB { row[7] = 1 }
    }
    return finite ? Int32(GSL_SUCCESS) : Int32(GSL_EDOM)
}
