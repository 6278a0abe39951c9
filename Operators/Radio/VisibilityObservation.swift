// The gridded-visibility observation file that `tweedie simulate` writes for a
// spec ending in a `uv` step and `tweedie sample` reads (DESIGN §3: the
// likelihood lives in visibility space).
//
// HDU 0 (VIS): the UV operator's output for one observation, NAXIS1 = 2
// (re, im), NAXIS2 = K sampled half-plane cells (UVGrid storage order),
// NAXIS3 = channels when > 1; BUNIT Jy (the operator maps Jy/px to Jy).
// Keywords: UVOBS = T, IMSIZE (N), CELLASEC (Δl, ″), NCELLS (K), UVCELL (Δu of
// the padded 2N grid, wavelengths), NOISERMS (σ_D, Jy/beam), UVSIGMA (s, the
// unit-weight σ per real component: σ_c = s/√N_c), WEIGHTNG, RESTFRQ.
// HDU 1 (CELLS): K rows × 4 columns as an image (NAXIS1 = 4): fx, fy (signed
// integer frequencies of the padded grid), σ_c (Jy, per real component) and
// N_c (natural weight). The imaginary part of the DC cell is zero and masked.
// A file is accepted for a spec only if N, the cell, K and every (fx, fy)
// agree with the grid the spec builds.

import Foundation
import TweedieCore

public enum VisibilityObservation {
    /// The HDUs of an observation `vis` (1 × C × K × 2) of `step` with noise `noise`.
    public static func hdus(_ vis: ImageBatch, step: UVChainStep, noise: VisibilityNoiseModel,
                            extraCards: [FITSCard] = []) throws -> [(name: String?, image: ImageBatch)] {
        let grid = step.grid, k = grid.cellCount
        guard vis.count == 1, vis.shape == step.forwardOperator.outputShape else {
            throw TweedieError.shapeMismatch(what: "visibilities to write", expected: "1 × \(step.forwardOperator.outputShape)",
                                             got: "\(vis.count) × \(vis.shape)")
        }
        var cards = [
            FITSCard(keyword: "UVOBS", value: .bool(true), comment: "gridded visibilities (tweedie simulate, uv spec)"),
            FITSCard(keyword: "IMSIZE", value: .int(grid.imageSize), comment: "image size N of the prior grid, px"),
            FITSCard(keyword: "CELLASEC", value: .double(step.cellArcsec), comment: "image pixel, arcsec"),
            FITSCard(keyword: "NCELLS", value: .int(k), comment: "sampled half-plane uv cells (NAXIS2)"),
            FITSCard(keyword: "UVCELL", value: .double(grid.cellWavelengths), comment: "uv cell of the padded 2N grid, wavelengths"),
            FITSCard(keyword: "UVSIGMA", value: .double(noise.unitWeightSigma), comment: "unit-weight sigma; cell sigma = UVSIGMA/sqrt(N_c)"),
            FITSCard(keyword: "WEIGHTNG", value: .string(grid.weighting.description), comment: "imaging weighting of the spec"),
            FITSCard(keyword: "COMMENT", value: .none, comment: "NAXIS1 = (re, im), NAXIS2 = cells in the order of HDU CELLS"),
        ]
        if let r = step.noiseRMS {
            cards.insert(FITSCard(keyword: "NOISERMS", value: .double(r), comment: "natural-weighted dirty-image rms, Jy/beam"), at: 5)
        }
        if grid.frequency > 0 {
            cards.append(FITSCard(keyword: "RESTFRQ", value: .double(grid.frequency), comment: "mean frequency, Hz"))
        }
        var v = vis
        v.unit = "Jy"
        v.header = FITSHeader(cards: cards + extraCards)
        var table = [Float](repeating: 0, count: 4 * k)
        for c in 0..<k {
            table[4 * c] = Float(grid.fx[c]); table[4 * c + 1] = Float(grid.fy[c])
            table[4 * c + 2] = Float(noise.cellSigma[c]); table[4 * c + 3] = Float(grid.naturalWeight[c])
        }
        let cells = try ImageBatch(count: 1, shape: ImageShape(channels: 1, height: k, width: 4), data: table, unit: "",
                                   header: FITSHeader(cards: [FITSCard(keyword: "COMMENT", value: .none,
                                                                       comment: "columns: fx, fy, sigma_c (Jy), natural weight N_c")]))
        return [("VIS", v), ("CELLS", cells)]
    }

