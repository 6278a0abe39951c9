// The `uv` step of an operator spec (OperatorSpec.swift; DESIGN §3 "UV masking";
// paper 000 §2: ALMA Band 6, 20 min at transit, noise rms ≈ 50 µJy):
//
//   - uv:
//       config: ../shared/data/antennas/alma.cycle10.3.cfg   # CASA .cfg, relative to the spec file
//       declination: -23          # degrees
//       hour_angle: [-0.1667, 0.1667]   # hours (20 min centred on transit)
//       frequency: 230e9          # Hz, or a list [f1, f2, …] (all gridded together)
//       integration: 60           # s per dump (default 60)
//       min_elevation: 0          # degrees (default 0)
//       weighting: natural        # natural (default) | uniform | briggs (+ robust: R, default 0)
//       dish_diameter: 12         # optional: Gaussian primary beam, FWHM 1.13 λ/D (primary_beam: airy for Airy)
//       noise_rms: 5.0e-5         # Jy/beam: rms of the natural-weighted dirty image (needed by simulate / sample)
//
// The image size N and the cell Δl come from the grid at this point of the
// chain: it must be square with a known arcsec pixel scale. A uv step must be
// the last step: its output is visibilities (C × K × 2, UVSamplingOperator).
//
// Noise. `noise_rms` is σ_D, the rms of the natural-weighted dirty image
// D = Σ_c N_c Re(V_c e^{iθ_c}) / Σ_c N_c (DirtyImaging.swift; N_c the natural
// weight of half-plane cell c, ΣN = the number of gridded measurements when
// every measurement has weight 1). With per-cell σ_c = s/√N_c for each of the
// real and imaginary parts (VisibilityNoiseModel), Re(n_c e^{iθ}) has variance
// σ_c² at every pixel, so
//     σ_D² = Σ_c N_c² σ_c² / (Σ_c N_c)² = s² / Σ_c N_c,   i.e.   s = σ_D · √(Σ_c N_c),
// the same at every pixel (the dirty-image noise is stationary). For another
// imaging weighting W the dirty-image rms is √(Σ W_c² σ_c²) / Σ W_c
// (`dirtyImageRMS`); the likelihood itself never depends on the imaging weighting.

import Foundation
import TweedieCore

/// Reads an antenna configuration from a path named in a spec.
public typealias AntennaConfigurationLoader = @Sendable (_ path: String) throws -> AntennaConfiguration

extension OperatorSpec {
    public struct UV: Codable, Sendable, Equatable {
        public var config: String
        public var declination: Double
        public var hourAngle: [Double]
        public var frequency: [Double]
        public var integration: Double?
        public var minElevation: Double?
        public var weighting: String?
        public var robust: Double?
        public var dishDiameter: Double?
        public var primaryBeam: String?
        public var noiseRMS: Double?

        enum CodingKeys: String, CodingKey, CaseIterable {
            case config, declination, hourAngle = "hour_angle", frequency, integration, minElevation = "min_elevation"
            case weighting, robust, dishDiameter = "dish_diameter", primaryBeam = "primary_beam", noiseRMS = "noise_rms"
        }

        public init(config: String, declination: Double, hourAngle: [Double], frequency: [Double],
                    integration: Double? = nil, minElevation: Double? = nil, weighting: String? = nil, robust: Double? = nil,
                    dishDiameter: Double? = nil, primaryBeam: String? = nil, noiseRMS: Double? = nil) {
            self.config = config; self.declination = declination; self.hourAngle = hourAngle; self.frequency = frequency
            self.integration = integration; self.minElevation = minElevation; self.weighting = weighting; self.robust = robust
            self.dishDiameter = dishDiameter; self.primaryBeam = primaryBeam; self.noiseRMS = noiseRMS
        }

