// A row of labelled image panels drawn on one sky scale (cairo, `FigureCanvas`):
// each panel has a title above it and a colour bar with tick labels and a
// caption below it; the first panel carries a scale bar.
//
// Conventions:
// - every panel states its pixel scale in one sky unit (arcsec when known,
//   else pixels of a reference grid); the figure shows all of them at one
//   display scale D (sky units per figure pixel), so a panel of pixel scale p
//   is magnified p/D times (nearest neighbour) and an object has the same size
//   in every panel. D makes the finest grid an integer magnification k with
//   the widest panel spanning about `targetSize` figure pixels;
// - panels are centred in cells of the largest panel's extent;
// - orientation as ds9 shows a FITS image: image row y = 0 at the bottom;
// - the scale bar is the largest 1, 2 or 5 × 10ⁿ sky units not longer than a
//   quarter of the cell; its length in figure pixels is length / D.
import Foundation

/// One image panel of a figure.
public struct FigurePanel: Sendable {
    public var title: String
    /// `[y][x]` values, y = 0 the bottom row.
    public var values: [Float]
    public var width: Int
    public var height: Int
    public var scale: ColourScale
    /// Sky units per pixel of this panel (the figure's unit).
    public var pixelScale: Double
    /// A line under the colour bar (what the scale is).
    public var caption: String

    public init(title: String, values: [Float], width: Int, height: Int, scale: ColourScale, pixelScale: Double,
                caption: String = "") throws {
        guard width > 0, height > 0, values.count == width * height else {
            throw TweedieError.shapeMismatch(what: "figure panel \"\(title)\"", expected: "\(width)×\(height) = \(width * height) values",
                                             got: "\(values.count) values")
        }
        guard pixelScale.isFinite, pixelScale > 0 else {
            throw TweedieError.invalidInput(what: "figure panel \"\(title)\"", problem: "pixel scale \(pixelScale) is not > 0")
        }
        self.title = title; self.values = values; self.width = width; self.height = height
        self.scale = scale; self.pixelScale = pixelScale; self.caption = caption
    }
}

/// A row of panels on one sky scale.
public struct PanelFigure: Sendable {
    public var panels: [FigurePanel]
    /// The sky unit of the pixel scales, as printed on the scale bar ("″" or "px").
    public var unit: String
    /// About how many figure pixels the widest panel spans.
    public var targetSize: Int

    public init(panels: [FigurePanel], unit: String, targetSize: Int = 256) {
        self.panels = panels; self.unit = unit; self.targetSize = targetSize
    }

    /// Where everything goes, in figure pixels.
    public struct Layout: Sendable {
        public var width: Int, height: Int
        /// D: sky units per figure pixel.
        public var displayScale: Double
        public var cellWidth: Double, cellHeight: Double
        /// Per panel: the image box (x, y, width, height) and the colour bar box.
        public var images: [(x: Double, y: Double, width: Double, height: Double)]
        public var bars: [(x: Double, y: Double, width: Double, height: Double)]
        /// Scale bar: length in sky units, in figure pixels, left end x and row (the bar is 2 px thick,
        /// covering rows `barRow − 1` and `barRow`).
        public var scaleBarLength: Double, scaleBarPixels: Double, scaleBarX: Double, scaleBarRow: Int
    }

    static let margin = 10.0, spacing = 18.0, titleHeight = 24.0, barGap = 6.0, barHeight = 10.0
    static let tickLength = 3.0, tickLabelHeight = 13.0, captionHeight = 15.0
    public static let titleSize = 14.0, labelSize = 10.0

    /// The largest 1, 2 or 5 × 10ⁿ not above `x` (x > 0).
    public static func niceLength(atMost x: Double) -> Double {
        let p = pow(10, floor(log10(x)))
        for m in [5.0, 2, 1] where m * p <= x * (1 + 1e-12) { return m * p }
        return p
    }

    public func layout() throws -> Layout {
        guard !panels.isEmpty else { throw TweedieError.invalidInput(what: "figure", problem: "no panels to draw") }
        let finest = panels.map(\.pixelScale).min()!
        let extentX = panels.map { Double($0.width) * $0.pixelScale }.max()!
        let extentY = panels.map { Double($0.height) * $0.pixelScale }.max()!
        let k = max(1, (Double(targetSize) / (max(extentX, extentY) / finest)).rounded())
        let d = finest / k
        let cw = (extentX / d).rounded(), ch = (extentY / d).rounded()
        let m = Self.margin
        let width = Int(2 * m + Double(panels.count) * cw + Double(panels.count - 1) * Self.spacing)
        let imageTop = m + Self.titleHeight
        let barTop = imageTop + ch + Self.barGap
        let height = Int(barTop + Self.barHeight + Self.tickLength + Self.tickLabelHeight + Self.captionHeight + m)
        var images: [(x: Double, y: Double, width: Double, height: Double)] = []
        var bars: [(x: Double, y: Double, width: Double, height: Double)] = []
        for (i, p) in panels.enumerated() {
            let cx = m + Double(i) * (cw + Self.spacing)
            let w = Double(p.width) * p.pixelScale / d, h = Double(p.height) * p.pixelScale / d
            images.append((x: (cx + (cw - w) / 2).rounded(), y: (imageTop + (ch - h) / 2).rounded(), width: w, height: h))
            bars.append((x: cx, y: barTop, width: cw, height: Self.barHeight))
        }
        let length = Self.niceLength(atMost: cw * d / 4)
        let first = images[0]
        return Layout(width: width, height: height, displayScale: d, cellWidth: cw, cellHeight: ch, images: images, bars: bars,
                      scaleBarLength: length, scaleBarPixels: length / d, scaleBarX: first.x + 8,
                      scaleBarRow: Int(first.y + first.height) - 8)
    }

