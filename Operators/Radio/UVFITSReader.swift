// Reader for random-groups UVFITS visibility files (AIPS Memo 117, "The FITS
// interferometry data interchange format"; DESIGN §3 "UV masking"), via CFITSIO.
//
// What is read:
// - group parameters whose PTYPE starts with UU, VV, WW (e.g. 'UU---SIN', 'UU--'):
//   baseline coordinates in light-seconds, scaled by PSCALn / PZEROn here
//   (CFITSIO returns group parameters unscaled), converted to wavelengths per
//   channel: u_λ = u_s · ν_channel;
// - the data axes NAXIS2… by CTYPE: COMPLEX (re, im, weight — weight 1 when the
//   axis has length 2), STOKES, FREQ, optional IF, RA, DEC;
// - channel frequencies ν = CRVAL + (k + 1 − CRPIX)·CDELT of the FREQ axis, plus the
//   per-IF offset of the AIPS FQ table ('IF FREQ') when there is more than one IF.
// Stokes I per (row, IF, channel): the I correlation when present, otherwise the
// weight-averaged parallel hands, I = (w₁ RR + w₂ LL)/(w₁ + w₂) with weight
// w₁ + w₂ (likewise XX/YY) — for an unpolarised (V = 0, resp. Q = 0) source both
// hands estimate I, and when one hand is flagged the other stands alone.
// Correlations with weight ≤ 0 (flagged) or non-finite values are dropped.
//
// Sign convention: AIPS/UVFITS baselines are xyz(ant1) − xyz(ant2) (AIPS Memo 117;
// MIRIAD and the MeasurementSet use the opposite), which makes the stored pairs
// satisfy V_file(u, v) = ∫ I e^{+2πi(ul + vm)}. Tweedie's convention is e^{−2πi(ul+vm)}
// (UVSamples.swift), so (u, v, w) are negated on reading. Checked on real data:
// with this sign the 3C273 jet in ../shared/data/real/vla_3C273_Xband_C.uvfits
// appears at position angle ≈ 222°, ≈ 21″ from the core, where it is on the sky.

import CFITSIO
import Foundation
import TweedieCore

/// Stokes I visibilities of a UVFITS file plus what the header says about it.
public struct UVFITSData: Sendable {
    /// Stokes I samples (u, v, w in wavelengths, Tweedie's sign convention).
    public var samples: UVSamples
    /// Phase-centre right ascension and declination, degrees (RA/DEC axes or OBSRA/OBSDEC).
    public var phaseCentreRA: Double?
    public var phaseCentreDec: Double?
    /// Equinox of the phase centre in years (EQUINOX, else the AIPS EPOCH keyword), when given:
    /// 1950 means FK4 B1950 coordinates, as in old VLA data.
    public var equinox: Double?
    /// OBJECT and TELESCOP keywords, and DATE-OBS as written (nil when absent).
    public var object: String
    public var telescope: String
    public var dateObs: String?
    /// Rows (groups) in the file, and correlations dropped as flagged (weight ≤ 0 or non-finite).
    public var rowCount: Int
    public var flaggedCount: Int
    /// Which correlations formed Stokes I ("I", "RR/LL" or "XX/YY").
    public var stokesSource: String
}

/// Reads random-groups UVFITS files.
public enum UVFITSReader {
    /// Reads Stokes I visibilities (see the file header for what is read and how).
    public static func read(path: String) throws -> UVFITSData {
        guard FileManager.default.fileExists(atPath: path) else {
            throw TweedieError.io(path: path, problem: "no such file; check the UVFITS path")
        }
        var fptr: UnsafeMutablePointer<fitsfile>?
        var status: Int32 = 0
        tweedie_fits_open_diskfile(&fptr, path, 0, &status)
        guard status == 0, let f = fptr else {
            throw TweedieError.fits(path: path, problem: "cannot open as FITS (\(fitsErrorText(status))); is it a UVFITS file?")
        }
        defer { var s: Int32 = 0; ffclos(f, &s) }
        return try readOpen(f, path: path)
    }

    // MARK: - internals

