// Labelled figures (cairo): text is really set, colour scales against their
// closed forms (RdBu stops, log positions, asinh inverse), one sky scale for
// every panel, the scale bar's length in pixels = length / display scale,
// orientation, and the PNG written at the layout's size.
import Foundation
import Testing
@testable import TweedieCore

@Suite struct PanelFigureTests {
    static func inked(_ p: RGBImage, x0: Int, y0: Int, x1: Int, y1: Int) -> Int {
        var n = 0
        for y in y0..<y1 { for x in x0..<x1 where p[x, y] != (255, 255, 255) { n += 1 } }
        return n
    }

    @Test func textIsSetInAFontAndDiffersByString() throws {
        func drawn(_ s: String) throws -> RGBImage {
            let c = try FigureCanvas(width: 220, height: 40)
            c.text(s, x: 10, y: 26, size: 14)
            return c.picture()
        }
        let a = try drawn("observation"), b = try drawn("posterior mean"), blank = try FigureCanvas(width: 220, height: 40).picture()
        #expect(Self.inked(blank, x0: 0, y0: 0, x1: 220, y1: 40) == 0)
        // A 14-px word covers dozens of pixels (a missing font draws nothing).
        #expect(Self.inked(a, x0: 0, y0: 0, x1: 220, y1: 40) > 60)
        #expect(a != b)
        // Advance width grows with the string; a 14-px sans "observation" is about 80–100 px wide.
        let c = try FigureCanvas(width: 10, height: 10)
        let w = c.textWidth("observation", size: 14)
        #expect(w > 60 && w < 120)
        #expect(c.textWidth("observation observation", size: 14) > 1.9 * w)
    }

    @Test func logRatioScaleSeparatesRatiosAboveOne() {
        let s = ColourScale.logRatio(low: 1e-3, high: 10)
        // t = (log10 x + 3) / 4.
        #expect(abs(s.position(1) - 0.75) < 1e-12)
        #expect(abs(s.position(0.01) - 0.25) < 1e-7)  // 0.01 as a Float
        #expect(s.position(10) == 1 && s.position(1000) == 1 && s.position(0) == 0)
        // RdBu: dark blue at the bottom, the white stop at 1, dark red at the top.
        #expect(s.colour(Float(1e-3)) == (5, 48, 97))
        #expect(s.colour(1) == (247, 247, 247))
        #expect(s.colour(10) == (103, 0, 31))
        #expect(s.colour(10) != s.colour(1) && s.colour(3) != s.colour(1))
        #expect(s.ticks.map(\.label) == ["0.001", "0.01", "0.1", "1", "10"])
        #expect(s.reference?.position == 0.75)
        #expect(s.colour(.nan) == (0, 0, 0))
    }

    @Test func asinhTicksInvertTheStretch() {
        let m = StretchMapping.noiseAsinh(sky: 10, sigma: 2, high: 5000)
        #expect(m.low == 8 && m.softening == 2 && m.high == 5000)
        for u in stride(from: 0.0, through: 1.0, by: 0.125) {
            #expect(abs(m.unit(Float(m.value(atUnit: u))) - u) < 1e-5)
        }
        // Unit change: every parameter scales with the factor, so the grey of f·x equals that of x.
        let f = StretchMapping.noiseAsinh(sky: 10, sigma: 2, high: 5000, factor: 4)
        #expect(abs(f.unit(4 * 123) - m.unit(123)) < 1e-12)
    }

    @Test func niceScaleBarLengths() {
        #expect(PanelFigure.niceLength(atMost: 7.3) == 5)
        #expect(PanelFigure.niceLength(atMost: 19.9) == 10)
        #expect(abs(PanelFigure.niceLength(atMost: 0.031) - 0.02) < 1e-15)
        #expect(PanelFigure.niceLength(atMost: 20) == 20)
    }

    /// A panel with one bright pixel at pixel (i, j), the rest 0.
    static func spot(_ n: Int, _ i: Int, _ j: Int, scale: Double, title: String) throws -> FigurePanel {
        var v = [Float](repeating: 0, count: n * n)
        v[j * n + i] = 1
        return try FigurePanel(title: title, values: v, width: n, height: n,
                               scale: .grey(StretchMapping(stretch: .linear, low: 0, high: 1, softening: 0)), pixelScale: scale)
    }

