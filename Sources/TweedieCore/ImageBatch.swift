// The image / batch type every part of Tweedie exchanges.
//
// Conventions (DESIGN §2):
// - storage is Float32, row-major `[n][c][y][x]` — x fastest, the FITS order
//   (FITS NAXIS1 = x, NAXIS2 = y, NAXIS3 = band);
// - indices are 0-based; FITS keywords (CRPIX) stay 1-based in `header`;
// - `unit` is the physical unit of the values (FITS BUNIT), `bands` names the
//   channels (e.g. ["g", "r", "i"]), `header` is the FITS header the image was
//   read from (all keywords, WCS included), carried through to outputs.

/// The shape of one image: channels × height × width.
public struct ImageShape: Equatable, Hashable, Sendable, CustomStringConvertible {
    public var channels: Int
    public var height: Int
    public var width: Int
    public init(channels: Int, height: Int, width: Int) {
        self.channels = channels; self.height = height; self.width = width
    }
    /// Number of Float values in one image.
    public var count: Int { channels * height * width }
    /// Pixels in one channel plane.
    public var planeCount: Int { height * width }
    public var description: String { "\(channels)×\(height)×\(width)" }
}

/// A batch of `count` images of identical shape, `[n][c][y][x]` Float32.
public struct ImageBatch: Sendable {
    /// Number of images in the batch (n).
    public private(set) var count: Int
    /// Shape of each image (c, y, x).
    public private(set) var shape: ImageShape
    /// The values, `count * shape.count` of them, `[n][c][y][x]` row-major.
    public var data: [Float]
    /// Band names, one per channel (may be empty when unknown).
    public var bands: [String]
    /// Physical unit of the values (FITS BUNIT), nil when unknown.
    public var unit: String?
    /// The FITS header the image came from (nil for images made in memory).
    public var header: FITSHeader?

    /// A batch filled with `value`.
    public init(count: Int, shape: ImageShape, repeating value: Float = 0,
                bands: [String] = [], unit: String? = nil, header: FITSHeader? = nil) {
        precondition(count >= 0 && shape.channels >= 0 && shape.height >= 0 && shape.width >= 0)
        self.count = count
        self.shape = shape
        self.data = [Float](repeating: value, count: count * shape.count)
        self.bands = bands
        self.unit = unit
        self.header = header
    }

    /// A batch wrapping existing values; throws if the value count does not match the shape.
    public init(count: Int, shape: ImageShape, data: [Float],
                bands: [String] = [], unit: String? = nil, header: FITSHeader? = nil) throws {
        guard data.count == count * shape.count else {
            throw TweedieError.shapeMismatch(what: "image batch data",
                                             expected: "\(count)×\(shape) = \(count * shape.count) values",
                                             got: "\(data.count) values")
        }
        self.count = count
        self.shape = shape
        self.data = data
        self.bands = bands
        self.unit = unit
        self.header = header
    }

    /// Total number of values.
    public var valueCount: Int { data.count }

    /// Linear index of (n, c, y, x).
    @inlinable
    public func index(_ n: Int, _ c: Int, _ y: Int, _ x: Int) -> Int {
        ((n * shape.channels + c) * shape.height + y) * shape.width + x
    }

    @inlinable
    public subscript(n: Int, c: Int, y: Int, x: Int) -> Float {
        get { data[index(n, c, y, x)] }
        set { data[index(n, c, y, x)] = newValue }
    }

    /// Image `n` as a batch of one (metadata carried over).
    public func image(_ n: Int) -> ImageBatch {
        let per = shape.count
        var out = ImageBatch(count: 1, shape: shape, bands: bands, unit: unit, header: header)
        out.data = Array(data[(n * per)..<((n + 1) * per)])
        return out
    }

    /// The values of image `n`, channel `c` (one plane, `[y][x]`).
    public func plane(_ n: Int, _ c: Int) -> ArraySlice<Float> {
        let start = (n * shape.channels + c) * shape.planeCount
        return data[start..<(start + shape.planeCount)]
    }

    /// Batches stacked along n (shapes must agree; metadata from the first).
    public static func stack(_ parts: [ImageBatch]) throws -> ImageBatch {
        guard let first = parts.first else {
            throw TweedieError.invalidInput(what: "stack", problem: "no images to stack")
        }
        var data: [Float] = []
        data.reserveCapacity(parts.reduce(0) { $0 + $1.valueCount })
        for p in parts {
            guard p.shape == first.shape else {
                throw TweedieError.shapeMismatch(what: "stacked images", expected: "\(first.shape)", got: "\(p.shape)")
            }
            data.append(contentsOf: p.data)
        }
        return try ImageBatch(count: parts.reduce(0) { $0 + $1.count }, shape: first.shape, data: data,
                              bands: first.bands, unit: first.unit, header: first.header)
    }

    /// The same values seen with a different (compatible) image shape or count.
    public func reshaped(count: Int, shape: ImageShape) throws -> ImageBatch {
        try ImageBatch(count: count, shape: shape, data: data, bands: bands, unit: unit, header: header)
    }

    /// True if every value is finite.
    public var allFinite: Bool { data.allSatisfy { $0.isFinite } }
}
