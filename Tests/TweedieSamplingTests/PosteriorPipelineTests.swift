// PosteriorPipeline.prepare without a command line: a typed request on an analytic prior reads
// and checks every input, applies the cutout, background and noise choices as asked, resolves the
// sampler against the prior, and refuses bad input naming the request field (by the caller's names).
import Foundation
import Testing
import TweedieCore
import TweedieOperators
import TweediePriors
@testable import TweedieSampling

@Suite struct PosteriorPipelineTests {
    /// A 1-band 24×24 observation whose value at 1-based pixel (x, y) is 100·y + x, written to a temporary file.
    static func observation(in dir: URL) throws -> String {
        var y = ImageBatch(count: 1, shape: ImageShape(channels: 1, height: 24, width: 24))
        for r in 0..<24 { for c in 0..<24 { y.data[r * 24 + c] = Float(100 * (r + 1) + (c + 1)) } }
        let path = dir.appendingPathComponent("obs.fits").path
        try FITSWriter.write(y, to: path)
        return path
    }

    static func request(_ obs: String, dir: URL) -> PosteriorRequest {
        let spec = OperatorSpec(prior: .init(pixelScaleArcsec: 1), chain: [.psf(.init(source: .init(gaussianFWHM: 1.5, size: 5)))])
        var r = PosteriorRequest(prior: "gaussian:n=16,amplitude=1,slope=3,k0=0.3", observation: obs, operatorSpec: spec,
                                 operatorSpecPath: dir.appendingPathComponent("spec.yaml").path, samples: 4, command: "test")
        r.cutout = .init(x: 12, y: 10, size: 16)
        r.background = .value(5)
        r.noise = .sigma([2])
        r.sampler = SamplerRequest(kind: "split-gibbs", settings: ["iterations": .number(3), "prior_steps": .number(4)])
        return r
    }

