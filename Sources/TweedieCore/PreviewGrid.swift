// Grids of images (e.g. prior samples) as PNG previews, in colour or grey,
// and 8-bit RGB PNG writing/reading through libpng's simplified API.
//
// Conventions (as PNGPreview): images tile left to right, top to bottom,
// separated by a 1-pixel white gap; PNG row r shows image row y = h − 1 − r
// (FITS orientation, as ds9); NaN is black. One `StretchMapping` is computed
// from all shown values together (all images, all three bands in colour), so
// brightness and colour compare across tiles.
// Colour: a 3-band batch is shown as RGB with red = i, green = r, blue = g
// (the bands found by name when the batch names g, r, i; otherwise channels
// 2, 1, 0 — the usual "i, r, g → R, G, B" composite of Lupton et al. 2004,
// with a common linear map per band rather than their colour-preserving one).
import CPNG
import Foundation

/// An 8-bit RGB picture, row 0 at the top (PNG order).
public struct RGBImage: Equatable, Sendable {
    public var width: Int
    public var height: Int
    /// `height` rows of `width` RGB triples, top row first.
    public var pixels: [UInt8]

    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(pixels.count == 3 * width * height)
        self.width = width; self.height = height; self.pixels = pixels
    }

    /// (r, g, b) at column `x`, row `row` (row 0 = top).
    public subscript(x: Int, row: Int) -> (UInt8, UInt8, UInt8) {
        let i = 3 * (row * width + x)
        return (pixels[i], pixels[i + 1], pixels[i + 2])
    }
}

/// A grid preview of the first images of a batch.
public enum PreviewGrid {
    /// What `render` drew.
    public enum Picture: Sendable {
        case grey(GreyscaleImage)
        case colour(RGBImage)
    }

    /// Channels shown as (red, green, blue) for a 3-band batch: i, r, g by name, else 2, 1, 0.
    public static func colourChannels(bands: [String]) -> [Int] {
        let lower = bands.map { $0.lowercased() }
        if let i = lower.firstIndex(of: "i"), let r = lower.firstIndex(of: "r"), let g = lower.firstIndex(of: "g") {
            return [i, r, g]
        }
        return [2, 1, 0]
    }

    /// Renders images 0..<min(count, maxImages) of `batch` in a grid `columns` wide. A 3-channel batch is
    /// drawn in colour, any other in grey from channel 0.
    public static func render(_ batch: ImageBatch, maxImages: Int = 64, columns: Int = 8,
                              stretch: DisplayStretch = .linear) throws -> (picture: Picture, mapping: StretchMapping, shown: Int) {
        let n = min(batch.count, maxImages)
        guard n > 0, columns > 0 else {
            throw TweedieError.invalidInput(what: "preview grid", problem: "no images to draw")
        }
        let s = batch.shape, h = s.height, w = s.width
        let cols = min(columns, n), rows = (n + cols - 1) / cols
        let width = cols * w + (cols - 1) * PNGPreview.gap, height = rows * h + (rows - 1) * PNGPreview.gap
        let colour = s.channels == 3
        let channels = colour ? colourChannels(bands: batch.bands) : [0]
        var shown: [Float] = []
        shown.reserveCapacity(n * channels.count * h * w)
        for k in 0..<n { for c in channels { shown.append(contentsOf: batch.plane(k, c)) } }
        let mapping = stretch.mapping(for: shown)
        let depth = channels.count
        var pixels = [UInt8](repeating: PNGPreview.gapLevel, count: depth * width * height)
        pixels.withUnsafeMutableBufferPointer { out in
            batch.data.withUnsafeBufferPointer { data in
                for k in 0..<n {
                    let x0 = (k % cols) * (w + PNGPreview.gap), y0 = (k / cols) * (h + PNGPreview.gap)
                    for (slot, c) in channels.enumerated() {
                        let plane = batch.index(k, c, 0, 0)
                        for row in 0..<h {
                            let y = h - 1 - row
                            for x in 0..<w {
                                let u = mapping.unit(data[plane + y * w + x])
                                out[depth * ((y0 + row) * width + x0 + x) + slot] = u.isNaN ? 0 : UInt8((u * 255).rounded())
                            }
                        }
                    }
                }
            }
        }
        let picture: Picture = colour ? .colour(RGBImage(width: width, height: height, pixels: pixels))
                                      : .grey(GreyscaleImage(width: width, height: height, pixels: pixels))
        return (picture, mapping, n)
    }

    /// Renders the grid and writes it to `path` atomically.
    @discardableResult
    public static func write(_ batch: ImageBatch, to path: String, maxImages: Int = 64, columns: Int = 8,
                             stretch: DisplayStretch = .linear) throws -> (mapping: StretchMapping, shown: Int, colour: Bool) {
        let (picture, mapping, shown) = try render(batch, maxImages: maxImages, columns: columns, stretch: stretch)
        switch picture {
        case .grey(let g): try PNGPreview.write(g, to: path); return (mapping, shown, false)
        case .colour(let c): try PNGPreview.write(c, to: path); return (mapping, shown, true)
        }
    }
}

extension PNGPreview {
    /// Writes an RGB picture to `path` atomically.
    public static func write(_ image: RGBImage, to path: String) throws {
        try writePixels(image.pixels, width: image.width, height: image.height, format: PNG_FORMAT_RGB, to: path)
    }

    /// Reads a PNG file as 8-bit RGB (libpng converts grey to RGB).
    public static func readRGB(_ path: String) throws -> RGBImage {
        let (width, height, pixels) = try readPixels(path, format: PNG_FORMAT_RGB)
        return RGBImage(width: width, height: height, pixels: pixels)
    }
}
