// FITSWriter: Float32 round trips are bit-exact (NaN, subnormals, extremes),
// several HDUs in one file, header / WCS carried over, provenance keywords,
// and atomic writes: a failure leaves no file and gives a clear error.
import Foundation
import Testing
@testable import TweedieCore

@Suite struct FITSWriteTests {
    /// Awkward Float32 values: ±0, subnormals, extremes, NaN, non-representable decimals.
    static func awkwardValues(_ n: Int) -> [Float] {
        let specials: [Float] = [0, -0.0, .leastNonzeroMagnitude, -.leastNormalMagnitude, .greatestFiniteMagnitude,
                                 -.greatestFiniteMagnitude, .nan, 0.1, 1e-30, 3.4e37, .pi, -1]
        let stream = SampleStream(seed: 11, index: 0)
        return (0..<n).map { i in i < specials.count ? specials[i] : Float(stream.normal() * 1e3) }
    }

    static func sourceHeader() -> FITSHeader {
        var h = FITSHeader()
        for (k, v) in [("SIMPLE", FITSValue.bool(true)), ("BITPIX", .int(16)), ("NAXIS", .int(2)),
                       ("NAXIS1", .int(99)), ("BSCALE", .double(2)), ("BZERO", .double(5)), ("BLANK", .int(-1))] {
            h.set(k, v)  // structural: must not be copied
        }
        h.set("OBJECT", .string("NGC 5194"), comment: "target")
        h.set("CTYPE1", .string("RA---TAN")); h.set("CTYPE2", .string("DEC--TAN"))
        h.set("CRVAL1", .double(202.4696)); h.set("CRVAL2", .double(47.1952))
        h.set("CRPIX1", .double(6.5)); h.set("CRPIX2", .double(5))
        h.set("CD1_1", .double(-4.6666666666666665e-05)); h.set("CD2_2", .double(4.6666666666666665e-05))
        h.set("CD1_2", .double(0)); h.set("CD2_1", .double(0))
        h.set("EXPTIME", .double(0.1), comment: "[s]")
        h.set("TINY", .double(1.5e-300)); h.set("HUGE", .double(-2.5e+20)); h.set("THIRD", .double(1.0 / 3.0))
        h.set("NCOMBINE", .int(-123456789012)); h.set("FLATCOR", .bool(false))
        h.set("QUOTED", .string("it's 'here'"))
        h.set("LONGSTR", .string(String(repeating: "long value ", count: 12) + "end"), comment: "needs CONTINUE")
        h.set("ESO DET CHIP", .string("ccd1"), comment: "HIERARCH keyword")
        h.set("UNDEF", .none, comment: "no value")
        h.addHistory("first history line")
        h.cards.append(FITSCard(keyword: "COMMENT", value: .none, comment: "a comment"))
        h.addHistory("second history line")
        h.set("TWCMD", .string("old command"))  // provenance of an earlier run: replaced
        h.set("BAND1", .string("stale"))        // regenerated from `bands`
        return h
    }