    private static func fitsErrorText(_ status: Int32) -> String {
        var buffer = [CChar](repeating: 0, count: 32)
        ffgerr(status, &buffer)
        return "CFITSIO status \(status): " + String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private static func string(_ f: UnsafeMutablePointer<fitsfile>, _ key: String) -> String? {
        var value = [CChar](repeating: 0, count: 72)
        var status: Int32 = 0
        ffgkys(f, key, &value, nil, &status)
        guard status == 0 else { return nil }
        return String(decoding: value.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            .trimmingCharacters(in: .whitespaces)
    }

    private static func double(_ f: UnsafeMutablePointer<fitsfile>, _ key: String) -> Double? {
        var value = 0.0
        var status: Int32 = 0
        ffgkyd(f, key, &value, nil, &status)
        return status == 0 ? value : nil
    }

    private struct Axis {
        var type: String, length: Int, stride: Int
        var crval: Double, cdelt: Double, crpix: Double
        func value(_ k: Int) -> Double { crval + (Double(k + 1) - crpix) * cdelt }
    }

    private static func readOpen(_ f: UnsafeMutablePointer<fitsfile>, path: String) throws -> UVFITSData {
        var status: Int32 = 0
        var simple: Int32 = 0, bitpix: Int32 = 0, naxis: Int32 = 0, extend: Int32 = 0
        var naxes = [Int](repeating: 0, count: 16)
        var pcount = 0, gcount = 0
        ffghpr(f, 16, &simple, &bitpix, &naxis, &naxes, &pcount, &gcount, &extend, &status)
        guard status == 0 else {
            throw TweedieError.fits(path: path, problem: "cannot read the primary header (\(fitsErrorText(status)))")
        }
        let groups = string(f, "GROUPS").map { $0.uppercased() == "T" } ?? false
        guard naxis >= 2, naxes[0] == 0, groups || pcount > 0 else {
            throw TweedieError.fits(path: path, problem: "not a random-groups UVFITS file (NAXIS1 = \(naxis > 0 ? naxes[0] : -1), GROUPS \(groups ? "T" : "absent")); give visibilities in UVFITS random-groups form")
        }
        guard gcount > 0 else {
            throw TweedieError.fits(path: path, problem: "the random-groups array has no rows (GCOUNT = \(gcount))")
        }
        // Header sizes are checked before they index or allocate anything (a damaged header).
        guard naxis <= 16, pcount >= 0, pcount <= 1000 else {
            throw TweedieError.fits(path: path, problem: "damaged header: NAXIS = \(naxis), PCOUNT = \(pcount); random groups have at most 16 axes and a few group parameters")
        }

        // Group parameters: find UU, VV, WW and their scalings.
        var uIndex: Int?, vIndex: Int?, wIndex: Int?
        var pscal = [Double](repeating: 1, count: pcount), pzero = [Double](repeating: 0, count: pcount)
        for p in 0..<pcount {
            let type = (string(f, "PTYPE\(p + 1)") ?? "").uppercased()
            pscal[p] = double(f, "PSCAL\(p + 1)") ?? 1
            pzero[p] = double(f, "PZERO\(p + 1)") ?? 0
            if type.hasPrefix("UU") && uIndex == nil { uIndex = p }
            if type.hasPrefix("VV") && vIndex == nil { vIndex = p }
            if type.hasPrefix("WW") && wIndex == nil { wIndex = p }
        }
        guard let ui = uIndex, let vi = vIndex else {
            let types = (0..<pcount).map { string(f, "PTYPE\($0 + 1)") ?? "?" }.joined(separator: ", ")
            throw TweedieError.fits(path: path, problem: "no u, v coordinates: the random-group parameters (\(types.isEmpty ? "none" : types)) include no UU/VV; a UVFITS file needs PTYPEn = 'UU…' and 'VV…' (baseline coordinates in seconds)")
        }

        // Data axes (NAXIS2 … NAXISn), FITS order: the first is fastest.
        var axes: [Axis] = []
        var stride = 1
        for a in 1..<Int(naxis) {
            let k = a + 1
            let type = (string(f, "CTYPE\(k)") ?? "").uppercased()
            axes.append(Axis(type: type, length: naxes[a], stride: stride,
                             crval: double(f, "CRVAL\(k)") ?? 0, cdelt: double(f, "CDELT\(k)") ?? 1,
                             crpix: double(f, "CRPIX\(k)") ?? 1))
            let (next, overflow) = stride.multipliedReportingOverflow(by: naxes[a])
            guard naxes[a] >= 1, !overflow, next <= 1 << 24 else {
                throw TweedieError.fits(path: path, problem: "damaged header: the axes NAXIS2…NAXIS\(naxis) = \(naxes[1..<Int(naxis)].map(String.init).joined(separator: " × ")) give \(overflow ? "more values than an Int holds" : "\(next) values") per visibility row; a UVFITS row holds complex × Stokes × channels × IFs (at most 2²⁴)")
            }
            stride = next
        }
        let perRow = stride
        func axis(_ name: String) -> Axis? { axes.first { $0.type.hasPrefix(name) } }
        guard let complexAxis = axis("COMPLEX"), complexAxis.length >= 2 else {
            throw TweedieError.fits(path: path, problem: "no COMPLEX axis of length ≥ 2 among CTYPE2…CTYPE\(naxis); not UVFITS visibility data")
        }
        guard let stokesAxis = axis("STOKES") else {
            throw TweedieError.fits(path: path, problem: "no STOKES axis among CTYPE2…CTYPE\(naxis)")
        }
        guard let freqAxis = axis("FREQ") else {
            throw TweedieError.fits(path: path, problem: "no FREQ axis among CTYPE2…CTYPE\(naxis); the reference frequency is needed to turn u, v from seconds into wavelengths")
        }
        let ifAxis = axis("IF") ?? Axis(type: "IF", length: 1, stride: 0, crval: 1, cdelt: 1, crpix: 1)
        for other in axes where !["COMPLEX", "STOKES", "FREQ", "IF"].contains(where: { other.type.hasPrefix($0) }) {
            guard other.length == 1 else {
                throw TweedieError.fits(path: path, problem: "axis \(other.type) has length \(other.length); only COMPLEX, STOKES, FREQ and IF may have more than one pixel")
            }
        }

        // Which correlations make Stokes I.
        // Codes outside the standard's −8…4 become 0 (no Stokes parameter), whatever CRVAL/CDELT say.
        let codes = (0..<stokesAxis.length).map { k -> Int in
            let v = stokesAxis.value(k).rounded()
            return v >= -8 && v <= 4 ? Int(v) : 0
        }
        var pair: [Int]
        var stokesSource: String
        if let i = codes.firstIndex(of: 1) {
            pair = [i]; stokesSource = "I"
        } else if let rr = codes.firstIndex(of: -1), let ll = codes.firstIndex(of: -2) {
            pair = [rr, ll]; stokesSource = "RR/LL"
        } else if let xx = codes.firstIndex(of: -5), let yy = codes.firstIndex(of: -6) {
            pair = [xx, yy]; stokesSource = "XX/YY"
        } else {
            throw TweedieError.fits(path: path, problem: "Stokes codes \(codes) contain neither I (1) nor RR/LL (−1, −2) nor XX/YY (−5, −6); cannot form Stokes I")
        }

        // Frequencies: channel grid plus IF offsets from the AIPS FQ table.
        var ifOffsets = [Double](repeating: 0, count: ifAxis.length)
        if ifAxis.length > 1 {
            ifOffsets = try readIFOffsets(f, count: ifAxis.length, path: path)
        }
        var channelFreq: [[Double]] = []   // [if][channel]
        for i in 0..<ifAxis.length {
            channelFreq.append((0..<freqAxis.length).map { freqAxis.value($0) + ifOffsets[i] })
        }
        let allFreqs = channelFreq.flatMap { $0 }
        guard allFreqs.allSatisfy({ $0 > 0 && $0.isFinite }) else {
            throw TweedieError.fits(path: path, problem: "FREQ axis gives non-positive frequencies \(allFreqs.prefix(4)); check CRVAL/CDELT of the FREQ axis")
        }

        // Rows.
        var us: [Double] = [], vs: [Double] = [], ws: [Double] = [], wts: [Double] = []
        var res: [Float] = [], ims: [Float] = []
        var params = [Double](repeating: 0, count: pcount)
        var row = [Double](repeating: 0, count: perRow)
        var flagged = 0
        let hasWeight = complexAxis.length >= 3
        for g in 1...gcount {
            ffggpd(f, g, 1, pcount, &params, &status)
            var anynul: Int32 = 0
            ffgpvd(f, g, 1, Int64(perRow), .nan, &row, &anynul, &status)
            guard status == 0 else {
                throw TweedieError.fits(path: path, problem: "cannot read row \(g) of \(gcount) (\(fitsErrorText(status))); the file may be truncated")
            }
            let uSec = params[ui] * pscal[ui] + pzero[ui]
            let vSec = params[vi] * pscal[vi] + pzero[vi]
            let wSec = wIndex.map { params[$0] * pscal[$0] + pzero[$0] } ?? 0
            for i in 0..<ifAxis.length {
                for c in 0..<freqAxis.length {
                    var sumW = 0.0, sumRe = 0.0, sumIm = 0.0
                    for s in pair {
                        let base = i * ifAxis.stride + c * freqAxis.stride + s * stokesAxis.stride
                        let re = row[base], im = row[base + complexAxis.stride]
                        let wt = hasWeight ? row[base + 2 * complexAxis.stride] : 1
                        guard wt > 0, re.isFinite, im.isFinite, wt.isFinite else { flagged += 1; continue }
                        sumW += wt; sumRe += wt * re; sumIm += wt * im
                    }
                    guard sumW > 0 else { continue }
                    let nu = channelFreq[i][c]
                    // Negate: UVFITS (ant1 − ant2) → Tweedie's e^{−2πi(ul+vm)} convention (file header).
                    us.append(-uSec * nu); vs.append(-vSec * nu); ws.append(-wSec * nu)
                    wts.append(sumW)
                    res.append(Float(sumRe / sumW)); ims.append(Float(sumIm / sumW))
                }
            }
        }
        guard !us.isEmpty else {
            throw TweedieError.fits(path: path, problem: "all \(gcount) rows are flagged (weight ≤ 0); no usable visibilities")
        }
        let ra = axis("RA").map(\.crval) ?? double(f, "OBSRA")
        let dec = axis("DEC").map(\.crval) ?? double(f, "OBSDEC")
        let equinox = (double(f, "EQUINOX") ?? double(f, "EPOCH")).flatMap { $0 > 0 ? $0 : nil }
        let object = string(f, "OBJECT") ?? ""
        let telescope = string(f, "TELESCOP") ?? ""
        let dateObs = string(f, "DATE-OBS")
        let samples = UVSamples(u: us, v: vs, w: ws, weight: wts, real: res, imag: ims, frequencies: allFreqs,
                                origin: "\((path as NSString).lastPathComponent) (\(object), \(telescope), Stokes I from \(stokesSource), \(us.count) visibilities)")
        return UVFITSData(samples: samples, phaseCentreRA: ra, phaseCentreDec: dec, equinox: equinox, object: object,
                          telescope: telescope, dateObs: dateObs, rowCount: gcount, flaggedCount: flagged, stokesSource: stokesSource)
    }

    /// The 'IF FREQ' offsets (Hz) of row 1 of the AIPS FQ table.
    private static func readIFOffsets(_ f: UnsafeMutablePointer<fitsfile>, count: Int, path: String) throws -> [Double] {
        var status: Int32 = 0
        var name = Array("AIPS FQ".utf8CString)
        ffmnhd(f, 2 /* BINARY_TBL */, &name, 0, &status)
        guard status == 0 else {
            throw TweedieError.fits(path: path, problem: "\(count) IFs but no 'AIPS FQ' table giving their frequency offsets")
        }
        var column: Int32 = 0
        var template = Array("IF FREQ".utf8CString)
        ffgcno(f, 0, &template, &column, &status)
        var offsets = [Double](repeating: 0, count: count)
        var anynul: Int32 = 0
        ffgcvd(f, column, 1, 1, Int64(count), 0, &offsets, &anynul, &status)
        guard status == 0 else {
            throw TweedieError.fits(path: path, problem: "cannot read 'IF FREQ' of the AIPS FQ table (\(fitsErrorText(status)))")
        }
        var back: Int32 = 0
        ffmahd(f, 1, nil, &back)
        return offsets
    }
}
