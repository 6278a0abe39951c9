// The world coordinate system of a FITS header, parsed and evaluated by wcslib
// (Calabretta & Greisen 2002, FITS WCS papers I–III; the library ds9 and astropy use).
//
// Conventions:
// - pixel coordinates are FITS 1-based (the centre of the first pixel is 1.0), as wcslib takes them;
// - world coordinates are in wcslib's canonical units after wcsset: degrees for celestial axes;
// - the primary description (alternate ' ') is the one read; keywords are accepted with
//   WCSHDR_all (EPOCH, CROTAn, VELREF, … as astropy's `relax=True`);
// - "celestial" means wcslib found a longitude/latitude pair (RA/DEC, GLON/GLAT, …): only then
//   does the image have a sky scale. A blank or linear CTYPE (e.g. CDELT = 1 in pixel units)
//   is a WCS with no sky scale.
import CWCSLIB
import Foundation

/// Owns one wcsprm (allocated by `tweedie_wcs_alloc`, filled by wcssub, set by wcsset) and frees it.
/// `@unchecked Sendable`: the wcsprm is set once in `init` and every later use holds `lock`.
final class WCSHandle: @unchecked Sendable {
    let prm: UnsafeMutablePointer<wcsprm>
    let lock = NSLock()
    init(_ prm: UnsafeMutablePointer<wcsprm>) { self.prm = prm }
    deinit { tweedie_wcs_release(prm) }
}

/// wcspih calls are serialised: whether its header scanner is re-entrant depends on the wcslib build.
private let wcspihLock = NSLock()

/// A FITS WCS as wcslib reads it: axis types and units, reference pixel and value, the
/// pixel → intermediate-world matrix, the celestial axes and reference frame, and the
/// pixel ↔ world transforms.
public struct WCS: Equatable, Sendable {
    /// CTYPEi and CUNITi per WCS axis (blank when absent).
    public let ctype: [String]
    public let cunit: [String]
    /// CRPIXi (1-based) and CRVALi (canonical units: degrees for celestial axes).
    public let crpix: [Double]
    public let crval: [Double]
    /// The pixel → intermediate-world matrix PCi_j·CDELTi (or CDi_j), row i = world axis.
    public let cd: [[Double]]
    /// 0-based indices of the celestial longitude and latitude axes; nil for a non-celestial WCS.
    public let longitudeAxis: Int?
    public let latitudeAxis: Int?
    /// Reference frame (RADESYS, as wcsset resolves it: ICRS, FK5, FK4, …) and EQUINOX (years) of a
    /// celestial WCS; blank / nil otherwise.
    public let radesys: String
    public let equinox: Double?
    let handle: WCSHandle

    /// Number of WCS axes.
    public var axisCount: Int { ctype.count }
    /// True when the WCS has a celestial longitude/latitude pair.
    public var isCelestial: Bool { longitudeAxis != nil && latitudeAxis != nil }

    /// Pixel scale along x and y (pixel axes 1 and 2) in arcsec, from the celestial rows of the
    /// linear matrix; nil for a non-celestial WCS, which has no sky scale.
    public var pixelScaleArcsec: (x: Double, y: Double)? {
        guard let lng = longitudeAxis, let lat = latitudeAxis, axisCount >= 2 else { return nil }
        func scale(_ j: Int) -> Double { (cd[lng][j] * cd[lng][j] + cd[lat][j] * cd[lat][j]).squareRoot() * 3600 }
        return (scale(0), scale(1))
    }

    public static func == (a: WCS, b: WCS) -> Bool {
        a.ctype == b.ctype && a.cunit == b.cunit && a.crpix == b.crpix && a.crval == b.crval && a.cd == b.cd
            && a.longitudeAxis == b.longitudeAxis && a.latitudeAxis == b.latitudeAxis
            && a.radesys == b.radesys && a.equinox == b.equinox
    }

    /// The header's primary WCS; nil when it has no WCS keywords; throws when wcslib rejects them.
    public static func parse(_ header: FITSHeader) throws -> WCS? {
        var text = ""
        var count: Int32 = 0
        for card in header.cards {
            if let record = wcsRecord(card) { text += record; count += 1 }
        }
        guard count > 0 else { return nil }
        var chars = Array(text.utf8CString)
        var nreject: Int32 = 0, nwcs: Int32 = 0
        var array: UnsafeMutablePointer<wcsprm>? = nil
        let status = wcspihLock.withLock {
            wcspih(&chars, count, Int32(WCSHDR_all), 0, &nreject, &nwcs, &array)
        }
        guard status == 0 else {
            throw TweedieError.invalidInput(what: "FITS header WCS", problem: "wcslib could not parse it (wcspih status \(status))")
        }
        defer { if array != nil { _ = wcsvfree(&nwcs, &array) } }
        guard nwcs > 0, let array else { return nil }
        guard let prm = tweedie_wcs_alloc() else { throw TweedieError.invalidInput(what: "FITS header WCS", problem: "out of memory") }
        let handle = WCSHandle(prm)
        let first = tweedie_wcs_at(array, 0)!
        guard first.pointee.naxis > 0 else { return nil }  // only date / frame keywords, no axes
        var st = wcssub(1, first, nil, nil, prm)
        if st == 0 { st = wcsset(prm) }
        guard st == 0 else {
            throw TweedieError.invalidInput(what: "FITS header WCS",
                                            problem: "wcslib rejects it: \(String(cString: tweedie_wcs_errmsg(st))); fix the CTYPE/CRVAL/CDELT/CD cards")
        }
        return WCS(handle: handle)
    }

