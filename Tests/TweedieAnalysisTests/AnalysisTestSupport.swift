// Helpers of the analysis tests: Gaussian sources rendered analytically
// (each pixel holds the exact integral of the 2-D Gaussian over its area, via
// erf, so the image sums to the flux and the centroid is the true centre),
// a seeded generator with normal deviates, paths to the shared data.
import Foundation
import TweedieTestSupport

/// A circular Gaussian source: centre (0-based pixels), total flux, FWHM (pixels).
struct GaussianSource {
    var x: Double
    var y: Double
    var flux: Double
    var fwhm: Double
    var sigma: Double { fwhm / (8 * log(2.0)).squareRoot() }
    /// Peak of the continuous profile, F / (2π σ²).
    var peak: Double { flux / (2 * .pi * sigma * sigma) }
}

enum Render {
    /// Pixel-integrated Gaussians on a width × height image plus white noise of σ `noise`.
    static func image(_ sources: [GaussianSource], width: Int, height: Int, noise: Double = 0,
                      seed: UInt64 = 1) -> [Float] {
        var out = [Double](repeating: 0, count: width * height)
        for s in sources {
            let k = 1 / (s.sigma * 2.0.squareRoot())
            // ∫ over pixel i of the 1-D unit Gaussian: ½[erf((i+½−c)k) − erf((i−½−c)k)].
            func integral(_ i: Int, _ c: Double) -> Double {
                let hi: Double = (Double(i) + 0.5 - c) * k, lo: Double = (Double(i) - 0.5 - c) * k
                return 0.5 * (erf(hi) - erf(lo))
            }
            let gx: [Double] = (0..<width).map { integral($0, s.x) }
            let gy: [Double] = (0..<height).map { integral($0, s.y) }
            for y in 0..<height { for x in 0..<width { out[y * width + x] += s.flux * gx[x] * gy[y] } }
        }
        var g = SplitMix64Generator(seed: seed)
        return out.map { Float($0 + noise * g.normal()) }
    }
}

enum SharedData {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static func path(_ relative: String) -> String {
        root.deletingLastPathComponent().appendingPathComponent("shared/data/\(relative)").path
    }
}
