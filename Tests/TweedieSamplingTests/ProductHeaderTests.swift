// The WCS a product carries from its source (ProductHeader), against the field mapping the
// operator chain defines: with r source pixels per product pixel along each axis, product pixel
// centre k (1-based) covers source pixel (k − 0.5)·r + 0.5. Both positions are evaluated by
// wcslib from the two headers; the oracle is that closed-form mapping, checked for a rotated
// PC matrix with different r along x and y (where scaling CDELT rows would be wrong).
import Foundation
import Testing
import TweedieCore
@testable import TweedieSampling

@Suite struct ProductHeaderTests {
    static let source = FITSHeader(cards: [
        FITSCard(keyword: "CTYPE1", value: .string("RA---TAN-SIP")), FITSCard(keyword: "CTYPE2", value: .string("DEC--TAN-SIP")),
        FITSCard(keyword: "CRPIX1", value: .double(20.5)), FITSCard(keyword: "CRPIX2", value: .double(11)),
        FITSCard(keyword: "CRVAL1", value: .double(150.1)), FITSCard(keyword: "CRVAL2", value: .double(2.2)),
        FITSCard(keyword: "CDELT1", value: .double(-5e-5)), FITSCard(keyword: "CDELT2", value: .double(5e-5)),
        FITSCard(keyword: "PC1_1", value: .double(0.8)), FITSCard(keyword: "PC1_2", value: .double(-0.6)),
        FITSCard(keyword: "PC2_1", value: .double(0.6)), FITSCard(keyword: "PC2_2", value: .double(0.8)),
        FITSCard(keyword: "EQUINOX", value: .double(2000)), FITSCard(keyword: "RADESYS", value: .string("FK5")),
        FITSCard(keyword: "OBJECT", value: .string("COSMOS")), FITSCard(keyword: "EXPTIME", value: .double(120)),
        FITSCard(keyword: "GAIN", value: .double(3)),
    ])

    @Test func productPixelsSeeTheSourcePixelsTheFieldMappingGives() throws {
        let sourceShape = ImageShape(channels: 1, height: 21, width: 40)
        let productShape = ImageShape(channels: 1, height: 42, width: 16)  // r = 2.5 along x, 0.5 along y
        let h = try #require(ProductHeader.carried(from: Self.source, sourceShape: sourceShape, productShape: productShape))
        let src = try #require(Self.source.wcs), out = try #require(h.wcs)
        let r = [40.0 / 16, 21.0 / 42]
        for k in [[1.0, 1.0], [16.0, 42.0], [7.0, 30.0], [-3.0, 50.0]] {
            let mapped = [(k[0] - 0.5) * r[0] + 0.5, (k[1] - 0.5) * r[1] + 0.5]
            let a = try out.world(pixel: k), b = try src.world(pixel: mapped)
            let back = try src.pixel(world: a)
            #expect(abs(back[0] - mapped[0]) < 1e-6 && abs(back[1] - mapped[1]) < 1e-6, "pixel \(k): \(a) vs \(b)")
        }
        // Frame and identity keywords carried; SIP dropped (CTYPE without '-SIP'), with a note.
        #expect(out.radesys == "FK5" && out.equinox == 2000 && h.string("CTYPE1") == "RA---TAN")
        #expect(h.string("OBJECT") == "COSMOS" && h.double("EXPTIME") == 120 && h["GAIN"] == nil)
        #expect(h.cards.contains { $0.keyword == "HISTORY" && $0.comment.contains("SIP") })
    }
}
