// A drawing surface for figures, over cairo (Debian libcairo2-dev): filled
// boxes, lines, pictures scaled with nearest-neighbour sampling, and text set
// by cairo's toy text API in the sans-serif face fontconfig resolves
// ("DejaVu Sans" from Debian's fonts-dejavu-core).
//
// Conventions: coordinates are pixels of the figure, (0, 0) its top-left
// corner, x right and y down (cairo's device space); colours are 8-bit
// (r, g, b). The surface is CAIRO_FORMAT_RGB24: 32-bit native-endian words
// 0x00RRGGBB, rows `stride` bytes apart. `picture()` copies it out as an
// `RGBImage`, which is written with libpng (atomic write, `PNGPreview`).
import CCairo
import Foundation

/// An 8-bit colour.
public typealias RGB = (UInt8, UInt8, UInt8)

/// How text is placed horizontally relative to its anchor point.
public enum TextAnchor: Sendable { case left, centre, right }

/// A cairo image surface and its drawing context. Owns both and frees them in `deinit`.
/// Not thread-safe: use one canvas from one task.
public final class FigureCanvas {
    public let width: Int
    public let height: Int
    private let surface: OpaquePointer
    private let context: OpaquePointer
    /// The font family asked of fontconfig.
    public static let fontFamily = "DejaVu Sans"

