// The U-Net built from a prior directory (DESIGN §4.4): config.json's flags,
// weights checked against the network's full parameter layout, and the
// denoiser with the prior's schedule, prediction type, pixel transform and bands.

import Foundation
import TweedieCore

extension UNetModel {
    /// The full expected parameter list of a config, for `PriorDirectory` / `PriorImport` checks.
    public static let parameterLayout: ParameterLayout = { try UNetModel.parameterShapes(for: $0) }

    /// The network of a prior directory (weights checked by name and shape, and for finite values).
    public convenience init(prior: PriorDirectory, convolution: ConvolutionAlgorithm = .automatic) throws {
        let weights = try prior.loadWeights(layout: UNetModel.parameterLayout)
        try self.init(config: prior.config.unet, stateDict: weights, source: prior.weightsURL.path,
                      convolution: convolution)
    }
}

extension UNetDenoiser {
    /// The denoiser of a prior directory: its network, training schedule, prediction type, pixel
    /// transform and bands. `maxBatch` nil: sized from `memoryBudget` (see the designated initialiser).
    public convenience init(prior: PriorDirectory, convolution: ConvolutionAlgorithm = .automatic,
                            maxBatch: Int? = nil, memoryBudget: Int = 4 << 30) throws {
        let model = try UNetModel(prior: prior, convolution: convolution)
        let c = prior.config
        let hash = c.weightsSHA256.map { ", weights sha256 \($0.prefix(16))…" } ?? ""
        self.init(model: model, schedule: try c.schedule(), predictionType: c.predictionType,
                  pixelTransform: c.pixelTransform.makeTransform(), bands: c.bands,
                  summary: "prior \(c.name) (\(c.architectureSummary)\(hash))", maxBatch: maxBatch,
                  memoryBudget: memoryBudget)
    }
}
