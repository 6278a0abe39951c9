// A small line-plot rasteriser for diagnostic figures (e.g. calibration curves:
// nominal vs empirical coverage), written as an RGB PNG with libpng's
// simplified API (no setjmp; PLATFORM.md).
//
// Conventions: data coordinates map linearly onto the plot frame, x to the
// right and y up; pixel (0, 0) is the top-left of the image, rows top to
// bottom (PNG order). Lines are drawn by stepping along each segment at
// sub-pixel spacing and stamping a square of the line width (no
// anti-aliasing). Text uses a built-in 5×7 bitmap font of upper-case letters,
// digits and common punctuation (lower case is drawn upper case; other
// characters as '?'), scaled by an integer factor.

import CPNG
import Foundation

/// Drawing on an RGBImage (declared with the preview grid): a filled canvas, pixels, boxes,
/// bitmap text, and PNG output.
extension RGBImage {
    public init(width: Int, height: Int, background: (UInt8, UInt8, UInt8) = (255, 255, 255)) {
        var p = [UInt8](repeating: 0, count: width * height * 3)
        for i in 0..<(width * height) { p[3 * i] = background.0; p[3 * i + 1] = background.1; p[3 * i + 2] = background.2 }
        self.init(width: width, height: height, pixels: p)
    }

    public func pixel(x: Int, y: Int) -> (UInt8, UInt8, UInt8) {
        let i = 3 * (y * width + x)
        return (pixels[i], pixels[i + 1], pixels[i + 2])
    }

    public mutating func set(x: Int, y: Int, _ c: (UInt8, UInt8, UInt8)) {
        guard x >= 0, y >= 0, x < width, y < height else { return }
        let i = 3 * (y * width + x)
        pixels[i] = c.0; pixels[i + 1] = c.1; pixels[i + 2] = c.2
    }

    public mutating func fill(x0: Int, y0: Int, x1: Int, y1: Int, _ c: (UInt8, UInt8, UInt8)) {
        // Clipped to the picture; an empty or off-picture box draws nothing.
        let ya = max(0, y0), yb = min(height - 1, y1), xa = max(0, x0), xb = min(width - 1, x1)
        guard ya <= yb, xa <= xb else { return }
        for y in ya...yb {
            for x in xa...xb { set(x: x, y: y, c) }
        }
    }

    /// Draws `text` with its top-left corner at (x, y); returns the width drawn in pixels.
    @discardableResult
    public mutating func draw(text: String, x: Int, y: Int, scale: Int = 1, colour: (UInt8, UInt8, UInt8) = (0, 0, 0)) -> Int {
        var cx = x
        for ch in text.uppercased() {
            let rows = BitmapFont.glyph(ch)
            for (r, bits) in rows.enumerated() {
                for col in 0..<5 where bits & (1 << (4 - col)) != 0 {
                    fill(x0: cx + col * scale, y0: y + r * scale, x1: cx + col * scale + scale - 1, y1: y + r * scale + scale - 1, colour)
                }
            }
            cx += 6 * scale
        }
        return cx - x
    }

    /// Writes the picture to `path` atomically as an 8-bit RGB PNG.
    public func writePNG(to path: String) throws { try PNGPreview.write(self, to: path) }
}

public struct LinePlot: Sendable {
    public struct Series: Sendable {
        public var x: [Double]
        public var y: [Double]
        public var colour: (UInt8, UInt8, UInt8)
        public var lineWidth: Int
        public var label: String?
        /// Draw a small square at each point.
        public var markers: Bool
        public init(x: [Double], y: [Double], colour: (UInt8, UInt8, UInt8), lineWidth: Int = 1, label: String? = nil,
                    markers: Bool = true) {
            self.x = x; self.y = y; self.colour = colour; self.lineWidth = lineWidth; self.label = label; self.markers = markers
        }
    }

    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var xRange: ClosedRange<Double>
    public var yRange: ClosedRange<Double>
    public var xTicks: [Double]
    public var yTicks: [Double]
    /// Tick label text for a value (default: the value × 100 rounded, for percentages; override as needed).
    public var tickFormat: @Sendable (Double) -> String
    /// A shaded band between two curves sampled at the same x (e.g. nominal ± tolerance).
    public var band: (x: [Double], lower: [Double], upper: [Double])?
    public var series: [Series]

