// Timing of the U-Net's forward pass and forward + input VJP (what one DPS step
// costs), on the reference network of DESIGN §7 or on any loaded model.
//
// Reference network: improved-diffusion UNetModel, 64×64×1, num_channels 64,
// channel_mult 1,2,2, 2 res blocks, attention at 16 px (ds 4), 4 heads,
// scale-shift norm, random weights (normal, std 1/√fan-in; GroupNorm affine
// near identity). The same network is timed in PyTorch by
// Priors/training/bench_unet_torch.py.
//
// Reported per image: the best and the median of `repeats` timed runs after
// one warm-up run; GFLOPS = 2 × multiply-adds of the forward pass / time (the
// VJP figure counts the forward's FLOPs twice, as the VJP costs about one
// more forward).

import Foundation
import TweedieCore

public enum UNetBenchmark {
    /// DESIGN §7's reference network.
    public static var referenceConfig: UNetConfig {
        UNetConfig(architecture: .improvedDiffusion, imageSize: 64, inChannels: 1, numChannels: 64, numResBlocks: 2,
                   channelMult: [1, 2, 2], attentionResolutions: [16], numHeads: 4, useScaleShiftNorm: true,
                   learnSigma: false)
    }

    /// A random state dict with `config`'s names and shapes (deterministic for a seed).
    public static func randomStateDict(for config: UNetConfig, seed: UInt64 = 0) throws -> StateDict {
        var state = seed &+ 0x9E37_79B9_7F4A_7C15
        func uniform() -> Double {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return Double((z ^ (z >> 31)) >> 11) / Double(1 << 53)
        }
        func normal() -> Double {
            (-2 * Foundation.log(max(uniform(), 1e-300))).squareRoot() * Foundation.cos(2 * Double.pi * uniform())
        }
        var dict = StateDict()
        for (name, shape) in try UNetModel.parameterShapes(for: config).sorted(by: { $0.key < $1.key }) {
            let n = shape.reduce(1, *)
            let values: [Float]
            if shape.count == 1 {
                let isNormWeight = name.hasSuffix(".weight")  // 1-D weights are GroupNorm scales
                values = (0..<n).map { _ in Float((isNormWeight ? 1 : 0) + 0.05 * normal()) }
            } else {
                let std = 1 / Double(n / shape[0]).squareRoot()
                values = (0..<n).map { _ in Float(std * normal()) }
            }
            dict[name] = ParameterTensor(shape: shape, values: values)
        }
        return dict
    }

    public struct Result: Sendable, CustomStringConvertible {
        public var batch: Int
        public var threads: Int
        public var blasThreads: Int
        public var parameters: Int
        /// Forward multiply-adds per image.
        public var macsPerImage: Int
        /// ms per image: best and median.
        public var forwardMs: (best: Double, median: Double)
        public var forwardVJPMs: (best: Double, median: Double)
        /// With `profiled`: ms per image of one forward + VJP by kernel category.
        public var profile: [(String, Double)]
        /// The model's estimate of activation memory per image, and the process's peak resident memory.
        public var estimatedBytesPerImage: Int
        public var peakResidentBytes: Int

        public var forwardGFLOPS: Double { 2 * Double(macsPerImage) / (forwardMs.best * 1e6) }
        public var forwardVJPGFLOPS: Double { 4 * Double(macsPerImage) / (forwardVJPMs.best * 1e6) }

        public var description: String {
            String(format: """
                parameters %d, forward %.2f GFLOP/image, batch %d, threads %d (OpenBLAS %d per call)
                memory: activations ≈ %.0f MB/image (estimate), peak resident %.0f MB
                forward:       %7.1f ms/image (best), median %7.1f, %6.1f GFLOPS
                forward + VJP: %7.1f ms/image (best), median %7.1f, %6.1f GFLOPS (VJP counted as one more forward)
                """, parameters, 2 * Double(macsPerImage) / 1e9, batch, threads, blasThreads,
                   Double(estimatedBytesPerImage) / 1e6, Double(peakResidentBytes) / 1e6,
                   forwardMs.best, forwardMs.median, forwardGFLOPS, forwardVJPMs.best, forwardVJPMs.median, forwardVJPGFLOPS)
                + profile.map { String(format: "\n  %-44@ %7.1f ms/image", $0.0 as NSString, $0.1) }.joined()
        }
    }

    /// Peak resident set size of the process (getrusage), bytes.
    static func peakResident() -> Int {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return usage.ru_maxrss * 1024
    }

    /// Times `model` at `batch` images (random inputs and timesteps), `repeats` runs after a warm-up.
    public static func run(_ model: UNetModel, batch: Int, repeats: Int = 5, profiled: Bool = false) throws -> Result {
        guard batch >= 1, repeats >= 1 else {
            throw TweedieError.invalidInput(what: "benchmark", problem: "batch and repeats must be at least 1")
        }
        let c = model.config
        let n = batch * c.inChannels * c.imageSize * c.imageSize
        var x = [Float](repeating: 0, count: n)
        for i in 0..<n { x[i] = Float(sin(Double(i) * 0.7311) * 1.3) }
        let t = (0..<batch).map { ($0 * 997 + 123) % c.diffusionSteps }
        let cot = [Float]((0..<(batch * c.outChannels * c.imageSize * c.imageSize)).map { Float(cos(Double($0) * 0.377)) })

        func time(_ body: () throws -> Void) rethrows -> (Double, Double) {
            try body()
            var ms: [Double] = []
            for _ in 0..<repeats {
                let start = DispatchTime.now().uptimeNanoseconds
                try body()
                ms.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6 / Double(batch))
            }
            ms.sort()
            return (ms[0], ms[ms.count / 2])
        }
        let fwd = try time { _ = try model.forward(x, batch: batch, height: c.imageSize, width: c.imageSize, timesteps: t) }
        let both = try time {
            _ = try model.forward(x, batch: batch, height: c.imageSize, width: c.imageSize, timesteps: t)
            _ = try model.inputGradient(cot)
        }
        var profile: [(String, Double)] = []
        if profiled {
            KernelProfile.start()
            let t0 = DispatchTime.now().uptimeNanoseconds
            _ = try model.forward(x, batch: batch, height: c.imageSize, width: c.imageSize, timesteps: t)
            _ = try model.inputGradient(cot)
            let total = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
            profile = KernelProfile.stop()
            profile.append(("other (copies, resampling, embedding, …)", total - profile.reduce(0) { $0 + $1.1 }))
            profile = profile.map { ($0.0, $0.1 * 1000 / Double(batch)) }
        }
        return Result(batch: batch, threads: UNetThreading.threads, blasThreads: UNetThreading.blasThreads,
                      parameters: model.parameterCount, macsPerImage: model.forwardMACsPerImage,
                      forwardMs: fwd, forwardVJPMs: both, profile: profile,
                      estimatedBytesPerImage: model.activationBytesPerImage, peakResidentBytes: peakResident())
    }
}
