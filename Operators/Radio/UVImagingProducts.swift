// Dirty beam, dirty image and coverage map as FITS-ready images with WCS, for
// `tweedie uv` (DESIGN §3 "UV masking"). Library side, so the CLI stays thin.
//
// Sky images: N×N, `[y][x]`, phase centre on pixel (N/2, N/2) 0-based, i.e.
// CRPIX = N/2 + 1; CTYPE RA---SIN / DEC--SIN, CDELT1 = −Δl (east to the left),
// CDELT2 = +Δl, in degrees. Coverage map: the imaging weights on the full padded
// M×M uv plane (both Hermitian halves), CTYPE 'UU' / 'VV' in wavelengths with
// CDELT1 = −Δu so that it is drawn like the sky (u to the left, UVGrid.swift).

import Foundation
import TweedieCore

/// What `tweedie uv` computes and writes.
public struct UVImagingProducts: Sendable {
    public let grid: UVGrid
    public let samples: UVSamples
    /// N×N dirty beam (peak 1) and, with data, the dirty image (Jy/beam).
    public let beam: [Float]
    public let dirty: [Float]?
    /// Phase centre (degrees), when known.
    public let ra: Double?
    public let dec: Double?
    /// Equinox of the phase centre (years) when the data give one; nil means ICRS.
    public let equinox: Double?
    /// The observation's OBJECT, TELESCOP and DATE-OBS (UVFITS data), carried into every HDU.
    public let observationCards: [FITSCard]
    /// Main-lobe FWHM of the dirty beam along x and y, arcsec.
    public let beamFWHM: (x: Double, y: Double)
    /// Lines describing the run (stdout of the CLI).
    public let report: [String]

    /// Coverage from an antenna configuration and Earth-rotation synthesis.
    public static func synthesise(configuration path: String, setup: SynthesisSetup, size: Int, cellArcsec: Double,
                                  weighting: UVWeighting) throws -> UVImagingProducts {
        let cfg = try AntennaConfiguration(contentsOf: path)
        let samples = try EarthRotationSynthesis.coverage(of: cfg, setup: setup)
        return try make(samples: samples, size: size, cellArcsec: cellArcsec, weighting: weighting,
                        ra: nil, dec: setup.declinationDegrees, equinox: nil, observationCards: [], header: ["array: \(cfg.summary)"])
    }

    /// Dirty image and beam of the Stokes I visibilities of a UVFITS file.
    public static func image(uvfits path: String, size: Int, cellArcsec: Double,
                             weighting: UVWeighting) throws -> UVImagingProducts {
        let data = try UVFITSReader.read(path: path)
        return try make(samples: data.samples, size: size, cellArcsec: cellArcsec, weighting: weighting,
                        ra: data.phaseCentreRA, dec: data.phaseCentreDec, equinox: data.equinox,
                        observationCards: identityCards(data),
                        header: ["data: \(data.rowCount) rows, \(data.samples.count) Stokes I visibilities from \(data.stokesSource), \(data.flaggedCount) flagged correlations dropped"])
    }

    static func make(samples: UVSamples, size: Int, cellArcsec: Double, weighting: UVWeighting,
                     ra: Double?, dec: Double?, equinox: Double?, observationCards: [FITSCard],
                     header: [String]) throws -> UVImagingProducts {
        guard cellArcsec.isFinite, cellArcsec > 0 else {
            throw TweedieError.setting(name: "cell", problem: "\(cellArcsec)″ must be > 0")
        }
        let cell = cellArcsec * .pi / 180 / 3600
        let grid = try UVGrid(samples: samples, imageSize: size, cell: cell, weighting: weighting)
        let beam = try grid.dirtyBeam()
        let dirty = samples.hasVisibilities ? try grid.dirtyImage() : nil
        let w = BeamMeasurement.mainLobeFWHM(beam, size: size)
        let fwhm = (x: w.x * cellArcsec, y: w.y * cellArcsec)
        let bmax = samples.maxBaseline
        var lines = [samples.origin] + header
        lines.append("grid: \(grid.summary)")
        lines.append(String(format: "longest projected baseline %.4g λ → λ/B_max = %.3f″; field %.1f″ (%d × %.3f″)",
                            bmax, 1 / bmax * 180 / .pi * 3600, Double(size) * cellArcsec, size, cellArcsec))
        lines.append(String(format: "dirty beam: peak %.4f, main-lobe FWHM %.3f″ (x) × %.3f″ (y)",
                            BeamMeasurement.peak(beam, size: size).value, fwhm.x, fwhm.y))
        if let d = dirty {
            let p = BeamMeasurement.peak(d, size: size)
            lines.append(String(format: "dirty image: peak %.4g Jy/beam at pixel (%d, %d), offset (%+.2f″ W, %+.2f″ N) from the phase centre",
                                p.value, p.x, p.y, Double(p.x - size / 2) * cellArcsec, Double(p.y - size / 2) * cellArcsec))
        }
        return UVImagingProducts(grid: grid, samples: samples, beam: beam, dirty: dirty, ra: ra, dec: dec, equinox: equinox, observationCards: observationCards,
                                 beamFWHM: fwhm, report: lines)
    }

