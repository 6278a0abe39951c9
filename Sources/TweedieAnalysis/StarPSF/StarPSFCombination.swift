// Steps 6 and 7 of the star-PSF estimate (StarPSFEstimation.swift): clipping
// the stars whose FWHM or β stands out of the set, and combining the rest into
// one elliptical Moffat profile.
//
// Conventions: a fitted star's profile is in pixel units; its FWHM is
// √(FWHM_major · FWHM_minor); its half-maximum ellipse is the matrix
// S = R(θ) diag(4/FWHM_maj², 4/FWHM_min²) R(θ)ᵀ (x̃ᵀ S x̃ = 1 on the half-maximum
// contour), θ the major axis from +x towards +y. S does not depend on β, so
// ellipses of stars with different β can be combined element by element.

import Foundation
import TweedieCore
import TweedieOperators

extension StarPSFEstimation {
    /// Step 6, outliers: repeated κσ clipping (κ = `kappa`) of the used stars around the median of
    /// their FWHMs, then of their β, with σ = max(1.4826·MAD, 3 % of the median) for the FWHM and
    /// max(1.4826·MAD, 10 % of the median) for β (the floors keep a tight set of stars from
    /// clipping its own noise). Stops when a round rejects nothing, after 20 rounds, or when fewer
    /// than 3 stars are left. Each used star must have a fitted profile.
    static func clipOutliers(_ stars: inout [StarMeasurement], kappa: Double) {
        var iterations = 0
        while iterations < 20 {
            iterations += 1
            let good = stars.indices.filter { stars[$0].status == .used }
            guard good.count >= 3 else { break }
            var f = good.map { stars[$0].fit!.profile!.fwhm }, b = good.map { stars[$0].fit!.profile!.beta }
            let (mf, sf) = medianAndSigma(&f, floor: 0.03), (mb, sb) = medianAndSigma(&b, floor: 0.10)
            var changed = false
            for i in good {
                let p = stars[i].fit!.profile!
                if abs(p.fwhm - mf) > kappa * sf {
                    stars[i].status = .rejected(String(format: "FWHM outlier (median %.3g, σ %.2g)", mf, sf)); changed = true
                } else if abs(p.beta - mb) > kappa * sb {
                    stars[i].status = .rejected(String(format: "β outlier (median %.3g, σ %.2g)", mb, sb)); changed = true
                }
            }
            if !changed { break }
        }
    }

    /// The error when no candidate survives: how many were examined and why each was rejected
    /// (reasons by count, most frequent first), with what to change.
    static func noUsableStarError(_ stars: [StarMeasurement], source: String) -> TweedieError {
        var reasons: [String: Int] = [:]
        for s in stars { reasons[s.status.description, default: 0] += 1 }
        let list = reasons.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
            .map { "\($0.value) \($0.key)" }.joined(separator: ", ")
        return TweedieError.invalidInput(
            what: source,
            problem: "no usable star among \(stars.count) candidates (\(list)); lower the detection threshold or give the saturation level")
    }

    /// Step 7, the combined profile of the used stars (at least one, each with a fitted profile):
    /// β = the median β; the half-maximum ellipse = the element-wise median of the stars' S
    /// matrices (their mean when the median is not positive definite). The eigenvalues λ₋ ≤ λ₊
    /// of the combined S give FWHM_major = 2/√λ₋ and FWHM_minor = 2/√λ₊; the eigenvector of λ₊
    /// lies at φ = ½ atan2(2S₁₂, S₁₁ − S₂₂) from +x, so the major axis is at φ + 90°.
    static func combinedProfile(of used: [StarMeasurement]) throws -> EllipticalMoffatPSF {
        var betas = used.map { $0.fit!.profile!.beta }
        let beta = median(&betas)
        var s11: [Double] = [], s12: [Double] = [], s22: [Double] = []
        for s in used {
            let p = s.fit!.profile!
            let a = 4 / (p.fwhmMajor * p.fwhmMajor), b = 4 / (p.fwhmMinor * p.fwhmMinor)
            let c = cos(p.positionAngle), sn = sin(p.positionAngle)
            s11.append(a * c * c + b * sn * sn); s12.append((a - b) * c * sn); s22.append(a * sn * sn + b * c * c)
        }
        let means = (s11.reduce(0, +) / Double(s11.count), s12.reduce(0, +) / Double(s12.count), s22.reduce(0, +) / Double(s22.count))
        var m = (median(&s11), median(&s12), median(&s22))
        if !(m.0 > 0 && m.0 * m.2 - m.1 * m.1 > 0) { m = means }
        let mean = 0.5 * (m.0 + m.2), half = (0.25 * (m.0 - m.2) * (m.0 - m.2) + m.1 * m.1).squareRoot()
        // S's smaller eigenvalue belongs to the major axis (S = 4/FWHM² along each axis).
        let lMinus = mean - half, lPlus = mean + half
        let phiPlus = 0.5 * atan2(2 * m.1, m.0 - m.2)
        return try EllipticalMoffatPSF(fwhm1: 2 / lMinus.squareRoot(), fwhm2: 2 / lPlus.squareRoot(),
                                       angle: phiPlus + .pi / 2, beta: beta, unit: "px")
    }

    /// Median (sorts `a`; the mean of the two middle values for an even count).
    static func median(_ a: inout [Double]) -> Double {
        a.sort()
        let n = a.count
        return n % 2 == 1 ? a[n / 2] : 0.5 * (a[n / 2 - 1] + a[n / 2])
    }

    /// Median and σ = max(1.4826·MAD, floor·|median|) (sorts `a`).
    static func medianAndSigma(_ a: inout [Double], floor: Double) -> (Double, Double) {
        let m = median(&a)
        var dev = a.map { abs($0 - m) }
        return (m, max(ImageStatistics.madToSigma * median(&dev), floor * abs(m)))
    }
}
