// The registry of every operator type (and chains of them), and the ONE
// dot-product test run over it: ⟨A u, v⟩ = ⟨u, Aᵀ v⟩ for random u, v, relative
// error ≤ 1e-5 with Float64 accumulation (DESIGN §3); a draw that makes ⟨Au,v⟩ nearly
// 0 is judged by |Δ| / (‖Au‖‖v‖) ≤ 1e-7 instead (see the test).
//
// To add an operator, add one line to `OperatorRegistry.cases`:
//     OperatorCase("name") { try MyOperator(...) },
// Complex outputs (visibilities as interleaved re, im) need nothing special:
// the inner product of the interleaved Floats is the real part of the complex one.
import Testing
import TweedieCore
@testable import TweedieOperators

struct OperatorCase: Sendable, CustomStringConvertible {
    let name: String
    let make: @Sendable () throws -> any ForwardOperator
    init(_ name: String, _ make: @escaping @Sendable () throws -> any ForwardOperator) {
        self.name = name; self.make = make
    }
    var description: String { name }
}

/// Small helper data for the registry (independent of the operators under test).
enum RegistryData {
    /// An asymmetric, strictly positive kh × kw PSF (so convolution ≠ correlation).
    static func asymmetricPSF(_ kh: Int, _ kw: Int, bands: Int = 1, seed: UInt64 = 7) throws -> PointSpreadFunction {
        let s = SampleStream(seed: seed, index: 0)
        let data = (0..<(bands * kh * kw)).map { _ in Float(0.05 + s.uniform()) }
        return try PointSpreadFunction(image: ImageBatch(count: 1, shape: ImageShape(channels: bands, height: kh, width: kw),
                                                         data: data))
    }
    static let prior = ImageShape(channels: 3, height: 48, width: 48)
}

enum OperatorRegistry {
    static let cases: [OperatorCase] = [
        OperatorCase("psf gaussian 9×9 linear") {
            try PSFConvolution(psf: GaussianPSF(fwhm: 0.5).render(pixelScale: 0.168, height: 9, width: 9),
                               imageShape: ImageShape(channels: 1, height: 40, width: 33))
        },
        OperatorCase("psf asymmetric 6×9 linear, 2 bands") {
            try PSFConvolution(psf: RegistryData.asymmetricPSF(6, 9, bands: 2),
                               imageShape: ImageShape(channels: 2, height: 31, width: 44))
        },
        OperatorCase("psf asymmetric 8×5 periodic") {
            try PSFConvolution(psf: RegistryData.asymmetricPSF(8, 5), imageShape: ImageShape(channels: 1, height: 30, width: 27),
                               boundary: .periodic)
        },
        OperatorCase("psf moffat one PSF for 3 bands") {
            try PSFConvolution(psf: MoffatPSF(fwhm: 0.7, beta: 3).render(pixelScale: 0.168, height: 15, width: 15),
                               imageShape: RegistryData.prior)
        },
        OperatorCase("psf airy 12×12") {
            try PSFConvolution(psf: AiryPSF(wavelength: 800e-9, diameter: 2.4).render(pixelScale: 0.03, height: 12, width: 12),
                               imageShape: ImageShape(channels: 1, height: 24, width: 36))
        },
        OperatorCase("area-overlap 37×44 → 29×50") {
            try AreaOverlapResampling(inputShape: ImageShape(channels: 2, height: 37, width: 44), outputHeight: 29, outputWidth: 50)
        },
        OperatorCase("redshift resampling z=0.3") {
            try RedshiftResampling(priorShape: RegistryData.prior, redshift: 0.3, priorPixelKpc: 0.4, observedPixelArcsec: 0.168)
        },
        OperatorCase("pixel-scale resampling upsampling") {
            try PixelScaleResampling(priorShape: ImageShape(channels: 1, height: 20, width: 26),
                                     priorPixelArcsec: 0.2, observedPixelArcsec: 0.09)
        },
        OperatorCase("band selection [i, g] of g,r,i") {
            try BandSelection(inputShape: RegistryData.prior, inputBands: ["g", "r", "i"], select: ["i", "g"])
        },
        OperatorCase("chain: redshift resampling → PSF per band (paper 003 Fig. 1)") {
            let r = try RedshiftResampling(priorShape: RegistryData.prior, redshift: 0.2, priorPixelKpc: 0.4,
                                           observedPixelArcsec: 0.168)
            let p = try PSFConvolution(psf: RegistryData.asymmetricPSF(7, 7, bands: 3), imageShape: r.outputShape)
            return try composeOperators([r, p])
        },
        OperatorCase("chain: band selection → pixel-scale resampling → periodic PSF") {
            let b = try BandSelection(inputShape: RegistryData.prior, indices: [2])
            let r = try PixelScaleResampling(priorShape: b.outputShape, priorPixelArcsec: 0.1, observedPixelArcsec: 0.13)
            let p = try PSFConvolution(psf: RegistryData.asymmetricPSF(4, 6), imageShape: r.outputShape, boundary: .periodic)
            return try composeOperators([b, r, p])
        },
        OperatorCase("uv sampling 48², 2 channels") { try RadioRegistry.uvOperator() },
        OperatorCase("spec: pixel-scale resampling → uv step (antenna loader, primary beam)") {
            try UVSpecData.spec(#"{"prior": {"size": 20, "pixel_scale_arcsec": 0.3}, "chain": [{"resample": {"pixel_scale": 0.25}}, {"uv": {"config": "mini.cfg", "declination": -23, "hour_angle": [-0.5, 0.5], "frequency": 230e9, "dish_diameter": 12, "noise_rms": 5e-5}}]}"#)
                .build(antennaLoader: UVSpecData.loader).forwardOperator
        },
        OperatorCase("psf elliptical moffat from stars (pixel units)") {
            try PSFConvolution(psf: EllipticalMoffatPSF(fwhm1: 3.1, fwhm2: 2.2, angle: 0.6, beta: 3.4, unit: "px")
                                    .render(pixelScale: 1, height: 13, width: 13),
                               imageShape: ImageShape(channels: 1, height: 30, width: 41))
        },
    ]
}

@Suite struct OperatorRegistryTests {
    /// Σ a_i b_i in Double, written here (independent of the library's helpers).
    private func dot(_ a: [Float], _ b: [Float]) -> Double {
        var acc = 0.0
        for i in a.indices { acc += Double(a[i]) * Double(b[i]) }
        return acc
    }

