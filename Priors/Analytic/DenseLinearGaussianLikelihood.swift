// A linear-Gaussian observation model y = A x + n, n ~ N(0, diag σ²), with A
// given as a dense matrix, for the exact posteriors of the analytic priors on
// small images (DESIGN §3, §4.5).
//
// Conventions: x is one prior-grid image flattened `[c][y][x]` (N values), y
// the observation flattened in the operator's output order (m values); A is
// row-major m×N. Built from any linear `ForwardOperator` by applying it to the
// N unit images (so A carries the operator's Float32 rounding), and from a
// `NoiseModel`: σ² = 1/W per value, masked values (W = 0) dropped as rows.

import Foundation
import TweedieCore

/// A dense m×N real matrix, row-major.
public struct DenseLinearOperator: Sendable, Equatable {
    public let rows: Int
    public let columns: Int
    /// A_ij at index i·columns + j.
    public let matrix: [Double]

    public init(rows: Int, columns: Int, matrix: [Double]) throws {
        guard rows >= 1 && columns >= 1 && matrix.count == rows * columns else {
            throw TweedieError.shapeMismatch(what: "dense operator matrix", expected: "\(rows)×\(columns) values",
                                             got: "\(matrix.count)")
        }
        try DenseLinearAlgebra.checkUnknowns(columns, what: "dense operator")
        guard rows <= DenseLinearAlgebra.maxObservations else {
            throw TweedieError.invalidInput(what: "dense operator",
                                            problem: "\(rows) observed values is more than the dense limit \(DenseLinearAlgebra.maxObservations); use a smaller image")
        }
        if let bad = matrix.firstIndex(where: { !$0.isFinite }) {
            throw TweedieError.invalidInput(what: "dense operator",
                                            problem: "entry (\(bad / columns), \(bad % columns)) is \(matrix[bad]); every entry must be finite")
        }
        self.rows = rows; self.columns = columns; self.matrix = matrix
    }

    /// The matrix of a linear map given as a function, by applying it to the `columns` unit vectors.
    public init(columns: Int, applying map: ([Double]) throws -> [Double]) throws {
        try DenseLinearAlgebra.checkUnknowns(columns, what: "dense operator")
        var cols: [[Double]] = []
        cols.reserveCapacity(columns)
        var e = [Double](repeating: 0, count: columns)
        for j in 0..<columns {
            e[j] = 1
            cols.append(try map(e))
            e[j] = 0
        }
        let m = cols.first?.count ?? 0
        guard cols.allSatisfy({ $0.count == m }) else {
            throw TweedieError.invalidInput(what: "dense operator", problem: "the map returned outputs of different lengths")
        }
        var a = [Double](repeating: 0, count: m * columns)
        for j in 0..<columns { for i in 0..<m { a[i * columns + j] = cols[j][i] } }
        try self.init(rows: m, columns: columns, matrix: a)
    }

    /// The matrix of a linear `ForwardOperator` (one batch of N unit images; Float32 entries).
    public init(_ op: any ForwardOperator) throws {
        guard op.isLinear else {
            throw TweedieError.invalidInput(what: "operator \(op.summary)",
                                            problem: "is not linear; exact posteriors need a linear operator")
        }
        let n = op.inputShape.count
        try DenseLinearAlgebra.checkUnknowns(n, what: "operator \(op.summary)")
        var basis = ImageBatch(count: n, shape: op.inputShape)
        for j in 0..<n { basis.data[j * n + j] = 1 }
        let out = try op.apply(basis)
        let m = op.outputShape.count
        var a = [Double](repeating: 0, count: m * n)
        for j in 0..<n { for i in 0..<m { a[i * n + j] = Double(out.data[j * m + i]) } }
        try self.init(rows: m, columns: n, matrix: a)
    }

    /// A x.
    public func apply(_ x: [Double]) -> [Double] {
        DenseLinearAlgebra.multiplyVector(matrix, x, rows: rows, columns: columns)
    }

    /// Aᵀ v.
    public func adjoint(_ v: [Double]) -> [Double] {
        DenseLinearAlgebra.multiplyVector(matrix, v, rows: rows, columns: columns, transpose: true)
    }
}

/// y = A x + n, n ~ N(0, diag(noiseVariance)): everything an exact linear-Gaussian posterior needs.
public struct DenseLinearGaussianLikelihood: Sendable, Equatable {
    public let forwardOperator: DenseLinearOperator
    /// σ² per observed value, m values > 0.
    public let noiseVariance: [Double]
    /// The observation, m values.
    public let observation: [Double]

    public init(operator op: DenseLinearOperator, noiseVariance: [Double], observation: [Double]) throws {
        let sigma2 = noiseVariance.count == 1 ? [Double](repeating: noiseVariance[0], count: op.rows) : noiseVariance
        guard sigma2.count == op.rows else {
            throw TweedieError.shapeMismatch(what: "noise variance", expected: "1 or \(op.rows) values", got: "\(noiseVariance.count)")
        }
        if let bad = sigma2.firstIndex(where: { !($0.isFinite && $0 > 0) }) {
            throw TweedieError.invalidInput(what: "noise variance",
                                            problem: "value \(sigma2[bad]) at index \(bad) must be finite and > 0 (drop masked values instead)")
        }
        guard observation.count == op.rows else {
            throw TweedieError.shapeMismatch(what: "observation", expected: "\(op.rows) values", got: "\(observation.count)")
        }
        if let bad = observation.firstIndex(where: { !$0.isFinite }) {
            throw TweedieError.invalidInput(what: "observation", problem: "value \(observation[bad]) at index \(bad) is not finite; mask it in the noise model")
        }
        self.forwardOperator = op; self.noiseVariance = sigma2; self.observation = observation
    }

    /// From a linear operator, a noise model and one observation image: σ² = 1/W, masked values dropped.
    public init(operator op: any ForwardOperator, noise: any NoiseModel, observation: ImageBatch) throws {
        guard noise.shape == op.outputShape else {
            throw TweedieError.shapeMismatch(what: "noise model (\(noise.summary))", expected: "\(op.outputShape)", got: "\(noise.shape)")
        }
        guard observation.count == 1 && observation.shape == op.outputShape else {
            throw TweedieError.shapeMismatch(what: "observation", expected: "1×\(op.outputShape)", got: "\(observation.count)×\(observation.shape)")
        }
        let full = try DenseLinearOperator(op)
        let keep = noise.sqrtWeights.indices.filter { noise.sqrtWeights[$0] > 0 }
        guard !keep.isEmpty else {
            throw TweedieError.invalidInput(what: "noise model (\(noise.summary))", problem: "masks every value; nothing is observed")
        }
        var a = [Double](repeating: 0, count: keep.count * full.columns)
        for (r, i) in keep.enumerated() {
            for j in 0..<full.columns { a[r * full.columns + j] = full.matrix[i * full.columns + j] }
        }
        let w = keep.map { Double(noise.sqrtWeights[$0]) }
        try self.init(operator: DenseLinearOperator(rows: keep.count, columns: full.columns, matrix: a),
                      noiseVariance: w.map { 1 / ($0 * $0) },
                      observation: keep.map { Double(observation.data[$0]) })
    }

    /// Number of observed values m.
    public var count: Int { forwardOperator.rows }
}
