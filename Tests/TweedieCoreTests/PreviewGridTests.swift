// PreviewGrid: tiling, orientation (FITS row 0 at the bottom), the i, r, g → R, G, B
// channel choice, one common linear stretch, and the RGB PNG round trip through libpng.
import Foundation
import Testing
@testable import TweedieCore

@Suite struct PreviewGridTests {
    @Test func colourGridPlacesBandsAndTiles() throws {
        // 10 images of 3 bands (g, r, i), 2×2 px; image k has value k in band i only, at pixel (x 1, y 0).
        let shape = ImageShape(channels: 3, height: 2, width: 2)
        var batch = ImageBatch(count: 10, shape: shape, bands: ["g", "r", "i"])
        for k in 0..<10 { batch.data[batch.index(k, 2, 0, 1)] = Float(k) }
        let (picture, mapping, shown) = try PreviewGrid.render(batch)
        #expect(shown == 10 && mapping.low == 0 && mapping.high == 9)
        guard case .colour(let rgb) = picture else { Issue.record("expected colour"); return }
        #expect(rgb.width == 8 * 2 + 7 && rgb.height == 2 * 2 + 1)
        // Image 9 is the second tile of row 2: x0 = 1·(2+1) = 3, y0 = 3; FITS row 0 is PNG row y0 + 1.
        #expect(rgb[3 + 1, 3 + 1] == (255, 0, 0))
        #expect(rgb[3 + 0, 3 + 0] == (0, 0, 0))
        // Gaps are white; tile 0's band-i pixel maps to 0 (the minimum).
        #expect(rgb[2, 0] == (255, 255, 255))
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("grid-\(UUID().uuidString).png").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try PNGPreview.write(rgb, to: path)
        #expect(try PNGPreview.readRGB(path) == rgb)
    }

    @Test func otherBandCountsAreGrey() throws {
        var batch = ImageBatch(count: 70, shape: ImageShape(channels: 1, height: 3, width: 3))
        for j in 0..<batch.valueCount { batch.data[j] = Float(j % 7) }
        let (picture, _, shown) = try PreviewGrid.render(batch)
        #expect(shown == 64)
        guard case .grey(let g) = picture else { Issue.record("expected grey"); return }
        #expect(g.width == 8 * 3 + 7 && g.height == 8 * 3 + 7)
        #expect(PreviewGrid.colourChannels(bands: ["r", "i", "g"]) == [1, 0, 2])
        #expect(PreviewGrid.colourChannels(bands: []) == [2, 1, 0])
    }
}
