// Antenna configurations in CASA's simulator format (`.cfg`, DESIGN §3 "UV masking";
// the files in ../shared/data/antennas/ and their README).
//
// Format: header lines `# key=value` — `observatory=NAME`, `coordsys=LOC …`
// (local tangent plane: east, north, up offsets in metres) or `coordsys=XYZ`
// (geocentric ITRF metres), optionally `COFA=lon,lat` (array centre, degrees) —
// then one antenna a row: `x y z diam [pad]`. Other `#` lines are comments.
//
// Internally each antenna is kept in the *local equatorial* frame of Thompson,
// Moran & Swenson (TMS, 3rd ed., §4.1): X toward (H = 0, δ = 0) on the local
// meridian, Y toward (H = −6 h, δ = 0), i.e. east, Z toward the north
// celestial pole. Baselines in this frame are what Earth-rotation synthesis
// projects (EarthRotationSynthesis.swift).
// - LOC (ENU at latitude φ):  X = −n sinφ + u cosφ,  Y = e,  Z = n cosφ + u sinφ.
// - XYZ (geocentric, longitude λ of the array centre):
//   X = x cosλ + y sinλ,  Y = −x sinλ + y cosλ,  Z = z.
// Latitude for LOC comes from `COFA` if present, else from the observatory
// table below (values from the data README); an unknown observatory without
// COFA is an error unless the caller supplies a latitude. For XYZ the site
// (longitude and WGS84 geodetic latitude) is derived from the array centroid.

import Foundation
import TweedieCore

/// Geographic site of an array: geodetic latitude and east longitude, degrees.
public struct ObservatorySite: Equatable, Sendable {
    public var name: String
    public var latitudeDegrees: Double
    public var longitudeDegrees: Double
    public init(name: String, latitudeDegrees: Double, longitudeDegrees: Double) {
        self.name = name; self.latitudeDegrees = latitudeDegrees; self.longitudeDegrees = longitudeDegrees
    }

    /// Known sites (../shared/data/README.md, "Facts that help"). Keys are upper case.
    public static let known: [String: ObservatorySite] = {
        let alma = ObservatorySite(name: "ALMA", latitudeDegrees: -23.0229, longitudeDegrees: -67.7552)
        let vla = ObservatorySite(name: "VLA", latitudeDegrees: 34.0784, longitudeDegrees: -107.6184)
        let meerkat = ObservatorySite(name: "MeerKAT", latitudeDegrees: -30.7130, longitudeDegrees: 21.4430)
        return ["ALMA": alma, "VLA": vla, "EVLA": vla, "JVLA": vla, "MEERKAT": meerkat]
    }()

    /// The site of a named observatory (case-insensitive), nil when unknown.
    public static func named(_ name: String) -> ObservatorySite? { known[name.uppercased()] }
}

/// How antenna positions are given in a `.cfg` file.
public enum AntennaCoordinateSystem: String, Sendable {
    /// Local tangent plane: east, north, up (metres) at the site latitude.
    case local = "LOC"
    /// Geocentric Earth-fixed X, Y, Z (metres).
    case geocentric = "XYZ"
}

/// One antenna: local equatorial position (metres), dish diameter (metres) and pad name.
public struct Antenna: Equatable, Sendable {
    /// Local equatorial coordinates (TMS frame, see file header), metres.
    public var x: Double, y: Double, z: Double
    public var diameter: Double
    public var pad: String
}

/// An array layout read from a CASA `.cfg` file, positions in the local equatorial frame.
public struct AntennaConfiguration: Sendable {
    public var antennas: [Antenna]
    public var site: ObservatorySite
    public var coordinateSystem: AntennaCoordinateSystem
    /// Where it came from (file path or "memory"), for messages and provenance.
    public var source: String

    /// Builds a configuration from local ENU offsets (metres) at `site`.
    public init(enu: [(east: Double, north: Double, up: Double)], diameters: [Double], pads: [String]? = nil,
                site: ObservatorySite, source: String = "memory") throws {
        guard enu.count >= 2, diameters.count == enu.count else {
            throw TweedieError.invalidInput(what: "antenna configuration \(source)",
                                            problem: "needs at least 2 antennas with one diameter each (got \(enu.count) positions, \(diameters.count) diameters)")
        }
        antennas = Self.localEquatorial(enu: enu, diameters: diameters, pads: pads, latitudeDegrees: site.latitudeDegrees)
        self.site = site
        coordinateSystem = .local
        self.source = source
    }

