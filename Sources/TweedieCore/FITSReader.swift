// Reading FITS images through CFITSIO (FITS Standard 4.0; tiled image
// compression, Pence et al. 2010, which CFITSIO decompresses transparently).
//
// What it reads: BITPIX 8, 16, 32, 64, −32, −64; physical values
// BZERO + BSCALE · stored (CFITSIO applies the scaling, in double, then rounds
// once to Float32); BLANK (integer images) and NaN (float images) become NaN
// and are flagged in a mask; 2-D images and 3-D cubes; the primary HDU or any
// image extension chosen by number or EXTNAME; tile-compressed images.
//
// Conventions (DESIGN §2):
// - data come back as an `ImageBatch` `[n][c][y][x]`: NAXIS1 = x (fastest),
//   NAXIS2 = y, NAXIS3 = band (channel), an optional NAXIS4 = image in the batch
//   (further axes must have length 1). Index 0 is the first pixel of the file,
//   i.e. FITS pixel (1, 1) — the bottom-left one in the usual display.
// - HDU numbers are 0-based: 0 is the primary HDU, 1 the first extension (astropy's `hdul[i]`).
// - Band names: header keywords BAND1 … BANDn (one string per plane along
//   NAXIS3); for a single-plane image FILTER is used when BAND1 is absent;
//   otherwise `bands` is empty. `FITSWriter` writes BAND1 … BANDn.
// - Every header card is kept, in file order, in `ImageBatch.header`; for a
//   tile-compressed image it is the image header CFITSIO reconstructs
//   (ZBITPIX → BITPIX, …), as astropy shows it. `unit` is BUNIT.
import CFITSIO
import Foundation

/// Which HDU of a FITS file to read.
public enum FITSHDUSelector: Equatable, Sendable, Codable, CustomStringConvertible {
    /// The first HDU that holds image data (the primary HDU unless it is empty).
    case firstImage
    /// HDU number, 0-based: 0 = primary, 1 = first extension.
    case index(Int)
    /// An extension by EXTNAME (or HDUNAME), compared case-insensitively; "PRIMARY" names HDU 0.
    case name(String)

    /// "3" → `.index(3)`, anything else → `.name(...)`.
    public init(parsing text: String) {
        let t = text.trimmingCharacters(in: .whitespaces)
        if let i = Int(t) { self = .index(i) } else { self = .name(t) }
    }

    public var description: String {
        switch self {
        case .firstImage: return "the first image HDU"
        case let .index(i): return "HDU \(i)"
        case let .name(n): return "HDU '\(n)'"
        }
    }
}

/// What one HDU of a file holds (header-level facts only).
public struct FITSHDUSummary: Equatable, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        case image = "image"
        case compressedImage = "tile-compressed image"
        case asciiTable = "ASCII table"
        case binaryTable = "binary table"
    }
    /// 0-based HDU number.
    public var index: Int
    /// EXTNAME (or HDUNAME); "PRIMARY" for HDU 0 without one.
    public var name: String?
    public var kind: Kind
    /// Image axis lengths NAXIS1, NAXIS2, … (empty for NAXIS = 0 and for tables).
    public var naxes: [Int]
    /// BITPIX of the stored image (ZBITPIX for a compressed one); nil for tables.
    public var bitpix: Int?

    public var isImage: Bool { kind == .image || kind == .compressedImage }
    /// True when the HDU is an image with at least one pixel.
    public var hasImageData: Bool { isImage && !naxes.isEmpty && naxes.allSatisfy { $0 > 0 } }

    public var description: String {
        let label = name.map { "\(index) \($0)" } ?? "\(index)"
        if !isImage { return "\(label) (\(kind.rawValue))" }
        if !hasImageData { return "\(label) (empty, NAXIS = \(naxes.count))" }
        return "\(label) (\(kind.rawValue) \(naxes.map(String.init).joined(separator: "×")), BITPIX \(bitpix ?? 0))"
    }
}

