// FITSReader against files written by astropy (Fixtures/make_fits_fixtures.py):
// every BITPIX, BSCALE/BZERO, BLANK, NaN, a 3-band cube with WCS, named
// extensions, tile-compressed images; pixel values and header cards must be
// what astropy wrote, and broken files must give one clear line naming the file.
import Foundation
import Testing
@testable import TweedieCore

@Suite struct FITSReadTests {
    static let expected = try! ExpectedFITS.load()

    @Test(arguments: expected.images.indices)
    func valuesMatchAstropy(_ i: Int) throws {
        let e = Self.expected.images[i]
        let image = try FITSReader.readImage(Fixtures.path(e.file), hdu: .index(e.hdu))
        let b = image.batch
        // Shape: NAXIS1 = x, NAXIS2 = y, NAXIS3 = band.
        #expect(b.count == 1)
        #expect(b.shape.width == e.naxes[0] && b.shape.height == e.naxes[1])
        #expect(b.shape.channels == (e.naxes.count > 2 ? e.naxes[2] : 1))
        #expect(image.bitpix == e.bitpix, "\(e.file)[\(e.hdu)] BITPIX")
        #expect(b.bands == e.bands)
        #expect(b.data.count == e.values.count)
        var mismatches = 0
        for (k, v) in e.values.enumerated() {
            if let v {
                // CFITSIO scales in double and rounds once to Float32: exactly Float(v).
                if b.data[k] != Float(v) || image.mask[k] { mismatches += 1 }
            } else if !b.data[k].isNaN || !image.mask[k] {
                mismatches += 1
            }
        }
        #expect(mismatches == 0, "\(e.file)[\(e.hdu)]: \(mismatches) pixels differ from astropy")
        #expect(image.maskedCount == e.null_count)
    }

    @Test(arguments: expected.images.indices)
    func headerCardsMatchAstropy(_ i: Int) throws {
        let e = Self.expected.images[i]
        let header = try FITSReader.read(Fixtures.path(e.file), hdu: .index(e.hdu)).header!
        // Compare, keyword by keyword, the sequence of cards astropy lists.
        let keywords = Set(e.cards.map(\.keyword))
        for keyword in keywords {
            let theirs = e.cards.filter { $0.keyword == keyword }
            let ours = header.cards.filter { $0.keyword == keyword }
            #expect(ours.count == theirs.count, "\(e.file)[\(e.hdu)] \(keyword): \(ours.count) cards, astropy \(theirs.count)")
            for (o, t) in zip(ours, theirs) {
                switch (t.type, t.value) {
                case let ("commentary", .string(text)):
                    #expect(o.value == .none && o.comment == text, "\(e.file) \(keyword): \(o)")
                case let ("string", .string(s)):
                    #expect(o.value == .string(s), "\(e.file) \(keyword): \(o.value) vs '\(s)'")
                case let ("int", .number(d)):
                    #expect(o.value == .int(Int(d)), "\(e.file) \(keyword): \(o.value) vs \(d)")
                case let ("float", .number(d)):
                    #expect(o.value == .double(d), "\(e.file) \(keyword): \(o.value) vs \(d)")
                case let ("bool", .bool(v)):
                    #expect(o.value == .bool(v), "\(e.file) \(keyword): \(o.value) vs \(v)")
                default:
                    Issue.record("unexpected fixture card \(t)")
                }
                if t.type != "commentary" {
                    #expect(o.comment == t.comment, "\(e.file) \(keyword) comment: '\(o.comment)' vs '\(t.comment)'")
                }
            }
        }
        // All cards kept: the structural ones too.
        #expect(header.int("NAXIS1") == e.naxes[0] && header.int("NAXIS2") == e.naxes[1])
        #expect(header.int("BITPIX") == e.bitpix)
    }

