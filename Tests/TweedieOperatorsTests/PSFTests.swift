// PSF operators against analytic results: Gaussian ⊛ Gaussian widths add in
// quadrature (image second moments); flux conservation; a rendered Moffat has
// the FWHM asked for (measured on the image); the Airy profile's first dark
// ring and encircled energy; PSF centring for odd and even sizes; validation errors.
import Foundation
import Testing
import TweedieCore
@testable import TweedieOperators

/// Pixel-integrated circular Gaussian of width σ (pixels) centred at (cy, cx) on an h × w grid, written here.
private func gaussianImage(h: Int, w: Int, sigma: Double, cy: Double, cx: Double, flux: Double = 1) -> [Float] {
    func cdf(_ t: Double) -> Double { 0.5 * (1 + erf(t / (sigma * 2.0.squareRoot()))) }
    var out = [Float](repeating: 0, count: h * w)
    for y in 0..<h {
        let py = cdf(Double(y) + 0.5 - cy) - cdf(Double(y) - 0.5 - cy)
        for x in 0..<w {
            let px = cdf(Double(x) + 0.5 - cx) - cdf(Double(x) - 0.5 - cx)
            out[y * w + x] = Float(flux * py * px)
        }
    }
    return out
}

/// Second central moments (var_y, var_x) of a non-negative plane, in Double.
private func moments(_ p: [Float], h: Int, w: Int) -> (vy: Double, vx: Double) {
    var s = 0.0, sy = 0.0, sx = 0.0
    for y in 0..<h { for x in 0..<w { let v = Double(p[y * w + x]); s += v; sy += v * Double(y); sx += v * Double(x) } }
    let my = sy / s, mx = sx / s
    var vy = 0.0, vx = 0.0
    for y in 0..<h {
        for x in 0..<w {
            let v = Double(p[y * w + x])
            vy += v * (Double(y) - my) * (Double(y) - my); vx += v * (Double(x) - mx) * (Double(x) - mx)
        }
    }
    return (vy / s, vx / s)
}

/// Full width at half maximum along a 1-D profile through its peak, by linear interpolation of the crossings.
private func fwhm(_ profile: [Double]) -> Double {
    let peakIndex = profile.indices.max { profile[$0] < profile[$1] }!
    let half = profile[peakIndex] / 2
    var r = peakIndex
    while profile[r + 1] > half { r += 1 }
    let right = Double(r) + (profile[r] - half) / (profile[r] - profile[r + 1])
    var l = peakIndex
    while profile[l - 1] > half { l -= 1 }
    let left = Double(l) - (profile[l] - half) / (profile[l] - profile[l - 1])
    return right - left
}

private func plane(_ data: [Float], h: Int, w: Int, bands: Int = 1) throws -> ImageBatch {
    try ImageBatch(count: 1, shape: ImageShape(channels: bands, height: h, width: w), data: data)
}

@Suite struct PSFTests {
    @Test func gaussianConvolvedWithGaussianAddsVariances() throws {
        let h = 72, w = 64
        let s1 = 3.0, s2 = 2.0
        let src = try plane(gaussianImage(h: h, w: w, sigma: s1, cy: 36.3, cx: 31.6), h: h, w: w)
        let psf = try GaussianPSF(fwhm: s2 * 2 * (2 * log(2.0)).squareRoot()).render(pixelScale: 1, height: 31, width: 31)
        let op = try PSFConvolution(psf: psf, imageShape: src.shape)
        let out = try op.apply(src)
        let mSrc = moments(src.data, h: h, w: w)
        let mPsf = moments(Array(psf.kernels.data), h: 31, w: 31)
        let mOut = moments(out.data, h: h, w: w)
        // Moments of a discrete convolution add exactly (up to truncation and rounding).
        #expect(abs(mOut.vy - (mSrc.vy + mPsf.vy)) / mOut.vy < 1e-4)
        #expect(abs(mOut.vx - (mSrc.vx + mPsf.vx)) / mOut.vx < 1e-4)
        // And against the closed form: σ² = σ₁² + σ₂², plus 1/12 px² per pixel-integrated Gaussian.
        let expected = s1 * s1 + s2 * s2 + 2.0 / 12
        #expect(abs(mOut.vy - expected) / expected < 1e-3)
        #expect(abs(mOut.vx - expected) / expected < 1e-3)
        #expect(abs(mPsf.vx - (s2 * s2 + 1.0 / 12)) / (s2 * s2) < 1e-3)
    }