    /// Checks that the visibilities in `path` (its VIS header and CELLS table) were made on the grid of `step`.
    public static func check(path: String, header: FITSHeader, step: UVChainStep, specName: String) throws {
        let grid = step.grid
        let what = "\(path) vs the uv grid of \(specName)"
        guard header.card("UVOBS") != nil else {
            throw TweedieError.invalidInput(what: path, problem: "is not a gridded-visibility file (no UVOBS keyword); make it with `tweedie simulate --spec \(specName)`")
        }
        func agree(_ key: String, _ expected: Double, _ label: String) throws {
            guard let v = header.double(key) else {
                throw TweedieError.invalidInput(what: path, problem: "lacks keyword \(key) (\(label)); rewrite it with `tweedie simulate`")
            }
            guard abs(v - expected) <= 1e-6 * max(abs(expected), 1e-12) else {
                throw TweedieError.shapeMismatch(what: what + " (\(label), \(key))", expected: "\(expected)",
                                                 got: "\(v); simulate the visibilities with the same spec")
            }
        }
        try agree("IMSIZE", Double(grid.imageSize), "image size")
        try agree("CELLASEC", step.cellArcsec, "pixel scale")
        try agree("NCELLS", Double(grid.cellCount), "number of uv cells")
        try agree("UVCELL", grid.cellWavelengths, "uv cell")
        let hdus = try FITSReader.listHDUs(path)
        if hdus.contains(where: { $0.name?.uppercased() == "CELLS" }) {
            let cells = try FITSReader.read(path, hdu: .name("CELLS"))
            guard cells.shape.width == 4, cells.shape.height == grid.cellCount else {
                throw TweedieError.shapeMismatch(what: what + " (HDU CELLS)", expected: "\(grid.cellCount) rows × 4",
                                                 got: "\(cells.shape.height) × \(cells.shape.width)")
            }
            for c in 0..<grid.cellCount where Int32(cells.data[4 * c]) != grid.fx[c] || Int32(cells.data[4 * c + 1]) != grid.fy[c] {
                throw TweedieError.invalidInput(what: what, problem: "uv cell \(c) is (\(Int(cells.data[4 * c])), \(Int(cells.data[4 * c + 1]))) in the file but (\(grid.fx[c]), \(grid.fy[c])) for the spec: the coverage differs (configuration, declination, hour angles or frequency); simulate with the same spec")
            }
        }
    }
}

extension UVChainStep {
    /// The dirty image (N×N per channel, Jy/beam, the spec's imaging weighting, no primary-beam
    /// correction) of visibilities `vis` on this grid (count × C × K × 2).
    public func dirtyImages(_ vis: ImageBatch) throws -> ImageBatch {
        let op = forwardOperator, n = grid.imageSize, k2 = 2 * grid.cellCount
        guard vis.shape == op.outputShape else {
            throw TweedieError.shapeMismatch(what: "visibilities for the dirty image", expected: "\(op.outputShape)", got: "\(vis.shape)")
        }
        var out = ImageBatch(count: vis.count, shape: op.inputShape, bands: vis.bands, unit: "Jy/beam")
        for p in 0..<(vis.count * op.channels) {
            let d = try grid.dirtyImage(of: Array(vis.data[(p * k2)..<((p + 1) * k2)]))
            out.data.replaceSubrange((p * n * n)..<((p + 1) * n * n), with: d)
        }
        return out
    }
}
