// A minimal raster plot for reports (points with error bars on linear axes),
// written as a greyscale PNG through PNGPreview. Tick labels use a 3×5-pixel
// bitmap font of the characters "0123456789.-+e" drawn at 2× scale; axis titles
// go in the report's text, not in the picture.

import Foundation

public enum LinePlot {
    /// 3×5 glyphs, rows top to bottom, 3 bits per row (MSB = left).
    static let glyphs: [Character: [UInt8]] = [
        "0": [7, 5, 5, 5, 7], "1": [2, 6, 2, 2, 7], "2": [7, 1, 7, 4, 7], "3": [7, 1, 7, 1, 7],
        "4": [5, 5, 7, 1, 1], "5": [7, 4, 7, 1, 7], "6": [7, 4, 7, 5, 7], "7": [7, 1, 1, 1, 1],
        "8": [7, 5, 7, 5, 7], "9": [7, 5, 7, 1, 7], ".": [0, 0, 0, 0, 2], "-": [0, 0, 7, 0, 0],
        "+": [0, 2, 7, 2, 0], "e": [0, 7, 7, 4, 7],
    ]

    /// Points (x, y ± err) joined by lines, with ticks at the x values and 5 y ticks.
    public static func errorBars(x: [Double], y: [Double], err: [Double], width: Int = 640, height: Int = 400) -> GreyscaleImage {
        var px = [UInt8](repeating: 255, count: width * height)
        func set(_ X: Int, _ Y: Int, _ v: UInt8 = 0) {
            if X >= 0 && X < width && Y >= 0 && Y < height { px[Y * width + X] = min(px[Y * width + X], v) }
        }
        func line(_ x0: Int, _ y0: Int, _ x1: Int, _ y1: Int, _ v: UInt8 = 0) {
            let n = max(abs(x1 - x0), abs(y1 - y0), 1)
            for i in 0...n {
                set(x0 + (x1 - x0) * i / n, y0 + (y1 - y0) * i / n, v)
            }
        }
        func text(_ s: String, _ X: Int, _ Y: Int) {
            var cx = X
            for ch in s {
                if let g = glyphs[ch] {
                    for (r, bits) in g.enumerated() {
                        for c in 0..<3 where bits & (4 >> UInt8(c)) != 0 {
                            for dy in 0..<2 { for dx in 0..<2 { set(cx + 2 * c + dx, Y + 2 * r + dy) } }
                        }
                    }
                }
                cx += 8
            }
        }
        let left = 70, right = width - 20, top = 20, bottom = height - 40
        let finite = zip(y, err).filter { $0.0.isFinite }
        var lo = finite.map { $0.0 - ($0.1.isFinite ? $0.1 : 0) }.min() ?? 0
        var hi = finite.map { $0.0 + ($0.1.isFinite ? $0.1 : 0) }.max() ?? 1
        if lo >= 0 && lo < 0.3 * hi { lo = 0 }
        if hi <= lo { hi = lo + 1 }
        let pad = 0.05 * (hi - lo); lo -= lo == 0 ? 0 : pad; hi += pad
        let xlo = x.min() ?? 0, xhi = max(x.max() ?? 1, xlo + 1e-12)
        let xr = xhi - xlo, xpad = xr * 0.06
        func X(_ v: Double) -> Int { left + Int(((v - xlo + xpad) / (xr + 2 * xpad)) * Double(right - left)) }
        func Y(_ v: Double) -> Int { bottom - Int(((v - lo) / (hi - lo)) * Double(bottom - top)) }
        line(left, top, left, bottom); line(left, bottom, right, bottom)
        for k in 0...4 {
            let v = lo + (hi - lo) * Double(k) / 4
            let yy = Y(v)
            line(left - 5, yy, left, yy)
            for xx in stride(from: left + 1, to: right, by: 4) { set(xx, yy, 220) }
            text(String(format: "%.3g", v), 4, yy - 5)
        }
        for v in x {
            let xx = X(v)
            line(xx, bottom, xx, bottom + 5)
            let label = String(format: "%g", v)
            text(label, xx - 4 * label.count, bottom + 10)
        }
        var prev: (Int, Int)? = nil
        for i in x.indices where y[i].isFinite {
            let xx = X(x[i]), yy = Y(y[i])
            if let p = prev { line(p.0, p.1, xx, yy, 120) }
            prev = (xx, yy)
            if err[i].isFinite && err[i] > 0 {
                let a = Y(y[i] - err[i]), b = Y(y[i] + err[i])
                line(xx, a, xx, b); line(xx - 4, a, xx + 4, a); line(xx - 4, b, xx + 4, b)
            }
            for dy in -3...3 { for dx in -3...3 where dx * dx + dy * dy <= 10 { set(xx + dx, yy + dy) } }
        }
        return GreyscaleImage(width: width, height: height, pixels: px)
    }
}
