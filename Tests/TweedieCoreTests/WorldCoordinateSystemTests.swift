// The WCS read through wcslib against closed forms: the gnomonic (TAN) projection of FITS WCS
// paper II §5.1.3, the CROTA2 → CD matrix of paper II §6.1 (AIPS convention), a linear WCS with
// blank CTYPE (no sky scale), the frame of EPOCH 1950 (FK4), the band axis and the date keywords
// the writer completes, and the ASCII spelling of header strings.
import Foundation
import Testing
@testable import TweedieCore

@Suite struct WorldCoordinateSystemTests {
    static func header(_ cards: [(String, FITSValue)]) -> FITSHeader {
        FITSHeader(cards: cards.map { FITSCard(keyword: $0.0, value: $0.1) })
    }

    static let tan = header([("CTYPE1", .string("RA---TAN")), ("CTYPE2", .string("DEC--TAN")),
                             ("CRPIX1", .double(50.5)), ("CRPIX2", .double(40)), ("CRVAL1", .double(202.4696)),
                             ("CRVAL2", .double(47.1952)), ("CDELT1", .double(-0.5 / 3600)), ("CDELT2", .double(0.5 / 3600))])

    @Test func gnomonicPixelToWorldMatchesTheClosedForm() throws {
        let w = try #require(try WCS.parse(Self.tan))
        #expect(w.isCelestial && w.radesys == "ICRS" && w.equinox == nil)
        let scale = try #require(w.pixelScaleArcsec)
        #expect(abs(scale.x - 0.5) < 1e-12 && abs(scale.y - 0.5) < 1e-12)
        // Paper II eq. 54 inverted with LONPOLE 180: α = α0 + atan2(ξ, cos δ0 − η sin δ0),
        // δ = atan2(sin δ0 + η cos δ0, √(ξ² + (cos δ0 − η sin δ0)²)), (ξ, η) the intermediate coordinates in radians.
        let rad = Double.pi / 180, a0 = 202.4696 * rad, d0 = 47.1952 * rad
        for (px, py) in [(50.5, 40.0), (1.0, 1.0), (300.0, -200.0), (4000.0, 2500.0)] {
            let xi = -0.5 / 3600 * (px - 50.5) * rad, eta = 0.5 / 3600 * (py - 40) * rad
            let den = cos(d0) - eta * sin(d0)
            var ra = (a0 + atan2(xi, den)) / rad
            if ra < 0 { ra += 360 }
            let dec = atan2(sin(d0) + eta * cos(d0), (xi * xi + den * den).squareRoot()) / rad
            let world = try w.world(pixel: [px, py])
            #expect(abs(world[0] - ra) < 1e-10 && abs(world[1] - dec) < 1e-10, "pixel (\(px), \(py)): \(world) vs (\(ra), \(dec))")
            let back = try w.pixel(world: world)
            #expect(abs(back[0] - px) < 1e-7 && abs(back[1] - py) < 1e-7)
        }
    }

    @Test func crotaBecomesTheRotationMatrix() throws {
        let theta = 30.0, c1 = -1e-4, c2 = 2e-4
        var h = Self.tan
        h.set("CDELT1", .double(c1)); h.set("CDELT2", .double(c2)); h.set("CROTA2", .double(theta))
        let w = try #require(try WCS.parse(h))
        let t = theta * .pi / 180
        let expected = [[c1 * cos(t), -c2 * sin(t)], [c1 * sin(t), c2 * cos(t)]]
        for i in 0..<2 { for j in 0..<2 { #expect(abs(w.cd[i][j] - expected[i][j]) < 1e-18) } }
    }

    @Test func aLinearWCSHasNoSkyScale() throws {
        // A blank-CTYPE WCS in pixel units (CDELT = 1), as an NTT/EMMI image carries.
        let h = Self.header([("CTYPE1", .string("")), ("CTYPE2", .string("")), ("CRPIX1", .double(1)), ("CRPIX2", .double(1)),
                             ("CRVAL1", .double(1)), ("CRVAL2", .double(1)), ("CDELT1", .double(1)), ("CDELT2", .double(1))])
        let w = try #require(try WCS.parse(h))
        #expect(!w.isCelestial && w.pixelScaleArcsec == nil && w.radesys.isEmpty)
        #expect(h.pixelScaleArcsec == nil)
        #expect(try w.world(pixel: [10, 20]) == [10, 20])
        var withScale = h
        withScale.set("PIXSCALE", .double(0.3))
        #expect(withScale.pixelScaleArcsec == 0.3)
        #expect(try WCS.parse(Self.header([("OBJECT", .string("M51"))])) == nil)
    }

    @Test func epoch1950IsFK4() throws {
        var h = Self.tan
        h.set("EPOCH", .double(1950))
        let w = try #require(try WCS.parse(h))
        #expect(w.radesys == "FK4" && w.equinox == 1950)
        let completed = h.completingWCS(axisCount: 2)
        #expect(completed.string("RADESYS") == "FK4" && completed.double("EQUINOX") == 1950)
    }

    @Test func completionAddsTheBandAxisAndTheObservationDate() throws {
        var h = Self.tan
        h.set("DATE-OBS", .string("27/06/89"))
        let c = h.completingWCS(axisCount: 3)
        #expect(c.string("CTYPE3") == "BAND" && c.double("CRPIX3") == 1 && c.double("CRVAL3") == 1 && c.double("CDELT3") == 1)
        #expect(c.string("RADESYS") == "ICRS")
        // 1989-06-27 is MJD 47704 (JD 2447704.5).
        #expect(c.string("DATE-OBS") == "1989-06-27" && c.double("MJD-OBS") == 47704)
        let w = try #require(try WCS.parse(c))
        #expect(w.axisCount == 3 && w.ctype[2] == "BAND")
        // A CD-matrix WCS gets CD3_3, not CDELT3.
        let cd = Self.header([("CTYPE1", .string("RA---TAN")), ("CTYPE2", .string("DEC--TAN")), ("CRVAL1", .double(10)),
                              ("CRVAL2", .double(20)), ("CD1_1", .double(-1e-4)), ("CD2_2", .double(1e-4))]).completingWCS(axisCount: 3)
        #expect(cd.double("CD3_3") == 1 && cd["CDELT3"] == nil)
    }

    @Test func headerStringsAreSpelledInASCII() {
        #expect(FITSCard.asciiText("DPS (ζ=0.005, σ²=β̃)") == "DPS (zeta=0.005, sigma^2=beta-tilde)")
        #expect(FITSCard.asciiText("ρ, η, Δx, 2″ × 3″, é") == "rho, eta, Deltax, 2arcsec x 3arcsec, e")
        #expect(FITSCard.asciiText("a\tb✓") == "a b?")
    }
}
