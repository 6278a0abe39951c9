// 8-bit greyscale PNG previews through libpng's simplified API
// (png_image_write_to_file / png_image_finish_read; PLATFORM.md: no setjmp).
//
// Conventions:
// - one panel per image plane, side by side left to right, separated by a
//   1-pixel white (255) gap; panels shorter than the tallest are top-aligned
//   and padded with white;
// - each panel has its own `DisplayStretch` mapping, computed from its own values;
//   grey = round(255 · u), u ∈ [0, 1] from `StretchMapping.unit`; NaN is black (0);
// - orientation: FITS puts pixel (1, 1) at the bottom left, PNG row 0 at the
//   top, so PNG row r shows image row y = height − 1 − r (as ds9 displays a
//   FITS image);
// - writes are atomic (temporary file, then rename).
import CPNG
import Foundation

/// One plane of values to show as a panel.
public struct PreviewPanel: Sendable {
    /// `[y][x]` values, `width * height` of them, y = 0 the bottom row.
    public var values: [Float]
    public var width: Int
    public var height: Int
    public var stretch: DisplayStretch

    public init(values: [Float], width: Int, height: Int, stretch: DisplayStretch) throws {
        guard width > 0, height > 0, values.count == width * height else {
            throw TweedieError.shapeMismatch(what: "preview panel", expected: "\(width)×\(height) = \(width * height) values",
                                             got: "\(values.count) values")
        }
        self.values = values; self.width = width; self.height = height; self.stretch = stretch
    }

    /// Plane (n, c) of a batch.
    public init(batch: ImageBatch, image n: Int = 0, channel c: Int, stretch: DisplayStretch) throws {
        try self.init(values: Array(batch.plane(n, c)), width: batch.shape.width, height: batch.shape.height,
                      stretch: stretch)
    }
}

/// An 8-bit greyscale picture, row 0 at the top (PNG order).
public struct GreyscaleImage: Equatable, Sendable {
    public var width: Int
    public var height: Int
    /// `height` rows of `width` bytes, top row first.
    public var pixels: [UInt8]

    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(pixels.count == width * height)
        self.width = width; self.height = height; self.pixels = pixels
    }

    /// The grey level at column `x`, row `row` (row 0 = top).
    public subscript(x: Int, row: Int) -> UInt8 { pixels[row * width + x] }
}

/// Renders panels and reads / writes greyscale PNG files.
public enum PNGPreview {
    /// Width of the white gap between panels, in pixels.
    public static let gap = 1
    /// Grey level of the gap and padding.
    public static let gapLevel: UInt8 = 255

    /// The panels side by side, and the mapping used for each.
    public static func render(_ panels: [PreviewPanel]) throws -> (image: GreyscaleImage, mappings: [StretchMapping]) {
        guard !panels.isEmpty else {
            throw TweedieError.invalidInput(what: "preview", problem: "no panels to draw")
        }
        let width = panels.reduce(0) { $0 + $1.width } + gap * (panels.count - 1)
        let height = panels.map(\.height).max()!
        var pixels = [UInt8](repeating: gapLevel, count: width * height)
        var mappings: [StretchMapping] = []
        var x0 = 0
        for panel in panels {
            let mapping = panel.stretch.mapping(for: panel.values)
            mappings.append(mapping)
            pixels.withUnsafeMutableBufferPointer { out in
                panel.values.withUnsafeBufferPointer { v in
                    for row in 0..<panel.height {
                        let y = panel.height - 1 - row
                        for x in 0..<panel.width {
                            let u = mapping.unit(v[y * panel.width + x])
                            out[row * width + x0 + x] = u.isNaN ? 0 : UInt8((u * 255).rounded())
                        }
                    }
                }
            }
            x0 += panel.width + gap
        }
        return (GreyscaleImage(width: width, height: height, pixels: pixels), mappings)
    }

    /// Renders `panels` and writes them to `path` atomically; returns the mappings used.
    @discardableResult
    public static func write(_ panels: [PreviewPanel], to path: String) throws -> [StretchMapping] {
        let (image, mappings) = try render(panels)
        try write(image, to: path)
        return mappings
    }

    /// Writes a greyscale picture to `path` atomically.
    public static func write(_ image: GreyscaleImage, to path: String) throws {
        try writePixels(image.pixels, width: image.width, height: image.height, format: UInt32(PNG_FORMAT_GRAY), to: path)
    }

    /// Reads a PNG file as 8-bit greyscale (libpng converts colour to grey).
    public static func read(_ path: String) throws -> GreyscaleImage {
        let (width, height, pixels) = try readPixels(path, format: UInt32(PNG_FORMAT_GRAY))
        return GreyscaleImage(width: width, height: height, pixels: pixels)
    }

    /// Bytes per pixel of a simplified-API format without alpha: 3 for colour, 1 for grey.
    static func channels(of format: UInt32) -> Int { format & UInt32(PNG_FORMAT_FLAG_COLOR) != 0 ? 3 : 1 }

    /// Writes 8-bit pixels (interleaved per pixel, rows top to bottom) as a PNG of libpng's
    /// simplified-API `format` (grey or RGB), atomically.
    static func writePixels(_ pixels: [UInt8], width: Int, height: Int, format: UInt32, to path: String) throws {
        let channels = channels(of: format)
        try AtomicFileWrite.write(to: path) { tmp in
            var png = png_image()
            png.version = png_uint_32(PNG_IMAGE_VERSION)
            png.width = png_uint_32(width)
            png.height = png_uint_32(height)
            png.format = png_uint_32(format)
            let ok = pixels.withUnsafeBufferPointer { p in
                png_image_write_to_file(&png, tmp, 0, p.baseAddress, Int32(channels * width), nil)
            }
            if ok == 0 {
                let message = messageText(&png)
                png_image_free(&png)
                throw TweedieError.io(path: path, problem: "cannot write the PNG (libpng: \(message))")
            }
        }
    }

    /// Reads a PNG file converted by libpng to `format` (grey or RGB).
    static func readPixels(_ path: String, format: UInt32) throws -> (width: Int, height: Int, pixels: [UInt8]) {
        let channels = channels(of: format)
        guard FileManager.default.fileExists(atPath: path) else {
            throw TweedieError.io(path: path, problem: "no such file; check the path")
        }
        var png = png_image()
        png.version = png_uint_32(PNG_IMAGE_VERSION)
        guard png_image_begin_read_from_file(&png, path) != 0 else {
            let message = messageText(&png)
            png_image_free(&png)
            throw TweedieError.io(path: path, problem: "cannot read as PNG (libpng: \(message))")
        }
        png.format = png_uint_32(format)
        let width = Int(png.width), height = Int(png.height)
        var pixels = [UInt8](repeating: 0, count: channels * width * height)
        let ok = pixels.withUnsafeMutableBufferPointer { p in
            png_image_finish_read(&png, nil, p.baseAddress, Int32(channels * width), nil)
        }
        guard ok != 0 else {
            let message = messageText(&png)
            png_image_free(&png)
            throw TweedieError.io(path: path, problem: "cannot decode the PNG (libpng: \(message))")
        }
        return (width, height, pixels)
    }

    private static func messageText(_ png: inout png_image) -> String {
        withUnsafeBytes(of: &png.message) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
    }
}