    @Test func float32CubeRoundTripIsExactWithHeaderAndProvenance() throws {
        let dir = try Fixtures.temporaryDirectory(); defer { Fixtures.removeDirectory(dir) }
        let path = dir.appendingPathComponent("cube.fits").path
        let shape = ImageShape(channels: 3, height: 9, width: 12)
        let source = try ImageBatch(count: 1, shape: shape, data: Self.awkwardValues(shape.count),
                                    bands: ["g", "r", "i"], unit: "nanomaggy", header: Self.sourceHeader())
        let command = "tweedie sample --prior galaxies --seed 7" + String(repeating: " --flag value", count: 10)
        try FITSWriter.write(source, to: path, provenance: FITSProvenance(
            commandLine: command, extraCards: [FITSCard(keyword: "TWSEED", value: .int(7), comment: "seed"),
                                               FITSCard(keyword: "EXPTIME", value: .double(600), comment: "replaced")]))

        let back = try FITSReader.readImage(path)
        #expect(back.bitpix == -32 && back.batch.shape == shape && back.batch.count == 1)
        let differing = zip(back.batch.data, source.data).enumerated().filter { !($0.1.0.bitPattern == $0.1.1.bitPattern || ($0.1.0.isNaN && $0.1.1.isNaN)) }
        #expect(differing.isEmpty, "\(differing.prefix(5))")
        #expect(back.batch.bands == ["g", "r", "i"] && back.batch.unit == "nanomaggy")
        #expect(back.mask.filter { $0 }.count == source.data.filter { !$0.isFinite }.count)

        let h = back.header
        let src = Self.sourceHeader()
        for key in ["OBJECT", "CTYPE1", "CTYPE2", "CRVAL1", "CRVAL2", "CRPIX1", "CRPIX2", "CD1_1", "CD2_2", "CD1_2",
                    "CD2_1", "TINY", "HUGE", "THIRD", "NCOMBINE", "FLATCOR", "QUOTED", "LONGSTR", "ESO DET CHIP", "UNDEF"] {
            #expect(h.card(key) == src.card(key), "\(key): \(String(describing: h.card(key))) vs \(String(describing: src.card(key)))")
        }
        // The celestial WCS is unchanged; the cube gains its band axis (CTYPE3 = 'BAND', CD3_3 = 1).
        let written = try #require(h.wcs), original = try #require(src.wcs)
        #expect(Array(written.ctype.prefix(2)) == original.ctype && Array(written.crval.prefix(2)) == original.crval
                && Array(written.crpix.prefix(2)) == original.crpix && written.cd.prefix(2).map { Array($0.prefix(2)) } == original.cd)
        #expect(written.ctype.count == 3 && written.ctype[2] == "BAND" && written.cd[2][2] == 1 && h.double("CD3_3") == 1)
        #expect(h.cards.filter { $0.keyword == "HISTORY" }.map(\.comment) == ["first history line", "second history line"])
        #expect(h.cards.filter { $0.keyword == "COMMENT" }.map(\.comment).contains("a comment"))
        // Structural keywords regenerated, not copied.
        #expect(h.int("BITPIX") == -32 && h.int("NAXIS") == 3 && h.int("NAXIS1") == 12 && h.int("NAXIS3") == 3)
        #expect(h.card("BSCALE") == nil && h.card("BZERO") == nil && h.card("BLANK") == nil)
        #expect(h.string("BAND1") == "g" && h.cards.filter { $0.keyword == "BAND1" }.count == 1)
        // Provenance.
        #expect(h.string("CREATOR") == "tweedie \(TweedieVersion.string)" && h.string("TWVERSN") == TweedieVersion.string)
        #expect(h.string("TWCMD") == command && h.cards.filter { $0.keyword == "TWCMD" }.count == 1)
        #expect(h.int("TWSEED") == 7 && h.double("EXPTIME") == 600 && h.cards.filter { $0.keyword == "EXPTIME" }.count == 1)
        #expect(h.string("DATE")?.count == 19)
    }

    @Test func rewritingAReadFileKeepsTheSameHeader() throws {
        // Read → write → read → write: carried cards must not pile up (CFITSIO's own
        // primary-header COMMENTs, provenance, BANDn), so the two headers agree except DATE.
        let dir = try Fixtures.temporaryDirectory(); defer { Fixtures.removeDirectory(dir) }
        let first = dir.appendingPathComponent("first.fits").path
        let second = dir.appendingPathComponent("second.fits").path
        try FITSWriter.write(try FITSReader.read(Fixtures.path("cube3.fits")), to: first,
                             provenance: FITSProvenance(commandLine: "tweedie a"))
        try FITSWriter.write(try FITSReader.read(first), to: second, provenance: FITSProvenance(commandLine: "tweedie a"))
        let a = try FITSReader.read(first).header!.cards.filter { $0.keyword != "DATE" }
        let b = try FITSReader.read(second).header!.cards.filter { $0.keyword != "DATE" }
        #expect(a == b)
        #expect(a.filter { $0.keyword == "COMMENT" }.count == 3)  // CFITSIO's two + the fixture's one
    }

    @Test func severalHDUsInOneFile() throws {
        let dir = try Fixtures.temporaryDirectory(); defer { Fixtures.removeDirectory(dir) }
        let path = dir.appendingPathComponent("outputs.fits").path
        let mean = try ImageBatch(count: 1, shape: ImageShape(channels: 1, height: 5, width: 7),
                                  data: (0..<35).map { Float($0) * 0.5 }, unit: "adu")
        let std = try ImageBatch(count: 1, shape: ImageShape(channels: 2, height: 3, width: 4),
                                 data: (0..<24).map { Float($0) - 3 }, bands: ["g", "r"])
        let samples = try ImageBatch(count: 4, shape: ImageShape(channels: 2, height: 3, width: 4),
                                     data: (0..<96).map { Float($0) / 7 })
        try FITSWriter.write(hdus: [(name: "MEAN", image: mean), (name: "STD", image: std), (name: "SAMPLES", image: samples)],
                             to: path, provenance: FITSProvenance(commandLine: "tweedie test"))
        let hdus = try FITSReader.listHDUs(path)
        #expect(hdus.map(\.name) == ["MEAN", "STD", "SAMPLES"])
        #expect(hdus.map(\.naxes) == [[7, 5], [4, 3, 2], [4, 3, 2, 4]])
        let m = try FITSReader.read(path, hdu: .name("MEAN"))
        let s = try FITSReader.read(path, hdu: .index(1))
        let k = try FITSReader.read(path, hdu: .name("samples"))
        #expect(m.data == mean.data && m.unit == "adu")
        #expect(s.data == std.data && s.bands == ["g", "r"] && s.shape == std.shape)
        #expect(k.count == 4 && k.shape == samples.shape && k.data == samples.data)
        #expect(k.header?.string("TWCMD") == "tweedie test")
    }

    @Test func overwriteReplacesTheWholeFile() throws {
        let dir = try Fixtures.temporaryDirectory(); defer { Fixtures.removeDirectory(dir) }
        let path = dir.appendingPathComponent("x.fits").path
        let a = ImageBatch(count: 1, shape: ImageShape(channels: 1, height: 4, width: 4), repeating: 1)
        let b = ImageBatch(count: 1, shape: ImageShape(channels: 1, height: 2, width: 3), repeating: 2)
        try FITSWriter.write(a, to: path)
        try FITSWriter.write(b, to: path)
        let back = try FITSReader.read(path)
        #expect(back.shape == b.shape && back.data == b.data)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["x.fits"])
    }

    @Test func unwritableDirectoryLeavesNoFile() throws {
        let image = ImageBatch(count: 1, shape: ImageShape(channels: 1, height: 4, width: 4), repeating: 1)
        // /sys refuses new files even for root; a missing directory; a "directory" that is a regular file.
        let dir = try Fixtures.temporaryDirectory(); defer { Fixtures.removeDirectory(dir) }
        let plainFile = dir.appendingPathComponent("plain").path
        _ = FileManager.default.createFile(atPath: plainFile, contents: Data("x".utf8))
        let cases = ["/sys/tweedie-test-out.fits", dir.path + "/missing/out.fits", plainFile + "/out.fits"]
        for path in cases {
            do {
                try FITSWriter.write(image, to: path)
                Issue.record("writing \(path) should fail")
            } catch let e as TweedieError {
                guard case .io = e else { Issue.record("\(path): \(e)"); continue }
                #expect(e.description.hasPrefix(path + ": ") && !e.description.contains("\n"), "\(e)")
            }
            #expect(!FileManager.default.fileExists(atPath: path))
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: "/sys").allSatisfy { !$0.contains("tweedie-test-out") })
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["plain"])
    }

    @Test func failureMidWriteKeepsThePreviousFileAndNoTemporary() throws {
        let dir = try Fixtures.temporaryDirectory(); defer { Fixtures.removeDirectory(dir) }
        let path = dir.appendingPathComponent("kept.fits").path
        let old = ImageBatch(count: 1, shape: ImageShape(channels: 1, height: 3, width: 3), repeating: 42)
        try FITSWriter.write(old, to: path)
        let new = ImageBatch(count: 1, shape: ImageShape(channels: 1, height: 8, width: 8), repeating: 1)
        // The second HDU fails after the first was written (a keyword CFITSIO rejects).
        let bad = FITSProvenance(extraCards: [FITSCard(keyword: "BAD KEY=", value: .int(1))])
        #expect(throws: TweedieError.self) {
            try FITSWriter.write(hdus: [(name: "A", image: new), (name: "B", image: new)], to: path, provenance: bad)
        }
        #expect(try FITSReader.read(path).data == old.data)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["kept.fits"])
    }
}
