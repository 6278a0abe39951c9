// Steps 1–3 of the star-PSF estimate (StarPSFEstimation.swift): the sky level
// and noise of one band, its bad detector lines, the peaks that may be stars,
// and a first guess of the seeing from their half-maximum widths.
//
// Conventions: one band of one image, row-major [y][x], pixel coordinates
// 0-based; σ is the robust σ (1.4826·MAD) of the 3σ-clipped finite pixels; a
// peak is a pixel that is the maximum of its 5×5 box (ties go to the pixel
// first in storage order), so a star yields one peak whatever its width.

import Foundation
import TweedieCore

/// A local maximum of the image: a candidate star, or a neighbour that may spoil one.
struct ImagePeak: Sendable {
    /// Peak pixel, 0-based.
    var x: Int
    var y: Int
    /// The peak pixel's value, image units.
    var value: Double
}

/// One band of an image prepared for star finding: its pixels, the global sky and σ, and the
/// mask of pixels no star measurement may use (non-finite pixels and bad rows and columns).
struct StarField {
    let width: Int
    let height: Int
    /// The band's pixels, row-major [y][x].
    let pixels: [Float]
    /// Global sky level (3σ-clipped median) and σ (1.4826·MAD of the clipped pixels).
    let sky: Double
    let sigma: Double
    /// Rows and columns masked as bad lines (0-based, ascending).
    let badRows: [Int]
    let badColumns: [Int]
    /// `bad[y * width + x]`: the pixel is non-finite or on a bad line.
    let bad: [Bool]

    /// Band `band` of `image` (one image) with its sky, σ and bad-pixel mask (steps 1 and 2).
    init(image: ImageBatch, band: Int, source: String) throws {
        height = image.shape.height
        width = image.shape.width
        pixels = Array(image.plane(0, band))
        (sky, sigma) = try Self.skyLevelAndNoise(pixels, source: source)
        badRows = Self.badLines(pixels, count: height, length: width, stride: (width, 1))
        badColumns = Self.badLines(pixels, count: width, length: height, stride: (1, width))
        bad = Self.badPixelMask(pixels, width: width, height: height, badRows: badRows, badColumns: badColumns)
    }

    /// Step 1, the background: sky level = 3σ-clipped median of the finite pixels, noise σ =
    /// 1.4826·MAD of the clipped set (ImageStatistics.sigmaClipped). Throws when no pixel is
    /// finite or the MAD is 0 (a constant or quantised background: nothing stands out of it).
    static func skyLevelAndNoise(_ v: [Float], source: String) throws -> (sky: Double, sigma: Double) {
        guard let clipped = ImageStatistics.sigmaClipped(v) else {
            throw TweedieError.invalidInput(what: source, problem: "has no finite pixels (all NaN or BLANK); nothing to find stars in")
        }
        let sky = clipped.median, sigma = clipped.robustSigma
        guard sigma > 0 else {
            throw TweedieError.invalidInput(what: source, problem: "the sky's MAD is 0 (a constant or quantised background), so stars cannot be told from noise")
        }
        return (sky, sigma)
    }

    /// Step 2, dead or hot CCD lines: the lines (rows with stride (w, 1), columns with (1, w))
    /// whose median departs from the median of their neighbours' medians (±3 lines) by more
    /// than 10 robust σ of all such departures, measured from their median. Fewer than 7 lines:
    /// none.
    static func badLines(_ v: [Float], count: Int, length: Int, stride: (line: Int, step: Int)) -> [Int] {
        guard count >= 7 else { return [] }
        let medians: [Double] = (0..<count).map { l in
            let vals = (0..<length).map { v[l * stride.line + $0 * stride.step] }
            return ImageStatistics(vals).median
        }
        var departures: [Double] = []
        for l in 0..<count {
            var around = ((l - 3)...(l + 3)).filter { $0 != l && $0 >= 0 && $0 < count }.map { medians[$0] }
                .filter { $0.isFinite }
            guard !around.isEmpty, medians[l].isFinite else { departures.append(.nan); continue }
            departures.append(medians[l] - StarPSFEstimation.median(&around))
        }
        let st = ImageStatistics(departures.map { Float($0) })
        let s = st.robustSigma
        guard s > 0 else { return [] }
        return (0..<count).filter { departures[$0].isFinite && abs(departures[$0] - st.median) > 10 * s }
    }