    /// A `width` × `height` canvas filled with `background`.
    public init(width: Int, height: Int, background: RGB = (255, 255, 255)) throws {
        guard width > 0, height > 0, width <= 32_767, height <= 32_767 else {
            throw TweedieError.invalidInput(what: "figure", problem: "size \(width)×\(height) is outside 1…32767 pixels per side (cairo's limit); draw fewer panels or a cutout")
        }
        guard let s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, Int32(width), Int32(height)),
              cairo_surface_status(s) == CAIRO_STATUS_SUCCESS else {
            throw TweedieError.numerical(problem: "cairo could not create a \(width)×\(height) figure (out of memory?)")
        }
        guard let c = cairo_create(s), cairo_status(c) == CAIRO_STATUS_SUCCESS else {
            cairo_surface_destroy(s)
            throw TweedieError.numerical(problem: "cairo could not create a drawing context")
        }
        self.width = width; self.height = height; surface = s; context = c
        cairo_select_font_face(c, Self.fontFamily, CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL)
        fill(x: 0, y: 0, width: Double(width), height: Double(height), background)
    }

    deinit {
        cairo_destroy(context)
        cairo_surface_destroy(surface)
    }

    private func setColour(_ c: RGB) {
        cairo_set_source_rgb(context, Double(c.0) / 255, Double(c.1) / 255, Double(c.2) / 255)
    }

    /// Fills the box with top-left corner (x, y).
    public func fill(x: Double, y: Double, width w: Double, height h: Double, _ colour: RGB) {
        setColour(colour)
        cairo_rectangle(context, x, y, w, h)
        cairo_fill(context)
    }

    /// Strokes a box outline of line width `lineWidth`.
    public func frame(x: Double, y: Double, width w: Double, height h: Double, _ colour: RGB, lineWidth: Double = 1) {
        setColour(colour)
        cairo_set_line_width(context, lineWidth)
        cairo_rectangle(context, x, y, w, h)
        cairo_stroke(context)
    }

    /// A straight line from (x0, y0) to (x1, y1), butt caps (a horizontal line of line width 1 from
    /// x0 to x1 at y = k + 0.5 covers exactly the pixels x0 ..< x1 of row k).
    public func line(_ x0: Double, _ y0: Double, _ x1: Double, _ y1: Double, _ colour: RGB, lineWidth: Double = 1) {
        setColour(colour)
        cairo_set_line_width(context, lineWidth)
        cairo_move_to(context, x0, y0)
        cairo_line_to(context, x1, y1)
        cairo_stroke(context)
    }

    /// A polyline through the points (anti-aliased, round joins).
    public func polyline(_ points: [(x: Double, y: Double)], _ colour: RGB, lineWidth: Double = 1) {
        guard let first = points.first else { return }
        setColour(colour)
        cairo_set_line_width(context, lineWidth)
        cairo_set_line_join(context, CAIRO_LINE_JOIN_ROUND)
        cairo_move_to(context, first.x, first.y)
        for p in points.dropFirst() { cairo_line_to(context, p.x, p.y) }
        cairo_stroke(context)
    }

    /// The advance width of `text` at font size `size` (pixels).
    public func textWidth(_ text: String, size: Double) -> Double {
        cairo_set_font_size(context, size)
        var e = cairo_text_extents_t()
        cairo_text_extents(context, text, &e)
        return e.x_advance
    }

    /// Draws `text` with its baseline at y and its left end, centre or right end at x.
    public func text(_ text: String, x: Double, y: Double, size: Double, anchor: TextAnchor = .left,
                     colour: RGB = (0, 0, 0), bold: Bool = false) {
        cairo_select_font_face(context, Self.fontFamily, CAIRO_FONT_SLANT_NORMAL,
                               bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL)
        let w = textWidth(text, size: size)
        let x0: Double
        switch anchor {
        case .left: x0 = x
        case .centre: x0 = x - w / 2
        case .right: x0 = x - w
        }
        setColour(colour)
        cairo_move_to(context, x0, y)
        cairo_show_text(context, text)
    }

    /// Draws `picture` (row 0 at the top) with its top-left corner at (x, y), each picture pixel
    /// magnified to `scale` × `scale` figure pixels, nearest-neighbour (no smoothing).
    public func draw(_ picture: RGBImage, x: Double, y: Double, scale: Double) {
        let stride = Int(cairo_format_stride_for_width(CAIRO_FORMAT_RGB24, Int32(picture.width)))
        var words = [UInt8](repeating: 0, count: stride * picture.height)
        for row in 0..<picture.height {
            for col in 0..<picture.width {
                let (r, g, b) = picture[col, row]
                let word = UInt32(r) << 16 | UInt32(g) << 8 | UInt32(b)
                withUnsafeBytes(of: word) { bytes in
                    for k in 0..<4 { words[row * stride + 4 * col + k] = bytes[k] }
                }
            }
        }
        words.withUnsafeMutableBufferPointer { buf in
            guard let img = cairo_image_surface_create_for_data(buf.baseAddress, CAIRO_FORMAT_RGB24,
                                                                Int32(picture.width), Int32(picture.height), Int32(stride))
            else { return }
            cairo_save(context)
            cairo_translate(context, x, y)
            cairo_scale(context, scale, scale)
            cairo_set_source_surface(context, img, 0, 0)
            cairo_pattern_set_filter(cairo_get_source(context), CAIRO_FILTER_NEAREST)
            cairo_rectangle(context, 0, 0, Double(picture.width), Double(picture.height))
            cairo_fill(context)
            cairo_restore(context)  // the source pattern holding `img` is released here
            cairo_surface_finish(img)
            cairo_surface_destroy(img)  // drawn: cairo no longer reads `buf`
        }
    }

    /// The canvas as an 8-bit RGB picture (row 0 at the top).
    public func picture() -> RGBImage {
        cairo_surface_flush(surface)
        let stride = Int(cairo_image_surface_get_stride(surface))
        var out = [UInt8](repeating: 0, count: 3 * width * height)
        guard let data = cairo_image_surface_get_data(surface) else {
            return RGBImage(width: width, height: height, pixels: out)
        }
        let raw = UnsafeRawPointer(data)
        for row in 0..<height {
            for col in 0..<width {
                let word = raw.loadUnaligned(fromByteOffset: row * stride + 4 * col, as: UInt32.self)
                let i = 3 * (row * width + col)
                out[i] = UInt8((word >> 16) & 0xff); out[i + 1] = UInt8((word >> 8) & 0xff); out[i + 2] = UInt8(word & 0xff)
            }
        }
        return RGBImage(width: width, height: height, pixels: out)
    }

    /// Writes the canvas to `path` atomically as an 8-bit RGB PNG.
    public func writePNG(to path: String) throws { try PNGPreview.write(picture(), to: path) }
}
