// The radio path through the CLI (uv operator specs):
// - `simulate` → `sample` round trip on an 8×8 grid with a white Gaussian prior:
//   with a linear operator and Gaussian noise the posterior is Gaussian with
//   precision AᵀWA + I/v and mean Σ AᵀW y, solved densely here from the operator
//   applied to unit images (independent of the sampler). Split-Gibbs (exact
//   likelihood step) must match that mean within the Monte-Carlo error of its
//   samples and that standard deviation within 25 %;
// - visibilities made with another spec, and --sigma with a uv spec, are errors
//   that name the problem, and leave no output directory;
// - a tiny radio study (two 16×16 skies with bright Gaussian sources, analytic
//   prior, few samples) runs end to end: results.csv has the source-metric
//   columns of every method, sources.csv one row per true source with its SNR;
//   bright sources are found on the true sky itself (the measurement's oracle)
//   and the SNR column follows paper 000's formula from the case's beam.
import Foundation
import Testing
import TweedieCore
import TweedieOperators

@Suite(.serialized) struct RadioCLITests {
    /// A 7-antenna array at the ALMA site (LOC offsets, metres).
    static let cfg = """
        # observatory=ALMA
        # coordsys=LOC (local tangent plane)
        0 0 0 12. P1
        0 60 0 12. P2
        35 -20 0 12. P3
        -70 25 1 12. P4
        110 80 0 12. P5
        -45 -100 0 12. P6
        15 170 1 12. P7
        """

    static func spec(size: Int, scale: Double, declination: Double = -23, rms: Double) -> String {
        """
        prior: {size: \(size), pixel_scale_arcsec: \(scale)}
        chain:
          - uv: {config: mini.cfg, declination: \(declination), hour_angle: [-0.5, 0.5], frequency: 230.0e9,
                 integration: 300, dish_diameter: 12, noise_rms: \(rms)}
        """
    }

    static func write(_ text: String, _ name: String, in dir: URL) throws -> String {
        let p = dir.appendingPathComponent(name).path
        try text.write(toFile: p, atomically: true, encoding: .utf8)
        return p
    }

