// A small line-plot rasteriser for diagnostic figures (e.g. calibration curves:
// nominal vs empirical coverage), written as an RGB PNG with libpng's
// simplified API (no setjmp; PLATFORM.md).
//
// Conventions: data coordinates map linearly onto the plot frame, x to the
// right and y up; pixel (0, 0) is the top-left of the image, rows top to
// bottom (PNG order). Lines are drawn by stepping along each segment at
// sub-pixel spacing and stamping a square of the line width (no
// anti-aliasing). Text is set last, by cairo in the sans-serif face
// (`FigureCanvas`): title 15 px bold, labels and ticks 11 px; a text's y is
// its baseline.

import CPNG
import Foundation

/// Drawing on an RGBImage (declared with the preview grid): a filled canvas, pixels, boxes,
/// and PNG output.
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

    /// A text to set: string, anchor point (x, baseline y), size, alignment, weight.
    struct Label { var text: String; var x: Double; var y: Double; var size: Double; var anchor: TextAnchor; var bold = false }

    public func render(width: Int = 640, height: Int = 480) throws -> RGBImage {
        var img = RGBImage(width: width, height: height)
        var labels: [Label] = []
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
            labels.append(Label(text: s, x: Double(p.x), y: Double(bottom + 18), size: 11, anchor: .centre))
        }
        for t in yTicks {
            let p = pixel(x: xRange.lowerBound, y: t, width: width, height: height)
            for x in left...right where x % 3 == 0 { img.set(x: x, y: p.y, (200, 200, 200)) }
            img.fill(x0: left - 4, y0: p.y, x1: left, y1: p.y, (0, 0, 0))
            let s = tickFormat(t)
            labels.append(Label(text: s, x: Double(left - 7), y: Double(p.y + 4), size: 11, anchor: .right))
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
        labels.append(Label(text: title, x: Double(left), y: 16, size: 15, anchor: .left, bold: true))
        labels.append(Label(text: xLabel, x: Double(left + right) / 2, y: Double(height - 8), size: 11, anchor: .centre))
        // y label: set above the axis (no rotated text).
        labels.append(Label(text: yLabel, x: 4, y: Double(top - 5), size: 11, anchor: .left))
        var ly = top + 6
        for s in series {
            guard let label = s.label else { continue }
            img.fill(x0: left + 8, y0: ly + 4, x1: left + 22, y1: ly + 6, s.colour)
            labels.append(Label(text: label, x: Double(left + 28), y: Double(ly + 9), size: 11, anchor: .left))
            ly += 14
        }
        let canvas = try FigureCanvas(width: width, height: height)
        canvas.draw(img, x: 0, y: 0, scale: 1)
        for l in labels { canvas.text(l.text, x: l.x, y: l.y, size: l.size, anchor: l.anchor, bold: l.bold) }
        return canvas.picture()
    }
}
