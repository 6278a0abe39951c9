// Preconditioner for the split-Gibbs likelihood systems P = D H D + λ I
// (H = Aᵀ W A the weighted normal matrix, D = s·T'(a) per pixel, λ = 1/ρ²).
//
// Jacobi scaling S = diag(P)^{-1/2} = (D² h + λ)^{-1/2} (h = diag H) gives exactly
//     S P S = T Hn T + (I − T²),   T = D √h S,  Hn = h^{-1/2} H h^{-1/2},
// with t_i² = D_i² h_i / (D_i² h_i + λ) ∈ [0, 1] the data's share of pixel i's
// precision and Hn the normal matrix with unit diagonal. Where the prior term
// dominates (t ≈ 0, the sky under asinh) S P S ≈ I; where the data dominate
// (t ≈ 1) it is Hn, whose spread over spatial frequencies (the PSF's transfer
// function squared, times the SNR) is what makes plain CG slow. Where t is the same
// everywhere, S P S = t² Hn + (1 − t²) I exactly, diagonalised by the Fourier basis
// when Hn is circulant. The preconditioner takes that form per band,
//     M⁻¹ = S (G K G + (I − G²)) S,   K = F⁻¹ diag(1 / (τ Ĥn(k) + 1 − τ)) F,
// with Ĥn the circulant (Fourier) approximation of Hn, measured once per problem
// from Hn's response to a point at the image centre, τ the median of t² over the
// band's data-dominated pixels (t² > ½; all pixels when none is), and
// G = diag(min(1, t/√τ)) blending K out where the data are weaker. M⁻¹ is
// symmetric positive definite (G K G ⪰ 0, definite where g > 0; I − G² where
// g < 1), so PCG solves the same system; only its iteration count depends on how
// good the approximation is (Chan 1988's circulant preconditioner, applied after
// Jacobi scaling so the pixel transform's dynamic range does not enter). It is
// exact for constant t on a periodic operator (1–4 iterations where CG takes
// 25–1,594; LikelihoodPreconditionerTests); K's gain is bounded at 10⁸ so Float32
// products stay finite where τ rounds to 1.

import Foundation
import TweedieCore

/// M⁻¹ r for every image of a batch (a fixed symmetric positive-definite map).
public typealias Preconditioner = (ImageBatch) throws -> ImageBatch

struct LikelihoodPreconditioner: Sendable {
    /// diag(Aᵀ W A) over one image.
    let diagonal: [Float]
    /// Per band: Ĥn on the r2c half spectrum (h·(w/2+1) real values), the Fourier symbol of the
    /// unit-diagonal normal matrix; nil when the operator has no data weight at all.
    let symbols: [[Float]?]
    let shape: ImageShape

    init(operator op: any ForwardOperator, sqrtWeights sw: [Float]) throws {
        let shape = op.inputShape
        self.shape = shape
        let h = try NormalMatrixDiagonal.estimate(of: op, sqrtWeights: sw)
        diagonal = h
        let plane = shape.height * shape.width
        let fft = RealFFT2D.shared(height: shape.height, width: shape.width)
        var probes = ImageBatch(count: shape.channels, shape: shape)
        var centres: [Int?] = []
        for c in 0..<shape.channels {
            // The centre pixel, or the band's best-seen pixel when the centre is not seen.
            let base = c * plane
            var i = (shape.height / 2) * shape.width + shape.width / 2
            if h[base + i] <= 0, let best = (0..<plane).max(by: { h[base + $0] < h[base + $1] }), h[base + best] > 0 { i = best }
            if h[base + i] > 0 {
                probes.data[c * shape.count + base + i] = 1 / h[base + i].squareRoot()
                centres.append(i)
            } else { centres.append(nil) }
        }
        var ap = try op.apply(probes)
        let obsPer = op.outputShape.count
        for k in 0..<shape.channels { for j in 0..<obsPer { ap.data[k * obsPer + j] *= sw[j] * sw[j] } }
        let hp = try op.adjoint(ap)
        var symbols: [[Float]?] = []
        for c in 0..<shape.channels {
            guard let centre = centres[c] else { symbols.append(nil); continue }
            let cy = centre / shape.width, cx = centre % shape.width
            var shifted = [Float](repeating: 0, count: plane)
            for y in 0..<shape.height {
                for x in 0..<shape.width {
                    let i = c * plane + y * shape.width + x
                    let v = h[i] > 0 ? hp.data[c * shape.count + i] / h[i].squareRoot() : 0
                    let sy = ((y - cy) % shape.height + shape.height) % shape.height
                    let sx = ((x - cx) % shape.width + shape.width) % shape.width
                    shifted[sy * shape.width + sx] = v
                }
            }
            let spectrum = fft.forward(shifted)
            symbols.append((0..<fft.spectrumCount).map { max(0, spectrum[2 * $0]) })
        }
        self.symbols = symbols
    }

