// Writing Float32 FITS images and cubes through CFITSIO, several HDUs per file,
// atomically (DESIGN §2 "Outputs", §6 provenance keywords).
//
// Layout written (inverse of FITSReader): BITPIX = −32; NAXIS1 = x, NAXIS2 = y,
// NAXIS3 = band when the image has more than one channel, NAXIS4 = image when
// the batch holds more than one; NaN stays NaN (the IEEE null of float FITS).
// The first HDU is the primary array, the others IMAGE extensions; each gets
// EXTNAME when a name is given.
//
// Header of each HDU, in order:
// 1. every card of the batch's `header` except the structural ones CFITSIO
//    regenerates (`FITSHeader.structuralKeywords`, NAXISn, Z*/T* table keys),
//    EXTNAME, BUNIT, BANDn, DATE and the provenance keywords below — so WCS,
//    observation keywords, COMMENT and HISTORY carry over from the input; the WCS is
//    completed for the written array (a third axis for band cubes, RADESYS/EQUINOX;
//    FITSHeader.completingWCS);
// 2. BUNIT from `unit` (written when non-nil; '' = dimensionless or unknown), BAND1…BANDn from `bands` (when one per channel);
// 3. provenance: CREATOR = 'tweedie <version>', TWVERSN = '<version>',
//    TWCMD = '<command line>' (long-string CONTINUE convention when needed),
//    the caller's extra cards (they replace carried cards of the same keyword),
//    DATE = UTC time of writing.
import CFITSIO
import Foundation

/// Provenance written into every HDU of an output file.
public struct FITSProvenance: Sendable {
    /// The command line that produced the file (TWCMD), if any.
    public var commandLine: String?
    /// Further cards (seed, prior name and hash, operator summary, …).
    public var extraCards: [FITSCard]

    public init(commandLine: String? = nil, extraCards: [FITSCard] = []) {
        self.commandLine = commandLine
        self.extraCards = extraCards
    }

    /// Keywords the writer owns; carried-over cards with these names are dropped.
    public static let ownedKeywords: Set<String> = ["CREATOR", "TWVERSN", "TWCMD", "DATE"]
}

/// Writes Float32 images, cubes and multi-HDU files atomically.
public enum FITSWriter {
    /// Writes one image (or cube) as the primary HDU of `path`.
    public static func write(_ image: ImageBatch, to path: String, extname: String? = nil,
                             provenance: FITSProvenance = FITSProvenance()) throws {
        try write(hdus: [(name: extname, image: image)], to: path, provenance: provenance)
    }

    /// Writes several images into one file: the first as the primary HDU, the rest
    /// as IMAGE extensions, each named by its `name` (EXTNAME) when given.
    /// Replaces `path` atomically; on any failure nothing is created or changed.
    public static func write(hdus: [(name: String?, image: ImageBatch)], to path: String,
                             provenance: FITSProvenance = FITSProvenance()) throws {
        guard !hdus.isEmpty else {
            throw TweedieError.invalidInput(what: path, problem: "nothing to write (no HDUs given)")
        }
        for (i, hdu) in hdus.enumerated() {
            let s = hdu.image.shape
            guard hdu.image.count > 0, s.width > 0, s.height > 0, s.channels > 0 else {
                throw TweedieError.invalidInput(what: path, problem: "HDU \(i) is empty (\(hdu.image.count) × \(s)); FITS images need at least one pixel")
            }
        }
        try AtomicFileWrite.write(to: path) { tmp in
            let handle = try FITSFileHandle.create(tmp, reportAs: path)
            for (i, hdu) in hdus.enumerated() {
                try writeHDU(handle, index: i, name: hdu.name, image: hdu.image, provenance: provenance, path: path)
            }
            try handle.close(reportAs: path)
        }
    }

