// The operators of the exact-oracle calibration study (issue 8): a spec entry's
// typed operator chain on the prior grid, or a UV sampling operator from an
// antenna layout in ENU metres (Earth-rotation synthesis over the entry's hour
// angles at one frequency; pixel-cell size in arcsec). Exact posteriors need a
// linear operator, so a nonlinear chain is refused.
import Foundation
import TweedieCore
import TweedieOperators
import TweedieSampling

extension CalibrationSpec.OperatorEntry {
    /// Builds the operator on a prior grid of `shape` with pixels of `pixelScaleArcsec`.
    public func build(priorShape shape: ImageShape, pixelScaleArcsec: Double) throws -> any ForwardOperator {
        let op: any ForwardOperator
        if let chain {
            let spec = OperatorSpec(prior: .init(height: shape.height, width: shape.width, channels: shape.channels,
                                                 pixelScaleArcsec: pixelScaleArcsec),
                                    chain: chain)
            let built = try spec.build()
            op = built.steps.count == 1 ? built.steps[0] : built.forwardOperator
        } else {
            op = try buildUV(uv!, shape: shape)
        }
        guard op.isLinear else {
            throw TweedieError.invalidInput(what: "calibration operator '\(name)'", problem: "is not linear; exact posteriors need a linear operator")
        }
        return op
    }

    private func buildUV(_ uv: CalibrationSpec.UVSetup, shape: ImageShape) throws -> any ForwardOperator {
        let what = "calibration operator '\(name)' (uv)"
        guard shape.height == shape.width else {
            throw TweedieError.invalidInput(what: what, problem: "needs a square prior image, got \(shape)")
        }
        guard uv.antennas.allSatisfy({ $0.count == 3 }) else {
            throw TweedieError.invalidInput(what: what, problem: "antennas must be [east, north, up] triples in metres")
        }
        guard uv.hourAngles.count == 2 else {
            throw TweedieError.invalidInput(what: what, problem: "hour_angles must be [start, end] in hours")
        }
        let site = ObservatorySite(name: "calibration", latitudeDegrees: uv.latitude, longitudeDegrees: 0)
        let enu = uv.antennas.map { (east: $0[0], north: $0[1], up: $0[2]) }
        let cfg = try AntennaConfiguration(enu: enu, diameters: [Double](repeating: uv.dish, count: enu.count), site: site)
        let samples = try EarthRotationSynthesis.coverage(
            of: cfg, setup: SynthesisSetup(declinationDegrees: uv.declination, hourAngleStart: uv.hourAngles[0],
                                           hourAngleEnd: uv.hourAngles[1], integrationSeconds: uv.integration,
                                           frequencies: [uv.frequency]))
        let grid = try UVGrid(samples: samples, imageSize: shape.width, cell: uv.cellArcsec * Double.pi / 180 / 3600)
        let beam: PrimaryBeam
        switch (uv.primaryBeam ?? "none").lowercased() {
        case "none": beam = .unity
        case "gaussian": beam = try PrimaryBeam(shape: .gaussian, diameter: uv.dish, frequency: uv.frequency)
        default: throw TweedieError.invalidInput(what: what, problem: "primary_beam must be none or gaussian, got '\(uv.primaryBeam!)'")
        }
        return try UVSamplingOperator(grid: grid, primaryBeam: beam, channels: shape.channels)
    }
}
