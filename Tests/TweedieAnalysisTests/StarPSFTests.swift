// PSF from stars: the star finder + GSL Moffat fitter on a synthetic field of
// known elliptical Moffat stars (pixel values integrated here, independently,
// by 8×8 midpoint sums of the closed-form profile), the acceptance check on the
// real M51 KPNO image (../shared/data/real; independent measurement
// FWHM ≈ 2.4 px, β ≈ 3.5), and the fitter's analytic Jacobian against central
// differences. (The elliptical Moffat renderer itself is tested in
// TweedieOperatorsTests/EllipticalMoffatTests.swift.)
import Foundation
import Testing
import TweedieCore
import TweedieOperators
@testable import TweedieAnalysis

/// The closed-form elliptical Moffat, written here: (1 + u²/α₁² + v²/α₂²)^(−β).
private func moffat(_ dx: Double, _ dy: Double, fwhmMajor: Double, fwhmMinor: Double, angle: Double, beta: Double) -> Double {
    let k = 2 * (pow(2, 1 / beta) - 1).squareRoot()
    let a1 = fwhmMajor / k, a2 = fwhmMinor / k
    let u = cos(angle) * dx + sin(angle) * dy, v = -sin(angle) * dx + cos(angle) * dy
    return pow(1 + u * u / (a1 * a1) + v * v / (a2 * a2), -beta)
}

@Suite struct StarPSFTests {
    /// A 160×160 field: sky 100, Gaussian noise σ 4, nine isolated stars of one elliptical
    /// Moffat (FWHM 3.4 × 2.6 px, PA 30°, β 3.2) with sub-pixel offsets, plus a close pair,
    /// a saturated star (SATURATE in the header) and a one-pixel hot spot — which must be rejected.
    static func syntheticField() throws -> ImageBatch {
        let n = 160
        let (fMaj, fMin, angle, beta) = (3.4, 2.6, 30 * Double.pi / 180, 3.2)
        var img = [Double](repeating: 100, count: n * n)
        func addStar(_ x0: Double, _ y0: Double, _ amp: Double) {
            for y in max(0, Int(y0) - 20)...min(n - 1, Int(y0) + 20) {
                for x in max(0, Int(x0) - 20)...min(n - 1, Int(x0) + 20) {
                    var acc = 0.0
                    for i in 0..<8 { for j in 0..<8 {
                        acc += moffat(Double(x) - 0.5 + (Double(j) + 0.5) / 8 - x0, Double(y) - 0.5 + (Double(i) + 0.5) / 8 - y0,
                                      fwhmMajor: fMaj, fwhmMinor: fMin, angle: angle, beta: beta)
                    } }
                    img[y * n + x] += amp * acc / 64
                }
            }
        }
        let offsets = [(0.13, -0.31), (0.42, 0.27), (-0.22, 0.05), (0.31, 0.44), (-0.45, -0.12),
                       (0.08, 0.36), (-0.3, -0.41), (0.2, -0.05), (-0.09, 0.18)]
        for (k, (ox, oy)) in offsets.enumerated() {
            addStar(Double(25 + 40 * (k % 3)) + ox, Double(25 + 40 * (k / 3)) + oy, 1500 + 700 * Double(k))
        }
        addStar(138.2, 30.1, 4000); addStar(141.3, 33.8, 3000)     // a close pair
        addStar(138.0, 138.0, 60000)                                // saturated below
        let s = SampleStream(seed: 99, index: 0)
        var data = img.map { Float($0 + 4 * s.normal()) }
        for i in data.indices where data[i] > 20000 { data[i] = 20000 }
        data[100 * n + 140] += 3000                                 // hot pixel
        var header = FITSHeader()
        header.set("SATURATE", .double(20000))
        return try ImageBatch(count: 1, shape: ImageShape(channels: 1, height: n, width: n), data: data, header: header)
    }

