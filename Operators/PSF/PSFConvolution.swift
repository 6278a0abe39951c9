// PSF convolution operator A x = Φ_c ⊛ x_c per band c (DESIGN §2–§3; paper 003
// §2, the "∗Φ" step of Fig. 1).
//
// Conventions: true convolution (kernel flipped), PSF centred on (kh/2, kw/2);
// boundary `.linear` (zero padding, output cropped to the input size, nothing
// wraps around) by default, `.periodic` on request. The adjoint is correlation
// with the same PSF on the same padded grid (exact transpose). One PSF per
// band, or a single PSF used for every band. A PSF larger than the image is
// rejected. FFT plans come from the core's shared cache; each band's kernel
// spectrum is computed once, here.

import Dispatch
import TweedieCore

public struct PSFConvolution: ForwardOperator {
    public let inputShape: ImageShape
    public var outputShape: ImageShape { inputShape }
    public var isLinear: Bool { true }
    public let psf: PointSpreadFunction
    public let boundary: ConvolutionBoundary
    /// One convolution per band (the same object repeated when one PSF serves every band).
    private let convolutions: [FFTConvolution]

    public var summary: String {
        let bands = psf.bandCount == 1 && inputShape.channels > 1 ? "one PSF for \(inputShape.channels) bands"
                                                                  : "\(psf.bandCount) band(s)"
        return "psf(\(psf.source), \(psf.height)×\(psf.width), \(bands), \(boundary.rawValue) boundary)"
    }

    /// - Parameters:
    ///   - psf: one kernel per band of `imageShape`, or one kernel for every band.
    ///   - imageShape: the shape of the images it acts on.
    public init(psf: PointSpreadFunction, imageShape: ImageShape, boundary: ConvolutionBoundary = .linear) throws {
        guard psf.bandCount == imageShape.channels || psf.bandCount == 1 else {
            throw TweedieError.shapeMismatch(
                what: "PSF bands (\(psf.source)) vs image bands: give one PSF per band or a single PSF",
                expected: "\(imageShape.channels) band(s)", got: "\(psf.bandCount)")
        }
        guard psf.height <= imageShape.height, psf.width <= imageShape.width else {
            throw TweedieError.invalidInput(
                what: "PSF (\(psf.source))",
                problem: "is \(psf.height)×\(psf.width) pixels, larger than the \(imageShape.height)×\(imageShape.width) image; crop the PSF to at most the image size")
        }
        self.inputShape = imageShape
        self.psf = psf
        self.boundary = boundary
        var convs: [FFTConvolution] = []
        for c in 0..<psf.bandCount {
            convs.append(try FFTConvolution(kernel: psf.kernel(band: c), kernelHeight: psf.height, kernelWidth: psf.width,
                                            imageHeight: imageShape.height, imageWidth: imageShape.width,
                                            boundary: boundary))
        }
        convolutions = psf.bandCount == 1 ? Array(repeating: convs[0], count: imageShape.channels) : convs
    }

    public func apply(_ x: ImageBatch) throws -> ImageBatch {
        try checkInput(x)
        return run(x, adjoint: false)
    }

    public func vjp(_ v: ImageBatch, at x: ImageBatch?) throws -> ImageBatch {
        try checkOutput(v)
        return run(v, adjoint: true)
    }

    private func run(_ x: ImageBatch, adjoint: Bool) -> ImageBatch {
        var out = x
        let channels = inputShape.channels, hw = inputShape.planeCount
        let planes = x.count * channels
        let convs = convolutions
        x.data.withUnsafeBufferPointer { src in
            out.data.withUnsafeMutableBufferPointer { dst in
                let s = SendableFloatPointer(src.baseAddress!), d = SendableMutableFloatPointer(dst.baseAddress!)
                concurrentForEach(planes) { p in
                    let i = UnsafeBufferPointer(start: s.p + p * hw, count: hw)
                    let o = UnsafeMutableBufferPointer(start: d.p + p * hw, count: hw)
                    if adjoint { convs[p % channels].correlate(i, into: o) } else { convs[p % channels].convolve(i, into: o) }
                }
            }
        }
        return out
    }
}

/// Pointers handed to `concurrentPerform`, whose iterations write disjoint ranges
/// (the invariant that makes sharing them safe).
struct SendableFloatPointer: @unchecked Sendable {
    let p: UnsafePointer<Float>
    init(_ p: UnsafePointer<Float>) { self.p = p }
}
struct SendableMutableFloatPointer: @unchecked Sendable {
    let p: UnsafeMutablePointer<Float>
    init(_ p: UnsafeMutablePointer<Float>) { self.p = p }
}
