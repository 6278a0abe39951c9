// Batch invariance of the U-Net (DESIGN §2 "Randomness": sample k must be
// bit-identical whatever the batch it ran in). The random-weight networks of
// the PyTorch parity fixtures (both architectures) are run on 7 images with
// different timesteps, as batches of 1, 4 and 7; every image's output and
// input VJP (for its own cotangent) must be bit-identical across the three
// runs, for every 3×3 convolution algorithm (with the default worker count:
// the thread count is process-global and other suites run concurrently).
// The oracle is the batch-1 run itself: an image's result may not depend on
// what else shares its batch.

import Foundation
import Testing
import TweedieCore
@testable import TweediePriors

@Suite struct UNetBatchInvarianceTests {
    func check(_ name: String, _ convolution: ConvolutionAlgorithm) throws {
        // The 32 px fixture runs at 16 px (attention resolutions halved with it, so attention sits at the
        // same downsampling factors and the weights fit unchanged): 4× cheaper, same layers.
        var config = try UNetFixtures.config(name)
        if config.imageSize >= 32 {
            config.imageSize /= 2
            config.attentionResolutions = config.attentionResolutions.map { $0 / 2 }
        }
        let dict = try SafeTensors.read(contentsOf: UNetFixtures.directory.appendingPathComponent("\(name).safetensors")).tensors
        let model = try UNetModel(config: config, stateDict: dict, source: name, convolution: convolution)
        let s = config.imageSize, per = config.inChannels * s * s, outPer = config.outChannels * s * s
        var rng = TestRandom(seed: 4242)
        let images = 7
        let x = rng.floats(images * per)
        let cot = rng.floats(images * outPer)
        let t = [0, 999, 17, 500, 250, 731, 3]

        /// Outputs and VJPs of images `range` run as one batch.
        func run(_ range: Range<Int>) throws -> (out: [Float], vjp: [Float]) {
            let out = try model.forward(Array(x[(range.lowerBound * per)..<(range.upperBound * per)]), batch: range.count,
                                        height: s, width: s, timesteps: Array(t[range]))
            let vjp = try model.inputGradient(Array(cot[(range.lowerBound * outPer)..<(range.upperBound * outPer)]))
            return (out, vjp)
        }
        var single: [(out: [Float], vjp: [Float])] = []
        for k in 0..<images { single.append(try run(k..<(k + 1))) }
        for batch in [4, 7] {
            for start in stride(from: 0, to: images, by: batch) {
                let range = start..<min(images, start + batch)
                let (out, vjp) = try run(range)
                for (j, k) in range.enumerated() {
                    let o = Array(out[(j * outPer)..<((j + 1) * outPer)]), v = Array(vjp[(j * per)..<((j + 1) * per)])
                    let od = zip(o, single[k].out).map { abs($0 - $1) }.max()!
                    let vd = zip(v, single[k].vjp).map { abs($0 - $1) }.max()!
                    let sameOut = o == single[k].out, sameVJP = v == single[k].vjp
                    #expect(sameOut, "\(name) \(convolution): image \(k) output differs in a batch of \(range.count) (max |Δ| \(od))")
                    #expect(sameVJP, "\(name) \(convolution): image \(k) VJP differs in a batch of \(range.count) (max |Δ| \(vd))")
                }
            }
        }
    }

    @Test(arguments: ["improved", "guided"], [ConvolutionAlgorithm.im2col, .winograd2x2, .winograd4x4])
    func outputsAndVJPsAreBitIdenticalPerImage(_ name: String, _ convolution: ConvolutionAlgorithm) throws {
        try check(name, convolution)
    }
}
