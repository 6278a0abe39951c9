// The CLEAN restoring beam: an elliptical Gaussian of peak 1 fitted to the main
// lobe of the dirty beam (Högbom 1974; the "clean beam" of CASA's tclean,
// which also fits the main lobe).
//
// Model, in pixel offsets (dx, dy) from the beam centre (`[y][x]` image, x to
// the right, y up the rows):  G(dx, dy) = exp(−(a·dx² + 2b·dx·dy + c·dy²)),
// peak fixed at 1 and centre fixed on the beam's peak pixel; (a, b, c) is a
// positive-definite quadratic form. Fitted pixels: the 8-connected region
// around the centre where the beam is ≥ half its peak (the main lobe above
// half maximum). Fit: least squares Σ (G − B)² with GSL's
// `gsl_multifit_nlinear` (trust region, Levenberg–Marquardt), started from the
// exact log-linear solution −ln B = a·dx² + 2b·dx·dy + c·dy² (weighted linear
// least squares), which is already exact for a Gaussian beam.
//
// Derived sizes: with λ₁ ≤ λ₂ the eigenvalues of [[a, b], [b, c]], the FWHM
// along each principal axis is 2·√(ln 2 / λ) (major: λ₁). The position angle
// is measured east of north on a sky image with north = +y and east = −x
// (FITS CDELT1 < 0, as UVImagingProducts writes them), in (−90°, 90°].

@preconcurrency import CGSL
import Foundation
import TweedieCore

/// An elliptical Gaussian beam of peak 1 on a pixel grid.
public struct RestoringBeam: Sendable, Equatable {
    /// Quadratic-form coefficients (pixels⁻²): G = exp(−(a dx² + 2b dx dy + c dy²)).
    public var a: Double
    public var b: Double
    public var c: Double

    public init(a: Double, b: Double, c: Double) {
        self.a = a; self.b = b; self.c = c
    }

    /// From FWHMs (pixels) and the position angle of the major axis (degrees east of north,
    /// north = +y, east = −x).
    public init(majorFWHM: Double, minorFWHM: Double, positionAngle: Double) {
        let l1 = 4 * log(2.0) / (majorFWHM * majorFWHM), l2 = 4 * log(2.0) / (minorFWHM * minorFWHM)
        let pa = positionAngle * .pi / 180
        // Major-axis unit vector in pixel coordinates: (−sin PA, cos PA).
        let ux = -sin(pa), uy = cos(pa)
        // Q = l1 (u·d)² + l2 (w·d)², w ⟂ u.
        a = l1 * ux * ux + l2 * uy * uy
        c = l1 * uy * uy + l2 * ux * ux
        b = (l1 - l2) * ux * uy
    }

    private var eigenvalues: (small: Double, large: Double) {
        let m = 0.5 * (a + c), r = (0.25 * (a - c) * (a - c) + b * b).squareRoot()
        return (m - r, m + r)
    }
    /// Major and minor FWHM, pixels.
    public var majorFWHM: Double { 2 * (log(2.0) / eigenvalues.small).squareRoot() }
    public var minorFWHM: Double { 2 * (log(2.0) / eigenvalues.large).squareRoot() }
    /// Position angle of the major axis, degrees east of north (north = +y, east = −x), in (−90, 90].
    public var positionAngle: Double {
        let l = eigenvalues.small
        // Eigenvector of λ_small: pick the better-conditioned of the two forms.
        var ux = b, uy = l - a
        if abs(ux) + abs(uy) < 1e-12 * (abs(a) + abs(c)) { ux = l - c; uy = b }
        if abs(ux) + abs(uy) < 1e-300 { return 0 }   // circular: any angle
        var pa = atan2(-ux, uy) * 180 / .pi
        while pa <= -90 { pa += 180 }
        while pa > 90 { pa -= 180 }
        return pa
    }
    /// Area Σ G over the plane, pixels: π/(4 ln 2)·major·minor = π/√(ac − b²).
    public var areaPixels: Double { .pi / (a * c - b * b).squareRoot() }

    public func value(dx: Double, dy: Double) -> Double { exp(-(a * dx * dx + 2 * b * dx * dy + c * dy * dy)) }

    /// The beam sampled on a (2h+1)² kernel centred on pixel (h, h), h = ⌈4·major FWHM / 2.355⌉·… (to G < 1e−6).
    public func kernel() -> (values: [Float], size: Int) {
        // G = 1e-6 along the major axis at r = √(ln 1e6 / λ_small).
        let h = max(1, Int((log(1e6) / eigenvalues.small).squareRoot().rounded(.up)))
        let k = 2 * h + 1
        var out = [Float](repeating: 0, count: k * k)
        for y in 0..<k { for x in 0..<k { out[y * k + x] = Float(value(dx: Double(x - h), dy: Double(y - h))) } }
        return (out, k)
    }