    public init(title: String, xLabel: String, yLabel: String, xRange: ClosedRange<Double>, yRange: ClosedRange<Double>,
                xTicks: [Double], yTicks: [Double], tickFormat: @escaping @Sendable (Double) -> String = { String(Int(($0 * 100).rounded())) },
                band: (x: [Double], lower: [Double], upper: [Double])? = nil, series: [Series] = []) {
        self.title = title; self.xLabel = xLabel; self.yLabel = yLabel; self.xRange = xRange; self.yRange = yRange
        self.xTicks = xTicks; self.yTicks = yTicks; self.tickFormat = tickFormat; self.band = band; self.series = series
    }

    /// Frame margins in pixels: left, right, top, bottom (room for labels, title and legend).
    public static let margins = (left: 56, right: 16, top: 34, bottom: 44)

    /// Pixel position of a data point in a `width`×`height` image.
    public func pixel(x: Double, y: Double, width: Int, height: Int) -> (x: Int, y: Int) {
        let m = Self.margins
        let fx = (x - xRange.lowerBound) / (xRange.upperBound - xRange.lowerBound)
        let fy = (y - yRange.lowerBound) / (yRange.upperBound - yRange.lowerBound)
        let px = Double(m.left) + fx * Double(width - m.left - m.right - 1)
        let py = Double(height - m.bottom - 1) - fy * Double(height - m.top - m.bottom - 1)
        return (Int(px.rounded()), Int(py.rounded()))
    }

    public func render(width: Int = 640, height: Int = 480) -> RGBImage {
        var img = RGBImage(width: width, height: height)
        let m = Self.margins
        let left = m.left, right = width - m.right - 1, top = m.top, bottom = height - m.bottom - 1
        // Band.
        if let b = band, b.x.count >= 2 {
            for px in left...right {
                let fx = Double(px - left) / Double(right - left)
                let xv = xRange.lowerBound + fx * (xRange.upperBound - xRange.lowerBound)
                guard let i = b.x.indices.dropLast().first(where: { b.x[$0] <= xv && xv <= b.x[$0 + 1] }) else { continue }
                let t = (xv - b.x[i]) / max(1e-300, b.x[i + 1] - b.x[i])
                let lo = b.lower[i] + t * (b.lower[i + 1] - b.lower[i]), hi = b.upper[i] + t * (b.upper[i + 1] - b.upper[i])
                let y0 = pixel(x: xv, y: hi, width: width, height: height).y, y1 = pixel(x: xv, y: lo, width: width, height: height).y
                img.fill(x0: px, y0: max(top, y0), x1: px, y1: min(bottom, y1), (225, 225, 225))
            }
        }
        // Grid and ticks.
        for t in xTicks {
            let p = pixel(x: t, y: yRange.lowerBound, width: width, height: height)
            for y in top...bottom where y % 3 == 0 { img.set(x: p.x, y: y, (200, 200, 200)) }
            img.fill(x0: p.x, y0: bottom, x1: p.x, y1: bottom + 4, (0, 0, 0))
            let s = tickFormat(t)
            img.draw(text: s, x: p.x - 3 * s.count, y: bottom + 7)
        }
        for t in yTicks {
            let p = pixel(x: xRange.lowerBound, y: t, width: width, height: height)
            for x in left...right where x % 3 == 0 { img.set(x: x, y: p.y, (200, 200, 200)) }
            img.fill(x0: left - 4, y0: p.y, x1: left, y1: p.y, (0, 0, 0))
            let s = tickFormat(t)
            img.draw(text: s, x: left - 7 - 6 * s.count, y: p.y - 3)
        }
        // Frame.
        img.fill(x0: left, y0: top, x1: right, y1: top, (0, 0, 0)); img.fill(x0: left, y0: bottom, x1: right, y1: bottom, (0, 0, 0))
        img.fill(x0: left, y0: top, x1: left, y1: bottom, (0, 0, 0)); img.fill(x0: right, y0: top, x1: right, y1: bottom, (0, 0, 0))
        // Series.
        for s in series {
            let pts = zip(s.x, s.y).filter { $0.0.isFinite && $0.1.isFinite }
            let half = (s.lineWidth - 1) / 2
            func stamp(_ x: Double, _ y: Double, _ r: Int) {
                let xi = Int(x.rounded()), yi = Int(y.rounded())
                img.fill(x0: max(left, xi - r), y0: max(top, yi - r), x1: min(right, xi - r + max(1, 2 * r + 1) - 1),
                         y1: min(bottom, yi - r + max(1, 2 * r + 1) - 1), s.colour)
            }
            for i in pts.indices.dropLast() {
                let a = pixel(x: pts[i].0, y: pts[i].1, width: width, height: height)
                let b = pixel(x: pts[i + 1].0, y: pts[i + 1].1, width: width, height: height)
                let n = max(1, 2 * max(abs(b.x - a.x), abs(b.y - a.y)))
                for k in 0...n {
                    let t = Double(k) / Double(n)
                    stamp(Double(a.x) + t * Double(b.x - a.x), Double(a.y) + t * Double(b.y - a.y), half)
                }
            }
            if s.markers { for p in pts { let q = pixel(x: p.0, y: p.1, width: width, height: height); stamp(Double(q.x), Double(q.y), half + 1) } }
        }
        // Title, axis labels, legend.
        img.draw(text: title, x: left, y: 2, scale: 2)
        img.draw(text: xLabel, x: (left + right) / 2 - 3 * xLabel.count, y: height - 16)
        // y label: drawn above the axis (no rotated text).
        img.draw(text: yLabel, x: 4, y: top - 12 + 2)
        var ly = top + 6
        for s in series {
            guard let label = s.label else { continue }
            img.fill(x0: left + 8, y0: ly + 2, x1: left + 22, y1: ly + 4, s.colour)
            img.draw(text: label, x: left + 28, y: ly)
            ly += 10
        }
        return img
    }
}