    @Test func panelsShareOneSkyScale() throws {
        // The same sky: 32 px of 0.8″ and 64 px of 0.4″; a spot at the same sky position (upper-right
        // quarter, clear of the scale bar) in both. Shown at one display scale, both panels are equally wide and the spot
        // lands at the same place within each.
        let coarse = try Self.spot(32, 24, 20, scale: 0.8, title: "coarse")
        let fine = try Self.spot(64, 48, 40, scale: 0.4, title: "fine")
        let fig = PanelFigure(panels: [coarse, fine], unit: "″", targetSize: 128)
        let (pic, l) = try fig.render()
        #expect(abs(l.displayScale - 0.2) < 1e-12)  // the fine grid magnified 2× to span 128 px
        #expect(abs(l.images[0].width - 128) < 1e-9 && abs(l.images[1].width - 128) < 1e-9)
        #expect(pic.width == l.width && pic.height == l.height)
        func spotBox(_ k: Int) -> (x: Int, y: Int, n: Int) {
            let b = l.images[k]
            var xs: [Int] = [], ys: [Int] = []
            for y in Int(b.y)..<Int(b.y + b.height / 2) {  // the upper half: the scale bar sits at the bottom
                for x in Int(b.x)..<Int(b.x + b.width) where pic[x, y] == (255, 255, 255) { xs.append(x - Int(b.x)); ys.append(y - Int(b.y)) }
            }
            return (xs.min() ?? -1, ys.min() ?? -1, xs.count)
        }
        let a = spotBox(0), b = spotBox(1)
        // Coarse spot: 4×4 figure pixels at column 24·4 = 96 and (FITS row 20 from the bottom) row
        // 128 − 21·4 = 44; fine spot: 2×2 pixels at column 48·2 = 96, row 128 − 41·2 = 46 — inside the coarse one.
        #expect(a.n == 16 && a.x == 96 && a.y == 44, "\(a)")
        #expect(b.n == 4 && b.x == 96 && b.y == 46, "\(b)")
    }

    @Test func scaleBarLengthIsLengthOverDisplayScale() throws {
        let p = try FigurePanel(title: "sky", values: [Float](repeating: 0.5, count: 100 * 100), width: 100, height: 100,
                                scale: .grey(StretchMapping(stretch: .linear, low: 0, high: 1, softening: 0)), pixelScale: 0.766)
        let (pic, l) = try PanelFigure(panels: [p], unit: "″").render()
        // 100 px of 0.766″ = 76.6″ at k = round(256 / 100) = 3: D = 0.766 / 3; a quarter of the cell is 19.15″ → 10″.
        #expect(abs(l.displayScale - 0.766 / 3) < 1e-12)
        #expect(l.scaleBarLength == 10)
        #expect(abs(l.scaleBarPixels - 10 / (0.766 / 3)) < 1e-9)
        // The drawn bar: white pixels along its row, from its left end, as many as its length (± 1 for the
        // anti-aliased end).
        var run = 0
        var x = Int(l.scaleBarX)
        while x < pic.width, pic[x, l.scaleBarRow - 1].0 > 127 { run += 1; x += 1 }
        #expect(abs(Double(run) - l.scaleBarPixels) <= 1)
    }

    @Test func titlesAndBarsAreDrawnAndThePNGHasTheLayoutSize() throws {
        let a = try Self.spot(16, 3, 3, scale: 1, title: "observation")
        var b = try Self.spot(16, 3, 3, scale: 1, title: "variance ratio")
        b.scale = .logRatio(low: 1e-3, high: 10)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("tweedie-figure-\(UUID().uuidString).png").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let l = try PanelFigure(panels: [a, b], unit: "px").write(to: path)
        let png = try PNGPreview.readRGB(path)
        #expect(png.width == l.width && png.height == l.height)
        // Titles: ink above each image, and the two differ.
        let t0 = Self.inked(png, x0: Int(l.bars[0].x), y0: 0, x1: Int(l.bars[0].x + l.bars[0].width), y1: Int(l.images[0].y))
        let t1 = Self.inked(png, x0: Int(l.bars[1].x), y0: 0, x1: Int(l.bars[1].x + l.bars[1].width), y1: Int(l.images[1].y))
        #expect(t0 > 40 && t1 > 40 && t0 != t1)
        // The variance-ratio bar: its middle row runs blue → white → red, with a black mark at VR = 1 (t = ¾).
        let bar = l.bars[1], row = Int(bar.y + bar.height / 2)
        let left = png[Int(bar.x) + 2, row], right = png[Int(bar.x + bar.width) - 3, row]
        #expect(left.2 > left.0 && right.0 > right.2)
        let mark = Int(bar.x + 0.5 + 0.75 * (bar.width - 1))
        #expect(png[mark, row] == (0, 0, 0))
    }
}