    /// The panel's values as a picture (row 0 at the top) in its colour scale.
    static func picture(_ p: FigurePanel) -> RGBImage {
        var px = [UInt8](repeating: 0, count: 3 * p.width * p.height)
        for row in 0..<p.height {
            let y = p.height - 1 - row
            for x in 0..<p.width {
                let c = p.scale.colour(p.values[y * p.width + x])
                let i = 3 * (row * p.width + x)
                px[i] = c.0; px[i + 1] = c.1; px[i + 2] = c.2
            }
        }
        return RGBImage(width: p.width, height: p.height, pixels: px)
    }

    /// Draws the figure.
    public func render() throws -> (picture: RGBImage, layout: Layout) {
        let l = try layout()
        let canvas = try FigureCanvas(width: l.width, height: l.height)
        let black: RGB = (0, 0, 0), white: RGB = (255, 255, 255)
        for (i, p) in panels.enumerated() {
            let img = l.images[i], bar = l.bars[i]
            canvas.text(p.title, x: bar.x + bar.width / 2, y: Self.margin + Self.titleSize, size: Self.titleSize,
                        anchor: .centre, bold: true)
            canvas.draw(Self.picture(p), x: img.x, y: img.y, scale: p.pixelScale / l.displayScale)
            // Colour bar: one column per figure pixel, then its frame, ticks and labels.
            let n = Int(bar.width)
            for j in 0..<n {
                let t = (Double(j) + 0.5) / Double(n)
                canvas.fill(x: bar.x + Double(j), y: bar.y, width: 1, height: bar.height, p.scale.colour(atPosition: t))
            }
            canvas.frame(x: bar.x + 0.5, y: bar.y + 0.5, width: bar.width - 1, height: bar.height - 1, black)
            let tickTop = bar.y + bar.height
            for tick in p.scale.ticks {
                let x = (bar.x + 0.5 + tick.position * (bar.width - 1)).rounded(.down) + 0.5
                canvas.line(x, tickTop, x, tickTop + Self.tickLength, black)
                let anchor: TextAnchor = tick.position < 0.02 ? .left : (tick.position > 0.98 ? .right : .centre)
                canvas.text(tick.label, x: anchor == .left ? bar.x : (anchor == .right ? bar.x + bar.width : x),
                            y: tickTop + Self.tickLength + Self.labelSize + 1, size: Self.labelSize, anchor: anchor)
            }
            if let r = p.scale.reference {
                // The reference value (VR = 1, residual 0): a black line across the bar.
                let x = (bar.x + 0.5 + r.position * (bar.width - 1)).rounded(.down) + 0.5
                canvas.line(x, bar.y - 2, x, bar.y + bar.height + 2, black, lineWidth: 2)
            }
            canvas.text(p.caption, x: bar.x + bar.width / 2,
                        y: tickTop + Self.tickLength + Self.tickLabelHeight + Self.labelSize + 2, size: Self.labelSize,
                        anchor: .centre, colour: (60, 60, 60))
        }
        // Scale bar on the first panel: white on a black box, the label above the bar.
        let label = "\(ColourScale.format(l.scaleBarLength))\(unit == "px" ? " px" : unit)"
        let row = Double(l.scaleBarRow)
        let boxWidth = max(l.scaleBarPixels, canvas.textWidth(label, size: Self.labelSize)) + 8
        canvas.fill(x: l.scaleBarX - 4, y: row - 17, width: boxWidth, height: 21, black)
        canvas.line(l.scaleBarX, row, l.scaleBarX + l.scaleBarPixels, row, white, lineWidth: 2)
        canvas.text(label, x: l.scaleBarX, y: row - 5, size: Self.labelSize, colour: white)
        return (canvas.picture(), l)
    }

    /// Draws the figure and writes it to `path` atomically (RGB PNG).
    @discardableResult
    public func write(to path: String) throws -> Layout {
        let (picture, l) = try render()
        try PNGPreview.write(picture, to: path)
        return l
    }
}