    /// Fits the main lobe of `beam` (width × height, `[y][x]`) about its centre pixel (default: the maximum).
    public static func fit(beam: [Float], width: Int, height: Int, centre: (x: Int, y: Int)? = nil) throws -> RestoringBeam {
        guard beam.count == width * height, width >= 3, height >= 3 else {
            throw TweedieError.shapeMismatch(what: "dirty beam", expected: "\(width)×\(height) values", got: "\(beam.count)")
        }
        var ci = 0
        if let c = centre { ci = c.y * width + c.x } else {
            for i in 1..<beam.count where beam[i] > beam[ci] { ci = i }
        }
        let peak = Double(beam[ci])
        guard peak.isFinite, peak > 0 else {
            throw TweedieError.invalidInput(what: "dirty beam", problem: "its centre value \(peak) is not positive; cannot fit a restoring beam")
        }
        let cx = ci % width, cy = ci / width
        // Main lobe above half maximum, 8-connected to the centre.
        var above: [Int] = []
        for i in 0..<beam.count where Double(beam[i]) >= 0.5 * peak { above.append(i) }
        var labeller = ConnectedComponents(width: width, height: height)
        guard let lobe = labeller.components(of: above).first(where: { $0.contains(ci) }) else {
            throw TweedieError.numerical(problem: "dirty beam: main lobe not found")
        }
        let pts = lobe.filter { $0 != ci }.map { i -> (dx: Double, dy: Double, v: Double) in
            (Double(i % width - cx), Double(i / width - cy), Double(beam[i]) / peak)
        }
        guard pts.count >= 3 else {
            throw TweedieError.invalidInput(what: "dirty beam",
                                            problem: "its main lobe has only \(pts.count + 1) pixels above half maximum; use smaller pixels (cell) so the beam is sampled by ≥ 3 pixels across")
        }
        let start = try logLinearFit(pts)
        return try nonlinearFit(pts, start: start)
    }

    /// Weighted linear least squares of −ln B on (dx², 2dxdy, dy²), weights B² (so that the
    /// log residuals count like the linear ones near the peak).
    static func logLinearFit(_ pts: [(dx: Double, dy: Double, v: Double)]) throws -> RestoringBeam {
        var m = [Double](repeating: 0, count: 9), r = [Double](repeating: 0, count: 3)
        for p in pts {
            let q = [p.dx * p.dx, 2 * p.dx * p.dy, p.dy * p.dy], t = -log(p.v), w = p.v * p.v
            for i in 0..<3 {
                r[i] += w * q[i] * t
                for j in 0..<3 { m[3 * i + j] += w * q[i] * q[j] }
            }
        }
        // Cramer's rule on the 3×3 normal equations.
        func det(_ a: [Double]) -> Double {
            a[0] * (a[4] * a[8] - a[5] * a[7]) - a[1] * (a[3] * a[8] - a[5] * a[6]) + a[2] * (a[3] * a[7] - a[4] * a[6])
        }
        let d = det(m)
        guard abs(d) > 0, d.isFinite else {
            throw TweedieError.numerical(problem: "dirty beam: the main-lobe pixels do not constrain an elliptical Gaussian (singular fit)")
        }
        var sol = [Double](repeating: 0, count: 3)
        for k in 0..<3 {
            var mk = m
            for i in 0..<3 { mk[3 * i + k] = r[i] }
            sol[k] = det(mk) / d
        }
        var beam = RestoringBeam(a: sol[0], b: sol[1], c: sol[2])
        if !(beam.a > 0 && beam.c > 0 && beam.a * beam.c > beam.b * beam.b) {
            // Not positive definite (strongly non-Gaussian lobe): start from a circle of the lobe's size.
            let r2 = pts.map { $0.dx * $0.dx + $0.dy * $0.dy }.max() ?? 1
            beam = RestoringBeam(a: log(2.0) / r2, b: 0, c: log(2.0) / r2)
        }
        return beam
    }

