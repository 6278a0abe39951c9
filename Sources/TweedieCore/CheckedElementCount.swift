// Sizes declared by files (tensor shapes, FITS NAXISn) multiplied without trapping: a damaged
// header may declare extents whose product exceeds any integer.

/// Product of a shape's extents, nil on overflow or a negative extent.
public func checkedElementCount(_ shape: [Int]) -> Int? {
    var n = 1
    for s in shape {
        guard s >= 0 else { return nil }
        let (p, o) = n.multipliedReportingOverflow(by: s)
        if o { return nil }
        n = p
    }
    return n
}