    static func writeHDU(_ handle: FITSFileHandle, index: Int, name: String?, image: ImageBatch,
                         provenance: FITSProvenance, path: String) throws {
        let f = handle.file
        let s = image.shape
        var naxes: [Int64] = [Int64(s.width), Int64(s.height)]
        if s.channels > 1 || image.count > 1 { naxes.append(Int64(s.channels)) }
        if image.count > 1 { naxes.append(Int64(image.count)) }
        var status: Int32 = 0
        ffcrimll(f, FLOAT_IMG, Int32(naxes.count), &naxes, &status)
        try check(status, path, "cannot create HDU \(index)")

        func fail(_ status: Int32, _ keyword: String) throws {
            try check(status, path, "cannot write keyword \(keyword) in HDU \(index)")
        }
        let extraKeys = Set(provenance.extraCards.map(\.keyword))
        // 1. Carried-over cards, the WCS completed for this array (FITSWCSCompletion.swift).
        let carried = image.header?.completingWCS(axisCount: naxes.count)
        for card in carried?.cards ?? [] where carries(card) && !extraKeys.contains(card.keyword) {
            try writeCard(f, card, &status)
            try fail(status, card.keyword)
        }
        // 2. Name, unit, bands.
        if let name, !name.isEmpty {
            ffpkls(f, "EXTNAME", FITSCard.asciiText(name), "name of this HDU", &status); try fail(status, "EXTNAME")
        }
        if let unit = image.unit {
            ffpkls(f, "BUNIT", FITSCard.asciiText(unit), unit.isEmpty ? "dimensionless, or no unit given" : "physical unit of the values", &status)
            try fail(status, "BUNIT")
        }
        if image.bands.count == s.channels {
            for (b, band) in image.bands.enumerated() {
                ffpkls(f, "BAND\(b + 1)", FITSCard.asciiText(band), "band of plane \(b + 1) along NAXIS3", &status)
                try fail(status, "BAND\(b + 1)")
            }
        }
        // 3. Provenance.
        ffpkls(f, "CREATOR", "tweedie \(TweedieVersion.string)", "software that wrote this file", &status)
        try fail(status, "CREATOR")
        ffpkls(f, "TWVERSN", TweedieVersion.string, "Tweedie version", &status)
        try fail(status, "TWVERSN")
        if let command = provenance.commandLine {
            ffpkls(f, "TWCMD", FITSCard.asciiText(command), "command line", &status)
            try fail(status, "TWCMD")
        }
        for card in provenance.extraCards {
            try writeCard(f, card, &status)
            try fail(status, card.keyword)
        }
        ffpdat(f, &status)
        try fail(status, "DATE")

        // 4. Pixels.
        let n = image.valueCount
        image.data.withUnsafeBufferPointer { d in
            _ = ffppre(f, 1, 1, Int64(n), UnsafeMutablePointer(mutating: d.baseAddress), &status)
        }
        try check(status, path, "cannot write the pixels of HDU \(index)")
    }

    /// True when a carried-over card belongs in the output header.
    static func carries(_ card: FITSCard) -> Bool {
        let keyword = card.keyword
        if FITSHeader.structuralKeywords.contains(keyword) || FITSProvenance.ownedKeywords.contains(keyword) { return false }
        if keyword == "EXTNAME" || keyword == "BUNIT" || keyword == "CONTINUE" { return false }
        for prefix in ["NAXIS", "ZNAXIS", "ZTILE", "ZNAME", "ZVAL", "TTYPE", "TFORM", "TUNIT", "TDIM", "BAND"] {
            if keyword.hasPrefix(prefix), let n = Int(keyword.dropFirst(prefix.count)), n > 0 { return false }
        }
        // The two COMMENT cards CFITSIO adds to every primary header: it adds them again.
        if keyword == "COMMENT" && cfitsioBoilerplate.contains(where: { card.comment.hasPrefix($0) }) { return false }
        return true
    }

    static let cfitsioBoilerplate = ["  FITS (Flexible Image Transport System) format is defined in 'Astronomy",
                                     "  and Astrophysics', volume 376, page 359; bibcode: 2001A&A...376..359H"]

    /// Writes one card with CFITSIO: strings through the long-string (CONTINUE) writer, every
    /// string and comment made printable ASCII first (`FITSCard.asciiText`).
    static func writeCard(_ f: UnsafeMutablePointer<fitsfile>, _ card: FITSCard, _ status: inout Int32) throws {
        let comment = FITSCard.asciiText(card.comment)
        switch card.keyword {
        case "COMMENT":
            ffpcom(f, comment, &status); return
        case "HISTORY":
            ffphis(f, comment, &status); return
        case "":
            let text = String(("        " + comment).prefix(80))
            ffprec(f, text, &status); return
        default:
            break
        }
        switch card.value {
        case let .string(s):
            ffpkls(f, card.keyword, FITSCard.asciiText(s), comment, &status)
        case .none:
            ffpkyu(f, card.keyword, comment, &status)
        case let .int(i):
            try writeFormatted(f, card.keyword, String(i), comment, &status)
        case let .bool(b):
            try writeFormatted(f, card.keyword, b ? "T" : "F", comment, &status)
        case let .double(d):
            if d.isFinite {
                try writeFormatted(f, card.keyword, FITSCardCoding.formatReal(d), comment, &status)
            } else {
                ffpkls(f, card.keyword, "\(d)", comment, &status)  // FITS has no NaN/Inf literal
            }
        }
    }

    /// Builds a card from a formatted value with ffmkky (handles HIERARCH) and appends it.
    static func writeFormatted(_ f: UnsafeMutablePointer<fitsfile>, _ keyword: String, _ value: String,
                               _ comment: String, _ status: inout Int32) throws {
        var card = [CChar](repeating: 0, count: Int(FLEN_CARD))
        var valueBuffer = Array(value.utf8CString)
        ffmkky(keyword, &valueBuffer, comment, &card, &status)
        if status == 0 { ffprec(f, card, &status) }
    }

    static func check(_ status: Int32, _ path: String, _ doing: String) throws {
        if status != 0 { throw FITSFileHandle.error(path, status, doing: doing) }
    }
}