        public init(from decoder: Decoder) throws {
            try rejectUnknownKeys(decoder, CodingKeys.self, in: "uv")
            let c = try decoder.container(keyedBy: CodingKeys.self)
            func need<T: Decodable>(_ t: T.Type, _ k: CodingKeys, _ hint: String) throws -> T {
                guard let v = try c.decodeIfPresent(t, forKey: k) else {
                    throw TweedieError.invalidInput(what: "operator spec uv", problem: "needs \(k.stringValue): (\(hint))")
                }
                return v
            }
            config = try need(String.self, .config, "a CASA antenna configuration file, relative to the spec")
            declination = try need(Double.self, .declination, "source declination in degrees")
            hourAngle = try need([Double].self, .hourAngle, "[start, end] in hours, e.g. [-0.1667, 0.1667] for 20 min at transit")
            if let one = try? c.decodeIfPresent(Double.self, forKey: .frequency) {
                frequency = [one]
            } else {
                frequency = try need([Double].self, .frequency, "observing frequency in Hz, or a list")
            }
            integration = try c.decodeIfPresent(Double.self, forKey: .integration)
            minElevation = try c.decodeIfPresent(Double.self, forKey: .minElevation)
            weighting = try c.decodeIfPresent(String.self, forKey: .weighting)
            robust = try c.decodeIfPresent(Double.self, forKey: .robust)
            dishDiameter = try c.decodeIfPresent(Double.self, forKey: .dishDiameter)
            primaryBeam = try c.decodeIfPresent(String.self, forKey: .primaryBeam)
            noiseRMS = try c.decodeIfPresent(Double.self, forKey: .noiseRMS)
        }

        /// The visibility weighting named by `weighting` / `robust`.
        public func uvWeighting(what: String) throws -> UVWeighting {
            switch weighting ?? "natural" {
            case "natural", "uniform":
                guard robust == nil else {
                    throw TweedieError.invalidInput(what: what, problem: "robust: applies to weighting: briggs only")
                }
                return weighting == "uniform" ? .uniform : .natural
            case "briggs": return .briggs(robust: robust ?? 0)
            case let other:
                throw TweedieError.invalidInput(what: what, problem: "weighting '\(other)' is unknown; use natural, uniform or briggs")
            }
        }

        /// Builds the UV operator on an N×N grid of `pixelScaleArcsec` pixels with `shape.channels` channels.
        func build(what: String, shape: ImageShape, pixelScaleArcsec: Double?, kpc: Double?,
                   loader: AntennaConfigurationLoader?) throws -> UVChainStep {
            guard shape.height == shape.width else {
                throw TweedieError.invalidInput(what: what, problem: "the grid here is \(shape.width)×\(shape.height) px; a uv step needs a square grid (resample it first)")
            }
            guard let cellArcsec = pixelScaleArcsec else {
                throw TweedieError.invalidInput(
                    what: what,
                    problem: kpc != nil ? "the grid's pixel scale is in kpc; a uv step needs arcsec/pixel (add a resample step with pixel_scale:, or give the prior pixel_scale_arcsec)"
                                        : "the grid's pixel scale is unknown; give the prior's pixel_scale_arcsec: (a uv step needs the cell in arcsec)")
            }
            guard hourAngle.count == 2 else {
                throw TweedieError.invalidInput(what: what, problem: "hour_angle must be [start, end] in hours, got \(hourAngle.count) value(s)")
            }
            if let r = noiseRMS, !(r.isFinite && r > 0) {
                throw TweedieError.invalidInput(what: what, problem: "noise_rms \(r) must be > 0 (Jy/beam of the natural-weighted dirty image)")
            }
            let weighting = try uvWeighting(what: what)
            let setup = SynthesisSetup(declinationDegrees: declination, hourAngleStart: hourAngle[0], hourAngleEnd: hourAngle[1],
                                       integrationSeconds: integration ?? 60, frequencies: frequency,
                                       minimumElevationDegrees: minElevation ?? 0)
            do { try setup.validate() } catch let e as TweedieError {
                throw TweedieError.invalidInput(what: what, problem: e.description)
            }
            let array: AntennaConfiguration
            do {
                array = try loader.map { try $0(config) } ?? AntennaConfiguration(contentsOf: config)
            } catch let e as TweedieError {
                throw TweedieError.invalidInput(what: what + " config", problem: e.description)
            }
            let samples = try EarthRotationSynthesis.coverage(of: array, setup: setup)
            let cell = cellArcsec * .pi / 180 / 3600
            let grid = try UVGrid(samples: samples, imageSize: shape.width, cell: cell, weighting: weighting)
            var warnings: [String] = []
            if grid.droppedSamples > 0 {
                warnings.append("uv: \(grid.droppedSamples) of \(samples.count) samples lie beyond the grid's edge (baselines finer than the \(cellArcsec)″ pixels resolve) and are dropped")
            }
            let beam: PrimaryBeam
            switch (primaryBeam ?? (dishDiameter == nil ? "none" : "gaussian"), dishDiameter) {
            case ("none", _): beam = .unity
            case let (kind, d?):
                guard let s = PrimaryBeamShape(rawValue: kind) else {
                    throw TweedieError.invalidInput(what: what, problem: "primary_beam '\(kind)' is unknown; use gaussian, airy or none")
                }
                beam = try PrimaryBeam(shape: s, diameter: d, frequency: grid.frequency)
            case let (kind, nil):
                throw TweedieError.invalidInput(what: what, problem: "primary_beam \(kind) needs dish_diameter: (metres)")
            }
            let op = try UVSamplingOperator(grid: grid, primaryBeam: beam, channels: shape.channels)
            return UVChainStep(forwardOperator: op, noiseRMS: noiseRMS, cellArcsec: cellArcsec, array: array.summary,
                               warnings: warnings)
        }
    }
}