/// An image read from a FITS file with everything `tweedie info` reports about it.
public struct FITSImage: Sendable {
    /// The pixels (`count` = NAXIS4 or 1, channels = NAXIS3 or 1), header, unit and bands.
    public var batch: ImageBatch
    /// One flag per value of `batch.data`: true where the pixel is unusable
    /// (BLANK in an integer image, NaN or ±∞ in a float image). Such values are NaN in `batch` (±∞ stay ±∞).
    public var mask: [Bool]
    /// The file it came from.
    public var path: String
    /// The HDU it came from.
    public var hdu: FITSHDUSummary
    /// All HDUs of the file.
    public var allHDUs: [FITSHDUSummary]
    /// Stored BITPIX (ZBITPIX for a tile-compressed image).
    public var bitpix: Int
    /// Scaling applied (1 and 0 when absent).
    public var bscale: Double
    public var bzero: Double
    /// The BLANK value of an integer image, if declared.
    public var blank: Int?
    /// The compression algorithm (ZCMPTYPE) of a tile-compressed image.
    public var compression: String?

    /// The full header (never nil for an image read from a file).
    public var header: FITSHeader { batch.header ?? FITSHeader() }
    /// Number of masked values.
    public var maskedCount: Int { mask.reduce(0) { $0 + ($1 ? 1 : 0) } }
}

/// Reads images from FITS files. Errors are `TweedieError.io` (missing or
/// unreadable file) or `TweedieError.fits` (not FITS, truncated, no such HDU,
/// empty HDU, not an image), each one line naming the file.
public enum FITSReader {
    /// The image in `hdu` of `path`, as a batch with header, unit and band names.
    public static func read(_ path: String, hdu: FITSHDUSelector = .firstImage) throws -> ImageBatch {
        try readImage(path, hdu: hdu).batch
    }