    /// M⁻¹ for P = D H D + I/ρ² (D per value of `d`, one image after another); nil (plain CG) where
    /// the scaling is not finite (ρ → ∞, as SMC's tempering may start, or an overflowing D).
    func inverse(d: ImageBatch, rho: Double) -> Preconditioner? {
        let per = shape.count, plane = shape.height * shape.width
        let lambda = 1 / (rho * rho)
        guard lambda > 0, lambda.isFinite else { return nil }
        let n = d.count
        var s = [Float](repeating: 0, count: d.valueCount), t = s
        for j in 0..<d.valueCount {
            let dh = Double(d.data[j]) * Double(d.data[j]) * Double(diagonal[j % per])
            s[j] = Float(1 / (dh + lambda).squareRoot())
            t[j] = Float((dh / (dh + lambda)).squareRoot())
        }
        guard s.allSatisfy(\.isFinite), t.allSatisfy(\.isFinite) else { return nil }
        // τ per image and band: the median of t² over the band's data-dominated pixels (t² > ½), or
        // over all its pixels when none is; g = min(1, t/√τ) blends K out where the data are weaker.
        var tau = [Float](repeating: 0, count: n * shape.channels)
        for k in 0..<n {
            for c in 0..<shape.channels {
                let base = k * per + c * plane
                var strong: [Float] = [], all: [Float] = []
                for j in base..<(base + plane) { let t2 = t[j] * t[j]; all.append(t2); if t2 > 0.5 { strong.append(t2) } }
                let pool = strong.isEmpty ? all : strong
                tau[k * shape.channels + c] = pool.sorted()[pool.count / 2]
            }
        }
        let fft = RealFFT2D.shared(height: shape.height, width: shape.width)
        let symbols = self.symbols
        return { r in
            var out = r
            for k in 0..<r.count {
                for c in 0..<shape.channels {
                    let base = k * per + c * plane
                    guard let symbol = symbols[c] else {
                        for j in base..<(base + plane) { out.data[j] = s[j] * s[j] * r.data[j] }
                        continue
                    }
                    let tc = tau[k * shape.channels + c], rt = tc.squareRoot()
                    guard tc > 0 else {
                        for j in base..<(base + plane) { out.data[j] = s[j] * s[j] * r.data[j] }
                        continue
                    }
                    fft.withWorkspace { ws in
                        for i in 0..<plane { ws.real[i] = min(1, t[base + i] / rt) * s[base + i] * r.data[base + i] }
                        fft.forward(ws)
                        let scale = 1 / Float(plane)
                        for m in 0..<fft.spectrumCount {
                            // 1/(τĤn + 1 − τ), its gain held to ≤ 10⁸ (Float32 products stay finite where
                            // τ rounds to 1 and Ĥn to 0; M⁻¹ stays symmetric positive definite).
                            let f = scale / max(tc * symbol[m] + 1 - tc, 1e-8)
                            ws.spectrum[2 * m] *= f; ws.spectrum[2 * m + 1] *= f
                        }
                        fft.inverse(ws)
                        for i in 0..<plane {
                            let j = base + i, g = min(1, t[j] / rt)
                            out.data[j] = s[j] * (g * ws.real[i] + (1 - g * g) * s[j] * r.data[j])
                        }
                    }
                }
            }
            return out
        }
    }
}