    /// Refines (a, b, c) with gsl_multifit_nlinear (trust region, LM).
    static func nonlinearFit(_ pts: [(dx: Double, dy: Double, v: Double)], start: RestoringBeam) throws -> RestoringBeam {
        final class Data {
            let dx: [Double], dy: [Double], v: [Double]
            init(_ p: [(dx: Double, dy: Double, v: Double)]) { dx = p.map(\.dx); dy = p.map(\.dy); v = p.map(\.v) }
        }
        let data = Data(pts)
        let n = pts.count
        var fdf = gsl_multifit_nlinear_fdf()
        fdf.f = { x, params, f in
            let d = Unmanaged<Data>.fromOpaque(params!).takeUnretainedValue()
            let a = gsl_vector_get(x, 0), b = gsl_vector_get(x, 1), c = gsl_vector_get(x, 2)
            for i in 0..<d.v.count {
                let q = a * d.dx[i] * d.dx[i] + 2 * b * d.dx[i] * d.dy[i] + c * d.dy[i] * d.dy[i]
                gsl_vector_set(f, i, exp(-q) - d.v[i])
            }
            return Int32(GSL_SUCCESS)
        }
        fdf.df = { x, params, j in
            let d = Unmanaged<Data>.fromOpaque(params!).takeUnretainedValue()
            let a = gsl_vector_get(x, 0), b = gsl_vector_get(x, 1), c = gsl_vector_get(x, 2)
            for i in 0..<d.v.count {
                let x2 = d.dx[i] * d.dx[i], xy = 2 * d.dx[i] * d.dy[i], y2 = d.dy[i] * d.dy[i]
                let g = exp(-(a * x2 + b * xy + c * y2))
                gsl_matrix_set(j, i, 0, -x2 * g)
                gsl_matrix_set(j, i, 1, -xy * g)
                gsl_matrix_set(j, i, 2, -y2 * g)
            }
            return Int32(GSL_SUCCESS)
        }
        fdf.fvv = nil
        fdf.n = n
        fdf.p = 3
        fdf.params = Unmanaged.passUnretained(data).toOpaque()
        GSL.configure()   // GSL errors come back as status codes, never abort()
        var parameters = gsl_multifit_nlinear_default_parameters()
        guard let work = gsl_multifit_nlinear_alloc(gsl_multifit_nlinear_trust, &parameters, n, 3) else {
            throw TweedieError.library(name: "GSL", problem: "gsl_multifit_nlinear_alloc failed")
        }
        defer { gsl_multifit_nlinear_free(work) }
        let x0 = gsl_vector_alloc(3)!
        defer { gsl_vector_free(x0) }
        gsl_vector_set(x0, 0, start.a); gsl_vector_set(x0, 1, start.b); gsl_vector_set(x0, 2, start.c)
        var info: Int32 = 0
        let status = withExtendedLifetime(data) { () -> Int32 in
            let s = gsl_multifit_nlinear_init(x0, &fdf, work)
            if s != GSL_SUCCESS { return s }
            return gsl_multifit_nlinear_driver(200, 1e-12, 1e-12, 1e-12, nil, nil, &info, work)
        }
        let x = gsl_multifit_nlinear_position(work)!
        let beam = RestoringBeam(a: gsl_vector_get(x, 0), b: gsl_vector_get(x, 1), c: gsl_vector_get(x, 2))
        // GSL_EMAXITER still leaves a usable point; anything else, or a non-ellipse, is an error.
        guard status == GSL_SUCCESS || status == GSL_EMAXITER,
              beam.a > 0, beam.c > 0, beam.a * beam.c > beam.b * beam.b else {
            throw TweedieError.numerical(problem: "dirty beam: the Gaussian fit of the main lobe failed (GSL status \(status))")
        }
        return beam
    }
}

extension CleanResult {
    /// FITS cards of a CLEAN image: the restoring beam (BMAJ, BMIN in degrees from pixels of
    /// `cellArcsec`; BPA in degrees east of north), the loop gain, iterations, stopping level and
    /// total CLEAN flux.
    public func provenanceCards(restoring: RestoringBeam, cellArcsec cell: Double, gain: Double) -> [FITSCard] {
        [FITSCard(keyword: "BMAJ", value: .double(restoring.majorFWHM * cell / 3600), comment: "restoring beam major FWHM, deg"),
         FITSCard(keyword: "BMIN", value: .double(restoring.minorFWHM * cell / 3600), comment: "restoring beam minor FWHM, deg"),
         FITSCard(keyword: "BPA", value: .double(restoring.positionAngle), comment: "restoring beam PA, deg east of north"),
         FITSCard(keyword: "CLNGAIN", value: .double(gain), comment: "CLEAN loop gain"),
         FITSCard(keyword: "CLNITER", value: .int(iterations), comment: "CLEAN iterations"),
         FITSCard(keyword: "CLNTHRES", value: .double(thresholdLevel), comment: "CLEAN stopping level, Jy/beam"),
         FITSCard(keyword: "CLNFLUX", value: .double(totalFlux), comment: "total CLEAN flux, Jy")]
    }
}
