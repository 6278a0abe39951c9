// `tweedie prior denoise | sample | variance` run as processes.
// - denoise: a prior directory imported from the PyTorch parity fixture
//   (Tests/TweediePriorsTests/Fixtures/unet/improved.*, made by
//   make_unet_fixtures.py) must reproduce PyTorch's output for the fixture's
//   inputs to 1e-4 relative (max |Δ| / max |reference|);
// - sample: cube shape, provenance keywords, the PNG grid's size and colour,
//   sample k identical for --batch 1 and 3;
// - variance: into a prior directory (config.json records N, steps, seed, space)
//   and, for an analytic Gaussian prior, to -o FILE, where the map must match
//   the prior's closed-form pixel variance (spec variance=2) within sampling
//   error plus the 250-step discretisation gap;
// - bad input: a one-line error, exit ≠ 0, no output file.
import Foundation
import Testing
import TweedieCore

@Suite struct PriorSamplingCommandTests {
    static let unetFixtures = CLIRunner.repositoryRoot.appendingPathComponent("Tests/TweediePriorsTests/Fixtures/unet")

    /// Imports the 32 px, 3-band random-weight fixture network as a prior directory under `dir`.
    static func importFixturePrior(into dir: URL) throws -> String {
        let json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: unetFixtures.appendingPathComponent("improved.json"))) as? [String: Any])
        var flags = try #require(json["config"] as? [String: Any])
        flags["bands"] = ["g", "r", "i"]
        flags["pixel_scale"] = ["value": 0.4, "unit": "kpc/px"]
        flags["pixel_transform"] = ["type": "affine", "scale": 2.0, "offset": 0.5]
        flags["name"] = "fixture-improved"
        let flagsURL = dir.appendingPathComponent("flags.json")
        try JSONSerialization.data(withJSONObject: flags).write(to: flagsURL)
        let prior = dir.appendingPathComponent("prior").path
        let r = try CLIRunner.run(["prior", "import", "--checkpoint", unetFixtures.appendingPathComponent("improved.safetensors").path,
                                   "--config", flagsURL.path, "-o", prior])
        #expect(r.status == 0, "\(r)")
        return prior
    }

    /// Sets `prior.<key>` in the config.json of the prior directory `prior` (tests of config-declared defaults).
    static func setPriorConfigKey(_ key: String, to value: Any, prior: String) throws {
        let url = URL(fileURLWithPath: prior + "/config.json")
        var config = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        var p = try #require(config["prior"] as? [String: Any])
        p[key] = value
        config["prior"] = p
        try JSONSerialization.data(withJSONObject: config).write(to: url)
    }

    /// Float32 tensors of a safetensors file (8-byte little-endian header length, JSON header, data).
    static func readSafeTensors(_ url: URL) throws -> [String: (shape: [Int], values: [Float])] {
        let data = try Data(contentsOf: url)
        let n = data.prefix(8).enumerated().reduce(0) { $0 | (Int($1.element) << (8 * $1.offset)) }
        let header = try #require(try JSONSerialization.jsonObject(with: data.subdata(in: 8..<(8 + n))) as? [String: Any])
        var out: [String: (shape: [Int], values: [Float])] = [:]
        for (name, entry) in header where name != "__metadata__" {
            let e = try #require(entry as? [String: Any])
            guard e["dtype"] as? String == "F32" else { continue }
            let shape = try #require(e["shape"] as? [Int]), offsets = try #require(e["data_offsets"] as? [Int])
            let bytes = data.subdata(in: (8 + n + offsets[0])..<(8 + n + offsets[1]))
            out[name] = (shape, bytes.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) })
        }
        return out
    }

    @Test func denoiseReproducesPyTorch() throws {
        let dir = try CLIRunner.temporaryDirectory(); defer { CLIRunner.removeDirectory(dir) }
        let prior = try Self.importFixturePrior(into: dir)
        let io = try Self.readSafeTensors(Self.unetFixtures.appendingPathComponent("improved_io.safetensors"))
        let x = try #require(io["x"]), out = try #require(io["out"])
        // The fixture's timesteps (int64), one per image.
        let timesteps = try Self.fixtureTimesteps()
        let shape = ImageShape(channels: x.shape[1], height: x.shape[2], width: x.shape[3])
        for k in 0..<x.shape[0] {
            let input = dir.appendingPathComponent("xt\(k).fits").path, output = dir.appendingPathComponent("eps\(k).fits").path
            try FITSWriter.write(try ImageBatch(count: 1, shape: shape, data: Array(x.values[(k * shape.count)..<((k + 1) * shape.count)])), to: input)
            let r = try CLIRunner.run(["prior", "denoise", "--prior", prior, "--input", input, "--timestep", "\(timesteps[k])", "-o", output])
            #expect(r.status == 0, "\(r)")
            let eps = try FITSReader.read(output)
            #expect(eps.count == 1 && eps.shape == shape)
            let ref = Array(out.values[(k * shape.count)..<((k + 1) * shape.count)])
            let scale = ref.map { abs(Double($0)) }.max()!
            let err = zip(eps.data, ref).map { abs(Double($0) - Double($1)) }.max()! / scale
            #expect(err < 1e-4, "image \(k) at t = \(timesteps[k]): relative error \(err)")
        }
    }

    static func fixtureTimesteps() throws -> [Int] {
        let data = try Data(contentsOf: unetFixtures.appendingPathComponent("improved_io.safetensors"))
        let n = data.prefix(8).enumerated().reduce(0) { $0 | (Int($1.element) << (8 * $1.offset)) }
        let header = try #require(try JSONSerialization.jsonObject(with: data.subdata(in: 8..<(8 + n))) as? [String: Any])
        let e = try #require(header["timesteps"] as? [String: Any])
        #expect(e["dtype"] as? String == "I64")
        let offsets = try #require(e["data_offsets"] as? [Int])
        let bytes = data.subdata(in: (8 + n + offsets[0])..<(8 + n + offsets[1]))
        return bytes.withUnsafeBytes { Array($0.bindMemory(to: Int64.self)) }.map(Int.init)
    }

    static let gaussian3 = "gaussian:n=16,channels=3,bands=g;r;i,variance=1,slope=3,k0=0.1"

    @Test func sampleWritesCubeGridAndIsBatchInvariant() throws {
        let dir = try CLIRunner.temporaryDirectory(); defer { CLIRunner.removeDirectory(dir) }
        let a = dir.appendingPathComponent("a.fits").path, b = dir.appendingPathComponent("b.fits").path
        let grid = dir.appendingPathComponent("grid.png").path
        let r = try CLIRunner.run(["prior", "sample", "--prior", Self.gaussian3, "--samples", "10", "--steps", "20",
                                   "--seed", "7", "--batch", "3", "-o", a, "--grid", grid])
        #expect(r.status == 0, "\(r)")
        #expect(r.stderr.contains("samples 10/10"))
        let cube = try FITSReader.read(a)
        #expect(cube.count == 10 && cube.shape == ImageShape(channels: 3, height: 16, width: 16))
        let cards = try #require(cube.header).cards
        func value(_ k: String) -> String? { cards.first { $0.keyword == k }.map { "\($0.value)" } }
        #expect(value("SEED") == "7" && value("STEPS") == "20" && value("NSAMPLES") == "10")
        #expect(value("PRIOR") == "gaussian" && value("SAMPLER") == "ddpm" && value("SPACE") == "network")
        // 8 per row: 2 rows of 16 px with 1 px gaps; colour for g, r, i.
        let png = try PNGPreview.readRGB(grid)
        #expect(png.width == 8 * 16 + 7 && png.height == 2 * 16 + 1)
        let colourful = (0..<16).contains { x in let (r, g, b) = png[x, 5]; return r != g || g != b }
        #expect(colourful)
        // The same samples drawn one at a time.
        let r1 = try CLIRunner.run(["prior", "sample", "--prior", Self.gaussian3, "--samples", "10", "--steps", "20",
                                    "--seed", "7", "--batch", "1", "-o", b])
        #expect(r1.status == 0, "\(r1)")
        #expect(try FITSReader.read(b).data == cube.data)
        // DDIM runs and differs from DDPM.
        let c = dir.appendingPathComponent("c.fits").path
        let r2 = try CLIRunner.run(["prior", "sample", "--prior", Self.gaussian3, "--samples", "2", "--steps", "20",
                                    "--seed", "7", "--ddim", "--eta", "0", "-o", c])
        #expect(r2.status == 0, "\(r2)")
        #expect(try FITSReader.read(c).data != Array(cube.data.prefix(2 * 3 * 256)))
    }

    @Test func samplePhysicalSpaceUsesThePixelTransform() throws {
        let dir = try CLIRunner.temporaryDirectory(); defer { CLIRunner.removeDirectory(dir) }
        let prior = try Self.importFixturePrior(into: dir)
        let u = dir.appendingPathComponent("u.fits").path, x = dir.appendingPathComponent("x.fits").path
        for (space, out) in [("network", u), ("physical", x)] {
            let r = try CLIRunner.run(["prior", "sample", "--prior", prior, "--samples", "2", "--steps", "2", "--space", space, "-o", out])
            #expect(r.status == 0, "\(r)")
        }
        let ub = try FITSReader.read(u), xb = try FITSReader.read(x)
        #expect(ub.count == 2 && ub.shape == ImageShape(channels: 3, height: 32, width: 32) && ub.bands == ["g", "r", "i"])
        // The fixture's transform is affine x = 2u + 0.5.
        #expect(zip(ub.data, xb.data).allSatisfy { $1 == 2 * $0 + 0.5 })
    }

    /// prior.unconditional_sampler in the config sets the sampler and steps; --ddpm / --ddim / --steps
    /// override it; it gives the same samples as the explicit options; `prior info` shows it; bad values are refused by name.
    @Test func declaredUnconditionalSamplerIsTheDefault() throws {
        let dir = try CLIRunner.temporaryDirectory(); defer { CLIRunner.removeDirectory(dir) }
        let prior = try Self.importFixturePrior(into: dir)
        func declare(_ value: Any) throws { try Self.setPriorConfigKey("unconditional_sampler", to: value, prior: prior) }
        func sample(_ name: String, _ extra: [String] = []) throws -> (CLIResult, String) {
            let out = dir.appendingPathComponent(name + ".fits").path
            return (try CLIRunner.run(["prior", "sample", "--prior", prior, "--samples", "2", "--seed", "3", "-o", out] + extra), out)
        }
        func cards(_ path: String) throws -> [String: String] {
            let h = try #require(try FITSReader.read(path).header)
            return Dictionary(h.cards.map { ($0.keyword, "\($0.value)") }, uniquingKeysWith: { a, _ in a })
        }
        try declare(["method": "ddim", "eta": 0.5, "steps": 3])
        let (d, dPath) = try sample("declared")
        #expect(d.status == 0, "\(d)")
        let dc = try cards(dPath)
        #expect(dc["SAMPLER"] == "ddim" && dc["ETA"] == "0.5" && dc["STEPS"] == "3", "\(dc)")
        let (e, ePath) = try sample("explicit", ["--ddim", "--eta", "0.5", "--steps", "3"])
        let same = try FITSReader.read(ePath).data == FITSReader.read(dPath).data
        #expect(e.status == 0 && same, "\(e)")
        let (o, oPath) = try sample("overridden", ["--ddpm", "--steps", "2"])
        #expect(o.status == 0, "\(o)")
        let oc = try cards(oPath)
        #expect(oc["SAMPLER"] == "ddpm" && oc["STEPS"] == "2" && oc["ETA"] == nil, "\(oc)")
        // --ddim without --eta keeps the declared η.
        let (k, kPath) = try sample("ddim-steps", ["--ddim", "--steps", "2"])
        #expect(k.status == 0, "\(k)")
        let kc = try cards(kPath)
        #expect(kc["SAMPLER"] == "ddim" && kc["ETA"] == "0.5" && kc["STEPS"] == "2", "\(kc)")
        let info = try CLIRunner.run(["prior", "info", prior, "--no-checksum"])
        #expect(info.status == 0 && info.stdout.contains("ddim, eta 0.5, 3 steps"), "\(info)")
        let both = try sample("both", ["--ddim", "--ddpm"])
        #expect(both.0.status != 0 && both.0.stderr.contains("--ddim and --ddpm"))
        for (value, key, name) in [(["method": "euler"] as [String: Any], "method", "bad-method"),
                                   (["method": "ddpm", "eta": 0.3], "eta", "bad-eta"),
                                   (["method": "ddim", "steps": 2.5], "steps", "bad-steps")] {
            try declare(value)
            let (bad, path) = try sample(name)
            #expect(bad.status != 0 && bad.stderr.contains("prior.unconditional_sampler.\(key)"), "\(bad)")
            #expect(!FileManager.default.fileExists(atPath: path))
        }
    }

    @Test func varianceIntoPriorDirectoryIsRecorded() throws {
        let dir = try CLIRunner.temporaryDirectory(); defer { CLIRunner.removeDirectory(dir) }
        let prior = try Self.importFixturePrior(into: dir)
        let r = try CLIRunner.run(["prior", "variance", "--prior", prior, "--samples", "3", "--steps", "2", "--seed", "4", "--batch", "2"])
        #expect(r.status == 0, "\(r)")
        #expect(r.stderr.contains("warning: N = 3 samples is below the recommended 256"))
        let config = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: prior + "/config.json"))) as? [String: Any])
        let vm = try #require((config["prior"] as? [String: Any])?["variance_map"] as? [String: Any])
        #expect(vm["file"] as? String == "variance.fits" && vm["samples"] as? Int == 3 && vm["steps"] as? Int == 2)
        #expect(vm["seed"] as? String == "4" && vm["space"] as? String == "network" && vm["physical_hdu"] as? String == "PHYSVAR")
        let net = try FITSReader.read(prior + "/variance.fits")
        let phys = try FITSReader.read(prior + "/variance.fits", hdu: FITSHDUSelector(parsing: "PHYSVAR"))
        #expect(net.count == 1 && net.shape == ImageShape(channels: 3, height: 32, width: 32))
        #expect(net.data.allSatisfy { $0 >= 0 } && net.data.contains { $0 > 0 })
        // Affine x = 2u + 0.5: the physical variance is 4× the network one.
        #expect(zip(net.data, phys.data).allSatisfy { abs($1 - 4 * $0) <= 1e-5 * max(1, abs($1)) })
        // `prior info` shows it; -o is refused for a directory.
        let info = try CLIRunner.run(["prior", "info", prior, "--no-checksum"])
        #expect(info.stdout.contains("variance.fits (N = 3 samples, network space)"), "\(info)")
        let refused = try CLIRunner.run(["prior", "variance", "--prior", prior, "--samples", "3", "-o", dir.appendingPathComponent("v.fits").path])
        #expect(refused.status != 0 && refused.stderr.hasPrefix("error: -o/--output"))
    }

    @Test func varianceOfAnalyticGaussianMatchesClosedForm() throws {
        let dir = try CLIRunner.temporaryDirectory(); defer { CLIRunner.removeDirectory(dir) }
        let out = dir.appendingPathComponent("v.fits").path
        let r = try CLIRunner.run(["prior", "variance", "--prior", "gaussian:n=8,variance=2,slope=3,k0=0.1", "--samples", "600",
                                   "--steps", "250", "--seed", "3", "--batch", "100", "-o", out])
        #expect(r.status == 0, "\(r)")
        let v = try FITSReader.read(out)
        let mean = v.data.reduce(0.0) { $0 + Double($1) } / Double(v.valueCount)
        // Closed form: pixel variance 2 (the spec normalises the spectrum to it). The pixel-averaged
        // sample variance has a relative standard error ≲ √(2/600)·(correlation over ~20 effective
        // modes) ≈ 1.3 %; the 250-step DDPM discretisation leaves the exact sampler variance ≈ 3 % low
        // (computed mode by mode in AncestralSamplerTests' oracle). Tolerance: 3 % gap + 5 SE.
        #expect(abs(mean / 2 - 1) < 0.03 + 5 * 0.013, "mean pixel variance \(mean) vs 2")
    }

    @Test func badInputFailsCleanly() throws {
        let dir = try CLIRunner.temporaryDirectory(); defer { CLIRunner.removeDirectory(dir) }
        let out = dir.appendingPathComponent("o.fits").path
        let g = "gaussian:n=8,variance=2,slope=3,k0=0.1"
        // Missing prior directory.
        let missing = try CLIRunner.run(["prior", "sample", "--prior", dir.appendingPathComponent("nope").path, "--samples", "2", "-o", out])
        #expect(missing.status != 0 && missing.stderrLines.count == 1 && missing.stderr.contains("no such prior directory"), "\(missing)")
        // Wrong input shape for denoise.
        let xt = dir.appendingPathComponent("xt.fits").path
        try FITSWriter.write(ImageBatch(count: 1, shape: ImageShape(channels: 1, height: 4, width: 4)), to: xt)
        let shape = try CLIRunner.run(["prior", "denoise", "--prior", g, "--input", xt, "--timestep", "5", "-o", out])
        #expect(shape.status != 0 && shape.stderrLines.count == 1 && shape.stderr.contains("expected images of 1×8×8"), "\(shape)")
        // Timestep out of range.
        try FITSWriter.write(ImageBatch(count: 1, shape: ImageShape(channels: 1, height: 8, width: 8)), to: xt)
        let t = try CLIRunner.run(["prior", "denoise", "--prior", g, "--input", xt, "--timestep", "1000", "-o", out])
        #expect(t.status != 0 && t.stderr.contains("error: --timestep: 1000 is outside 0…999"), "\(t)")
        // Samples ≤ 0 (sample) and < 2 (variance); --eta without --ddim.
        for args in [["prior", "sample", "--prior", g, "--samples", "0", "-o", out],
                     ["prior", "sample", "--prior", g, "--samples", "-3", "-o", out],
                     ["prior", "variance", "--prior", g, "--samples", "1", "-o", out],
                     ["prior", "sample", "--prior", g, "--samples", "2", "--eta", "0.5", "-o", out]] {
            let r = try CLIRunner.run(args)
            #expect(r.status != 0 && r.stderr.contains("--"), "\(args): \(r)")
        }
        // An analytic variance needs -o.
        let noOut = try CLIRunner.run(["prior", "variance", "--prior", g, "--samples", "4"])
        #expect(noOut.status != 0 && noOut.stderr.hasPrefix("error: -o/--output"), "\(noOut)")
        // Nothing written (the x_t input is the only file).
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["xt.fits"])
    }
}