    /// The pixels a star measurement leaves out: every pixel of a bad row or column, and every
    /// non-finite pixel (NaN or BLANK).
    static func badPixelMask(_ v: [Float], width w: Int, height h: Int, badRows: [Int], badColumns: [Int]) -> [Bool] {
        var bad = [Bool](repeating: false, count: h * w)
        for y in badRows { for x in 0..<w { bad[y * w + x] = true } }
        for x in badColumns { for y in 0..<h { bad[y * w + x] = true } }
        for i in v.indices where !v[i].isFinite { bad[i] = true }
        return bad
    }

    /// The peaks above the threshold `t` (image units), in storage order: finite pixels above `t`
    /// that are the maximum of their 5×5 box (clipped at the edges); of equal pixels the one first
    /// in storage order wins.
    func localMaxima(above t: Double) -> [ImagePeak] {
        let v = pixels, w = width, h = height
        var out: [ImagePeak] = []
        for y in 0..<h {
            for x in 0..<w {
                let c = v[y * w + x]
                guard c.isFinite, Double(c) > t else { continue }
                var isMax = true
                scan: for yy in max(0, y - 2)...min(h - 1, y + 2) {
                    for xx in max(0, x - 2)...min(w - 1, x + 2) where yy != y || xx != x {
                        let o = v[yy * w + xx]
                        if o > c || (o == c && yy * w + xx < y * w + x) { isMax = false; break scan }
                    }
                }
                if isMax { out.append(ImagePeak(x: x, y: y, value: Double(c))) }
            }
        }
        return out
    }

    /// Step 3, detection: the peaks above sky + detectionSigma · σ, brightest first, at most
    /// `maxStars` of them. Throws when there is none.
    func starCandidates(detectionSigma: Double, maxStars: Int, source: String) throws -> [ImagePeak] {
        var candidates = localMaxima(above: sky + detectionSigma * sigma).sorted { $0.value > $1.value }
        if candidates.count > maxStars { candidates = Array(candidates[0..<maxStars]) }
        guard !candidates.isEmpty else {
            throw TweedieError.invalidInput(
                what: source,
                problem: "no peak rises above sky + \(detectionSigma)σ (sky \(formatNumber(sky)), σ \(formatNumber(sigma))); lower the detection threshold")
        }
        return candidates
    }

    /// A round FWHM guess for the source peaking at `p`, from its half-maximum area: N pixels of
    /// the 13×13 box around the peak exceed sky + ½(peak − sky), FWHM ≈ 2√(N/π) (a disc of N px).
    func halfMaximumFWHM(_ p: ImagePeak) -> Double {
        let v = pixels, w = width, h = height
        let half = sky + 0.5 * (p.value - sky)
        var n = 0
        for yy in max(0, p.y - 6)...min(h - 1, p.y + 6) {
            for xx in max(0, p.x - 6)...min(w - 1, p.x + 6) where Double(v[yy * w + xx]) > half { n += 1 }
        }
        return 2 * (Double(n) / .pi).squareRoot()
    }

    /// Mean of the four edge neighbours of interior pixel (x, y): with the peak it measures how
    /// sharp a source is.
    func crossMean(x: Int, y: Int) -> Double {
        let v = pixels, w = width
        return (Double(v[y * w + x - 1]) + Double(v[y * w + x + 1])
                + Double(v[(y - 1) * w + x]) + Double(v[(y + 1) * w + x])) / 4
    }

    /// Step 3, the seeing guess f that sizes the fit stamp and the sky annulus: stars are the most
    /// compact sources that are not cosmic rays, so f is the lower quartile of the half-maximum
    /// FWHMs (`guesses[k]` of `candidates[k]`) of the interior candidates whose four neighbours
    /// reach, on average, ≥ 10 % of the peak above the global sky (galaxy knots inflate the rest),
    /// clamped to 1…20 px; 2.5 px when no candidate qualifies.
    func seeingGuess(candidates: [ImagePeak], guesses: [Double]) -> Double {
        let g = candidates.indices.filter { k in
            let c = candidates[k]
            guard c.x > 0, c.y > 0, c.x < width - 1, c.y < height - 1 else { return false }
            let side = crossMean(x: c.x, y: c.y) - sky
            return side >= 0.1 * (c.value - sky)
        }.map { guesses[$0] }.filter { $0.isFinite }.sorted()
        return g.isEmpty ? 2.5 : min(20, max(1, g[(g.count - 1) / 4]))
    }
}

/// A number in the error messages of the star-PSF estimate (4 significant digits).
func formatNumber(_ x: Double) -> String { String(format: "%.4g", x) }