    @Test(arguments: OperatorRegistry.cases)
    func dotProductTest(_ entry: OperatorCase) throws {
        let op = try entry.make()
        #expect(op.isLinear)
        let n = 2  // a batch of two: samples must not couple
        let u = try ImageBatch(count: n, shape: op.inputShape,
                               data: SampleStream(seed: 42, index: 0).normals(n * op.inputShape.count))
        let v = try ImageBatch(count: n, shape: op.outputShape,
                               data: SampleStream(seed: 42, index: 1).normals(n * op.outputShape.count))
        let au = try op.apply(u), atv = try op.adjoint(v)
        #expect(au.shape == op.outputShape && au.count == n)
        #expect(atv.shape == op.inputShape && atv.count == n)
        let lhs = dot(au.data, v.data), rhs = dot(u.data, atv.data)
        let rel = abs(lhs - rhs) / max(abs(lhs), abs(rhs))
        // A draw can make ⟨Au,v⟩ nearly 0 (|⟨Au,v⟩| ≪ ‖Au‖‖v‖): the relative error then measures
        // Float32 rounding against a cancelled sum (and FFTW_MEASURE plans vary it from run to run),
        // so such a draw is judged on the scale of the vectors: |Δ| / (‖Au‖‖v‖) ≤ 1e-7.
        let scale = (dot(au.data, au.data) * dot(v.data, v.data)).squareRoot()
        let nearlyOrthogonal = max(abs(lhs), abs(rhs)) < 1e-2 * scale
        let scaled = abs(lhs - rhs) / scale
        #expect(rel <= 1e-5 || (nearlyOrthogonal && scaled <= 1e-7),
                "\(entry.name): ⟨Au,v⟩=\(lhs) ⟨u,Aᵀv⟩=\(rhs) relative error \(rel), scaled \(scaled)")
        #expect(!op.summary.isEmpty)
    }
}