    @Test func scalingKeywordsAreReported() throws {
        let s = try FITSReader.readImage(Fixtures.path("scaled16_blank.fits"))
        #expect(s.bscale == 0.25 && s.bzero == 1000 && s.blank == -32768)
        let u = try FITSReader.readImage(Fixtures.path("uint16.fits"))
        #expect(u.bscale == 1 && u.bzero == 32768 && u.blank == nil)
        let b = try FITSReader.readImage(Fixtures.path("int32_blank.fits"))
        #expect(b.blank == -999 && b.maskedCount == 3)
    }

    @Test func cubeCarriesBandsUnitAndWCS() throws {
        let cube = try FITSReader.read(Fixtures.path("cube3.fits"))
        #expect(cube.shape == ImageShape(channels: 3, height: 9, width: 12))
        #expect(cube.bands == ["g", "r", "i"])
        #expect(cube.unit == "nanomaggy")
        // Plane c holds c·100 + x + y/2 (make_fits_fixtures.py).
        #expect(cube[0, 2, 7, 5] == 205 + 3.5)
        let wcs = try #require(cube.header?.wcs)
        #expect(wcs.crval == [202.4696, 47.1952] && wcs.crpix == [6.5, 5.0])
        let scale = try #require(wcs.pixelScaleArcsec)
        #expect(abs(scale.x - 0.168) < 1e-12 && abs(scale.y - 0.168) < 1e-12)
        #expect(try FITSReader.read(Fixtures.path("bitpix16.fits")).unit == "adu")
    }

    @Test func extensionsByNumberAndName() throws {
        let path = Fixtures.path("extensions.fits")
        let byName = try FITSReader.readImage(path, hdu: .name("sci"))  // case-insensitive
        let byNumber = try FITSReader.readImage(path, hdu: .index(1))
        let first = try FITSReader.readImage(path)  // primary is empty: first image is SCI
        #expect(byName.hdu.index == 1 && byName.hdu.name == "SCI")
        #expect(byNumber.batch.data == byName.batch.data && first.hdu.index == 1)
        #expect(byName.batch.unit == "electron/s")
        #expect(try FITSReader.readImage(path, hdu: .name("MASK")).hdu.index == 3)
        #expect(FITSHDUSelector(parsing: "2") == .index(2) && FITSHDUSelector(parsing: "ERR") == .name("ERR"))
        let hdus = try FITSReader.listHDUs(path)
        #expect(hdus.map(\.name) == ["PRIMARY", "SCI", "ERR", "MASK", "CAT"])
        #expect(hdus.map(\.kind) == [.image, .image, .image, .image, .binaryTable])
        #expect(hdus[0].hasImageData == false && hdus[2].bitpix == 16)
    }

    @Test func tileCompressedImages() throws {
        let path = Fixtures.path("compressed.fits")
        let rice = try FITSReader.readImage(path)
        #expect(rice.hdu.index == 1 && rice.hdu.kind == .compressedImage && rice.compression == "RICE_1")
        let gzip = try FITSReader.readImage(path, hdu: .name("GZIPIMG"))
        #expect(gzip.compression == "GZIP_2" && gzip.bitpix == -32)
        // The header is the image header CFITSIO reconstructs (ZBITPIX → BITPIX), not the table's.
        #expect(gzip.header.int("BITPIX") == -32 && gzip.header.card("ZIMAGE") == nil)
    }

    // MARK: errors: one line, naming the file and the problem

    static func failure(_ body: () throws -> Void) -> TweedieError? {
        do { try body(); return nil } catch let e as TweedieError { return e } catch { return nil }
    }