    /// The image in `hdu` of `path` with its mask and file facts.
    public static func readImage(_ path: String, hdu selector: FITSHDUSelector = .firstImage) throws -> FITSImage {
        let (handle, fileSize) = try openChecked(path)
        let hduCount = try handle.hduCount()
        var summaries: [FITSHDUSummary?] = Array(repeating: nil, count: hduCount)
        func summary(_ i: Int) throws -> FITSHDUSummary {
            if let s = summaries[i] { return s }
            let s = try summarize(handle, index: i)
            summaries[i] = s
            return s
        }
        func all() -> [FITSHDUSummary] { (0..<hduCount).compactMap { try? summary($0) } }
        func listing() -> String { all().map(\.description).joined(separator: "; ") }

        // 1. Choose the HDU.
        let chosen: FITSHDUSummary
        switch selector {
        case .firstImage:
            guard let first = try (0..<hduCount).lazy.map(summary).first(where: \.hasImageData) else {
                let s0 = try summary(0)
                let problem = hduCount == 1 && s0.isImage
                    ? "has no image data: its only HDU (the primary) is empty (NAXIS = \(s0.naxes.count))"
                    : "has no image data in any HDU (HDUs: \(listing()))"
                throw TweedieError.fits(path: path, problem: problem)
            }
            chosen = first
        case let .index(i):
            guard i >= 0 && i < hduCount else {
                throw TweedieError.fits(path: path, problem: "has no HDU \(i): it has \(hduCount) (numbered from 0: \(listing()))")
            }
            chosen = try summary(i)
        case let .name(name):
            let wanted = name.uppercased()
            guard let match = try (0..<hduCount).lazy.map(summary).first(where: { ($0.name ?? "").uppercased() == wanted }) else {
                throw TweedieError.fits(path: path, problem: "has no HDU named '\(name)' (HDUs: \(listing()))")
            }
            chosen = match
        }
        guard chosen.isImage else {
            throw TweedieError.fits(path: path, problem: "HDU \(chosen.index)\(chosen.name.map { " (\($0))" } ?? "") is a \(chosen.kind.rawValue), not an image")
        }
        guard chosen.hasImageData else {
            throw TweedieError.fits(path: path, problem: "HDU \(chosen.index)\(chosen.name.map { " (\($0))" } ?? "") is empty (NAXIS = \(chosen.naxes.count)): it holds a header but no image; choose an image HDU (HDUs: \(listing()))")
        }

        // 2. Shape: x, y, band, image; further axes must be 1.
        let naxes = chosen.naxes
        guard naxes.count >= 2 else {
            throw TweedieError.fits(path: path, problem: "HDU \(chosen.index) holds 1-D data (NAXIS = 1, \(naxes[0]) values), not an image")
        }
        if naxes.count > 4, naxes[4...].contains(where: { $0 != 1 }) {
            throw TweedieError.fits(path: path, problem: "HDU \(chosen.index) has \(naxes.count) axes (\(naxes.map(String.init).joined(separator: "×"))); Tweedie reads up to 4 (x, y, band, image), further axes must have length 1")
        }
        let shape = ImageShape(channels: naxes.count >= 3 ? naxes[2] : 1, height: naxes[1], width: naxes[0])
        let count = naxes.count >= 4 ? naxes[3] : 1

        // 3. Truncation, size, header, scaling, data.
        try handle.moveTo(hdu: chosen.index)
        try checkComplete(handle, path: path, fileSize: fileSize, hdu: chosen)
        // A compressed image's size comes from ZNAXISn, not from the stored table checked above; it is
        // checked before the header is read (CFITSIO reconstructs a compressed image's header in a
        // memory file that it sizes for the whole image).
        guard let n = checkedElementCount([count, shape.channels, shape.height, shape.width]), n <= 1 << 33 else {
            throw TweedieError.fits(path: path, problem: "damaged header: HDU \(chosen.index) declares \(sizeCards(chosen)) values, more than any image Tweedie can hold; its NAXISn cards are wrong")
        }
        // Reading takes 6 bytes a value (Float32, a null flag, a mask flag); a tile-compressed
        // image's size is not bounded by the file's, so it is bounded by the machine's memory.
        let memory = ProcessInfo.processInfo.physicalMemory
        if UInt64(n) * 6 > memory / 2 {
            let gib = { (b: UInt64) in String(format: "%.1f GiB", Double(b) / 1_073_741_824) }
            throw TweedieError.fits(path: path, problem: "HDU \(chosen.index) declares \(sizeCards(chosen)) = \(n) values, which need \(gib(UInt64(n) * 6)) to read, more than half of this machine's \(gib(memory)); its NAXISn (ZNAXISn) cards are wrong, or read it on a larger machine")
        }
        let header = try readHeader(handle)
        if let bad = FITSCardCoding.firstUnparsableNumber(in: header.cards) {
            throw TweedieError.fits(path: path, problem: "HDU \(chosen.index) card \(bad.keyword) = '\(bad.value)' is not a number (FITS writes numbers as 8.5, 8.5E0 or 8.5D0); correct the card (e.g. with astropy's fits.setval) and read again")
        }
        let compression = chosen.kind == .compressedImage ? handle.storedString("ZCMPTYPE") : nil
        var data = [Float](repeating: 0, count: n)
        var nulls = [CChar](repeating: 0, count: n)
        var anyNull: Int32 = 0
        var status: Int32 = 0
        if (chosen.bitpix ?? 0) < 0 && chosen.kind == .image {
            // Uncompressed float image: read without CFITSIO's null checking, which would
            // flush −0 and subnormals to +0; NaN is found below.
            data.withUnsafeMutableBufferPointer { d in
                _ = ffgpv(handle.file, TFLOAT, 1, Int64(n), nil, d.baseAddress, &anyNull, &status)
            }
        } else {
            // Integer image (BLANK → null flag) or compressed image (ZBLANK → null flag).
            data.withUnsafeMutableBufferPointer { d in
                nulls.withUnsafeMutableBufferPointer { m in
                    _ = ffgpfe(handle.file, 1, 1, Int64(n), d.baseAddress, m.baseAddress, &anyNull, &status)
                }
            }
        }
        if status == NUM_OVERFLOW {
            throw TweedieError.fits(path: path, problem: "HDU \(chosen.index) has values beyond the Float32 range (±3.4e38); Tweedie computes in Float32")
        }
        if status == END_OF_FILE || status == READ_ERROR {
            throw TweedieError.fits(path: path, problem: "truncated FITS file: the data of HDU \(chosen.index) end before the \(n) values its header declares")
        }
        try handle.check(status, "cannot read the image data of HDU \(chosen.index)")
        var mask = [Bool](repeating: false, count: n)
        data.withUnsafeMutableBufferPointer { d in
            mask.withUnsafeMutableBufferPointer { m in
                nulls.withUnsafeBufferPointer { z in
                    for i in 0..<n {
                        if z[i] != 0 { d[i] = .nan }
                        m[i] = !d[i].isFinite
                    }
                }
            }
        }

        let unit = header.string("BUNIT").flatMap { $0.isEmpty ? nil : $0 }
        var bands: [String] = []
        let bandKeys = (1...max(1, shape.channels)).map { header.string("BAND\($0)") }
        if bandKeys.allSatisfy({ $0 != nil }) {
            bands = bandKeys.map { $0! }
        } else if shape.channels == 1, let filter = header.string("FILTER"), !filter.isEmpty {
            bands = [filter]
        }
        let batch = try ImageBatch(count: count, shape: shape, data: data, bands: bands, unit: unit, header: header)
        return FITSImage(batch: batch, mask: mask, path: path, hdu: chosen, allHDUs: all(),
                         bitpix: chosen.bitpix ?? header.int("BITPIX") ?? 0,
                         bscale: header.double("BSCALE") ?? 1, bzero: header.double("BZERO") ?? 0,
                         blank: (chosen.bitpix ?? 0) > 0 ? header.int("BLANK") : nil,
                         compression: compression)
    }

