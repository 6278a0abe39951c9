// A validated point-spread function, one kernel per band (DESIGN §2, §3).
//
// Conventions:
// - kernels are `[c][y][x]` Float32 planes of kh × kw pixels (odd or even),
//   centred on pixel (kh/2, kw/2) (integer division, 0-based): a point source
//   at pixel p of the image lands, after convolution, with the kernel's centre
//   pixel on p;
// - kernels are normalised to unit sum unless the caller opts out; a kernel
//   whose sum was off by more than 1 % is reported in `warnings`;
// - a kernel with a non-positive sum, NaN / infinite values or an empty size is
//   rejected. Whether it fits the image is the operator's check (`PSFConvolution`).
// The PSF comes from an image (a FITS file, via an ImageBatch) or from an
// analytic profile (`GaussianPSF`, `MoffatPSF`, `AiryPSF`).

import TweedieCore

public struct PointSpreadFunction: Sendable {
    /// The kernels: one image (count 1) with one channel per band.
    public let kernels: ImageBatch
    /// Where the PSF came from, for messages and provenance (file name or profile).
    public let source: String
    /// Things the user should know (normalisation applied, flux outside a rendered stamp).
    public let warnings: [String]
    /// The sum of each band's kernel before normalisation.
    public let originalSums: [Double]

    public var height: Int { kernels.shape.height }
    public var width: Int { kernels.shape.width }
    public var bandCount: Int { kernels.shape.channels }

    /// Validates (and by default normalises) a PSF image.
    /// - Parameters:
    ///   - image: one image (count 1), one channel per band (a single channel may serve every band).
    ///   - source: names the PSF in errors and provenance (e.g. the FITS path).
    ///   - normalize: divide each band's kernel by its sum (DESIGN §2 default).
    ///   - reportNormalisation: warn when a sum off by > 1 % is normalised (renderers that
    ///     report flux outside their stamp themselves turn this off).
    public init(image: ImageBatch, source: String = "PSF", normalize: Bool = true,
                extraWarnings: [String] = [], reportNormalisation: Bool = true) throws {
        guard image.count == 1 else {
            throw TweedieError.invalidInput(what: source,
                                            problem: "expected one PSF image (bands along the third axis), got \(image.count)")
        }
        let s = image.shape
        guard s.channels >= 1, s.height >= 1, s.width >= 1 else {
            throw TweedieError.invalidInput(what: source, problem: "is empty (\(s))")
        }
        var kernels = image
        var warnings = extraWarnings
        var sums: [Double] = []
        let hw = s.planeCount
        for c in 0..<s.channels {
            let band = s.channels > 1 ? " band \(c)" + (image.bands.count == s.channels ? " (\(image.bands[c]))" : "") : ""
            var sum = 0.0
            var bad = 0
            for v in image.data[(c * hw)..<((c + 1) * hw)] {
                if v.isFinite { sum += Double(v) } else { bad += 1 }
            }
            guard bad == 0 else {
                throw TweedieError.invalidInput(
                    what: source + band,
                    problem: "has \(bad) NaN or infinite pixels; a PSF must be finite everywhere (replace them with 0)")
            }
            guard sum > 0 else {
                throw TweedieError.invalidInput(
                    what: source + band,
                    problem: "has a non-positive sum (\(sum)); a PSF must have positive total flux")
            }
            sums.append(sum)
            if normalize {
                if abs(sum - 1) > 0.01 && reportNormalisation {
                    warnings.append("\(source)\(band): sum was \(formatSum(sum)), normalised to 1")
                }
                let inv = 1 / sum
                for j in (c * hw)..<((c + 1) * hw) { kernels.data[j] = Float(Double(kernels.data[j]) * inv) }
            } else if abs(sum - 1) > 0.01 && reportNormalisation {
                warnings.append("\(source)\(band): sum is \(formatSum(sum)), not 1, and was left unnormalised as asked")
            }
        }
        self.kernels = kernels
        self.source = source
        self.warnings = warnings
        self.originalSums = sums
    }

    /// The kernel of band `c` (a single-band PSF serves every band), kh·kw values.
    public func kernel(band c: Int) -> [Float] {
        let b = bandCount == 1 ? 0 : c
        return Array(kernels.plane(0, b))
    }

    /// One PSF per band from single-band PSFs. Kernels of different sizes are
    /// zero-padded to the largest height and width, each keeping its centre on
    /// pixel (H/2, W/2) of the padded stamp.
    public static func perBand(_ psfs: [PointSpreadFunction], bands: [String] = []) throws -> PointSpreadFunction {
        guard !psfs.isEmpty else {
            throw TweedieError.invalidInput(what: "PSF list", problem: "is empty; give one PSF per band")
        }
        for p in psfs where p.bandCount != 1 {
            throw TweedieError.invalidInput(what: p.source, problem: "has \(p.bandCount) bands; expected one per entry")
        }
        let H = psfs.map(\.height).max()!, W = psfs.map(\.width).max()!
        var data = [Float](repeating: 0, count: psfs.count * H * W)
        for (c, p) in psfs.enumerated() {
            let oy = H / 2 - p.height / 2, ox = W / 2 - p.width / 2
            for y in 0..<p.height {
                for x in 0..<p.width {
                    data[(c * H + oy + y) * W + ox + x] = p.kernels.data[y * p.width + x]
                }
            }
        }
        let img = try ImageBatch(count: 1, shape: ImageShape(channels: psfs.count, height: H, width: W), data: data,
                                 bands: bands.count == psfs.count ? bands : [])
        return try PointSpreadFunction(image: img, source: psfs.map(\.source).joined(separator: " | "),
                                       normalize: false, extraWarnings: psfs.flatMap(\.warnings),
                                       reportNormalisation: false)
    }
}

private func formatSum(_ s: Double) -> String {
    let r = (s * 1e6).rounded() / 1e6
    return "\(r)"
}
