// FFT-friendly transform sizes for zero-padded (linear) convolution.
//
// FFTW is fastest on sizes whose prime factors are small; Tweedie pads to the
// smallest n' ≥ n of the form 2^a·3^b·5^c·7^d ("7-smooth", FFTW's codelets
// cover these radices directly).

public enum FFTSize {
    /// True when `n` ≥ 1 has no prime factor larger than 7.
    public static func isFriendly(_ n: Int) -> Bool {
        guard n >= 1 else { return false }
        var m = n
        for p in [2, 3, 5, 7] { while m % p == 0 { m /= p } }
        return m == 1
    }

    /// The smallest 2^a·3^b·5^c·7^d that is ≥ `n` (n ≥ 1).
    public static func friendly(atLeast n: Int) -> Int {
        precondition(n >= 1, "FFT size must be positive")
        var m = n
        while !isFriendly(m) { m += 1 }
        return m
    }

    /// Padded length along one axis so that a linear ("same") convolution of a
    /// length-`n` signal with a length-`k` kernel centred on index k/2 does not
    /// wrap around: the circular result on `friendly(atLeast: n + max(c, k−1−c))`
    /// points (c = k/2) equals the linear one on the first n outputs, and the
    /// same holds for the adjoint (correlation). The kernel must also fit (≥ k).
    public static func linearConvolutionLength(signal n: Int, kernel k: Int) -> Int {
        let c = k / 2
        return friendly(atLeast: max(n + max(c, k - 1 - c), k))
    }
}