    @Test func brokenFilesGiveOneClearLine() throws {
        let cases: [(file: String, hdu: FITSHDUSelector, words: [String])] = [
            ("does-not-exist.fits", .firstImage, ["no such file"]),
            ("notfits.fits", .firstImage, ["not a FITS file"]),
            ("truncated.fits", .firstImage, ["truncated", "216 bytes"]),
            ("truncated_header.fits", .firstImage, ["truncated", "no END"]),
            ("empty.fits", .firstImage, ["no image data", "NAXIS = 0"]),
            ("extensions.fits", .index(0), ["HDU 0", "empty", "NAXIS = 0"]),
            ("extensions.fits", .name("NOPE"), ["no HDU named 'NOPE'", "SCI"]),
            ("extensions.fits", .index(7), ["no HDU 7", "it has 5"]),
            ("extensions.fits", .name("CAT"), ["binary table, not an image"]),
        ]
        for c in cases {
            let path = Fixtures.path(c.file)
            let error = try #require(Self.failure { _ = try FITSReader.read(path, hdu: c.hdu) }, "\(c.file) must fail")
            switch error {
            case .fits, .io: break
            default: Issue.record("\(c.file): unexpected error kind \(error)")
            }
            let text = error.description
            #expect(text.hasPrefix(path + ": "), "\(text)")
            #expect(!text.contains("\n"))
            for w in c.words { #expect(text.contains(w), "'\(text)' should mention '\(w)'") }
        }
        let dir = Self.failure { _ = try FITSReader.read(Fixtures.directory.path) }
        #expect(dir?.description.contains("is a directory") == true)
    }

    /// A header declaring NAXIS1 = 2⁶³ − 1 (the fuzzer's crash: the data-size product overflowed and
    /// trapped) and one whose axes multiply past Int64 give one clear line, not a crash.
    @Test func absurdAxisLengthsAreADamagedHeaderNotACrash() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fits-naxis-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        func file(_ name: String, axes: [String]) throws -> String {
            var cards = ["SIMPLE  =                    T", "BITPIX  =                  -32", "NAXIS   = \(String(repeating: " ", count: 20 - String(axes.count).count))\(axes.count)"]
            for (i, a) in axes.enumerated() { cards.append("NAXIS\(i + 1)  = " + String(repeating: " ", count: max(0, 20 - a.count)) + a) }
            cards.append("END")
            var text = cards.map { $0.padding(toLength: 80, withPad: " ", startingAt: 0) }.joined()
            text += String(repeating: " ", count: 2880 - text.count % 2880)
            var bytes = Data(text.utf8)
            bytes.append(Data(count: 2880))   // one block of data, far less than declared
            let path = dir.appendingPathComponent(name).path
            try bytes.write(to: URL(fileURLWithPath: path))
            return path
        }
        for (name, axes) in [("max.fits", ["9223372036854775807", "1"]),
                             ("product.fits", ["4294967296", "4294967296", "4"])] {
            let path = try file(name, axes: axes)
            let error = try #require(Self.failure { _ = try FITSReader.read(path) }, "\(name) must fail")
            let text = error.description
            #expect(text.hasPrefix(path + ": ") && !text.contains("\n"), "\(text)")
            #expect(text.contains("damaged header") || text.contains("truncated"), "\(text)")
        }
    }

    @Test func realKPNOImage() throws {
        // ../shared/data/real/m51_kpno_B_devpix.fits; expected values from astropy (reference_values.json).
        let ref = try Fixtures.json("reference_values.json")["m51"] as! [String: Any]
        let image = try FITSReader.readImage(Fixtures.realData("m51_kpno_B_devpix.fits"))
        #expect(image.batch.shape == ImageShape(channels: 1, height: 512, width: 512) && image.bitpix == 16)
        let st = ImageStatistics(image.batch.data)
        #expect(st.min == ref["min"] as! Double && st.max == ref["max"] as! Double)
        #expect(st.median == ref["median"] as! Double && st.nanCount == 0)
        #expect(abs(st.robustSigma - (ref["robust_sigma"] as! Double)) < 1e-9)
        #expect(abs(st.mean - (ref["mean"] as! Double)) < 1e-9)
        #expect(image.header.string("OBJECT") == "m51  B  600s")
    }
}
