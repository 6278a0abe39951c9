// Flat ΛCDM distances for the redshift resampling f_{z,p} (DESIGN §3; paper 003 §2).
//
// E(z) = √(Ωm (1+z)³ + ΩΛ), ΩΛ = 1 − Ωm (flat, no radiation: Tcmb = 0,
// matching astropy's FlatLambdaCDM(H0, Om0, Tcmb0=0));
// comoving distance D_C(z) = (c/H0) ∫₀^z dz'/E(z'), integrated with GSL's
// adaptive Gauss–Kronrod rule (QAG, 61 points, relative tolerance 1e-10);
// angular-diameter (proper) distance D_A(z) = D_C(z) / (1 + z). Distances in Mpc,
// H0 in km/s/Mpc, c = 299 792.458 km/s. Default: Planck 2018 (H0 = 67.66, Ωm = 0.30966).

@preconcurrency import CGSL
import TweedieCore

public struct FlatLambdaCDM: Sendable, Equatable, CustomStringConvertible {
    /// Hubble constant in km/s/Mpc.
    public let hubbleConstant: Double
    /// Matter density parameter Ωm (ΩΛ = 1 − Ωm).
    public let matterDensity: Double

    /// Speed of light in km/s.
    public static let speedOfLight = 299_792.458
    /// Planck 2018 (astropy's Planck18 H0 and Om0), without radiation.
    public static let planck2018 = FlatLambdaCDM(uncheckedH0: 67.66, omegaM: 0.30966)

    public init(hubbleConstant: Double, matterDensity: Double) throws {
        guard hubbleConstant.isFinite, hubbleConstant > 0 else {
            throw TweedieError.invalidInput(what: "cosmology H0", problem: "must be > 0 km/s/Mpc, got \(hubbleConstant)")
        }
        guard matterDensity.isFinite, matterDensity >= 0, matterDensity <= 1 else {
            throw TweedieError.invalidInput(what: "cosmology Ωm", problem: "must be in [0, 1] for a flat ΛCDM, got \(matterDensity)")
        }
        self.init(uncheckedH0: hubbleConstant, omegaM: matterDensity)
    }
    private init(uncheckedH0: Double, omegaM: Double) {
        hubbleConstant = uncheckedH0; matterDensity = omegaM
    }

    public var description: String { "flat ΛCDM (H0=\(hubbleConstant), Ωm=\(matterDensity))" }

    /// Hubble distance c/H0 in Mpc.
    public var hubbleDistance: Double { Self.speedOfLight / hubbleConstant }

    /// Line-of-sight comoving distance to redshift z (Mpc).
    public func comovingDistance(_ z: Double) throws -> Double {
        try checkRedshift(z)
        GSL.configure()
        guard let work = gsl_integration_workspace_alloc(1000) else {
            throw TweedieError.library(name: "GSL", problem: "could not allocate an integration workspace")
        }
        defer { gsl_integration_workspace_free(work) }
        var om = matterDensity
        var result = 0.0, abserr = 0.0
        let status: Int32 = withUnsafeMutablePointer(to: &om) { omPtr in
            var f = gsl_function(function: { zp, params in
                let om = params!.assumingMemoryBound(to: Double.self).pointee
                let a = 1 + zp
                return 1 / (om * a * a * a + (1 - om)).squareRoot()
            }, params: UnsafeMutableRawPointer(omPtr))
            return gsl_integration_qag(&f, 0, z, 0, 1e-10, 1000, Int32(GSL_INTEG_GAUSS61), work, &result, &abserr)
        }
        guard status == GSL_SUCCESS else {
            throw TweedieError.numerical(problem: "GSL quadrature of the comoving distance to z=\(z) failed (status \(status))")
        }
        return hubbleDistance * result
    }

    /// Angular-diameter distance D_A(z) = D_C/(1+z) in Mpc (proper distance: physical size / angle).
    public func angularDiameterDistance(_ z: Double) throws -> Double {
        try comovingDistance(z) / (1 + z)
    }

    private func checkRedshift(_ z: Double) throws {
        guard z.isFinite, z > 0 else {
            throw TweedieError.invalidInput(what: "redshift z",
                                            problem: "must be > 0, got \(z); for an unresolved-distance (pixel-scale only) case use plain pixel-scale resampling")
        }
        guard z <= 1100 else {
            throw TweedieError.invalidInput(what: "redshift z", problem: "must be ≤ 1100 (a model without radiation), got \(z)")
        }
    }
}