    /// The HDUs to write: DIRTY (with data), BEAM, COVERAGE.
    public func hdus() throws -> [(name: String?, image: ImageBatch)] {
        let n = grid.imageSize, m = grid.gridSize
        var out: [(name: String?, image: ImageBatch)] = []
        let shape = ImageShape(channels: 1, height: n, width: n)
        if let dirty {
            out.append(("DIRTY", try ImageBatch(count: 1, shape: shape, data: dirty, unit: "Jy/beam",
                                                header: skyHeader([FITSCard(keyword: "COMMENT", value: .none, comment: "dirty image F^-1[W V]/sum W")]))))
        }
        out.append(("BEAM", try ImageBatch(count: 1, shape: shape, data: beam, unit: "",
                                           header: skyHeader([FITSCard(keyword: "COMMENT", value: .none, comment: "dirty beam F^-1[W]/sum W, peak 1")]))))
        let du = grid.cellWavelengths
        let uvHeader = FITSHeader(cards: [
            FITSCard(keyword: "CTYPE1", value: .string("UU"), comment: "u, wavelengths (increasing to the left)"),
            FITSCard(keyword: "CRPIX1", value: .double(Double(m / 2 + 1))),
            FITSCard(keyword: "CRVAL1", value: .double(0)),
            FITSCard(keyword: "CDELT1", value: .double(-du)),
            FITSCard(keyword: "CTYPE2", value: .string("VV"), comment: "v, wavelengths"),
            FITSCard(keyword: "CRPIX2", value: .double(Double(m / 2 + 1))),
            FITSCard(keyword: "CRVAL2", value: .double(0)),
            FITSCard(keyword: "CDELT2", value: .double(du)),
            FITSCard(keyword: "COMMENT", value: .none, comment: "imaging weights W on the padded uv grid, both halves"),
        ] + common)
        out.append(("COVERAGE", try ImageBatch(count: 1, shape: ImageShape(channels: 1, height: m, width: m),
                                               data: grid.coverageMap, unit: "", header: uvHeader)))
        return out
    }

    /// The WCS header of an N×N sky image of this grid (phase centre on CRPIX = N/2 + 1), with the
    /// shared keywords and `extra` cards (used for the CLEAN products too).
    public func skyHeader(_ extra: [FITSCard]) -> FITSHeader {
        let n = grid.imageSize
        let cellDeg = grid.cell * 180 / .pi
        var cards: [FITSCard] = [
            FITSCard(keyword: "CTYPE1", value: .string("RA---SIN")),
            FITSCard(keyword: "CRPIX1", value: .double(Double(n / 2 + 1))),
            FITSCard(keyword: "CRVAL1", value: .double(ra ?? 0), comment: ra == nil ? "phase-centre RA unknown (synthetic)" : "phase-centre RA"),
            FITSCard(keyword: "CDELT1", value: .double(-cellDeg)),
            FITSCard(keyword: "CUNIT1", value: .string("deg")),
            FITSCard(keyword: "CTYPE2", value: .string("DEC--SIN")),
            FITSCard(keyword: "CRPIX2", value: .double(Double(n / 2 + 1))),
            FITSCard(keyword: "CRVAL2", value: .double(dec ?? 0), comment: "phase-centre declination"),
            FITSCard(keyword: "CDELT2", value: .double(cellDeg)),
            FITSCard(keyword: "CUNIT2", value: .string("deg")),
        ] + frameCards
        cards += common
        cards += extra
        return FITSHeader(cards: cards)
    }

    /// The reference frame of the phase centre (FITS WCS paper II §3.1): the data's equinox kept
    /// as given — FK4 before 1984 (B1950 for old VLA data), FK5 after — or ICRS when none is given.
    private var frameCards: [FITSCard] {
        guard let equinox else {
            return [FITSCard(keyword: "RADESYS", value: .string("ICRS"), comment: "no equinox in the data: ICRS")]
        }
        return [FITSCard(keyword: "RADESYS", value: .string(equinox < 1984 ? "FK4" : "FK5"), comment: "frame of the data's phase centre"),
                FITSCard(keyword: "EQUINOX", value: .double(equinox), comment: "equinox of the phase centre, years")]
    }