    @Test func simulateThenSampleMatchesTheExactGaussianPosterior() throws {
        let dir = try CLIRunner.temporaryDirectory(); defer { CLIRunner.removeDirectory(dir) }
        _ = try Self.write(Self.cfg, "mini.cfg", in: dir)
        _ = try Self.write(Self.spec(size: 8, scale: 0.25, rms: 0.3), "alma.yaml", in: dir)
        let n = 64
        let truth = try ImageBatch(count: 1, shape: ImageShape(channels: 1, height: 8, width: 8),
                                   data: SampleStream(seed: 11, index: 0).normals(n))
        try FITSWriter.write(truth, to: dir.appendingPathComponent("truth.fits").path)
        let sim = try CLIRunner.run(["simulate", "--spec", "alma.yaml", "--truth", "truth.fits", "--seed", "5", "-o", "vis.fits"], in: dir)
        #expect(sim.status == 0, "\(sim)")
        let prior = "gaussian:n=8,variance=1,slope=0,k0=1"
        let run = try CLIRunner.run(["sample", "--prior", prior, "--observation", "vis.fits", "--spec", "alma.yaml",
                                     "--sampler", "split-gibbs", "--samples", "64", "--batch", "16", "--seed", "3",
                                     "-o", "post", "--quiet"], in: dir)
        #expect(run.status == 0, "\(run)")

        // Exact posterior from the operator the spec builds.
        let spec = try JSONDecoder().decode(OperatorSpec.self, from: Data(#"{"prior": {"size": 8, "pixel_scale_arcsec": 0.25}, "chain": [{"uv": {"config": "mini.cfg", "declination": -23, "hour_angle": [-0.5, 0.5], "frequency": 230e9, "integration": 300, "dish_diameter": 12, "noise_rms": 0.3}}]}"#.utf8))
        let built = try spec.build(antennaLoader: { try AntennaConfiguration(contentsOf: dir.appendingPathComponent($0).path) })
        let A = built.forwardOperator, noise = try #require(built.uv).noiseModel()
        let m = A.outputShape.count
        var cols = [[Double]]()
        for j in 0..<n {
            var e = ImageBatch(count: 1, shape: A.inputShape); e.data[j] = 1
            cols.append(try A.apply(e).data.map(Double.init))
        }
        let w = noise.sqrtWeights.map { Double($0) * Double($0) }
        let y = try FITSReader.read(dir.appendingPathComponent("vis.fits").path).data.map(Double.init)
        #expect(y.count == m)
        var precision = [Double](repeating: 0, count: n * n), rhs = [Double](repeating: 0, count: n)
        for i in 0..<n {
            for k in 0..<m { rhs[i] += cols[i][k] * w[k] * y[k] }
            for j in 0..<n {
                var s = 0.0
                for k in 0..<m { s += cols[i][k] * w[k] * cols[j][k] }
                precision[i * n + j] = s + (i == j ? 1 : 0)
            }
        }
        let cov = invertSPD(precision, n)
        let exactMean = (0..<n).map { i in (0..<n).reduce(0.0) { $0 + cov[i * n + $1] * rhs[$1] } }
        let mean = try FITSReader.read(dir.appendingPathComponent("post/mean.fits").path).data.map(Double.init)
        let std = try FITSReader.read(dir.appendingPathComponent("post/std.fits").path).data.map(Double.init)
        var z2 = 0.0, zmax = 0.0, ratio = 0.0
        for i in 0..<n {
            let s = cov[i * n + i].squareRoot()
            let z = (mean[i] - exactMean[i]) / (s / 8)    // 64 samples: standard error σ/8
            z2 += z * z; zmax = max(zmax, abs(z)); ratio += std[i] / s
        }
        #expect((z2 / Double(n)).squareRoot() < 2, "rms z \((z2 / Double(n)).squareRoot())")
        #expect(zmax < 5, "max |z| \(zmax)")
        #expect(abs(ratio / Double(n) - 1) < 0.25, "mean std ratio \(ratio / Double(n))")
        // The data constrain the sky: the exact posterior is narrower than the prior somewhere.
        #expect((0..<n).map { cov[$0 * n + $0] }.min()! < 0.5)
        // residual.fits is the residual dirty image on the prior grid, in Jy/beam.
        let res = try FITSReader.readImage(dir.appendingPathComponent("post/residual.fits").path)
        #expect(res.batch.shape == A.inputShape && res.batch.unit == "Jy/beam")
    }

    @Test func mismatchedVisibilitiesAndSigmaAreErrors() throws {
        let dir = try CLIRunner.temporaryDirectory(); defer { CLIRunner.removeDirectory(dir) }
        _ = try Self.write(Self.cfg, "mini.cfg", in: dir)
        _ = try Self.write(Self.spec(size: 8, scale: 0.25, rms: 0.3), "a.yaml", in: dir)
        _ = try Self.write(Self.spec(size: 8, scale: 0.25, declination: -60, rms: 0.3), "b.yaml", in: dir)
        _ = try Self.write(Self.spec(size: 16, scale: 0.25, rms: 0.3), "c.yaml", in: dir)
        try FITSWriter.write(ImageBatch(count: 1, shape: ImageShape(channels: 1, height: 8, width: 8)),
                             to: dir.appendingPathComponent("zero.fits").path)
        #expect(try CLIRunner.run(["simulate", "--spec", "a.yaml", "--truth", "zero.fits", "-o", "vis.fits"], in: dir).status == 0)
        let s = try CLIRunner.run(["simulate", "--spec", "a.yaml", "--truth", "zero.fits", "--sigma", "1", "-o", "v2.fits"], in: dir)
        #expect(s.status != 0 && s.stderr.contains("noise_rms") && !FileManager.default.fileExists(atPath: dir.appendingPathComponent("v2.fits").path))
        let prior = "gaussian:n=8,variance=1,slope=0,k0=1"
        for (specName, needle) in [("b.yaml", "uv grid"), ("c.yaml", "IMSIZE")] {
            let r = try CLIRunner.run(["sample", "--prior", specName == "c.yaml" ? "gaussian:n=16,variance=1,slope=0,k0=1" : prior,
                                       "--observation", "vis.fits", "--spec", specName, "--samples", "2", "--steps", "2", "-o", "out"], in: dir)
            #expect(r.status != 0 && r.stderr.hasPrefix("error:") && r.stderr.contains(needle), "\(r)")
        }
        let r = try CLIRunner.run(["sample", "--prior", prior, "--observation", "vis.fits", "--spec", "a.yaml", "--sigma", "1",
                                   "--samples", "2", "--steps", "2", "-o", "out"], in: dir)
        #expect(r.status != 0 && r.stderr.contains("noise_rms"))
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("out").path))
    }

