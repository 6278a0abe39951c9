// Numbers as they appear in labels, case ids and file names (sampler labels, calibration
// cases, SBC record names): whole numbers without a decimal point, others in %g.
import Foundation

/// A number without trailing zeros (0.3, 100, 1e-05 → "1e-05").
public func shortNumber(_ v: Double) -> String {
    if v == v.rounded() && abs(v) < 1e15 { return String(Int64(v)) }
    return String(format: "%g", v)
}
