// `tweedie sources` and `tweedie clean` run as processes: a catalogue of
// Gaussian sources written by the test (positions known), CLEAN of the real
// 3C273 UVFITS and of a simulated ALMA observation of point sources (fluxes
// known), and one clear error with no output file for each kind of bad input.
import Foundation
import Testing
import TweedieCore

@Suite struct AnalysisCommandTests {
    /// Two circular Gaussians (FWHM 3 px, sampled at pixel centres) plus seeded noise σ = 1.
    static func writeSources(_ path: String) throws {
        let n = 64
        var data = [Float](repeating: 0, count: n * n)
        var state: UInt64 = 42
        func uniform() -> Double {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return (Double(state >> 11) + 0.5) / Double(1 << 53)
        }
        let s = 3 / (8 * log(2.0)).squareRoot()
        for y in 0..<n {
            for x in 0..<n {
                var v = (-2 * log(uniform())).squareRoot() * cos(2 * .pi * uniform())
                for (cx, cy, peak) in [(20.3, 40.6, 200.0), (45.5, 15.2, 100.0)] {
                    v += peak * exp(-((Double(x) - cx) * (Double(x) - cx) + (Double(y) - cy) * (Double(y) - cy)) / (2 * s * s))
                }
                data[y * n + x] = Float(v)
            }
        }
        try FITSWriter.write(ImageBatch(count: 1, shape: ImageShape(channels: 1, height: n, width: n), data: data), to: path)
    }

