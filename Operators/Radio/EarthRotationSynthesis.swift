// Earth-rotation synthesis: uv tracks of every baseline of an array for a
// source at declination δ over an hour-angle range (DESIGN §3 "UV masking";
// paper 000 §2 simulates ALMA 12 m data "while the phase centre was under transit").
//
// Baseline b = X_j − X_i in the local equatorial frame (AntennaConfiguration.swift),
// projected at hour angle H (TMS 3rd ed., Eq. 4.1):
//   u = ( sin H·bx + cos H·by) / λ
//   v = (−sin δ cos H·bx + sin δ sin H·by + cos δ·bz) / λ
//   w = ( cos δ cos H·bx − cos δ sin H·by + sin δ·bz) / λ
// The hour angle advances at the sidereal rate (7.2921159e-5 rad per second of time).
// Integrations are centred: with n = max(1, round((H2 − H1)/ΔH)) steps of
// ΔH = integration·Ω, the samples sit at H1 + (k + ½)·(H2 − H1)/n; H1 = H2 gives
// one snapshot at H1. Samples with the source below `minimumElevation` are
// dropped (sin el = sin φ sin δ + cos φ cos δ cos H). Shadowing is ignored.
// Each sample is stored once; its mirror (−u, −v) is implied (UVSamples.swift).

import Foundation
import TweedieCore

/// The parameters of a synthetic observation.
public struct SynthesisSetup: Sendable {
    /// Source declination, degrees.
    public var declinationDegrees: Double
    /// Hour-angle range, hours (start ≤ end, span ≤ 24 h).
    public var hourAngleStart: Double
    public var hourAngleEnd: Double
    /// Integration (dump) time, seconds of time.
    public var integrationSeconds: Double
    /// Observing frequencies, Hz (one or several channels, all gridded together).
    public var frequencies: [Double]
    /// Samples with the source lower than this elevation are dropped, degrees.
    public var minimumElevationDegrees: Double

    public init(declinationDegrees: Double, hourAngleStart: Double, hourAngleEnd: Double,
                integrationSeconds: Double = 60, frequencies: [Double], minimumElevationDegrees: Double = 0) {
        self.declinationDegrees = declinationDegrees
        self.hourAngleStart = hourAngleStart; self.hourAngleEnd = hourAngleEnd
        self.integrationSeconds = integrationSeconds
        self.frequencies = frequencies
        self.minimumElevationDegrees = minimumElevationDegrees
    }

    /// Sidereal rotation rate of the Earth, radians per second of time.
    public static let siderealRate = 7.2921159e-5

    /// Throws a clear error for out-of-range parameters.
    public func validate() throws {
        guard declinationDegrees.isFinite, abs(declinationDegrees) <= 90 else {
            throw TweedieError.invalidInput(what: "declination", problem: "\(declinationDegrees)° is outside [−90°, 90°]")
        }
        guard hourAngleStart.isFinite, hourAngleEnd.isFinite, hourAngleEnd >= hourAngleStart,
              hourAngleEnd - hourAngleStart <= 24 else {
            throw TweedieError.invalidInput(what: "hour-angle range",
                                            problem: "\(hourAngleStart),\(hourAngleEnd) h must satisfy start ≤ end and span ≤ 24 h")
        }
        guard integrationSeconds.isFinite, integrationSeconds > 0 else {
            throw TweedieError.invalidInput(what: "integration", problem: "\(integrationSeconds) s must be > 0")
        }
        guard !frequencies.isEmpty, frequencies.allSatisfy({ $0.isFinite && $0 > 0 }) else {
            throw TweedieError.invalidInput(what: "frequency", problem: "\(frequencies) must be one or more values > 0 Hz")
        }
        guard minimumElevationDegrees.isFinite, minimumElevationDegrees < 90 else {
            throw TweedieError.invalidInput(what: "minimum elevation", problem: "\(minimumElevationDegrees)° must be < 90°")
        }
    }

    /// Hour angles (radians) of the integrations, centred in their dumps.
    public var hourAngles: [Double] {
        let span = (hourAngleEnd - hourAngleStart) * .pi / 12
        let step = integrationSeconds * Self.siderealRate
        let n = max(1, Int((span / step).rounded()))
        let h1 = hourAngleStart * .pi / 12
        if span == 0 { return [h1] }
        return (0..<n).map { h1 + (Double($0) + 0.5) * span / Double(n) }
    }
}

/// Earth-rotation synthesis of an array's uv coverage.
public enum EarthRotationSynthesis {
    /// Speed of light, m/s.
    public static let speedOfLight = 299_792_458.0

    /// The uv samples of every baseline (i < j) at every hour angle and frequency.
    public static func coverage(of array: AntennaConfiguration, setup: SynthesisSetup) throws -> UVSamples {
        try setup.validate()
        let delta = setup.declinationDegrees * .pi / 180
        let phi = array.site.latitudeDegrees * .pi / 180
        let sinD = sin(delta), cosD = cos(delta)
        let minSinEl = sin(setup.minimumElevationDegrees * .pi / 180)
        let angles = setup.hourAngles.filter { h in
            sin(phi) * sinD + cos(phi) * cosD * cos(h) >= minSinEl
        }
        guard !angles.isEmpty else {
            throw TweedieError.invalidInput(
                what: "synthesis (δ = \(setup.declinationDegrees)°, HA \(setup.hourAngleStart)…\(setup.hourAngleEnd) h)",
                problem: "the source is below \(setup.minimumElevationDegrees)° elevation at \(array.site.name) (latitude \(String(format: "%.2f", array.site.latitudeDegrees))°) for the whole hour-angle range; choose another declination or hour-angle range")
        }
        let ants = array.antennas
        var bx: [Double] = [], by: [Double] = [], bz: [Double] = []
        for i in 0..<ants.count {
            for j in (i + 1)..<ants.count {
                bx.append(ants[j].x - ants[i].x); by.append(ants[j].y - ants[i].y); bz.append(ants[j].z - ants[i].z)
            }
        }
        let total = angles.count * setup.frequencies.count * bx.count
        var u = [Double](), v = [Double](), w = [Double]()
        u.reserveCapacity(total); v.reserveCapacity(total); w.reserveCapacity(total)
        for nu in setup.frequencies {
            let invLambda = nu / speedOfLight
            for h in angles {
                let sinH = sin(h), cosH = cos(h)
                for b in 0..<bx.count {
                    u.append((sinH * bx[b] + cosH * by[b]) * invLambda)
                    v.append((-sinD * cosH * bx[b] + sinD * sinH * by[b] + cosD * bz[b]) * invLambda)
                    w.append((cosD * cosH * bx[b] - cosD * sinH * by[b] + sinD * bz[b]) * invLambda)
                }
            }
        }
        let origin = "\(array.summary); δ=\(setup.declinationDegrees)° HA \(setup.hourAngleStart)…\(setup.hourAngleEnd) h, \(setup.integrationSeconds) s dumps, \(angles.count) integrations, \(setup.frequencies.count) channel(s)"
        return UVSamples(u: u, v: v, w: w, weight: [Double](repeating: 1, count: u.count),
                         frequencies: setup.frequencies, origin: origin)
    }
}