    @Test func aTypedRequestIsPreparedAsAsked() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pipeline-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let obs = try Self.observation(in: dir)
        let p = try PosteriorPipeline.prepare(Self.request(obs, dir: dir))
        // Cutout: 16×16 centred on (12, 10) starts at 1-based (4, 2); minus the background 5.
        let y = p.problem.observation
        #expect(y.shape == ImageShape(channels: 1, height: 16, width: 16))
        #expect(y.data[0] == Float(100 * 2 + 4 - 5) && y.data[16 * 15 + 15] == Float(100 * 17 + 19 - 5))
        #expect(p.description.noise.sigma == [2] && p.description.noise.source.contains("given"))
        #expect(p.description.noise.background.method == .given && p.description.noise.background.values == [5])
        // An analytic prior's values are physical: s = 1 without estimation.
        #expect(p.problem.fluxScale == 1 && p.description.fluxScaleSource.hasPrefix("1 (analytic prior"))
        // The analytic prior declares no split-Gibbs settings: the overrides over the calibrated preset.
        let g = try #require(p.sampler as? SplitGibbsSampler)
        #expect(g.settings.iterations == 3 && g.settings.priorSteps == 4)
        #expect(g.settings.rhoMax == SplitGibbsSettings.calibrated.rhoMax
                && g.settings.priorStepVariance == SplitGibbsSettings.calibrated.priorStepVariance)
        // The same request gives the same fingerprint; another seed another one.
        var other = Self.request(obs, dir: dir)
        #expect(try PosteriorPipeline.prepare(other).fingerprint == p.fingerprint)
        other.seed = 9
        #expect(try PosteriorPipeline.prepare(other).fingerprint != p.fingerprint)
    }

    /// A variance or weight map of the whole frame is cut with the observation's box; one of the
    /// cutout's size is taken as it is; any other size is refused naming both.
    @Test func aWholeFrameNoiseMapIsCutWithTheObservation() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pipeline-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let obs = try Self.observation(in: dir)
        // Variance at 1-based pixel (x, y) = (x + y) / 10 over the whole 24 × 24 frame.
        func map(_ n: Int, name: String) throws -> String {
            var v = ImageBatch(count: 1, shape: ImageShape(channels: 1, height: n, width: n))
            for r in 0..<n { for c in 0..<n { v.data[r * n + c] = Float(r + 1 + c + 1) / 10 } }
            let path = dir.appendingPathComponent(name).path
            try FITSWriter.write(v, to: path)
            return path
        }
        for (kind, whole) in [("variance", try map(24, name: "var24.fits")), ("weight", try map(24, name: "w24.fits"))] {
            var r = Self.request(obs, dir: dir)
            r.noise = kind == "variance" ? .varianceMap(whole) : .weightMap(whole)
            let sw = try PosteriorPipeline.prepare(r).problem.noise.sqrtWeights
            // The cutout starts at 1-based (4, 2): its first pixel's variance is 0.6, its last (19, 17)'s 3.6.
            let first: Float = kind == "variance" ? 1 / 0.6 : 0.6, last: Float = kind == "variance" ? 1 / 3.6 : 3.6
            #expect(sw.count == 256 && abs(sw[0] * sw[0] - first) < 1e-4 * first && abs(sw[255] * sw[255] - last) < 1e-4 * last,
                    "\(kind): \(sw[0] * sw[0]), \(sw[255] * sw[255])")
        }
        var r = Self.request(obs, dir: dir)
        r.noise = .varianceMap(try map(16, name: "var16.fits"))
        let sw = try PosteriorPipeline.prepare(r).problem.noise.sqrtWeights
        #expect(abs(sw[0] * sw[0] - 1 / 0.2) < 1e-3)
        r.noise = .varianceMap(try map(20, name: "var20.fits"))
        do {
            _ = try PosteriorPipeline.prepare(r)
            Issue.record("a 20 × 20 map was accepted for a 24 × 24 frame cut to 16 × 16")
        } catch let e as TweedieError {
            #expect(e.description.contains("16") && e.description.contains("24") && e.description.contains("whole observation"), "\(e)")
        }
    }

    /// A cutout reaching beyond the frame (an object near the edge) keeps its size: the pixels
    /// outside are NaN, masked by the noise model and counted in a note; a box wholly outside is refused.
    @Test func aCutoutAtTheEdgeMasksWhatLiesOutside() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pipeline-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let obs = try Self.observation(in: dir)
        var r = Self.request(obs, dir: dir)
        // 16 × 16 centred on (2, 2) starts at 1-based (−6, −6): 7 rows and 7 columns lie outside.
        r.cutout = .init(x: 2, y: 2, size: 16)
        let p = try PosteriorPipeline.prepare(r)
        let y = p.problem.observation
        #expect(y.shape == ImageShape(channels: 1, height: 16, width: 16))
        #expect(y.data[0].isNaN && y.data[7 * 16 + 6].isNaN && y.data[6 * 16 + 7].isNaN)
        #expect(y.data[7 * 16 + 7] == Float(100 * 1 + 1 - 5) && y.data[15 * 16 + 15] == Float(100 * 9 + 9 - 5))
        #expect(p.description.noise.maskedValues == 16 * 16 - 9 * 9 && p.problem.noise.usableCount == 81)
        #expect(p.description.notes.contains { $0.contains("175 px beyond the edge") }, "\(p.description.notes)")
        r.cutout = .init(x: 60, y: 5, size: 16)
        do {
            _ = try PosteriorPipeline.prepare(r)
            Issue.record("a box wholly outside the frame was accepted")
        } catch let e as TweedieError {
            #expect(e.description.contains("wholly outside"), "\(e)")
        }
    }

    @Test func badInputIsRefusedByTheCallersNames() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pipeline-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let obs = try Self.observation(in: dir)
        func message(_ edit: (inout PosteriorRequest) -> Void) -> String {
            var r = Self.request(obs, dir: dir)
            r.names.cutout = "--cutout"; r.names.sigma = "--sigma"; r.names.fluxScale = "--flux-scale"
            edit(&r)
            do { _ = try PosteriorPipeline.prepare(r); return "accepted" } catch { return "\(error)" }
        }
        #expect(message { $0.cutout = .init(x: 60, y: 60, size: 16) }.contains("--cutout"))
        #expect(message { $0.noise = .sigma([1, 2]) }.contains("--sigma"))
        #expect(message { $0.fluxScale = .given(-1) }.contains("--flux-scale"))
        // The cutout must match the operator's output (the prior's 16×16 grid through a PSF).
        #expect(message { $0.cutout = .init(x: 12, y: 12, size: 20) }.contains("operator's output"))
    }

    @Test func reducedChiSquaredWarningBounds() {
        #expect(PosteriorPipeline.reducedChiSquaredWarning(ofMean: 1.0, samplesMedian: 1.0) == nil)
        #expect(PosteriorPipeline.reducedChiSquaredWarning(ofMean: 0.7, samplesMedian: 1.0) == nil)
        #expect(PosteriorPipeline.reducedChiSquaredWarning(ofMean: 1.5, samplesMedian: 1.0) == nil)
        #expect(PosteriorPipeline.reducedChiSquaredWarning(ofMean: .nan, samplesMedian: 1.0) == nil)
        let low = PosteriorPipeline.reducedChiSquaredWarning(ofMean: 0.5, samplesMedian: 0.98)
        #expect(low?.contains("< 0.7") == true && low?.contains("overestimated") == true
                && low?.contains("over-fits") == true && low?.contains("0.98") == true, "\(low ?? "nil")")
        let high = PosteriorPipeline.reducedChiSquaredWarning(ofMean: 2, samplesMedian: 2.5)
        #expect(high?.contains("> 1.5") == true && high?.contains("does not fit") == true
                && high?.contains("underestimated") == true, "\(high ?? "nil")")
        // The old threshold was 3: 2 now warns, and no message spans lines.
        #expect(high?.contains("\n") == false && low?.contains("\n") == false)
    }

    /// run.json keeps a typed request: decoded, it prepares the same run (same fingerprint) as the
    /// request it was made from, for every sampler kind; records written before requests existed
    /// (command-line arguments only) still decode, with no request.
    @Test func runRecordsKeepTheRequestAndReadTheOldForm() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pipeline-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let obs = try Self.observation(in: dir)
        var variants: [PosteriorRequest] = []
        var r = Self.request(obs, dir: dir)
        r.hdu = .index(0); r.apertureRadius = 3; r.apertureCenter = (7.5, 8); r.fluxScale = .given(2); r.seed = 11
        variants.append(r)
        r.sampler = SamplerRequest(kind: "dps", settings: ["steps": .number(5), "guidance": .number(0.2), "clip": .numbers([-3, 3]), "eta": .number(0.5)])
        r.background = .sigmaClippedMedian
        variants.append(r)
        r.sampler = SamplerRequest(kind: "smc", settings: ["iterations": .number(2), "rho_max": .number(2), "prior_steps": .number(2),
                                                           "particles": .number(4), "adaptive": .flag(false), "keep": .number(2)])
        r.noise = .estimated
        variants.append(r)
        for request in variants {
            let settings = PosteriorRunSettings(samples: request.samples, seed: request.seed, batch: 2, keepSamples: true, checkpointEvery: 3)
            let data = try JSONEncoder().encode(PosteriorJobRecord(request: request, settings: settings))
            let back = try JSONDecoder().decode(PosteriorJobRecord.self, from: data)
            let decoded = try #require(back.request)
            #expect(back.settings == settings && back.arguments.isEmpty)
            #expect(try PosteriorPipeline.prepare(decoded).fingerprint == PosteriorPipeline.prepare(request).fingerprint)
            #expect(decoded.apertureCenter?.x == request.apertureCenter?.x && decoded.apertureCenter?.y == request.apertureCenter?.y)
            #expect(decoded.sampler == request.sampler && decoded.noise == request.noise && decoded.hdu == request.hdu)
        }
        let legacy = #"{"arguments":["--prior","p","-o","out"],"workingDirectory":"/tmp","toolVersion":"0.1","started":"2026-11-01T00:00:00Z"}"#
        let old = try JSONDecoder().decode(PosteriorJobRecord.self, from: Data(legacy.utf8))
        #expect(old.arguments == ["--prior", "p", "-o", "out"] && old.request == nil && old.settings == nil)
        // The sampler as run.json recorded it before requests named it by kind and spec keys.
        let oldForms: [(String, SamplerRequest)] = [
            (#"{"dps":{"clip":{"priorDeclared":{}},"steps":100}}"#, SamplerRequest(kind: "dps", settings: ["steps": .number(100)])),
            (#"{"dps":{"clip":{"range":{"lo":-3,"hi":3}},"steps":5,"guidance":0.2,"ddimEta":0.5}}"#,
             SamplerRequest(kind: "dps", settings: ["steps": .number(5), "guidance": .number(0.2), "eta": .number(0.5), "clip": .numbers([-3, 3])])),
            (#"{"dps":{"clip":{"none":{}},"steps":7}}"#, SamplerRequest(kind: "dps", settings: ["steps": .number(7), "clip": .text("none")])),
            (#"{"splitGibbs":{"_0":{"iterations":3,"priorSteps":4}}}"#,
             SamplerRequest(kind: "split-gibbs", settings: ["iterations": .number(3), "prior_steps": .number(4)])),
            (#"{"smc":{"_0":{"rhoMax":2},"particles":4,"adaptive":false,"samplesPerPopulation":2}}"#,
             SamplerRequest(kind: "smc", settings: ["rho_max": .number(2), "particles": .number(4), "adaptive": .flag(false), "keep": .number(2)])),
        ]
        for (json, expected) in oldForms {
            #expect(try JSONDecoder().decode(SamplerRequest.self, from: Data(json.utf8)) == expected, "\(json)")
        }
    }

    /// DPS's ζ from the prior's `dps_guidance` table (the table's own parsing and refusals are
    /// PriorSamplingDefaultsTests'): at an untabulated step count the nearest tabulated count (in log
    /// steps) gives ζ with ζ·steps kept, and a warning says it is extrapolated and names the tuned
    /// counts; a given ζ is used as it is, without a warning.
    @Test func dpsGuidanceComesFromThePriorsTable() throws {
        var prior = try SamplingPrior.resolve("gaussian:n=8,amplitude=1,slope=3,k0=0.3")
        prior.guidanceTable = [4: 0.25, 40: 0.01]
        var warnings: [String] = []
        func dps(_ settings: [String: SamplerSettingValue]) throws -> DPSSettings {
            let c = try SamplerRequest(kind: "dps", settings: settings).choice(prior: prior, what: "test", warn: { warnings.append($0) })
            guard case let .dps(s) = c else { throw TweedieError.invalidInput(what: "test", problem: "not DPS: \(c)") }
            return s
        }
        let s = try dps(["steps": .number(8), "clip": .text("none")])
        #expect(s.steps == 8 && abs(s.guidanceScale - 0.25 * 4 / 8) < 1e-12 && s.clipMin == nil)
        #expect(warnings.count == 1 && warnings[0].contains("extrapolated") && warnings[0].contains("4, 40"), "\(warnings)")
        let t = try dps(["steps": .number(40)])
        #expect(t.guidanceScale == 0.01 && warnings.count == 1)
        let g = try dps(["steps": .number(8), "guidance": .number(0.3)])
        #expect(g.guidanceScale == 0.3 && warnings.count == 1)
    }

    /// A request's sampler: every kind of SamplerChoice is reachable by its name alone (a new kind
    /// needs no change to the request or its callers); unset settings come from the prior's
    /// declared ones and the kind's defaults (the same as an SBC spec's); the clip defaults to the
    /// prior's x0_clip; an unknown kind, a key of another kind and a value of the wrong type are
    /// errors that name the sampler and say what to write.
    @Test func aSamplerRequestResolvesThroughItsKind() throws {
        var prior = try SamplingPrior.resolve("gaussian:n=8,amplitude=1,slope=3,k0=0.3")
        for name in SamplerRequest.kindNames {
            let c = try SamplerRequest(kind: name).choice(prior: prior, what: "--sampler")
            #expect(c.kind == name, "\(name) resolved to \(c.kind)")
        }
        prior.x0Clip = (-2, 5)
        guard case let .dps(d) = try SamplerRequest(kind: "dps").choice(prior: prior, what: "--sampler") else {
            Issue.record("not DPS"); return
        }
        #expect(d.steps == PosteriorDefaults.dpsSteps && d.guidanceScale == 1 && d.clipMin == -2 && d.clipMax == 5 && d.ddimEta == nil)
        guard case let .smc(m) = try SamplerRequest(kind: "smc", settings: ["rho_max": .number(3)]).choice(prior: prior, what: "--sampler") else {
            Issue.record("not SMC"); return
        }
        let declared = SplitGibbsSettings(declaredBy: prior)
        #expect(m.gibbs.iterations == SMCSettings.Grid.iterations && m.gibbs.rhoMax == 3 && m.gibbs.priorSteps == declared.priorSteps)
        #expect(m.particles == PosteriorDefaults.particles && m.adaptive && m.kept == m.particles)
        guard case let .splitGibbs(g) = try SamplerRequest(kind: "split-gibbs", settings: ["prior_step_variance_scale": .number(0.5)])
            .choice(prior: prior, what: "--sampler") else { Issue.record("not split-Gibbs"); return }
        #expect(g.priorStepVarianceScale == 0.5 && g.iterations == declared.iterations)

        func message(_ r: SamplerRequest) -> String {
            do { _ = try r.choice(prior: prior, what: "--sampler"); return "" } catch { return "\(error)" }
        }
        let unknown = message(SamplerRequest(kind: "langevin"))
        #expect(unknown.contains("--sampler") && unknown.contains("'langevin' is not a sampler") && unknown.contains("split-gibbs"), "\(unknown)")
        let foreign = message(SamplerRequest(kind: "dps", settings: ["particles": .number(4)]))
        #expect(foreign.contains("has no setting 'particles'") && foreign.contains("guidance"), "\(foreign)")
        let mistyped = message(SamplerRequest(kind: "dps", settings: ["steps": .text("many")]))
        #expect(mistyped.contains("steps") && mistyped.contains("wrong type"), "\(mistyped)")
        let badClip = message(SamplerRequest(kind: "dps", settings: ["clip": .numbers([3, 1])]))
        #expect(badClip.contains("clip") && badClip.contains("lo < hi"), "\(badClip)")
    }
}