    @Test(arguments: [ConvolutionBoundary.linear, .periodic])
    func convolutionConservesFlux(boundary: ConvolutionBoundary) throws {
        let h = 60, w = 52
        // A compact positive source far from the edges (for the linear boundary nothing may leave the image).
        let stream = SampleStream(seed: 3, index: 0)
        var data = [Float](repeating: 0, count: h * w)
        for y in 20..<40 { for x in 18..<34 { data[y * w + x] = Float(stream.uniform()) } }
        let src = try plane(data, h: h, w: w)
        let psf = try MoffatPSF(fwhm: 0.5, beta: 3.5).render(pixelScale: 0.1, height: 21, width: 20)
        let out = try PSFConvolution(psf: psf, imageShape: src.shape, boundary: boundary).apply(src)
        let fin = data.reduce(0.0) { $0 + Double($1) }, fout = out.data.reduce(0.0) { $0 + Double($1) }
        #expect(abs(fout - fin) / fin < 1e-5)
    }

    @Test(arguments: [(fwhm: 1.0, beta: 3.0), (fwhm: 1.0, beta: 2.5), (fwhm: 0.6, beta: 4.5)])
    func renderedMoffatHasTheRequestedFWHM(fwhm requested: Double, beta: Double) throws {
        let scale = 0.1, n = 81
        let psf = try MoffatPSF(fwhm: requested, beta: beta).render(pixelScale: scale, height: n, width: n)
        let k = psf.kernels.data
        let row = (0..<n).map { Double(k[(n / 2) * n + $0]) }
        let col = (0..<n).map { Double(k[$0 * n + n / 2]) }
        for measured in [fwhm(row) * scale, fwhm(col) * scale] {
            #expect(abs(measured - requested) / requested < 0.02, "measured \(measured)″ for \(requested)″")
        }
        // Peak on pixel (n/2, n/2).
        #expect(k.indices.max { k[$0] < k[$1] }! == (n / 2) * n + n / 2)
        #expect(abs(k.reduce(0.0) { $0 + Double($1) } - 1) < 1e-5)
    }

    @Test func airyDarkRingAndEncircledEnergy() throws {
        // λ/D = 20 pixels: the first dark ring lies at 1.2197 λ/D and encloses 83.8 % of the flux.
        let airy = try AiryPSF(wavelength: 1e-6, diameter: 1)
        let scale = airy.lambdaOverDArcsec / 20
        let n = 201
        let psf = try airy.render(pixelScale: scale, height: n, width: n)
        let k = psf.kernels.data
        let row = (0..<n).map { Double(k[(n / 2) * n + $0]) }
        // Minimum between 20 and 30 pixels from the centre.
        let ring = (n / 2 + 20...n / 2 + 30).min { row[$0] < row[$1] }! - n / 2
        #expect(abs(Double(ring) - 1.2197 * 20) <= 1)
        // Encircled energy inside the ring, relative to the profile's total flux 4λ²/(πD²).
        let captured = psf.originalSums[0]  // fraction of the total flux 4λ²/(πD²) on the stamp
        var inside = 0.0
        for y in 0..<n {
            for x in 0..<n {
                let r = (Double((y - n / 2) * (y - n / 2) + (x - n / 2) * (x - n / 2))).squareRoot()
                if r < 1.2197 * 20 { inside += Double(k[y * n + x]) }
            }
        }
        #expect(abs(inside * captured - 0.8378) < 0.01)
        #expect(captured > 0.95 && captured < 1)
    }