    @Test func tinyRadioStudyProducesSourceMetrics() throws {
        let dir = try CLIRunner.temporaryDirectory(); defer { CLIRunner.removeDirectory(dir) }
        _ = try Self.write(Self.cfg, "mini.cfg", in: dir)
        // Two 16×16 skies of 0.25″ pixels: round Gaussian sources (FWHM 0.5″ = 2 px), pixel-centre sampled.
        let srcs: [[(x: Double, y: Double, flux: Double)]] = [[(5, 6, 3e-3)], [(4, 11, 2e-3), (11, 4, 1e-3)]]
        var cube = ImageBatch(count: 2, shape: ImageShape(channels: 1, height: 16, width: 16))
        var csv = "sky,x,y,flux_jy,fwhm_major_arcsec,fwhm_minor_arcsec\n"
        let sig = 2 / 2.3548
        for (k, list) in srcs.enumerated() {
            for s in list {
                csv += "\(k),\(s.x),\(s.y),\(s.flux),0.5,0.5\n"
                for y in 0..<16 {
                    for x in 0..<16 {
                        let r2 = (Double(x) - s.x) * (Double(x) - s.x) + (Double(y) - s.y) * (Double(y) - s.y)
                        cube.data[k * 256 + y * 16 + x] += Float(s.flux * exp(-r2 / (2 * sig * sig)) / (2 * .pi * sig * sig))
                    }
                }
            }
        }
        var h = FITSHeader(); h.set("PIXSCALE", .double(0.25)); cube.header = h
        try FITSWriter.write(cube, to: dir.appendingPathComponent("skies.fits").path)
        _ = try Self.write(csv, "catalogue.csv", in: dir)
        _ = try Self.write("""
            name: radio-tiny
            prior: "gaussian:n=16,spectrum=gaussian,variance=0.1,length=2"
            truths: skies.fits
            catalogue: catalogue.csv
            fixed: {uv: mini.cfg, declination: -23, ha_range: [-0.5, 0.5], frequency: 230.0e9, integration: 300,
                    noise_rms: 5.0e-5, match_radius: 0.5, flux_aperture: 0.75, flux_scale: 1.0e-4,
                    sampler: split-gibbs, samples: 4, batch: 4, seed: 1}
            grid: {truth: [0, 1]}
            """, "study.yaml", in: dir)
        let r = try CLIRunner.run(["study", "run", "study.yaml", "-o", "out", "--quiet"], in: dir)
        #expect(r.status == 0, "\(r)")
        let table = try String(contentsOf: dir.appendingPathComponent("out/results.csv"), encoding: .utf8)
        let lines = table.split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        #expect(lines.count == 3)
        let header = lines[0]
        for m in ["mean", "median", "detect_aggregate", "clean", "truth"] {
            for score in ["purity", "completeness", "f1", "flux_accuracy", "tp", "fp", "fn"] {
                #expect(header.contains("\(m)_\(score)"), "missing \(m)_\(score)")
            }
        }
        func value(_ row: Int, _ col: String) -> Double? { Double(lines[row][header.firstIndex(of: col)!]) }
        for row in 1...2 {
            // The true sky, measured the same way, finds every (bright) true source.
            #expect(value(row, "truth_completeness") == 1 && value(row, "truth_fn") == 0)
            #expect(value(row, "n_true_sources") == Double(srcs[row - 1].count))
            // TP + FN = number of true sources for every method.
            for m in ["mean", "median", "detect_aggregate", "clean"] {
                #expect(value(row, "\(m)_tp")! + value(row, "\(m)_fn")! == Double(srcs[row - 1].count))
            }
        }
        // sources.csv: one row per true source; the SNR follows paper 000's formula with the case's beam.
        let src = try String(contentsOf: dir.appendingPathComponent("out/sources.csv"), encoding: .utf8)
            .split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        #expect(src.count == 1 + 3)
        let sh = src[0]
        for c in ["case", "snr", "mean_matched", "median_flux", "clean_matched", "detect_aggregate_reliability", "truth_offset"] {
            #expect(sh.contains(c), "sources.csv lacks \(c)")
        }
        // <method>_offset is the distance to the method's nearest detection: never more than a match's
        // own distance, so at most the match radius (0.5″) for a matched source; the true sky's own
        // detections sit on the true positions.
        for row in src.dropFirst() {
            for m in ["mean", "median", "detect_aggregate", "clean", "truth"] where row[sh.firstIndex(of: "\(m)_matched")!] == "1" {
                #expect(Double(row[sh.firstIndex(of: "\(m)_offset")!])! <= 0.5 + 1e-9)
            }
            #expect(Double(row[sh.firstIndex(of: "truth_offset")!])! < 0.05)
        }
        let bmaj = value(1, "beam_major")!, bmin = value(1, "beam_minor")!
        let expected = 3e-3 / 5e-5 * bmaj * bmin / ((bmin * bmin + 0.25) * (bmaj * bmaj + 0.25)).squareRoot()
        let snr = Double(src[1][sh.firstIndex(of: "snr")!])!
        #expect(abs(snr / expected - 1) < 1e-4, "snr \(snr) vs \(expected)")
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("out/detections.csv").path))
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("out/cases/case-0000/run/samples.fits").path))
    }
}

/// Inverse of a small symmetric positive-definite matrix (Gauss–Jordan, Double).
private func invertSPD(_ a: [Double], _ n: Int) -> [Double] {
    var m = a, inv = [Double](repeating: 0, count: n * n)
    for i in 0..<n { inv[i * n + i] = 1 }
    for c in 0..<n {
        let p = m[c * n + c]
        for j in 0..<n { m[c * n + j] /= p; inv[c * n + j] /= p }
        for r in 0..<n where r != c {
            let f = m[r * n + c]
            if f == 0 { continue }
            for j in 0..<n { m[r * n + j] -= f * m[c * n + j]; inv[r * n + j] -= f * inv[c * n + j] }
        }
    }
    return inv
}
