// The prior variance map (DESIGN §4.4): pixel-wise variance of N unconditional
// samples of the prior, in network space u (the space the variance ratio is
// computed in) and, alongside, in physical space x = T(u). Welford's one-pass
// update in Double (RunningStatistics), samples added in index order, so the
// map does not depend on the batch size. DESIGN asks for N ≥ 256.

import Foundation
import TweedieCore
import TweediePriors

public struct PriorVarianceEstimate: Sendable {
    /// Network-space statistics (mean, unbiased variance).
    public var network: RunningStatistics
    /// Physical-space statistics.
    public var physical: RunningStatistics
    public var samples: Int { network.count }
    public let shape: ImageShape

    /// Recommended minimum sample count.
    public static let recommendedSamples = 256

    /// Draws samples 0..<count with `sampler` in batches of `batch` and accumulates their statistics.
    /// `progress(done, total)` is called after every batch.
    public static func estimate(sampler: AncestralSampler, count: Int, seed: UInt64, batch: Int,
                                progress: ((Int, Int) -> Void)? = nil) throws -> PriorVarianceEstimate {
        guard count >= 2 else {
            throw TweedieError.setting(name: "samples", problem: "a variance needs at least 2 samples, got \(count) (\(recommendedSamples) or more recommended)")
        }
        guard batch >= 1 else { throw TweedieError.setting(name: "batch", problem: "must be ≥ 1, got \(batch)") }
        let shape = sampler.prior.imageShape
        var net = RunningStatistics(valueCount: shape.count), phys = net
        var start = 0
        while start < count {
            let range = start..<min(count, start + batch)
            let u = try sampler.sample(indices: range, seed: seed)
            let x = sampler.physical(u)
            let per = shape.count
            for k in 0..<range.count {
                net.add(u.data[(k * per)..<((k + 1) * per)])
                phys.add(x.data[(k * per)..<((k + 1) * per)])
            }
            start = range.upperBound
            progress?(start, count)
        }
        return PriorVarianceEstimate(network: net, physical: phys, shape: shape)
    }

    /// The mean physical image E[T(u)] (unit flux scale): what `tweedie sample` estimates an
    /// observation's flux scale against (Σ y / Σ A(mean)).
    public func physicalMeanImage(bands: [String]) -> ImageBatch {
        var image = ImageBatch(count: 1, shape: shape, bands: bands.count == shape.channels ? bands : [])
        for j in 0..<physical.mean.count { image.data[j] = Float(physical.mean[j]) }
        return image
    }

    /// The variance of one space as a one-image batch (Float32 from the Double accumulators).
    public func varianceImage(physical: Bool, bands: [String]) -> ImageBatch {
        let v = (physical ? self.physical : network).variance
        var image = ImageBatch(count: 1, shape: shape, bands: bands.count == shape.channels ? bands : [])
        for j in 0..<v.count { image.data[j] = Float(v[j]) }
        return image
    }
}