    /// OBJECT, TELESCOP and DATE-OBS of UVFITS data, those it gives.
    static func identityCards(_ data: UVFITSData) -> [FITSCard] {
        var cards: [FITSCard] = []
        if !data.object.isEmpty { cards.append(FITSCard(keyword: "OBJECT", value: .string(data.object), comment: "source observed")) }
        if !data.telescope.isEmpty { cards.append(FITSCard(keyword: "TELESCOP", value: .string(data.telescope), comment: "telescope")) }
        if let date = data.dateObs, !date.isEmpty { cards.append(FITSCard(keyword: "DATE-OBS", value: .string(date), comment: "date of the observation")) }
        return cards
    }

    /// Keywords shared by every HDU.
    private var common: [FITSCard] {
        var cards = observationCards + [
            FITSCard(keyword: "WEIGHTNG", value: .string(grid.weighting.description), comment: "visibility weighting"),
            FITSCard(keyword: "NVIS", value: .int(grid.griddedSamples), comment: "samples gridded"),
            FITSCard(keyword: "NDROPPED", value: .int(grid.droppedSamples), comment: "samples beyond the grid"),
            FITSCard(keyword: "NCELLS", value: .int(grid.cellCount), comment: "sampled half-plane uv cells"),
            FITSCard(keyword: "UVCELL", value: .double(grid.cellWavelengths), comment: "uv cell, wavelengths (padded 2N grid)"),
            FITSCard(keyword: "BEAMFWX", value: .double(beamFWHM.x), comment: "dirty-beam main-lobe FWHM along x, arcsec"),
            FITSCard(keyword: "BEAMFWY", value: .double(beamFWHM.y), comment: "dirty-beam main-lobe FWHM along y, arcsec"),
        ]
        if grid.frequency > 0 {
            cards.append(FITSCard(keyword: "RESTFRQ", value: .double(grid.frequency), comment: "mean frequency, Hz"))
        }
        if case let .briggs(r) = grid.weighting {
            cards.append(FITSCard(keyword: "ROBUST", value: .double(r), comment: "Briggs robustness"))
        }
        return cards
    }
}

/// Timing of the UV operator (release builds; `tweedie bench uv`).
public enum UVOperatorBenchmark {
    /// Median milliseconds per image for apply and for the adjoint, over `repeats` runs after one warm-up.
    public static func run(_ op: UVSamplingOperator, repeats: Int) throws -> (apply: Double, adjoint: Double) {
        var g = SystemRandomNumberGenerator()
        let x = try ImageBatch(count: 1, shape: op.inputShape,
                               data: (0..<op.inputShape.count).map { _ in Float.random(in: -1...1, using: &g) })
        let v = try op.apply(x)
        _ = try op.adjoint(v)
        var ta: [Double] = [], tb: [Double] = []
        let clock = ContinuousClock()
        for _ in 0..<max(1, repeats) {
            var y: ImageBatch?
            ta.append(ms(clock.measure { y = try? op.apply(x) }))
            tb.append(ms(clock.measure { _ = try? op.adjoint(y!) }))
        }
        return (ta.sorted()[ta.count / 2], tb.sorted()[tb.count / 2])
    }

    private static func ms(_ d: Duration) -> Double {
        Double(d.components.seconds) * 1e3 + Double(d.components.attoseconds) * 1e-15
    }
}

extension UVImagingProducts {
    /// The noiseless dirty image of an N×N sky (flux per pixel, `[y][x]`, phase centre on (N/2, N/2))
    /// observed with this coverage: the UV operator (no primary beam) followed by the dirty imaging.
    public func dirtyImage(ofSky sky: [Float], name: String = "sky model") throws -> [Float] {
        let n = grid.imageSize
        guard sky.count == n * n else {
            throw TweedieError.shapeMismatch(what: name, expected: "\(n)×\(n) pixels (the image size)", got: "\(sky.count) pixels")
        }
        guard sky.allSatisfy({ $0.isFinite }) else {
            throw TweedieError.invalidInput(what: name, problem: "has NaN or infinite pixels; a sky model must be finite everywhere")
        }
        let op = try UVSamplingOperator(grid: grid)
        let vis = try op.apply(ImageBatch(count: 1, shape: op.inputShape, data: sky))
        return try grid.dirtyImage(of: vis.data)
    }
}