    @Test func sourcesTableAndCSV() throws {
        let dir = try CLIRunner.temporaryDirectory(); defer { CLIRunner.removeDirectory(dir) }
        let image = dir.appendingPathComponent("two.fits").path, csv = dir.appendingPathComponent("cat.csv").path
        try Self.writeSources(image)
        let table = try CLIRunner.run(["sources", image, "--threshold", "5"])
        #expect(table.status == 0 && table.stdout.split(separator: "\n").count == 3, "\(table)")
        #expect(table.stderr.contains("2 sources") && table.stderr.contains("robust estimate"))
        let r = try CLIRunner.run(["sources", image, "--sigma", "1", "--threshold", "5", "--min-pixels", "4",
                                   "--aperture", "6", "-o", csv])
        #expect(r.status == 0 && r.stderr.isEmpty, "\(r)")
        let rows = try String(contentsOfFile: csv, encoding: .utf8).split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false) }
        #expect(rows.count == 3 && rows[0].first == "id" && rows[0][1] == "x")
        let xy = rows.dropFirst().map { (Double($0[1])!, Double($0[2])!) }
        for (cx, cy) in [(20.3, 40.6), (45.5, 15.2)] {
            #expect(xy.contains { abs($0.0 - cx) < 0.2 && abs($0.1 - cy) < 0.2 }, "\(xy) lacks (\(cx), \(cy))")
        }
        // Aperture flux of the 200-peak source ≈ 2πσ²·200 (σ = 3/2.3548 px) = 2039.
        let bright = rows.dropFirst().first { abs(Double($0[1])! - 20.3) < 1 }!
        #expect(abs(Double(bright[5])! / (2 * .pi * pow(3 / (8 * log(2.0)).squareRoot(), 2) * 200) - 1) < 0.02)
    }

    @Test func cleanOf3C273() throws {
        let dir = try CLIRunner.temporaryDirectory(); defer { CLIRunner.removeDirectory(dir) }
        let out = dir.appendingPathComponent("clean.fits").path, png = dir.appendingPathComponent("clean.png").path
        let r = try CLIRunner.run(["clean", "--uvfits", "../shared/data/real/vla_3C273_Xband_C.uvfits", "--size", "256",
                                   "--cell", "0.2", "--weighting", "uniform", "-o", out, "--png", png])
        #expect(r.status == 0 && r.stderr.isEmpty, "\(r)")
        let restored = try FITSReader.read(out, hdu: .name("RESTORED"))
        let model = try FITSReader.read(out, hdu: .name("MODEL"))
        let residual = try FITSReader.read(out, hdu: .name("RESIDUAL"))
        #expect(restored.unit == "Jy/beam" && model.unit == "Jy/pixel" && residual.shape.width == 256)
        // The core (≈ 30 Jy, the dirty peak) stays on the phase centre; restoring beam ≈ λ/B_max = 2.05″.
        #expect(abs(restored[0, 0, 128, 128] - 29.86) < 0.3)
        let bmaj = (restored.header?.double("BMAJ") ?? 0) * 3600, bmin = (restored.header?.double("BMIN") ?? 0) * 3600
        #expect(bmaj >= bmin && bmin > 1.5 && bmaj < 3.5, "beam \(bmaj)″ × \(bmin)″")
        let total = model.data.reduce(0.0) { $0 + Double($1) }
        #expect(abs(total - (restored.header?.double("CLNFLUX") ?? 0)) < 1e-3 && total > 30 && total < 36)
        // Sources on the restored image: the core and the jet, 20″ to the south-west.
        let cat = try CLIRunner.run(["sources", out, "--hdu", "RESTORED", "--threshold", "5"])
        #expect(cat.status == 0 && cat.stderr.contains("fluxes in Jy"), "\(cat)")
        #expect(try PNGPreview.read(png).width == 3 * 256 + 2)
    }

    @Test func cleanOfASimulatedALMAObservation() throws {
        let dir = try CLIRunner.temporaryDirectory(); defer { CLIRunner.removeDirectory(dir) }
        let sky = dir.appendingPathComponent("sky.fits").path, out = dir.appendingPathComponent("clean.fits").path
        var data = [Float](repeating: 0, count: 64 * 64)
        data[20 * 64 + 24] = 0.8; data[40 * 64 + 44] = 0.3
        try FITSWriter.write(ImageBatch(count: 1, shape: ImageShape(channels: 1, height: 64, width: 64), data: data), to: sky)
        let r = try CLIRunner.run(["clean", "--cfg", "../shared/data/antennas/alma.cycle10.3.cfg", "--dec=-30", "--ha-range=-1,1",
                                   "--freq", "230e9", "--integration", "300", "--sky", sky, "--size", "64", "--cell", "0.1",
                                   "--sigma", "1e-4", "--max-iterations", "5000", "-o", out])
        #expect(r.status == 0 && r.stderr.isEmpty, "\(r)")
        let model = try FITSReader.read(out, hdu: .name("MODEL"))
        func near(_ x: Int, _ y: Int) -> Double {
            var f = 0.0
            for yy in (y - 1)...(y + 1) { for xx in (x - 1)...(x + 1) { f += Double(model[0, 0, yy, xx]) } }
            return f
        }
        #expect(abs(near(24, 20) / 0.8 - 1) < 0.02 && abs(near(44, 40) / 0.3 - 1) < 0.02, "\(near(24, 20)), \(near(44, 40))")
    }

    /// --box counts FITS pixels (1-based, inclusive): a one-pixel box on FITS pixel (25, 21) holds
    /// the 0.8 Jy source stored at 0-based column 24, row 20, and every component lands there.
    @Test func cleanBoxIsInFITSPixels() throws {
        let dir = try CLIRunner.temporaryDirectory(); defer { CLIRunner.removeDirectory(dir) }
        let sky = dir.appendingPathComponent("sky.fits").path, out = dir.appendingPathComponent("clean.fits").path
        var data = [Float](repeating: 0, count: 64 * 64)
        data[20 * 64 + 24] = 0.8; data[40 * 64 + 44] = 0.3
        try FITSWriter.write(ImageBatch(count: 1, shape: ImageShape(channels: 1, height: 64, width: 64), data: data), to: sky)
        let r = try CLIRunner.run(["clean", "--cfg", "../shared/data/antennas/alma.cycle10.3.cfg", "--dec=-30", "--ha-range=-1,1",
                                   "--freq", "230e9", "--integration", "300", "--sky", sky, "--size", "64", "--cell", "0.1",
                                   "--sigma", "1e-4", "--max-iterations", "300", "--box", "25,21,25,21", "-o", out])
        #expect(r.status == 0 && r.stderr.isEmpty, "\(r)")
        let model = try FITSReader.read(out, hdu: .name("MODEL"))
        let nonzero = model.data.indices.filter { model.data[$0] != 0 }
        #expect(nonzero == [20 * 64 + 24], "components at \(nonzero.map { ($0 % 64 + 1, $0 / 64 + 1) }) (FITS pixels)")
        #expect(abs(Double(model[0, 0, 20, 24]) / 0.8 - 1) < 0.05, "\(model[0, 0, 20, 24])")
        #expect(r.stdout.contains("at FITS pixel (25, 21)"), "\(r)")
    }

    @Test func badInputGivesOneErrorAndNoFile() throws {
        let dir = try CLIRunner.temporaryDirectory(); defer { CLIRunner.removeDirectory(dir) }
        let out = dir.appendingPathComponent("out.csv").path, fits = dir.appendingPathComponent("out.fits").path
        let text = dir.appendingPathComponent("notfits.fits").path
        try "hello, not a FITS file\n".write(toFile: text, atomically: true, encoding: .utf8)
        let nan = dir.appendingPathComponent("nan.fits").path
        try FITSWriter.write(ImageBatch(count: 1, shape: ImageShape(channels: 1, height: 8, width: 8),
                                        data: [Float](repeating: .nan, count: 64)), to: nan)
        let good = dir.appendingPathComponent("good.fits").path
        try Self.writeSources(good)
        let cases: [([String], String, String)] = [
            (["sources", text, "-o", out], "notfits.fits", out),
            (["sources", nan, "-o", out], "no finite pixel", out),
            (["sources", good, "--threshold", "0", "-o", out], "--threshold", out),
            (["sources", good, "--threshold=-2", "-o", out], "--threshold", out),
            (["sources", good, "--min-pixels", "0", "-o", out], "--min-pixels", out),
            (["clean", "--cfg", "../shared/data/antennas/vla.c.cfg", "--dec", "30", "--ha-range=-1,1", "--freq", "8e9",
              "--size", "64", "--cell", "0.5", "-o", fits], "--sky", fits),
            (["clean", "--uvfits", "../shared/data/real/vla_3C273_Xband_C.uvfits", "--size", "64", "--cell", "0.2",
              "--box", "0,0,64,10", "-o", fits], "--box", fits),
            (["clean", "--uvfits", "../shared/data/real/vla_3C273_Xband_C.uvfits", "--size", "64", "--cell", "0.2",
              "--threshold", "0", "-o", fits], "--threshold", fits),
            (["clean", "--cfg", "../shared/data/antennas/vla.c.cfg", "--dec", "30", "--ha-range=-1,1", "--freq", "8e9",
              "--sky", good, "--size", "32", "--cell", "0.5", "-o", fits], "32×32", fits),
        ]
        for (args, message, output) in cases {
            let r = try CLIRunner.run(args)
            #expect(r.status != 0, "\(args): \(r)")
            #expect(r.stderr.contains(message), "\(args): \(r)")
            let errorLines = r.stderrLines.filter { $0.hasPrefix("error: ") || $0.hasPrefix("Error: ") }
            #expect(errorLines.count == 1, "\(args): \(r)")
            #expect(!FileManager.default.fileExists(atPath: output), "\(args) left \(output)")
        }
    }
}
