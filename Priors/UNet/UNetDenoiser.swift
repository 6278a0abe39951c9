// The U-Net as a `Denoiser` (DESIGN §4.1): raw network output → (x̂0, ε̂)
// through `PredictionType` (the one place the ε / x0 / v conversion lives),
// and the pullback of x̂0 with respect to x_t:
//
//   x̂0 = a·x_t + b·out(x_t)   ⇒   (∂x̂0/∂x_t)ᵀ v = a·v + J_outᵀ (b·v),
//
// with (a, b) = PredictionType.x0Partials(ᾱ_t) per image. With learn_sigma the
// network's second half of channels (the variance interpolation) is ignored:
// its cotangent is zero.
//
// Batches larger than `maxBatch` run in chunks. The pullback reuses the
// network's stored activations when nothing has run since (the usual DPS
// step), and otherwise recomputes the forward pass for its chunk first, so
// it is always exact. All access to the model is serialised by a lock.

import Foundation
import TweedieCore

public final class UNetDenoiser: Denoiser, @unchecked Sendable {
    // @unchecked Sendable: every use of `model` (mutable workspaces) happens under `lock`.
    private let model: UNetModel
    private let lock = NSLock()
    public let imageShape: ImageShape
    public let schedule: NoiseSchedule
    public let pixelTransform: any PixelTransform
    public let bands: [String]
    public let summary: String
    public let predictionType: PredictionType
    /// Largest batch given to the network at once.
    public let maxBatch: Int

    /// `maxBatch` nil: as many images as fit in `memoryBudget` bytes of activations (1 to 16;
    /// the reference network of DESIGN §7 takes ~20 MB per image, the seed paper's 256 px network GBs).
    public init(model: UNetModel, schedule: NoiseSchedule, predictionType: PredictionType? = nil,
                pixelTransform: any PixelTransform = AffinePixelTransform(), bands: [String] = [],
                summary: String? = nil, maxBatch: Int? = nil, memoryBudget: Int = 4 << 30) {
        self.model = model
        let c = model.config
        imageShape = ImageShape(channels: c.inChannels, height: c.imageSize, width: c.imageSize)
        self.schedule = schedule
        self.predictionType = predictionType ?? c.predictionType
        self.pixelTransform = pixelTransform
        self.bands = bands
        self.summary = summary ?? "U-Net (\(c.summary); \(model.parameterCount) parameters)"
        self.maxBatch = max(1, maxBatch ?? min(16, memoryBudget / max(1, model.activationBytesPerImage)))
    }

    public func predict(_ xt: ImageBatch, timesteps t: [Int]) throws -> DenoiserPrediction {
        try checkInput(xt, t)
        var x0 = ImageBatch(count: xt.count, shape: xt.shape, bands: xt.bands, unit: nil)
        var eps = x0
        for range in chunks(xt.count) {
            let out = try lock.withLock { try runForward(xt, t, range).output }
            convert(out, xt, t, range, into: &x0, &eps)
        }
        return DenoiserPrediction(x0: x0, eps: eps)
    }

    /// The raw network output for x_t (ε̂, x̂0 or v as the prior predicts; with learn_sigma all
    /// 2·C channels, the variance half last), `[n][outChannels][y][x]`. For parity checks.
    public func networkOutput(_ xt: ImageBatch, timesteps t: [Int]) throws -> ImageBatch {
        try checkInput(xt, t)
        let outShape = ImageShape(channels: model.config.outChannels, height: imageShape.height, width: imageShape.width)
        var out = ImageBatch(count: xt.count, shape: outShape)
        for range in chunks(xt.count) {
            let o = try lock.withLock { try runForward(xt, t, range).output }
            out.data.replaceSubrange((range.lowerBound * outShape.count)..<(range.upperBound * outShape.count), with: o)
        }
        return out
    }

