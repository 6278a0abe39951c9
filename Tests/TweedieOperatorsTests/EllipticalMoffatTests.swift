// The elliptical Moffat profile (EllipticalMoffatPSF.swift) against closed
// forms: the round case is the circular Moffat, the second moments of a
// rendered profile match the closed form, axes and angle are normalised.
// (The star finder and the Moffat fitter that use it are tested in
// TweedieAnalysisTests/StarPSFTests.swift.)
import Foundation
import Testing
import TweedieCore
@testable import TweedieOperators

@Suite struct EllipticalMoffatTests {
    @Test func roundCaseIsTheCircularMoffat() throws {
        let e = try EllipticalMoffatPSF(fwhm1: 0.7, fwhm2: 0.7, angle: 0.3, beta: 2.8)
        let c = try MoffatPSF(fwhm: 0.7, beta: 2.8)
        let a = try e.render(pixelScale: 0.168, height: 25, width: 25), b = try c.render(pixelScale: 0.168, height: 25, width: 25)
        var maxDiff: Float = 0
        for i in a.kernels.data.indices { maxDiff = max(maxDiff, abs(a.kernels.data[i] - b.kernels.data[i])) }
        #expect(maxDiff < 1e-6)
        // Half maximum at FWHM/2 along both axes.
        #expect(abs(e.intensity(dxArcsec: 0.35, dyArcsec: 0) - 0.5) < 1e-12)
    }

    @Test func secondMomentsMatchTheClosedForm() throws {
        // For β > 2, ⟨u²⟩ = α₁²/(2(β−2)) along the major axis, α₂²/(2(β−2)) along the minor;
        // pixel integration adds 1/12 px² to each pixel-axis variance (box of width 1).
        let beta = 4.0, angle = 35 * Double.pi / 180
        let p = try EllipticalMoffatPSF(fwhm1: 4.0, fwhm2: 2.5, angle: angle, beta: beta, unit: "px")
        let n = 301
        let psf = try p.render(pixelScale: 1, height: n, width: n)
        var sxx = 0.0, syy = 0.0, sxy = 0.0, sx = 0.0, sy = 0.0, sum = 0.0
        for y in 0..<n { for x in 0..<n {
            let v = Double(psf.kernels[0, 0, y, x]), dx = Double(x - n / 2), dy = Double(y - n / 2)
            sum += v; sx += v * dx; sy += v * dy; sxx += v * dx * dx; syy += v * dy * dy; sxy += v * dx * dy
        } }
        #expect(abs(sum - 1) < 1e-5 && abs(sx) < 1e-5 && abs(sy) < 1e-5)   // unit sum, centred on (n/2, n/2)
        let k = 2 * (pow(2, 1 / beta) - 1).squareRoot()
        let v1 = pow(4.0 / k, 2) / (2 * (beta - 2)), v2 = pow(2.5 / k, 2) / (2 * (beta - 2))
        let c = cos(angle), s = sin(angle)
        let exx = v1 * c * c + v2 * s * s + 1.0 / 12, eyy = v1 * s * s + v2 * c * c + 1.0 / 12, exy = (v1 - v2) * c * s
        #expect(abs(sxx - exx) / exx < 3e-3 && abs(syy - eyy) / eyy < 3e-3 && abs(sxy - exy) / exy < 3e-3,
                "moments \(sxx) \(syy) \(sxy) expected \(exx) \(eyy) \(exy)")
        #expect(abs(p.totalFlux! - Double.pi * (4 / k) * (2.5 / k) / (beta - 1)) < 1e-12)
    }

    @Test func axesAndAngleAreNormalised() throws {
        let p = try EllipticalMoffatPSF(fwhm1: 2, fwhm2: 3, angle: 0.2, beta: 3)
        #expect(p.fwhmMajor == 3 && p.fwhmMinor == 2 && abs(p.positionAngle - (0.2 + .pi / 2 - .pi)) < 1e-12)
        #expect(throws: TweedieError.self) { try EllipticalMoffatPSF(fwhm1: 2, fwhm2: 3, angle: 0, beta: 1) }
    }
}
