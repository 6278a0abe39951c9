// The forward-operator contract (DESIGN §3): y = A(x) + n.
//
// An operator maps a batch of prior-grid images to observation space. Linear
// operators provide the exact adjoint Aᵀ with respect to the Euclidean inner
// product of the flattened Float arrays (so ⟨A u, v⟩ = ⟨u, Aᵀ v⟩, checked by the
// dot-product test); nonlinear ones provide the vector–Jacobian product at x.
// Complex-valued outputs (visibilities) are stored as interleaved (re, im)
// Float pairs and the inner product is the real part of the complex one.
// Samples of a batch never couple: image k of the output depends on image k
// of the input only.

/// A forward operator acting on batches.
public protocol ForwardOperator: Sendable {
    /// Shape of one input image (prior grid).
    var inputShape: ImageShape { get }
    /// Shape of one output image (observation space).
    var outputShape: ImageShape { get }
    /// True when `adjoint` is the exact transpose (then `vjp(at:)` ignores the point).
    var isLinear: Bool { get }
    /// One line for provenance (FITS keywords, summary.json).
    var summary: String { get }
    /// A(x) for every image of the batch.
    func apply(_ x: ImageBatch) throws -> ImageBatch
    /// Aᵀ v (linear) or J_A(x)ᵀ v (nonlinear) for every image of the batch.
    func vjp(_ v: ImageBatch, at x: ImageBatch?) throws -> ImageBatch
}

extension ForwardOperator {
    /// The exact adjoint of a linear operator.
    public func adjoint(_ v: ImageBatch) throws -> ImageBatch {
        precondition(isLinear, "adjoint of a nonlinear operator: use vjp(_:at:)")
        return try vjp(v, at: nil)
    }

    /// Throws unless `x` has this operator's input shape.
    public func checkInput(_ x: ImageBatch) throws {
        guard x.shape == inputShape else {
            throw TweedieError.shapeMismatch(what: "operator input (\(summary))",
                                             expected: "\(inputShape)", got: "\(x.shape)")
        }
    }
    /// Throws unless `v` has this operator's output shape.
    public func checkOutput(_ v: ImageBatch) throws {
        guard v.shape == outputShape else {
            throw TweedieError.shapeMismatch(what: "operator output (\(summary))",
                                             expected: "\(outputShape)", got: "\(v.shape)")
        }
    }
}

/// Composition `outer ∘ inner`: apply inner, then outer; adjoints in reverse order.
public struct ComposedOperator: ForwardOperator {
    public let inner: any ForwardOperator
    public let outer: any ForwardOperator

    public init(outer: any ForwardOperator, inner: any ForwardOperator) throws {
        guard inner.outputShape == outer.inputShape else {
            throw TweedieError.shapeMismatch(what: "operator chain \(inner.summary) → \(outer.summary)",
                                             expected: "\(outer.inputShape)", got: "\(inner.outputShape)")
        }
        self.inner = inner; self.outer = outer
    }
    public var inputShape: ImageShape { inner.inputShape }
    public var outputShape: ImageShape { outer.outputShape }
    public var isLinear: Bool { inner.isLinear && outer.isLinear }
    public var summary: String { "\(inner.summary) → \(outer.summary)" }
    public func apply(_ x: ImageBatch) throws -> ImageBatch { try outer.apply(inner.apply(x)) }
    public func vjp(_ v: ImageBatch, at x: ImageBatch?) throws -> ImageBatch {
        let mid = (outer.isLinear || x == nil) ? nil : try inner.apply(x!)
        return try inner.vjp(outer.vjp(v, at: mid), at: x)
    }
}

/// Composes a chain given in application order (first element applied first).
public func composeOperators(_ chain: [any ForwardOperator]) throws -> any ForwardOperator {
    guard var acc = chain.first else {
        throw TweedieError.invalidInput(what: "operator chain", problem: "is empty")
    }
    for op in chain.dropFirst() { acc = try ComposedOperator(outer: op, inner: acc) }
    return acc
}