/// A 5×7 bitmap font: seven rows per glyph, the five low bits of each row, most significant bit leftmost.
enum BitmapFont {
    static func glyph(_ c: Character) -> [UInt8] { table[c] ?? table["?"]! }
    static let table: [Character: [UInt8]] = [
        " ": [0, 0, 0, 0, 0, 0, 0],
        "0": [0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E], "1": [0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E],
        "2": [0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F], "3": [0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E],
        "4": [0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02], "5": [0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E],
        "6": [0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E], "7": [0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
        "8": [0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E], "9": [0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C],
        "A": [0x0E, 0x11, 0x11, 0x11, 0x1F, 0x11, 0x11], "B": [0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E],
        "C": [0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E], "D": [0x1C, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1C],
        "E": [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F], "F": [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10],
        "G": [0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F], "H": [0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11],
        "I": [0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E], "J": [0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C],
        "K": [0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11], "L": [0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F],
        "M": [0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11], "N": [0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11],
        "O": [0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E], "P": [0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10],
        "Q": [0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D], "R": [0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11],
        "S": [0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E], "T": [0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04],
        "U": [0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E], "V": [0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04],
        "W": [0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A], "X": [0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11],
        "Y": [0x11, 0x11, 0x11, 0x0A, 0x04, 0x04, 0x04], "Z": [0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F],
        ".": [0, 0, 0, 0, 0, 0x0C, 0x0C], ",": [0, 0, 0, 0, 0x0C, 0x04, 0x08],
        "-": [0, 0, 0, 0x1F, 0, 0, 0], "=": [0, 0, 0x1F, 0, 0x1F, 0, 0], "+": [0, 0x04, 0x04, 0x1F, 0x04, 0x04, 0],
        "%": [0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03], "(": [0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02],
        ")": [0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08], "/": [0, 0x01, 0x02, 0x04, 0x08, 0x10, 0],
        ":": [0, 0x0C, 0x0C, 0, 0x0C, 0x0C, 0], "_": [0, 0, 0, 0, 0, 0, 0x1F], "<": [0x02, 0x04, 0x08, 0x10, 0x08, 0x04, 0x02],
        ">": [0x08, 0x04, 0x02, 0x01, 0x02, 0x04, 0x08], "±": [0x04, 0x04, 0x1F, 0x04, 0x04, 0, 0x1F],
        "*": [0, 0x04, 0x15, 0x0E, 0x15, 0x04, 0], "?": [0x0E, 0x11, 0x01, 0x02, 0x04, 0, 0x04],
    ]
}