    public func predictWithPullback(_ xt: ImageBatch, timesteps t: [Int]) throws -> (DenoiserPrediction, DenoiserPullback) {
        try checkInput(xt, t)
        var x0 = ImageBatch(count: xt.count, shape: xt.shape, bands: xt.bands, unit: nil)
        var eps = x0
        var lastForward = -1
        let ranges = chunks(xt.count)
        for range in ranges {
            let (out, count) = try lock.withLock { try runForward(xt, t, range) }
            lastForward = count
            convert(out, xt, t, range, into: &x0, &eps)
        }
        let lastRange = ranges.last!
        let prediction = DenoiserPrediction(x0: x0, eps: eps)
        let pullback: DenoiserPullback = { [self] v in
            guard v.count == xt.count && v.shape == xt.shape else {
                throw TweedieError.shapeMismatch(what: "U-Net pullback cotangent", expected: "\(xt.count)×\(xt.shape)",
                                                 got: "\(v.count)×\(v.shape)")
            }
            var dx = ImageBatch(count: xt.count, shape: xt.shape, bands: xt.bands, unit: nil)
            // The chunk whose activations are stored goes first (when still valid), the others recompute.
            for range in ranges.reversed() {
                try lock.withLock {
                    if !(range == lastRange && model.forwardCount == lastForward) {
                        _ = try runForward(xt, t, range)
                    }
                    try pullbackChunk(v, t, range, into: &dx)
                }
            }
            return dx
        }
        return (prediction, pullback)
    }

    // MARK: - Internals (callers hold the lock where the model is used)

    private func checkInput(_ xt: ImageBatch, _ t: [Int]) throws {
        guard xt.shape == imageShape else {
            throw TweedieError.shapeMismatch(what: "U-Net denoiser input", expected: "images of \(imageShape)", got: "\(xt.shape)")
        }
        guard t.count == xt.count else {
            throw TweedieError.shapeMismatch(what: "U-Net denoiser timesteps", expected: "\(xt.count) (one per image)", got: "\(t.count)")
        }
        for ti in t where ti < 0 || ti >= schedule.originalSteps {
            throw TweedieError.invalidInput(what: "timestep", problem: "\(ti) is outside 0..<\(schedule.originalSteps) of the prior's schedule")
        }
    }

    private func chunks(_ n: Int) -> [Range<Int>] {
        stride(from: 0, to: n, by: maxBatch).map { $0..<min(n, $0 + maxBatch) }
    }

    /// ᾱ at original timestep t (the training schedule is indexed by the original timestep).
    private func alphaBar(_ t: Int) -> Double {
        if let j = schedule.timesteps.firstIndex(of: t) { return schedule.alphasCumprod[j] }
        return schedule.alphasCumprod[min(t, schedule.count - 1)]
    }

    private func runForward(_ xt: ImageBatch, _ t: [Int], _ range: Range<Int>) throws -> (output: [Float], count: Int) {
        let per = imageShape.count
        let x = Array(xt.data[(range.lowerBound * per)..<(range.upperBound * per)])
        let out = try model.forward(x, batch: range.count, height: imageShape.height, width: imageShape.width,
                                    timesteps: Array(t[range]))
        return (out, model.forwardCount)
    }

    private func convert(_ out: [Float], _ xt: ImageBatch, _ t: [Int], _ range: Range<Int>,
                         into x0: inout ImageBatch, _ eps: inout ImageBatch) {
        let per = imageShape.count, outPer = model.config.outChannels * imageShape.planeCount
        for (k, n) in range.enumerated() {
            let ab = alphaBar(t[n])
            for i in 0..<per {
                let (a, e) = predictionType.convert(output: out[k * outPer + i], xt: xt.data[n * per + i], alphaBar: ab)
                x0.data[n * per + i] = a
                eps.data[n * per + i] = e
            }
        }
    }

    private func pullbackChunk(_ v: ImageBatch, _ t: [Int], _ range: Range<Int>, into dx: inout ImageBatch) throws {
        let per = imageShape.count, outPer = model.config.outChannels * imageShape.planeCount
        var cot = [Float](repeating: 0, count: range.count * outPer)
        for (k, n) in range.enumerated() {
            let b = predictionType.x0Partials(alphaBar: alphaBar(t[n])).dout
            for i in 0..<per { cot[k * outPer + i] = b * v.data[n * per + i] }
        }
        let g = try model.inputGradient(cot)
        for (k, n) in range.enumerated() {
            let a = predictionType.x0Partials(alphaBar: alphaBar(t[n])).dxt
            for i in 0..<per { dx.data[n * per + i] = a * v.data[n * per + i] + g[k * per + i] }
        }
    }
}
