// PNG previews: write, read back with libpng, and compare each stretch on a
// known ramp with its closed form; zscale limits against astropy's
// ZScaleInterval (Fixtures/make_reference_values.py); panel layout and
// orientation; atomic failure.
import Foundation
import Testing
@testable import TweedieCore

@Suite struct PNGPreviewTests {
    /// A width × height ramp, value = x in every row.
    static func ramp(width: Int, height: Int) -> [Float] {
        (0..<(width * height)).map { Float($0 % width) }
    }

    static func roundTrip(_ panels: [PreviewPanel]) throws -> GreyscaleImage {
        let dir = try Fixtures.temporaryDirectory(); defer { Fixtures.removeDirectory(dir) }
        let path = dir.appendingPathComponent("p.png").path
        try PNGPreview.write(panels, to: path)
        return try PNGPreview.read(path)
    }

    @Test func linearRampReadsBackExactly() throws {
        let png = try Self.roundTrip([PreviewPanel(values: Self.ramp(width: 256, height: 3), width: 256, height: 3, stretch: .linear)])
        #expect(png.width == 256 && png.height == 3)
        // min 0, max 255: grey = round(255 · x / 255) = x.
        #expect((0..<3).allSatisfy { row in (0..<256).allSatisfy { png[$0, row] == UInt8($0) } })
    }

    @Test func asinhRampFollowsItsClosedForm() throws {
        // 256 × 3 ramp: median 127.5; |x − 127.5| takes each of 0.5 … 127.5 six times, so
        // MAD = (63.5 + 64.5)/2 = 64, σ = 1.4826·64; 3σ > 127.5 clips nothing.
        // low = 127.5 − σ, high = 255, softening σ.
        let png = try Self.roundTrip([PreviewPanel(values: Self.ramp(width: 256, height: 3), width: 256, height: 3, stretch: .asinh)])
        let sigma = 1.4826 * 64, low = 127.5 - sigma
        for x in 0..<256 {
            let u = asinh(max(Double(x) - low, 0) / sigma) / asinh((255 - low) / sigma)
            #expect(png[x, 1] == UInt8((255 * u).rounded()), "x = \(x)")
        }
        #expect(png[0, 0] == 0 && png[255, 2] == 255)
    }

    @Test func zscaleOfAPureRampIsItsFullRange() throws {
        // 100 × 8 = 800 samples (all of them): the sorted values are a staircase whose
        // fitted slope / contrast reaches past both ends, so z1 = min = 0, z2 = max = 99.
        let values = Self.ramp(width: 100, height: 8)
        let limits = try #require(ZScale.limits(values))
        #expect(limits.low == 0 && limits.high == 99)
        let png = try Self.roundTrip([PreviewPanel(values: values, width: 100, height: 8, stretch: .zscale)])
        #expect((0..<100).allSatisfy { png[$0, 4] == UInt8((255 * Double($0) / 99).rounded()) })
    }

    @Test func zscaleMatchesAstropy() throws {
        let ref = try Fixtures.json("reference_values.json")
        let zs = ref["zscale"] as! [String: [Double]]
        // The arrays of make_reference_values.py, rebuilt from the same integer formulas.
        var ramp = [Float](repeating: 0, count: 5000)
        for i in 0..<5000 {
            let base = Float((i * 37) % 1000)
            let frac = Float(i % 7) * 0.25
            ramp[i] = base + frac
            if i % 499 == 0 { ramp[i] = 1e6 }
            if i % 613 == 5 { ramp[i] = Float.nan }
        }
        var sky = [Float](repeating: 0, count: 64 * 64)
        for y in 0..<64 {
            for x in 0..<64 {
                let wiggle: Int = (x * 13 + y * 29) % 17
                sky[y * 64 + x] = Float(92 + wiggle)
            }
        }
        for y in 20..<25 { for x in 20..<25 { sky[y * 64 + x] = 4000 } }
        sky[10 * 64 + 50] = 30000
        let m51 = try FITSReader.read(Fixtures.realData("m51_kpno_B_devpix.fits")).data
        let m51ref = (ref["m51"] as! [String: Any])["zscale"] as! [Double]
        for (name, values, expected) in [("ramp_outliers", ramp, zs["ramp_outliers"]!), ("sky_sources", sky, zs["sky_sources"]!),
                                         ("m51", m51, m51ref)] {
            let l = try #require(ZScale.limits(values))
            #expect(abs(l.low - expected[0]) <= 1e-9 * max(1, abs(expected[0])), "\(name) z1 \(l.low) vs astropy \(expected[0])")
            #expect(abs(l.high - expected[1]) <= 1e-9 * max(1, abs(expected[1])), "\(name) z2 \(l.high) vs astropy \(expected[1])")
        }
    }

    @Test func panelsSideBySideWithGapAndOrientation() throws {
        // Panel A 2 × 2 = [0 1 / 2 3] (y = 0 first), panel B 3 × 4 with a NaN.
        let a = try PreviewPanel(values: [0, 1, 2, 3], width: 2, height: 2, stretch: .linear)
        var bValues = (0..<12).map(Float.init)
        bValues[0] = .nan  // x = 0, y = 0: bottom-left → last PNG row, column 3
        let b = try PreviewPanel(values: bValues, width: 3, height: 4, stretch: .linear)
        let png = try Self.roundTrip([a, b])
        #expect(png.width == 2 + 1 + 3 && png.height == 4)
        // FITS y points up: PNG row 0 shows y = 1 of panel A.
        #expect([png[0, 0], png[1, 0], png[0, 1], png[1, 1]] == [170, 255, 0, 85])
        #expect((0..<4).allSatisfy { png[2, $0] == 255 })          // the 1-pixel gap
        #expect(png[0, 2] == 255 && png[1, 3] == 255)             // padding under the shorter panel
        #expect(png[3, 3] == 0)                                    // NaN is black
        // Panel B linear from 1 to 11 (NaN ignored): value 11 at x = 2, y = 3 → row 0, column 5.
        #expect(png[5, 0] == 255 && png[4, 3] == 0)
    }

    @Test func unwritableDirectoryLeavesNoFile() throws {
        let p = try PreviewPanel(values: [0, 1, 2, 3], width: 2, height: 2, stretch: .linear)
        let path = "/sys/tweedie-test-preview.png"
        #expect(throws: TweedieError.self) { try PNGPreview.write([p], to: path) }
        #expect(!FileManager.default.fileExists(atPath: path))
        #expect(throws: TweedieError.self) { _ = try PreviewPanel(values: [1, 2, 3], width: 2, height: 2, stretch: .linear) }
    }
}
