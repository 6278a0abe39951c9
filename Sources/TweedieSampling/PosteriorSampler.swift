// The posterior-sampler protocol every sampler implements (DPS, split-Gibbs, SMC, replica
// exchange, the exact oracle draws): samples are drawn by index from one seed, each index with
// its own random stream (SampleRandomness), so sample k is the same whatever the batch or the
// order; samplers whose samples couple (SMC populations) say so by their group size.

import TweedieCore

/// A posterior sampler: draws samples with given indices in network space.
public protocol PosteriorSampler: Sendable {
    /// Name used on the command line and in provenance.
    var name: String { get }
    /// One line describing the settings, for provenance.
    var summary: String { get }
    /// Draws samples `indices` (one stream each from `seed`); returns them in network space, in index order.
    func sample(indices: Range<Int>, seed: UInt64) throws -> ImageBatch
    /// Samples that are drawn together and couple (an SMC population); 1 when samples never couple.
    /// Callers ask for ranges starting at multiples of it, so nothing is drawn twice.
    var sampleGroupSize: Int { get }
    /// What the sampler measured about itself over the samples it drew in this process (for example
    /// an acceptance rate), one line each; empty when it measures nothing.
    var diagnostics: [String] { get }
}

extension PosteriorSampler {
    public var sampleGroupSize: Int { 1 }
    public var diagnostics: [String] { [] }
}