    /// Reads a CASA `.cfg` file. `latitudeDegrees` overrides the site latitude of a LOC file
    /// (needed when its observatory is not in `ObservatorySite.known` and it has no COFA line).
    public init(contentsOf path: String, latitudeDegrees: Double? = nil) throws {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw TweedieError.io(path: path, problem: "cannot read the antenna configuration file; check the path")
        }
        try self.init(cfgText: text, source: path, latitudeDegrees: latitudeDegrees)
    }

    /// Parses the text of a CASA `.cfg` file (see the file header for the format).
    public init(cfgText text: String, source: String, latitudeDegrees: Double? = nil) throws {
        var keys: [String: String] = [:]
        var rows: [(x: Double, y: Double, z: Double, d: Double, pad: String)] = []
        for (lineNumber, rawLine) in text.split(omittingEmptySubsequences: false,
                                                whereSeparator: { $0 == "\n" || $0 == "\r" }).enumerated() {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty { continue }
            if line.hasPrefix("#") {
                let body = line.dropFirst().trimmingCharacters(in: .whitespaces)
                if let eq = body.firstIndex(of: "=") {
                    let key = body[..<eq].trimmingCharacters(in: .whitespaces).lowercased()
                    let value = body[body.index(after: eq)...].trimmingCharacters(in: .whitespaces)
                    if !key.isEmpty && !key.contains(" ") { keys[key] = value }
                }
                continue
            }
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "," })
            let numbers = fields.prefix(4).compactMap { Double($0) }
            guard fields.count >= 4, numbers.count == 4, numbers.allSatisfy({ $0.isFinite }) else {
                throw TweedieError.invalidInput(
                    what: "antenna configuration \(source), line \(lineNumber + 1)",
                    problem: "expected 'x y z diameter [pad]' with four numbers, got '\(line.prefix(60))'; is this a CASA .cfg file?")
            }
            guard numbers[3] > 0 else {
                throw TweedieError.invalidInput(what: "antenna configuration \(source), line \(lineNumber + 1)",
                                                problem: "dish diameter \(numbers[3]) m must be positive")
            }
            let pad = fields.count > 4 ? String(fields[4]) : "A\(rows.count + 1)"
            rows.append((numbers[0], numbers[1], numbers[2], numbers[3], pad))
        }
        guard let systemText = keys["coordsys"] else {
            throw TweedieError.invalidInput(
                what: "antenna configuration \(source)",
                problem: "unknown format: no '# coordsys=LOC' or '# coordsys=XYZ' header line; give a CASA .cfg file with local (LOC) or geocentric (XYZ) positions")
        }
        let systemWord = systemText.split(separator: " ").first.map { String($0).uppercased() } ?? ""
        guard let system = AntennaCoordinateSystem(rawValue: systemWord) else {
            throw TweedieError.invalidInput(
                what: "antenna configuration \(source)",
                problem: "unsupported coordsys '\(systemText)'; only LOC (local east, north, up) and XYZ (geocentric) are supported — convert UTM positions to one of them")
        }
        guard rows.count >= 2 else {
            throw TweedieError.invalidInput(what: "antenna configuration \(source)",
                                            problem: "has \(rows.count) antenna row(s); an interferometer needs at least 2")
        }
        let observatory = keys["observatory"] ?? "unknown"
        self.source = source
        coordinateSystem = system
        switch system {
        case .local:
            var site: ObservatorySite
            if let cofa = keys["cofa"] {
                let parts = cofa.split(separator: ",").compactMap { Double($0.trimmingCharacters(in: .whitespaces)) }
                guard parts.count == 2, abs(parts[1]) <= 90 else {
                    throw TweedieError.invalidInput(what: "antenna configuration \(source)",
                                                    problem: "COFA '\(cofa)' is not 'longitude,latitude' in degrees")
                }
                site = ObservatorySite(name: observatory, latitudeDegrees: parts[1], longitudeDegrees: parts[0])
            } else if let known = ObservatorySite.named(observatory) {
                site = known
            } else if let lat = latitudeDegrees {
                site = ObservatorySite(name: observatory, latitudeDegrees: lat, longitudeDegrees: 0)
            } else {
                let names = Set(ObservatorySite.known.values.map(\.name)).sorted().joined(separator: ", ")
                throw TweedieError.invalidInput(
                    what: "antenna configuration \(source)",
                    problem: "observatory '\(observatory)' has no known latitude (known: \(names)); add a '# COFA=lon,lat' line or give the site latitude")
            }
            if let lat = latitudeDegrees { site.latitudeDegrees = lat }
            guard abs(site.latitudeDegrees) <= 90 else {
                throw TweedieError.invalidInput(what: "site latitude", problem: "\(site.latitudeDegrees)° is outside [−90°, 90°]")
            }
            self.site = site
            antennas = Self.localEquatorial(enu: rows.map { ($0.x, $0.y, $0.z) }, diameters: rows.map(\.d),
                                            pads: rows.map(\.pad), latitudeDegrees: site.latitudeDegrees)
        case .geocentric:
            let n = Double(rows.count)
            let cx = rows.reduce(0) { $0 + $1.x } / n, cy = rows.reduce(0) { $0 + $1.y } / n
            let cz = rows.reduce(0) { $0 + $1.z } / n
            guard (cx * cx + cy * cy + cz * cz).squareRoot() > 6.0e6 else {
                throw TweedieError.invalidInput(
                    what: "antenna configuration \(source)",
                    problem: "coordsys=XYZ but the array centre is \(Int((cx * cx + cy * cy + cz * cz).squareRoot())) m from the Earth's centre (expected ~6.4e6 m); are these local offsets (coordsys=LOC)?")
            }
            let lambda = atan2(cy, cx)
            let geodeticLat = Self.wgs84Latitude(x: cx, y: cy, z: cz)
            site = ObservatorySite(name: observatory, latitudeDegrees: geodeticLat * 180 / .pi,
                                   longitudeDegrees: lambda * 180 / .pi)
            antennas = rows.map { r in
                Antenna(x: r.x * cos(lambda) + r.y * sin(lambda), y: -r.x * sin(lambda) + r.y * cos(lambda),
                        z: r.z, diameter: r.d, pad: r.pad)
            }
        }
    }

    /// ENU offsets at latitude φ → local equatorial frame (file header).
    static func localEquatorial(enu: [(east: Double, north: Double, up: Double)], diameters: [Double], pads: [String]?,
                                latitudeDegrees: Double) -> [Antenna] {
        let phi = latitudeDegrees * .pi / 180
        return enu.enumerated().map { i, p in
            Antenna(x: -p.north * sin(phi) + p.up * cos(phi), y: p.east,
                    z: p.north * cos(phi) + p.up * sin(phi),
                    diameter: diameters[i], pad: pads?[i] ?? "A\(i + 1)")
        }
    }

    /// WGS84 geodetic latitude (radians) of a geocentric point, by fixed-point iteration.
    static func wgs84Latitude(x: Double, y: Double, z: Double) -> Double {
        let a = 6378137.0, f = 1 / 298.257223563
        let e2 = f * (2 - f)
        let p = (x * x + y * y).squareRoot()
        var lat = atan2(z, p * (1 - e2))
        for _ in 0..<8 {
            let s = sin(lat)
            let nRadius = a / (1 - e2 * s * s).squareRoot()
            let h = p / cos(lat) - nRadius
            lat = atan2(z, p * (1 - e2 * nRadius / (nRadius + h)))
        }
        return lat
    }

    /// Antenna positions in the local tangent plane (east, north, up), metres,
    /// relative to the array centroid — the inverse of the LOC rotation at the site latitude.
    public var localENU: [(east: Double, north: Double, up: Double)] {
        let phi = site.latitudeDegrees * .pi / 180
        let n = Double(antennas.count)
        let mx = antennas.reduce(0) { $0 + $1.x } / n, my = antennas.reduce(0) { $0 + $1.y } / n
        let mz = antennas.reduce(0) { $0 + $1.z } / n
        return antennas.map { a in
            let x = a.x - mx, y = a.y - my, z = a.z - mz
            return (east: y, north: -sin(phi) * x + cos(phi) * z, up: cos(phi) * x + sin(phi) * z)
        }
    }

    /// The longest baseline, metres.
    public var longestBaseline: Double {
        var best = 0.0
        for i in 0..<antennas.count {
            for j in (i + 1)..<antennas.count {
                let dx = antennas[j].x - antennas[i].x, dy = antennas[j].y - antennas[i].y
                let dz = antennas[j].z - antennas[i].z
                best = max(best, (dx * dx + dy * dy + dz * dz).squareRoot())
            }
        }
        return best
    }

    /// The dish diameter shared by all antennas (the smallest, if they differ), metres.
    public var dishDiameter: Double { antennas.map(\.diameter).min() ?? 0 }

    /// One line for provenance.
    public var summary: String {
        "\(site.name) \(antennas.count) antennas (\(coordinateSystem.rawValue), longest baseline \(String(format: "%.0f", longestBaseline)) m) from \((source as NSString).lastPathComponent)"
    }
}
