// Band selection: observe a subset of the prior's bands (issue 3 item 3), e.g.
// only i of g, r, i. A linear operator C × h × w → K × h × w that copies the
// chosen channels in the order given; its adjoint scatters them back and puts
// zeros in the unobserved bands.

import TweedieCore

public struct BandSelection: ForwardOperator {
    public let inputShape: ImageShape
    public let outputShape: ImageShape
    public var isLinear: Bool { true }
    /// Input channel of each output channel.
    public let indices: [Int]
    /// Names of the input bands (empty when unknown) and of the selected ones.
    public let inputBands: [String]
    public var selectedBands: [String] { inputBands.isEmpty ? [] : indices.map { inputBands[$0] } }

    public var summary: String {
        let names = selectedBands.isEmpty ? indices.map(String.init) : selectedBands
        return "band selection [\(names.joined(separator: ","))] of \(inputShape.channels)"
    }

    /// Selects channels by index (0-based), in the order given.
    public init(inputShape: ImageShape, indices: [Int], inputBands: [String] = []) throws {
        guard !indices.isEmpty else {
            throw TweedieError.invalidInput(what: "band selection", problem: "selects no band; name at least one")
        }
        guard inputBands.isEmpty || inputBands.count == inputShape.channels else {
            throw TweedieError.shapeMismatch(what: "band names vs prior channels",
                                             expected: "\(inputShape.channels) names", got: "\(inputBands.count)")
        }
        for i in indices where i < 0 || i >= inputShape.channels {
            throw TweedieError.invalidInput(what: "band selection",
                                            problem: "band index \(i) is out of range; the prior has bands 0..<\(inputShape.channels)")
        }
        guard Set(indices).count == indices.count else {
            throw TweedieError.invalidInput(what: "band selection", problem: "selects a band twice (\(indices))")
        }
        self.inputShape = inputShape
        self.outputShape = ImageShape(channels: indices.count, height: inputShape.height, width: inputShape.width)
        self.indices = indices
        self.inputBands = inputBands
    }

    /// Selects bands by name among the prior's `inputBands`.
    public init(inputShape: ImageShape, inputBands: [String], select names: [String]) throws {
        var idx: [Int] = []
        for n in names {
            guard let i = inputBands.firstIndex(of: n) else {
                throw TweedieError.invalidInput(what: "band selection",
                                                problem: "band '\(n)' is not one of the prior's bands [\(inputBands.joined(separator: ", "))]")
            }
            idx.append(i)
        }
        try self.init(inputShape: inputShape, indices: idx, inputBands: inputBands)
    }

    public func apply(_ x: ImageBatch) throws -> ImageBatch {
        try checkInput(x)
        var out = ImageBatch(count: x.count, shape: outputShape, bands: selectedBands, unit: x.unit, header: x.header)
        copyPlanes(x, into: &out, selecting: true)
        return out
    }

    public func vjp(_ v: ImageBatch, at x: ImageBatch?) throws -> ImageBatch {
        try checkOutput(v)
        var out = ImageBatch(count: v.count, shape: inputShape, bands: inputBands, unit: v.unit, header: v.header)
        copyPlanes(v, into: &out, selecting: false)
        return out
    }

    /// Copies input plane (n, indices[k]) to output plane (n, k) of each image n when `selecting`
    /// (A), output plane (n, k) back to input plane (n, indices[k]) otherwise (Aᵀ; other planes stay 0).
    private func copyPlanes(_ source: ImageBatch, into target: inout ImageBatch, selecting: Bool) {
        let hw = inputShape.planeCount
        for n in 0..<source.count {
            for (k, c) in indices.enumerated() {
                let input = (n * inputShape.channels + c) * hw, output = (n * outputShape.channels + k) * hw
                let (src, dst) = selecting ? (input, output) : (output, input)
                target.data.replaceSubrange(dst..<(dst + hw), with: source.data[src..<(src + hw)])
            }
        }
    }
}