/// The radio end of a built chain: the UV operator, its noise level and what it was made from.
public struct UVChainStep: Sendable {
    public let forwardOperator: UVSamplingOperator
    /// σ_D, Jy/beam (natural-weighted dirty-image rms), when the spec gives it.
    public let noiseRMS: Double?
    public let cellArcsec: Double
    public let array: String
    public let warnings: [String]

    public var grid: UVGrid { forwardOperator.grid }

    /// The per-cell visibility noise for the spec's `noise_rms` (s = σ_D·√ΣN, file comment).
    public func noiseModel(what: String = "operator spec uv") throws -> VisibilityNoiseModel {
        guard let r = noiseRMS else {
            throw TweedieError.invalidInput(what: what, problem: "has no noise_rms:; give the rms of the natural-weighted dirty image in Jy/beam (e.g. 5.0e-5)")
        }
        return try VisibilityNoiseModel(grid: grid, naturalImageRMS: r, channels: forwardOperator.channels)
    }
}

extension VisibilityNoiseModel {
    /// The noise whose natural-weighted dirty image has rms `naturalImageRMS` (Jy/beam):
    /// unit-weight σ s = σ_D·√(Σ_c N_c) (UVOperatorSpec.swift).
    public init(grid: UVGrid, naturalImageRMS rms: Double, channels: Int = 1) throws {
        guard rms.isFinite, rms > 0 else {
            throw TweedieError.invalidInput(what: "noise_rms", problem: "\(rms) must be > 0 Jy/beam")
        }
        let total = grid.naturalWeight.reduce(0, +)
        try self.init(grid: grid, unitWeightSigma: rms * total.squareRoot(), channels: channels)
    }

    /// The rms of the dirty image of this noise made with imaging weights W (one per cell):
    /// √(Σ_c W_c² σ_c²) / Σ_c W_c (Jy/beam). With the natural weights it is s/√ΣN.
    public func dirtyImageRMS(imagingWeights w: [Double]) -> Double {
        var num = 0.0, den = 0.0
        for c in 0..<min(w.count, cellSigma.count) { num += w[c] * w[c] * cellSigma[c] * cellSigma[c]; den += w[c] }
        return num.squareRoot() / den
    }
}
