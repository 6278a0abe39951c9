// A read-only zip archive reader (PKWARE APPNOTE 6.3: end-of-central-directory
// record, ZIP64 end record and locator, central directory, local headers),
// enough for the archives `torch.save` writes: entries STORED (torch's own
// writer) or DEFLATE-compressed (an archive re-packed by another tool), with
// ZIP64 sizes and offsets for files over 4 GiB.
//
// Conventions: all integers little-endian; an entry's data starts after its
// *local* header (30 bytes + name + local extra field, which torch uses to pad
// storages to 64-byte alignment), not after the central directory's copy.
// Every offset and size is bounds-checked against the file before use, and
// each entry's CRC-32 is verified when it is read, so a truncated or damaged
// archive is an error naming the file, never a crash or a hang.

import CZlib
import Foundation
import TweedieCore

/// One member of a zip archive, as the central directory describes it.
struct ZipEntry: Sendable {
    var name: String
    /// 0 = stored, 8 = deflate.
    var method: UInt16
    var crc32: UInt32
    var compressedSize: Int
    var uncompressedSize: Int
    var localHeaderOffset: Int
}

/// A zip archive over a byte buffer (usually a memory-mapped file).
struct ZipArchive {
    let data: Data
    /// The file name, for error messages.
    let path: String
    let entries: [ZipEntry]
    private let index: [String: Int]

    private func fail(_ problem: String) -> TweedieError { .model(path: path, problem: problem) }

    init(data: Data, path: String) throws {
        self.data = data
        self.path = path
        let parsed = try Self.readCentralDirectory(data, path: path)
        entries = parsed
        var idx: [String: Int] = [:]
        for (i, e) in parsed.enumerated() { idx[e.name] = i }
        index = idx
    }

    func entry(named name: String) -> ZipEntry? { index[name].map { entries[$0] } }

