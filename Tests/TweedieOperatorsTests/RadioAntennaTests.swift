// Antenna configurations (CASA .cfg) and Earth-rotation synthesis, against
// closed forms (zenith projection, east–west ellipse, |b| invariance), the data
// README's longest baselines and the VLA's named arms.
import Foundation
import Testing
import TweedieCore
@testable import TweedieOperators

@Suite("Radio antennas and synthesis")
struct RadioAntennaTests {
    @Test("LOC file: ALMA site latitude from the observatory table, longest baselines as in the data README")
    func readsLocalFiles() throws {
        let c1 = try AntennaConfiguration(contentsOf: RadioTestData.antennas("alma.cycle10.1.cfg"))
        #expect(c1.coordinateSystem == .local)
        #expect(c1.antennas.count == 43)
        #expect(c1.site.latitudeDegrees == -23.0229)
        #expect(c1.dishDiameter == 12)
        // README: C-1 161 m, C-3 500 m, C-10 16.2 km.
        #expect(abs(c1.longestBaseline - 161) < 3)
        let c3 = try AntennaConfiguration(contentsOf: RadioTestData.antennas("alma.cycle10.3.cfg"))
        #expect(abs(c3.longestBaseline - 500) < 8)
        let c10 = try AntennaConfiguration(contentsOf: RadioTestData.antennas("alma.cycle10.10.cfg"))
        #expect(abs(c10.longestBaseline - 16_200) < 150)
        // The LOC rotation is inverted exactly by localENU (round trip of the file's offsets).
        let text = try String(contentsOfFile: RadioTestData.antennas("alma.cycle10.3.cfg"), encoding: .utf8)
        let rows = text.split(separator: "\n").filter { !$0.hasPrefix("#") }
            .map { $0.split(whereSeparator: { $0 == " " || $0 == "\t" }).prefix(3).map { Double($0)! } }
        let mean = (0..<3).map { k in rows.reduce(0) { $0 + $1[k] } / Double(rows.count) }
        for (i, p) in c3.localENU.enumerated() {
            #expect(abs(p.east - (rows[i][0] - mean[0])) < 1e-6)
            #expect(abs(p.north - (rows[i][1] - mean[1])) < 1e-6)
            #expect(abs(p.up - (rows[i][2] - mean[2])) < 1e-6)
        }
    }

    @Test("XYZ file: VLA site from the positions, flat array, arms named N/E/W point north, ESE, WSW")
    func readsGeocentricFiles() throws {
        let c = try AntennaConfiguration(contentsOf: RadioTestData.antennas("vla.c.cfg"))
        #expect(c.coordinateSystem == .geocentric)
        #expect(c.antennas.count == 27)
        // Site derived from the ITRF positions agrees with the README's VLA site.
        #expect(abs(c.site.latitudeDegrees - 34.0784) < 0.01)
        #expect(abs(c.site.longitudeDegrees - -107.6184) < 0.01)
        // README: VLA C longest baseline 3.4 km; A 36.6 km.
        #expect(abs(c.longestBaseline - 3_400) < 60)
        let a = try AntennaConfiguration(contentsOf: RadioTestData.antennas("vla.a.cfg"))
        #expect(abs(a.longestBaseline - 36_600) < 400)
        // A wrong rotation would put kilometres into "up"; the VLA is flat to tens of metres.
        for (i, p) in c.localENU.enumerated() {
            #expect(abs(p.up) < 40, "antenna \(c.antennas[i].pad) up = \(p.up) m")
        }
        // Arms (azimuths ≈ 355°, 115°, 236°): named pads lie in the right directions.
        let enu = c.localENU
        for (i, ant) in c.antennas.enumerated() where ant.pad.count >= 3 {
            let e = enu[i].east, n = enu[i].north
            let r = (e * e + n * n).squareRoot()
            guard r > 300 else { continue }   // near the centre the arm direction is ill-defined
            switch ant.pad.first! {
            case "N": #expect(n / r > 0.95, "\(ant.pad) east \(e) north \(n)")
            case "E": #expect(e / r > 0.8, "\(ant.pad) east \(e) north \(n)")
            case "W": #expect(e / r < -0.75, "\(ant.pad) east \(e) north \(n)")
            default: break
            }
        }
    }

    @Test("Unknown formats and bad files give one clear error each")
    func rejectsBadFiles() throws {
        func message(_ text: String, latitude: Double? = nil) -> String {
            do {
                _ = try AntennaConfiguration(cfgText: text, source: "bad.cfg", latitudeDegrees: latitude)
                return "no error"
            } catch let e as TweedieError { return e.description } catch { return "\(error)" }
        }
        let noHeader = message("10 20 0 12\n30 40 0 12\n")
        #expect(noHeader.contains("bad.cfg") && noHeader.contains("unknown format") && noHeader.contains("coordsys"))
        let utm = message("# coordsys=UTM\n10 20 0 12\n30 40 0 12\n")
        #expect(utm.contains("unsupported coordsys 'UTM'"))
        let text = message("# coordsys=LOC\n# observatory=ALMA\nten 20 0 12\n30 40 0 12\n")
        #expect(text.contains("line 3") && text.contains("four numbers"))
        let noSite = message("# coordsys=LOC\n# observatory=Nowhere\n10 20 0 12\n30 40 0 12\n")
        #expect(noSite.contains("'Nowhere'") && noSite.contains("COFA"))
        #expect(message("# coordsys=LOC\n# observatory=Nowhere\n10 20 0 12\n30 40 0 12\n", latitude: 10) == "no error")
        let xyzSmall = message("# coordsys=XYZ\n10 20 0 12\n30 40 0 12\n")
        #expect(xyzSmall.contains("coordsys=LOC"))
        let one = message("# coordsys=LOC\n# observatory=ALMA\n10 20 0 12\n")
        #expect(one.contains("at least 2"))
        #expect(throws: TweedieError.self) { try AntennaConfiguration(contentsOf: "/nonexistent/x.cfg") }
    }