    @Test func centringOddAndEvenKernels() throws {
        // A delta on pixel (kh/2, kw/2) is the identity; a delta one pixel left of it shifts the image left.
        let h = 12, w = 15
        let img = (0..<(h * w)).map { Float($0 % 7) + 1 }
        let src = try plane(img, h: h, w: w)
        for (kh, kw) in [(5, 5), (4, 6), (3, 2)] {
            var delta = [Float](repeating: 0, count: kh * kw)
            delta[(kh / 2) * kw + kw / 2] = 1
            let id = try PSFConvolution(psf: PointSpreadFunction(image: plane(delta, h: kh, w: kw)), imageShape: src.shape)
            let out = try id.apply(src)
            #expect(zip(out.data, img).allSatisfy { abs($0 - $1) < 1e-4 })
            var shifted = [Float](repeating: 0, count: kh * kw)
            shifted[(kh / 2) * kw + kw / 2 - 1] = 1  // offset (0, −1): out[y][x] = in[y][x + 1]
            let sh = try PSFConvolution(psf: PointSpreadFunction(image: plane(shifted, h: kh, w: kw)), imageShape: src.shape)
            let o2 = try sh.apply(src)
            for y in 0..<h { for x in 0..<(w - 1) { #expect(abs(o2.data[y * w + x] - img[y * w + x + 1]) < 1e-4) } }
            for y in 0..<h { #expect(abs(o2.data[y * w + w - 1]) < 1e-4) }  // zero padding, nothing wraps
        }
    }

    @Test func perBandPSFsActOnTheirBands() throws {
        let h = 20, w = 20
        var img = [Float](repeating: 0, count: 2 * h * w)
        img[10 * w + 10] = 1; img[h * w + 10 * w + 10] = 1  // a point source in each band
        let narrow = try GaussianPSF(fwhm: 1.5).render(pixelScale: 1, height: 11, width: 11)
        let wide = try GaussianPSF(fwhm: 4).render(pixelScale: 1, height: 11, width: 11)
        let psf = try PointSpreadFunction.perBand([narrow, wide], bands: ["g", "i"])
        let out = try PSFConvolution(psf: psf, imageShape: ImageShape(channels: 2, height: h, width: w))
            .apply(plane(img, h: h, w: w, bands: 2))
        for c in 0..<2 {
            let want = c == 0 ? narrow.kernels.data : wide.kernels.data
            for a in 0..<11 { for b in 0..<11 {
                #expect(abs(out.data[c * h * w + (5 + a) * w + (5 + b)] - want[a * 11 + b]) < 1e-6)
            } }
        }
    }

    @Test func normalisationAndItsWarning() throws {
        let k: [Float] = [0, 1, 0, 1, 4, 1, 0, 1, 0]  // sum 8
        let p = try PointSpreadFunction(image: plane(k, h: 3, w: 3), source: "psf.fits")
        #expect(p.warnings.count == 1 && p.warnings[0].contains("psf.fits") && p.warnings[0].contains("normalised"))
        #expect(abs(p.kernels.data.reduce(0, +) - 1) < 1e-6 && p.kernels.data[4] == 0.5)
        let nearly = k.map { $0 / 8 * 1.005 }  // within 1 %: normalised silently
        let q = try PointSpreadFunction(image: plane(nearly, h: 3, w: 3))
        #expect(q.warnings.isEmpty && abs(q.kernels.data.reduce(0, +) - 1) < 1e-6)
        let raw = try PointSpreadFunction(image: plane(k, h: 3, w: 3), normalize: false)
        #expect(raw.kernels.data == k && raw.warnings.count == 1)
    }

    @Test func badPSFsAreRejected() throws {
        let img = ImageShape(channels: 3, height: 32, width: 32)
        // Zero and negative sums, NaN.
        #expect(throws: TweedieError.self) { try PointSpreadFunction(image: plane([1, -1, 0, 0], h: 2, w: 2)) }
        #expect(throws: TweedieError.self) { try PointSpreadFunction(image: plane([0, 0, 0, 0], h: 2, w: 2)) }
        #expect(throws: TweedieError.self) { try PointSpreadFunction(image: plane([-1, -2, 0, 0], h: 2, w: 2)) }
        #expect(throws: TweedieError.self) { try PointSpreadFunction(image: plane([1, .nan, 0, 0], h: 2, w: 2)) }
        // Larger than the image.
        let big = try GaussianPSF(fwhm: 1).render(pixelScale: 0.1, height: 33, width: 21)
        do {
            _ = try PSFConvolution(psf: big, imageShape: img)
            Issue.record("a PSF larger than the image was accepted")
        } catch let e as TweedieError {
            #expect(e.description.contains("33×21") && e.description.contains("larger than the 32×32 image"))
        }
        // Band count mismatch: 2 PSFs for 3 bands.
        let two = try PointSpreadFunction(image: plane([Float](repeating: 1, count: 2 * 9), h: 3, w: 3, bands: 2))
        #expect(throws: TweedieError.self) { try PSFConvolution(psf: two, imageShape: img) }
        // Wrong input shape at apply time.
        let op = try PSFConvolution(psf: big, imageShape: ImageShape(channels: 1, height: 40, width: 40))
        #expect(throws: TweedieError.self) { try op.apply(ImageBatch(count: 1, shape: img)) }
        // Bad analytic parameters.
        #expect(throws: TweedieError.self) { try GaussianPSF(fwhm: 0) }
        #expect(throws: TweedieError.self) { try MoffatPSF(fwhm: 1, beta: 1) }
        #expect(throws: TweedieError.self) { try AiryPSF(wavelength: -1, diameter: 2) }
        #expect(throws: TweedieError.self) { try GaussianPSF(fwhm: 1).render(pixelScale: 0, height: 5, width: 5) }
    }
}