    /// A one-line summary of every HDU in `path`.
    public static func listHDUs(_ path: String) throws -> [FITSHDUSummary] {
        let (handle, _) = try openChecked(path)
        return try (0..<handle.hduCount()).map { try summarize(handle, index: $0) }
    }

    // MARK: - Pieces

    /// `path` opened for reading after `preflight`, with its size; a failure to open is diagnosed
    /// (`diagnoseOpenFailure`) into one line naming the file.
    static func openChecked(_ path: String) throws -> (FITSFileHandle, fileSize: Int64?) {
        let fileSize = try preflight(path)
        do {
            return (try FITSFileHandle.openForReading(path), fileSize)
        } catch {
            throw diagnoseOpenFailure(path, fileSize: fileSize, underlying: error)
        }
    }

    /// Checks that `path` is a readable regular file that starts like FITS (or gzip, which
    /// CFITSIO decompresses in memory); returns its size in bytes, nil for a gzip file
    /// (whose size says nothing about the FITS data in it).
    static func preflight(_ path: String) throws -> Int64? {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw TweedieError.io(path: path, problem: "no such file; check the path")
        }
        if isDirectory.boolValue {
            throw TweedieError.io(path: path, problem: "is a directory, not a FITS file")
        }
        guard let fh = FileHandle(forReadingAtPath: path) else {
            throw TweedieError.io(path: path, problem: "cannot be read (permission denied?)")
        }
        defer { try? fh.close() }
        let head = (try? fh.read(upToCount: 80)) ?? Data()
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)??.int64Value ?? Int64(head.count)
        if size == 0 {
            throw TweedieError.fits(path: path, problem: "empty file (0 bytes), not a FITS file")
        }
        let gzip = head.count >= 2 && head[head.startIndex] == 0x1f && head[head.startIndex + 1] == 0x8b
        let simple = Array("SIMPLE  =".utf8)
        if !gzip && !head.starts(with: simple) {
            let preview = String(head.prefix(20).map { (0x20..<0x7f).contains($0) ? Character(UnicodeScalar($0)) : "." })
            throw TweedieError.fits(path: path, problem: "not a FITS file: a FITS file starts with \"SIMPLE  =\", this one with \"\(preview)\"")
        }
        return gzip ? nil : size
    }

    /// Turns a failed open into a clear message (truncated header, or CFITSIO's reason).
    static func diagnoseOpenFailure(_ path: String, fileSize: Int64?, underlying: Error) -> Error {
        if let fileSize, let data = FileManager.default.contents(atPath: path) {
            let end = Array("END".utf8) + Array(repeating: UInt8(ascii: " "), count: 77)
            let records = data.count / 80
            let hasEnd = (0..<records).contains { r in data[(r * 80)..<(r * 80 + 80)].elementsEqual(end) }
            if !hasEnd {
                return TweedieError.fits(path: path, problem: "truncated FITS file: the primary header has no END card within the file's \(fileSize) bytes")
            }
        }
        return underlying
    }

    /// Header-level facts about HDU `index`.
    static func summarize(_ handle: FITSFileHandle, index: Int) throws -> FITSHDUSummary {
        let type = try handle.moveTo(hdu: index)
        var name = handle.storedString("EXTNAME") ?? handle.storedString("HDUNAME")
        if name == nil && index == 0 { name = "PRIMARY" }
        switch type {
        case ASCII_TBL:
            return FITSHDUSummary(index: index, name: name, kind: .asciiTable, naxes: [], bitpix: nil)
        case BINARY_TBL where !handle.isCompressedImage:
            return FITSHDUSummary(index: index, name: name, kind: .binaryTable, naxes: [], bitpix: nil)
        default:
            break
        }
        var status: Int32 = 0
        var naxis: Int32 = 0
        var bitpix: Int32 = 0
        ffgidm(handle.file, &naxis, &status)
        ffgidt(handle.file, &bitpix, &status)
        var axes = [Int64](repeating: 0, count: Int(max(naxis, 1)))
        if naxis > 0 { ffgiszll(handle.file, naxis, &axes, &status) }
        try handle.check(status, "cannot read the image size of HDU \(index)")
        return FITSHDUSummary(index: index, name: name,
                              kind: handle.isCompressedImage ? .compressedImage : .image,
                              naxes: naxis > 0 ? axes.map { Int($0) } : [], bitpix: Int(bitpix))
    }

    /// Every card of the current HDU (the reconstructed image header for a compressed image).
    static func readHeader(_ handle: FITSFileHandle) throws -> FITSHeader {
        var text: UnsafeMutablePointer<CChar>?
        var nkeys: Int32 = 0
        var status: Int32 = 0
        ffcnvthdr2str(handle.file, 0, nil, 0, &text, &nkeys, &status)
        defer {
            if let text { var s: Int32 = 0; fffree(text, &s) }
        }
        try handle.check(status, "cannot read the header")
        guard let text else { return FITSHeader() }
        return FITSHeader(cards: FITSCardCoding.cards(fromRecords: text, count: Int(nkeys)))
    }

    /// Throws when the file ends before the current HDU's data do.
    static func checkComplete(_ handle: FITSFileHandle, path: String, fileSize: Int64?, hdu: FITSHDUSummary) throws {
        // A gzip file's size says nothing about its FITS data: CFITSIO's inflated copy does.
        let fileSize = fileSize ?? handle.logicalFileSize
        let address = try handle.hduAddresses()
        // Sizes from the header are multiplied with overflow checks (checkedElementCount): a damaged
        // header may declare axes whose product exceeds any integer (NAXIS1 = 2⁶³ − 1).
        let declared: Int?
        if hdu.kind == .compressedImage {
            // The stored binary table: NAXIS1 × NAXIS2 bytes of table plus PCOUNT bytes of heap.
            declared = checkedElementCount([Int(handle.storedInt("NAXIS1") ?? 0), Int(handle.storedInt("NAXIS2") ?? 0)]).flatMap { t in
                let (r, overflow) = t.addingReportingOverflow(Int(handle.storedInt("PCOUNT") ?? 0))
                return overflow ? nil : r
            }
        } else {
            declared = checkedElementCount(hdu.naxes + [abs(hdu.bitpix ?? 8) / 8])
        }
        guard let needed = declared.map(Int64.init) else {
            throw TweedieError.fits(path: path, problem: "damaged header: HDU \(hdu.index) declares a data size beyond any file (\(sizeCards(hdu))); its NAXISn / PCOUNT cards are wrong")
        }
        if needed > fileSize - address.data {
            throw TweedieError.fits(path: path, problem: "truncated FITS file: HDU \(hdu.index) needs \(needed) bytes of data from byte \(address.data), but the file ends at byte \(fileSize)")
        }
    }
}

/// "NAXIS1 × NAXIS2 …" of an HDU, for messages about its declared size.
private func sizeCards(_ hdu: FITSHDUSummary) -> String {
    hdu.naxes.isEmpty ? "no axes" : hdu.naxes.map(String.init).joined(separator: " × ")
}
