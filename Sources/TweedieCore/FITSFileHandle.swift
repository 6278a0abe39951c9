// Ownership of one CFITSIO `fitsfile*` and the translation of CFITSIO status
// codes into `TweedieError.fits` messages (PLATFORM.md: CFITSIO's long names are
// macros, so Swift calls the short names — ffclos, ffgerr, ffmahd, … — and the
// inline wrappers in Sources/CFITSIO/shim.h).
//
// Conventions: HDU numbers in Tweedie are 0-based (0 = primary, as astropy's
// `hdul[0]`); CFITSIO's are 1-based and only appear inside this file and its
// readers/writers. Files are opened with the "diskfile" variants, so a path is
// a plain path: CFITSIO's extended syntax (`file.fits[1]`, `!file`) is not
// interpreted.
import CFITSIO
import Foundation

/// A FITS file opened through CFITSIO. Closes the file in `deinit` unless
/// `close()` was called. Not thread-safe: one owner uses it at a time
/// (Debian's CFITSIO is reentrant, so different handles may live on different threads).
final class FITSFileHandle {
    let path: String
    private(set) var fptr: UnsafeMutablePointer<fitsfile>?

    private init(path: String, fptr: UnsafeMutablePointer<fitsfile>) {
        self.path = path
        self.fptr = fptr
    }

    deinit {
        if let f = fptr {
            var status: Int32 = 0
            ffclos(f, &status)
        }
    }

    /// Opens an existing file read-only.
    static func openForReading(_ path: String) throws -> FITSFileHandle {
        var f: UnsafeMutablePointer<fitsfile>?
        var status: Int32 = 0
        tweedie_fits_open_diskfile(&f, path, READONLY, &status)
        guard status == 0, let f else {
            throw FITSFileHandle.error(path, status, doing: "cannot open as FITS")
        }
        return FITSFileHandle(path: path, fptr: f)
    }

    /// Creates a new (not yet existing) file for writing.
    static func create(_ path: String, reportAs reportedPath: String) throws -> FITSFileHandle {
        var f: UnsafeMutablePointer<fitsfile>?
        var status: Int32 = 0
        tweedie_fits_create_diskfile(&f, path, &status)
        guard status == 0, let f else {
            throw FITSFileHandle.error(reportedPath, status, doing: "cannot create the FITS file")
        }
        return FITSFileHandle(path: path, fptr: f)
    }

    /// Closes the file, reporting a failure (a close flushes buffered writes).
    func close(reportAs reportedPath: String? = nil) throws {
        guard let f = fptr else { return }
        fptr = nil
        var status: Int32 = 0
        ffclos(f, &status)
        if status != 0 {
            throw FITSFileHandle.error(reportedPath ?? path, status, doing: "cannot finish writing")
        }
    }

    /// The open handle (valid until `close()`).
    var file: UnsafeMutablePointer<fitsfile> {
        guard let f = fptr else { preconditionFailure("FITS file \(path) used after close()") }
        return f
    }

    /// Number of HDUs in the file.
    func hduCount() throws -> Int {
        var n: Int32 = 0
        var status: Int32 = 0
        ffthdu(file, &n, &status)
        try check(status, "cannot count the HDUs")
        // ffthdu stops quietly at an extension it cannot read. When the last HDU it counted ends
        // inside the file, move one past it: a failure other than trailing bytes that are no
        // extension (END_OF_FILE, NO_XTENSION, UNKNOWN_REC) is a damaged extension.
        var type: Int32 = 0
        var moved: Int32 = 0
        ffmahd(file, n, &type, &moved)
        if moved == 0, n > 0, let address = try? hduAddresses(), address.end < logicalFileSize {
            var next: Int32 = 0
            ffmahd(file, n + 1, &type, &next)
            if next != 0 && next != END_OF_FILE && next != NO_XTENSION && next != UNKNOWN_REC {
                throw FITSFileHandle.error(path, next, doing: "HDU \(n) (after \(n) readable HDUs) is damaged")
            }
        }
        return Int(n)
    }

    /// Moves to HDU `index` (0-based) and returns CFITSIO's HDU type
    /// (IMAGE_HDU — also for tile-compressed images —, ASCII_TBL, BINARY_TBL).
    @discardableResult
    func moveTo(hdu index: Int) throws -> Int32 {
        var type: Int32 = 0
        var status: Int32 = 0
        ffmahd(file, Int32(index + 1), &type, &status)
        try check(status, "cannot read HDU \(index) (the file may be truncated or corrupt)")
        return type
    }

    /// A string keyword of the current HDU's *stored* header, nil when absent.
    func storedString(_ keyword: String) -> String? {
        var value = [CChar](repeating: 0, count: Int(FLEN_VALUE))
        var status: Int32 = 0
        ffgkys(file, keyword, &value, nil, &status)
        guard status == 0 else { return nil }
        return String(cString: value).trimmingCharacters(in: .whitespaces)
    }

    /// An integer keyword of the current HDU's stored header, nil when absent.
    func storedInt(_ keyword: String) -> Int64? {
        var value: Int64 = 0
        var status: Int32 = 0
        ffgky(file, TLONGLONG, keyword, &value, nil, &status)
        return status == 0 ? value : nil
    }

    /// Byte offsets of the current HDU: header start, data start, data end (CFITSIO's, padded).
    func hduAddresses() throws -> (header: Int64, data: Int64, end: Int64) {
        var h: Int64 = 0, d: Int64 = 0, e: Int64 = 0
        var status: Int32 = 0
        ffghadll(file, &h, &d, &e, &status)
        try check(status, "cannot locate the HDU's data")
        return (h, d, e)
    }

    /// The size in bytes of the file as CFITSIO holds it: the disk file's size, or the
    /// decompressed size of a gzip file (which CFITSIO inflates in memory).
    var logicalFileSize: Int64 { file.pointee.Fptr.pointee.logfilesize }

    /// True when the current HDU is a tile-compressed image.
    var isCompressedImage: Bool {
        var status: Int32 = 0
        return fits_is_compressed_image(file, &status) != 0 && status == 0
    }

    /// Throws `TweedieError.fits` when `status` is non-zero.
    func check(_ status: Int32, _ doing: String) throws {
        if status != 0 { throw FITSFileHandle.error(path, status, doing: doing) }
    }

    /// A one-line error for a CFITSIO status: "<doing> (CFITSIO <n>: <text>)".
    static func error(_ path: String, _ status: Int32, doing: String) -> TweedieError {
        .fits(path: path, problem: "\(doing) (CFITSIO status \(status): \(statusText(status)))")
    }

    /// CFITSIO's short text for a status code. Also clears CFITSIO's message stack
    /// (it holds details we do not show, and would otherwise grow).
    static func statusText(_ status: Int32) -> String {
        var text = [CChar](repeating: 0, count: Int(FLEN_STATUS) + 1)
        ffgerr(status, &text)
        ffcmsg()
        return String(cString: text)
    }
}