    @Test("Zenith transit projects the baseline onto (east, north, up) / λ")
    func zenithProjection() throws {
        let site = ObservatorySite(name: "test", latitudeDegrees: -30, longitudeDegrees: 0)
        let cfg = try AntennaConfiguration(enu: [(0, 0, 0), (120, -70, 3)], diameters: [12, 12], site: site)
        let nu = 1.5e9, lambda = EarthRotationSynthesis.speedOfLight / nu
        let s = try EarthRotationSynthesis.coverage(
            of: cfg, setup: SynthesisSetup(declinationDegrees: -30, hourAngleStart: 0, hourAngleEnd: 0, frequencies: [nu]))
        #expect(s.count == 1)
        #expect(abs(s.u[0] - 120 / lambda) < 1e-9 * 120 / lambda)
        #expect(abs(s.v[0] - -70 / lambda) < 1e-9 * 120 / lambda)
        #expect(abs(s.w[0] - 3 / lambda) < 1e-6)
    }

    @Test("An east–west baseline traces u² + (v / sin δ)² = (L/λ)², |uvw| stays |b|/λ, HA sampling")
    func eastWestEllipse() throws {
        let site = ObservatorySite(name: "test", latitudeDegrees: 52, longitudeDegrees: 0)
        let cfg = try AntennaConfiguration(enu: [(0, 0, 0), (1000, 0, 0), (300, 400, 0)], diameters: [25, 25, 25], site: site)
        let nu = 5e9, lambda = EarthRotationSynthesis.speedOfLight / nu
        let dec = 40.0
        let setup = SynthesisSetup(declinationDegrees: dec, hourAngleStart: -4, hourAngleEnd: 4,
                                   integrationSeconds: 600, frequencies: [nu, 2 * nu])
        // 8 h of hour angle at the sidereal rate in 600 s dumps: round(8·3600·(15.0411″/s)… ) = 48 steps.
        #expect(setup.hourAngles.count == Int((8 * .pi / 12 / (600 * SynthesisSetup.siderealRate)).rounded()))
        let s = try EarthRotationSynthesis.coverage(of: cfg, setup: setup)
        #expect(s.count == setup.hourAngles.count * 2 * 3)
        let sinD = sin(dec * .pi / 180)
        let perFreq = setup.hourAngles.count * 3
        for k in 0..<setup.hourAngles.count {
            let i = 3 * k   // baseline (0,1): east–west, 1000 m
            let r = (s.u[i] * s.u[i] + (s.v[i] / sinD) * (s.v[i] / sinD)).squareRoot()
            #expect(abs(r - 1000 / lambda) < 1e-6 * 1000 / lambda)
            // Second frequency: the same track scaled by 2.
            #expect(abs(s.u[perFreq + i] - 2 * s.u[i]) < 1e-9 * abs(s.u[i]) + 1e-9)
        }
        for k in 0..<s.count {
            let norm = (s.u[k] * s.u[k] + s.v[k] * s.v[k] + s.w[k] * s.w[k]).squareRoot()
            let lam = k < perFreq ? lambda : lambda / 2
            let lengths = [1000.0, 500.0, (700.0 * 700 + 400 * 400).squareRoot()]
            #expect(abs(norm - lengths[k % 3] / lam) < 1e-6 * norm)
        }
        // (u, v) and (−u, −v) are both listed.
        #expect(s.hermitianPoints.count == 2 * s.count)
        #expect(s.hermitianPoints[1].u == -s.u[0])
    }

    @Test("Bad synthesis parameters and a source that never rises are rejected")
    func rejectsBadSetups() throws {
        let cfg = try AntennaConfiguration(contentsOf: RadioTestData.antennas("vla.d.cfg"))
        func message(_ setup: SynthesisSetup) -> String {
            do { _ = try EarthRotationSynthesis.coverage(of: cfg, setup: setup); return "no error" }
            catch let e as TweedieError { return e.description } catch { return "\(error)" }
        }
        #expect(message(SynthesisSetup(declinationDegrees: 95, hourAngleStart: 0, hourAngleEnd: 1, frequencies: [1e9])).contains("declination"))
        #expect(message(SynthesisSetup(declinationDegrees: 10, hourAngleStart: 2, hourAngleEnd: 1, frequencies: [1e9])).contains("hour-angle"))
        #expect(message(SynthesisSetup(declinationDegrees: 10, hourAngleStart: 0, hourAngleEnd: 1, integrationSeconds: 0, frequencies: [1e9])).contains("integration"))
        #expect(message(SynthesisSetup(declinationDegrees: 10, hourAngleStart: 0, hourAngleEnd: 1, frequencies: [-1])).contains("frequency"))
        // δ = −70° never rises above the horizon at the VLA (latitude +34°).
        #expect(message(SynthesisSetup(declinationDegrees: -70, hourAngleStart: -2, hourAngleEnd: 2, frequencies: [1e9])).contains("below"))
    }
}