    @Test func recoversKnownEllipticalMoffatStars() throws {
        let est = try StarPSFEstimation.estimate(image: Self.syntheticField(), source: "synthetic")
        let used = est.usedStars
        #expect(used.count == 9, "\(est.stars.map { "\($0.peakX),\($0.peakY): \($0.status)" })")
        for s in used {
            let f = s.fit!
            // Each isolated star sits on the 40-px grid with its known sub-pixel offset (< 0.5 px).
            let gx = (f.x - 25) / 40, gy = (f.y - 25) / 40
            #expect(abs(gx - gx.rounded()) * 40 < 0.5 && abs(gy - gy.rounded()) * 40 < 0.5)
        }
        let p = est.profile
        #expect(abs(p.fwhmMajor - 3.4) < 0.05 && abs(p.fwhmMinor - 2.6) < 0.05, "\(p.summary)")
        #expect(abs(p.positionAngle * 180 / .pi - 30) < 2, "\(p.summary)")
        #expect(abs(p.beta - 3.2) < 0.15, "\(p.summary)")
        #expect(abs(p.fwhm - (3.4 * 2.6).squareRoot()) < 0.05 && abs(p.ellipticity - (1 - 2.6 / 3.4)) < 0.02)
        // The rejects, for the right reasons.
        func status(near x: Int, _ y: Int) -> String? {
            est.stars.first { abs($0.peakX - x) <= 2 && abs($0.peakY - y) <= 2 }?.status.description
        }
        #expect(status(near: 138, 138)?.contains("saturated") == true)
        #expect(status(near: 140, 100)?.contains("sharp") == true)
        #expect(status(near: 138, 30)?.contains("neighbour") == true)
        // The rendered PSF: odd, unit sum, centred.
        let psf = est.psf
        #expect(psf.height % 2 == 1 && psf.width == psf.height)
        let sum = psf.kernels.data.reduce(0.0) { $0 + Double($1) }
        #expect(abs(sum - 1) < 1e-5)
        let c = psf.height / 2
        #expect(psf.kernels.data.indices.max { psf.kernels.data[$0] < psf.kernels.data[$1] }! == c * psf.width + c)
    }

    @Test func m51StarsGiveTheKnownSeeing() throws {
        let path = SharedData.path("real/m51_kpno_B_devpix.fits")
        let est = try StarPSFEstimation.estimate(image: FITSReader.read(path), source: path)
        let used = est.usedStars
        #expect(used.count >= 6, "\(used.count) stars")
        #expect(est.profile.fwhm >= 2.2 && est.profile.fwhm <= 2.7, "\(est.profile.summary)")
        #expect(est.profile.beta >= 2.5 && est.profile.beta <= 4.5, "\(est.profile.summary)")
        // The bad row near y = 110 (1-based) is found.
        #expect(est.badRows.contains(109), "\(est.badRows)")
        print("m51: R \(est.fitRadius) annulus \(est.annulus) sky \(est.sky) σ \(est.skySigma); \(used.count) stars, FWHM \(est.profile.fwhm) px, \(est.profile.summary)")
    }
}

@Suite struct MoffatFitterTests {
    @Test func jacobianMatchesCentralDifferences() throws {
        let n = 9
        let problem = MoffatFitProblem(values: [Float](repeating: 0, count: n * n), width: n, height: n, originX: 10, originY: 20,
                                       usable: nil, fixedBackground: nil, order: 3)
        let q = [850.0, 14.3, 23.8, 0.52, 0.11, 0.47, 3.3, 12.0]
        var model = [Double](repeating: 0, count: problem.n), jac = [[Double]](repeating: [], count: problem.n)
        problem.evaluate(q, jacobian: true) { i, m, g in model[i] = m; jac[i] = Array(g) }
        for k in 0..<7 {
            let h = 1e-6 * max(1, abs(q[k]))
            var qp = q, qm = q
            qp[k] += h; qm[k] -= h
            var fp = [Double](repeating: 0, count: problem.n), fm = fp
            problem.evaluate(qp, jacobian: false) { i, m, _ in fp[i] = m }
            problem.evaluate(qm, jacobian: false) { i, m, _ in fm[i] = m }
            var worst = 0.0, scale = 0.0
            for i in 0..<problem.n {
                worst = max(worst, abs((fp[i] - fm[i]) / (2 * h) - jac[i][k]))
                scale = max(scale, abs(jac[i][k]))
            }
            #expect(worst <= 1e-6 * scale, "parameter \(k): max |FD − J| \(worst) (scale \(scale))")
        }
    }
}