    /// Calls `body` with the entry's uncompressed bytes (zero-copy for stored entries), after checking its CRC-32.
    func withContents<R>(of entry: ZipEntry, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        let start = try dataStart(of: entry)
        guard start <= data.count, entry.compressedSize <= data.count - start else {
            throw fail("zip entry '\(entry.name)' runs past the end of the file (needs \(entry.compressedSize) bytes at offset \(start), file is \(data.count) bytes); the file is truncated")
        }
        return try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) -> R in
            let compressed = UnsafeRawBufferPointer(rebasing: raw[start..<(start + entry.compressedSize)])
            switch entry.method {
            case 0:
                guard entry.compressedSize == entry.uncompressedSize else {
                    throw fail("zip entry '\(entry.name)' is stored but its sizes disagree (\(entry.compressedSize) vs \(entry.uncompressedSize)); the archive is corrupt")
                }
                try checkCRC(compressed, entry)
                return try body(compressed)
            case 8:
                let inflated = try inflate(compressed, entry)
                return try inflated.withUnsafeBytes { buffer in
                    try checkCRC(buffer, entry)
                    return try body(buffer)
                }
            default:
                throw fail("zip entry '\(entry.name)' uses compression method \(entry.method); only stored (0) and deflate (8) are supported")
            }
        }
    }

    /// The entry's bytes as Data (a copy).
    func contents(of entry: ZipEntry) throws -> Data {
        try withContents(of: entry) { Data($0) }
    }

    // MARK: - Local header

    private func dataStart(of entry: ZipEntry) throws -> Int {
        let o = entry.localHeaderOffset
        guard o >= 0, o <= data.count - 30 else {
            throw fail("zip entry '\(entry.name)': local header offset \(o) lies outside the file (\(data.count) bytes); the file is truncated")
        }
        guard Self.u32(data, o) == 0x0403_4b50 else {
            throw fail("zip entry '\(entry.name)': no local header signature at offset \(o); the archive is corrupt")
        }
        let nameLength = Int(Self.u16(data, o + 26)), extraLength = Int(Self.u16(data, o + 28))
        return o + 30 + nameLength + extraLength
    }

    private func checkCRC(_ bytes: UnsafeRawBufferPointer, _ entry: ZipEntry) throws {
        // zlib's crc32 takes a 32-bit length: feed large entries in pieces.
        var crc = crc32(0, nil, 0)
        var offset = 0
        while offset < bytes.count {
            let n = min(bytes.count - offset, 1 << 30)
            crc = crc32(crc, bytes.baseAddress!.advanced(by: offset).assumingMemoryBound(to: UInt8.self), uInt(n))
            offset += n
        }
        guard UInt32(crc) == entry.crc32 else {
            throw fail("zip entry '\(entry.name)' fails its CRC-32 check (stored \(String(entry.crc32, radix: 16)), computed \(String(UInt32(crc), radix: 16))); the file is damaged")
        }
    }

    private func inflate(_ input: UnsafeRawBufferPointer, _ entry: ZipEntry) throws -> Data {
        // DEFLATE cannot expand more than ~1032:1; a larger claim is a corrupt header, not a reason to allocate.
        guard entry.uncompressedSize <= max(entry.compressedSize, 1) * 1032 else {
            throw fail("zip entry '\(entry.name)' claims \(entry.uncompressedSize) bytes from \(entry.compressedSize) compressed; the archive is corrupt")
        }
        // One byte more than claimed, so that data beyond the stated size is detected.
        var output = Data(count: entry.uncompressedSize + 1)
        var stream = z_stream()
        guard czlib_inflate_init_raw(&stream) == Z_OK else {
            throw TweedieError.library(name: "zlib", problem: "inflateInit2 failed")
        }
        defer { inflateEnd(&stream) }
        let expected = entry.uncompressedSize
        let status: Int32 = output.withUnsafeMutableBytes { (out: UnsafeMutableRawBufferPointer) -> Int32 in
            var inOffset = 0, outOffset = 0
            while true {
                let inChunk = min(input.count - inOffset, 1 << 30)
                let outChunk = min(out.count - outOffset, 1 << 30)
                stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.advanced(by: inOffset)
                    .assumingMemoryBound(to: Bytef.self))
                stream.avail_in = uInt(inChunk)
                stream.next_out = out.baseAddress!.advanced(by: outOffset).assumingMemoryBound(to: Bytef.self)
                stream.avail_out = uInt(outChunk)
                let r = CZlib.inflate(&stream, Z_NO_FLUSH)
                let consumed = inChunk - Int(stream.avail_in), produced = outChunk - Int(stream.avail_out)
                inOffset += consumed
                outOffset += produced
                if r == Z_STREAM_END { return outOffset == expected ? Z_STREAM_END : Z_DATA_ERROR }
                if r != Z_OK && r != Z_BUF_ERROR { return r }
                // No progress: the stream is truncated, or it holds more than the stated size.
                if consumed == 0 && produced == 0 { return Z_DATA_ERROR }
            }
        }
        guard status == Z_STREAM_END else {
            throw fail("zip entry '\(entry.name)': deflate data is corrupt or does not match its stated size \(entry.uncompressedSize) (zlib status \(status))")
        }
        output.removeLast()
        return output
    }

    // MARK: - Central directory

    static func u16(_ d: Data, _ o: Int) -> UInt16 {
        d.withUnsafeBytes { UInt16(littleEndian: $0.loadUnaligned(fromByteOffset: o, as: UInt16.self)) }
    }
    static func u32(_ d: Data, _ o: Int) -> UInt32 {
        d.withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: o, as: UInt32.self)) }
    }
    static func u64(_ d: Data, _ o: Int) -> UInt64 {
        d.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: o, as: UInt64.self)) }
    }

    private static func readCentralDirectory(_ d: Data, path: String) throws -> [ZipEntry] {
        func fail(_ problem: String) -> TweedieError { .model(path: path, problem: problem) }
        let size = d.count
        // The end-of-central-directory record: 22 bytes plus a comment of up to 65535 bytes, at the end.
        var eocd = -1
        if size >= 22 {
            var o = size - 22
            let lowest = max(0, size - 22 - 65535)
            while o >= lowest {
                if u32(d, o) == 0x0605_4b50 && o + 22 + Int(u16(d, o + 20)) == size { eocd = o; break }
                o -= 1
            }
        }
        guard eocd >= 0 else {
            throw fail("not a complete zip archive (no end-of-central-directory record); the file is truncated or is not a PyTorch zip checkpoint")
        }
        var count = Int(u16(d, eocd + 10))
        var cdSize = Int(u32(d, eocd + 12))
        var cdOffset = Int(u32(d, eocd + 16))
        if count == 0xFFFF || cdSize == 0xFFFF_FFFF || cdOffset == 0xFFFF_FFFF {
            // ZIP64: a 20-byte locator just before the end record points at the ZIP64 end record.
            let loc = eocd - 20
            guard loc >= 0, u32(d, loc) == 0x0706_4b50 else {
                throw fail("zip archive needs a ZIP64 end record but has no locator; the archive is corrupt")
            }
            let z64 = u64(d, loc + 8)
            guard z64 <= UInt64(size - 56), u32(d, Int(z64)) == 0x0606_4b50 else {
                throw fail("zip archive's ZIP64 end record is missing or outside the file; the archive is corrupt")
            }
            let z = Int(z64)
            let c64 = u64(d, z + 32), s64 = u64(d, z + 40), o64 = u64(d, z + 48)
            guard c64 <= UInt64(size), s64 <= UInt64(size), o64 <= UInt64(size) else {
                throw fail("zip archive's ZIP64 end record holds impossible sizes; the archive is corrupt")
            }
            count = Int(c64); cdSize = Int(s64); cdOffset = Int(o64)
        }
        guard cdOffset <= size, cdSize <= size - cdOffset, count <= cdSize / 46 + 1 else {
            throw fail("zip central directory (\(count) entries, \(cdSize) bytes at offset \(cdOffset)) lies outside the \(size)-byte file; the file is truncated or corrupt")
        }
        var entries: [ZipEntry] = []
        entries.reserveCapacity(count)
        var o = cdOffset
        let end = cdOffset + cdSize
        for i in 0..<count {
            guard o + 46 <= end, u32(d, o) == 0x0201_4b50 else {
                throw fail("zip central directory entry \(i) is damaged (bad signature or out of range); the archive is corrupt")
            }
            let flags = u16(d, o + 8)
            let method = u16(d, o + 10)
            let crc = u32(d, o + 16)
            var compressed = UInt64(u32(d, o + 20))
            var uncompressed = UInt64(u32(d, o + 24))
            let nameLength = Int(u16(d, o + 28)), extraLength = Int(u16(d, o + 30)), commentLength = Int(u16(d, o + 32))
            var localOffset = UInt64(u32(d, o + 42))
            guard o + 46 + nameLength + extraLength + commentLength <= end else {
                throw fail("zip central directory entry \(i) runs past the directory; the archive is corrupt")
            }
            let nameBytes = d.subdata(in: (d.startIndex + o + 46)..<(d.startIndex + o + 46 + nameLength))
            let name = String(decoding: nameBytes, as: UTF8.self)
            if flags & 1 != 0 {
                throw fail("zip entry '\(name)' is encrypted; encrypted checkpoints are not supported")
            }
            // ZIP64 extended information (header id 1) replaces the fields saturated at 0xFFFFFFFF, in order.
            var e = o + 46 + nameLength
            let extraEnd = e + extraLength
            while e + 4 <= extraEnd {
                let id = u16(d, e), length = Int(u16(d, e + 2))
                guard e + 4 + length <= extraEnd else { break }
                if id == 0x0001 {
                    var p = e + 4
                    func next() throws -> UInt64 {
                        guard p + 8 <= e + 4 + length else {
                            throw fail("zip entry '\(name)': ZIP64 extra field too short; the archive is corrupt")
                        }
                        defer { p += 8 }
                        return u64(d, p)
                    }
                    if uncompressed == 0xFFFF_FFFF { uncompressed = try next() }
                    if compressed == 0xFFFF_FFFF { compressed = try next() }
                    if localOffset == 0xFFFF_FFFF { localOffset = try next() }
                }
                e += 4 + length
            }
            guard compressed <= UInt64(size), localOffset <= UInt64(size), uncompressed <= UInt64(Int.max / 2) else {
                throw fail("zip entry '\(name)' claims sizes or offsets beyond the \(size)-byte file; the file is truncated or corrupt")
            }
            entries.append(ZipEntry(name: name, method: method, crc32: crc, compressedSize: Int(compressed),
                                    uncompressedSize: Int(uncompressed), localHeaderOffset: Int(localOffset)))
            o += 46 + nameLength + extraLength + commentLength
        }
        return entries
    }
}