    private init(handle: WCSHandle) {
        let w = handle.prm.pointee
        let n = Int(w.naxis)
        let p = handle.prm
        func trimmed(_ c: UnsafePointer<CChar>) -> String { String(cString: c).trimmingCharacters(in: .whitespaces) }
        ctype = (0..<n).map { trimmed(tweedie_wcs_ctype(p, Int32($0))) }
        cunit = (0..<n).map { trimmed(tweedie_wcs_cunit(p, Int32($0))) }
        crpix = (0..<n).map { w.crpix[$0] }
        crval = (0..<n).map { w.crval[$0] }
        cd = (0..<n).map { i in (0..<n).map { j in tweedie_wcs_piximg(p, Int32(i), Int32(j)) } }
        let celestial = w.lng >= 0 && w.lat >= 0
        longitudeAxis = celestial ? Int(w.lng) : nil
        latitudeAxis = celestial ? Int(w.lat) : nil
        radesys = celestial ? trimmed(tweedie_wcs_radesys(p)) : ""
        equinox = celestial && !w.equinox.isNaN && w.equinox != UNDEFINED ? w.equinox : nil
        self.handle = handle
    }

    /// World coordinates of 1-based pixel coordinates (one value per WCS axis), by wcsp2s.
    public func world(pixel: [Double]) throws -> [Double] {
        guard pixel.count == axisCount else {
            throw TweedieError.invalidInput(what: "pixel coordinates", problem: "\(pixel.count) given for a WCS of \(axisCount) axes")
        }
        let n = axisCount
        var imgcrd = [Double](repeating: 0, count: n), world = [Double](repeating: 0, count: n)
        var phi = 0.0, theta = 0.0, stat: Int32 = 0
        let status = handle.lock.withLock { wcsp2s(handle.prm, 1, Int32(n), pixel, &imgcrd, &phi, &theta, &world, &stat) }
        guard status == 0 else {
            throw TweedieError.invalidInput(what: "pixel \(pixel)", problem: String(cString: tweedie_wcs_errmsg(status)))
        }
        return world
    }

    /// 1-based pixel coordinates of world coordinates (one value per WCS axis), by wcss2p.
    public func pixel(world: [Double]) throws -> [Double] {
        guard world.count == axisCount else {
            throw TweedieError.invalidInput(what: "world coordinates", problem: "\(world.count) given for a WCS of \(axisCount) axes")
        }
        let n = axisCount
        var imgcrd = [Double](repeating: 0, count: n), pixel = [Double](repeating: 0, count: n)
        var phi = 0.0, theta = 0.0, stat: Int32 = 0
        let status = handle.lock.withLock { wcss2p(handle.prm, 1, Int32(n), world, &phi, &theta, &imgcrd, &pixel, &stat) }
        guard status == 0 else {
            throw TweedieError.invalidInput(what: "world coordinates \(world)", problem: String(cString: tweedie_wcs_errmsg(status)))
        }
        return pixel
    }

    /// One card as an 80-character header record for wcspih, or nil for a card wcslib never reads
    /// (commentary, HIERARCH, structural keywords, values that do not fit one record).
    static func wcsRecord(_ card: FITSCard) -> String? {
        let k = card.keyword
        guard !k.isEmpty, k.count <= 8, k != "COMMENT", k != "HISTORY", k != "CONTINUE",
              !FITSHeader.structuralKeywords.contains(k), !k.hasPrefix("NAXIS") else { return nil }
        let value: String
        switch card.value {
        case let .string(s):
            var inner = FITSCard.asciiText(s).replacingOccurrences(of: "'", with: "''")
            while inner.count < 8 { inner += " " }
            value = "'" + inner + "'"
        case let .int(i): value = String(repeating: " ", count: max(0, 20 - String(i).count)) + String(i)
        case let .double(d):
            guard d.isFinite else { return nil }
            let t = FITSCardCoding.formatReal(d)
            value = String(repeating: " ", count: max(0, 20 - t.count)) + t
        case let .bool(b): value = String(repeating: " ", count: 19) + (b ? "T" : "F")
        case .none: return nil
        }
        let record = k.padding(toLength: 8, withPad: " ", startingAt: 0) + "= " + value
        guard record.count <= 80 else { return nil }
        return record.padding(toLength: 80, withPad: " ", startingAt: 0)
    }
}
