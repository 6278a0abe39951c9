// Tests of AnalyticPriorSpec: inline specs and JSON spec files build the priors they
// describe (checked against the formulas written out here), and bad specs give errors
// that name the offending key.

import Foundation
import Testing
import TweedieCore
import TweedieTestSupport
@testable import TweediePriors

@Suite("Analytic priors: spec parsing")
struct AnalyticPriorSpecTests {
    @Test("gaussian:… builds the power-law prior it describes")
    func inlineGaussian() throws {
        let prior = try AnalyticPriorSpec.parseAnalytic("gaussian:n=16,channels=2,amplitude=2,slope=3,k0=0.1,mean=0.25,schedule=linear,steps=500,bands=g;r")
        let g = try #require(prior as? StationaryGaussianPrior)
        #expect(g.imageShape == ImageShape(channels: 2, height: 16, width: 16))
        #expect(g.schedule == (try NoiseSchedule(kind: .linear, steps: 500)))
        #expect(g.bands == ["g", "r"])
        #expect(g.mean.allSatisfy { $0 == 0.25 })
        for (ky, kx) in [(0, 0), (1, 0), (3, 5), (15, 9), (8, 8)] {
            let fy = DenseReference.freq(ky, 16), fx = DenseReference.freq(kx, 16)
            let expected = 2 * pow(fy * fy + fx * fx + 0.01, -1.5)
            #expect(abs(g.spectrum.value(channel: 1, ky: ky, kx: kx) - expected) < 1e-12 * expected)
        }
        // `parse` gives a working Denoiser.
        let d = try AnalyticPriorSpec.parse("gaussian:n=8,variance=1.5,slope=2,k0=0.2")
        let out = try d.predict(ImageBatch(count: 2, shape: d.imageShape), timesteps: [10, 900])
        #expect(out.x0.count == 2 && out.x0.allFinite)
        let gv = try #require(d as? StationaryGaussianPrior)
        #expect(abs(gv.pixelVariances[0] - 1.5) < 1e-12)
        #expect(gv.schedule.kind == .cosine && gv.schedule.originalSteps == 1000)
        let corr = try #require(try AnalyticPriorSpec.parse("gaussian:height=8,width=12,spectrum=gaussian,variance=2,length=1.5") as? StationaryGaussianPrior)
        #expect(corr.imageShape == ImageShape(channels: 1, height: 8, width: 12))
        #expect(abs(corr.pixelVariances[0] - 2) < 1e-12)
    }

    @Test("mixture:… builds the mixture it describes")
    func inlineMixture() throws {
        let m = try #require(try AnalyticPriorSpec.parse("mixture:n=4,weights=1;3,means=-1;2,variances=0.5;0.25") as? GaussianMixturePrior)
        #expect(m.imageShape == ImageShape(channels: 1, height: 4, width: 4))
        #expect(m.weights == [0.25, 0.75])
        #expect(m.means[0].allSatisfy { $0 == -1 } && m.means[1].allSatisfy { $0 == 2 })
        #expect(m.variances[0].allSatisfy { $0 == 0.5 } && m.variances[1].allSatisfy { $0 == 0.25 })
    }

    @Test("JSON spec files: array spectrum (centred layout) and mixture with image means")
    func jsonFiles() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tweedie-spec-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        // A centred power-law array for a 4×6 grid, written as nested rows.
        let h = 4, w = 6
        var rows: [[Double]] = []
        for y in 0..<h {
            rows.append((0..<w).map { x in
                let fy = Double(y - h / 2) / Double(h), fx = Double(x - w / 2) / Double(w)
                return pow(fy * fy + fx * fx + 0.04, -1)
            })
        }
        let gaussianSpec: [String: Any] = [
            "kind": "gaussian", "height": h, "width": w, "mean": 1,
            "spectrum": ["model": "array", "layout": "centred", "values": rows],
        ]
        let gpath = dir.appendingPathComponent("g.json")
        try JSONSerialization.data(withJSONObject: gaussianSpec).write(to: gpath)
        let g = try #require(try AnalyticPriorSpec.parse(gpath.path) as? StationaryGaussianPrior)
        for ky in 0..<h { for kx in 0..<w {
            let fy = DenseReference.freq(ky, h), fx = DenseReference.freq(kx, w)
            let expected = pow(fy * fy + fx * fx + 0.04, -1)
            #expect(abs(g.spectrum.value(channel: 0, ky: ky, kx: kx) - expected) < 1e-12 * expected)
        } }

        let image = (0..<8).map(Double.init)
        let mixtureSpec: [String: Any] = [
            "kind": "mixture", "height": 2, "width": 4, "schedule": "linear", "steps": 200,
            "components": [
                ["weight": 2, "mean": image, "variance": 0.3],
                ["weight": 1, "mean": 0, "variance": image.map { 0.1 + $0 }],
            ],
        ]
        let mpath = dir.appendingPathComponent("m.json")
        try JSONSerialization.data(withJSONObject: mixtureSpec).write(to: mpath)
        let m = try #require(try AnalyticPriorSpec.parse(mpath.path) as? GaussianMixturePrior)
        #expect(m.means[0] == image && m.variances[1] == image.map { 0.1 + $0 })
        #expect(abs(m.weights[0] - 2.0 / 3.0) < 1e-15)
        #expect(m.schedule.kind == .linear && m.schedule.originalSteps == 200)
    }

    @Test("Bad specs give errors that name the key", arguments: [
        ("gaussian:n=16,amplitude=1,slope=3,k0=0.1,colour=red", "colour"),
        ("gaussian:amplitude=1,slope=3,k0=0.1", "'n'"),
        ("gaussian:n=16,amplitude=x,slope=3,k0=0.1", "amplitude"),
        ("gaussian:n=16,amplitude=1,slope=3", "k0"),
        ("gaussian:n=16,amplitude=1,slope=3,k0=0", "k0"),
        ("gaussian:n=16,amplitude=1,variance=2,slope=3,k0=0.1", "amplitude"),
        ("gaussian:n=16.5,amplitude=1,slope=3,k0=0.1", "'n'"),
        ("gaussian:n=8,channels=2,bands=g,amplitude=1,slope=3,k0=0.1", "bands"),
        ("gaussian:n=8,amplitude=1,slope=3,k0=0.1,schedule=sigmoid", "schedule"),
        ("gaussian:n=8,spectrum=pink,amplitude=1", "pink"),
        ("gaussian:n=8,mean=1;2;3,amplitude=1,slope=3,k0=0.1", "mean"),
        ("mixture:n=4,means=0;1,variances=1", "variances"),
        ("mixture:n=4,means=0;1,variances=1;-1", "variance"),
        ("gaussian:n=8,n=9", "twice"),
        ("gaussian:n", "key=value"),
        ("laplace:n=8", "gaussian:"),
        ("/nonexistent/spec.json", "/nonexistent/spec.json"),
    ])
    func errors(spec: String, mentions: String) {
        do {
            _ = try AnalyticPriorSpec.parse(spec)
            Issue.record("'\(spec)' was accepted")
        } catch let e as TweedieError {
            #expect(e.description.contains(mentions), "'\(spec)' → \(e.description)")
        } catch {
            Issue.record("'\(spec)' threw a non-Tweedie error \(error)")
        }
    }

    @Test("A spectrum file needs a reader; the reader's array is used and its shape checked")
    func spectrumFile() throws {
        let spec = try AnalyticPriorSpec(dictionary: [
            "kind": "gaussian", "n": 4, "spectrum": ["model": "file", "path": "ps.fits", "layout": "fft"],
        ], source: "test")
        #expect(throws: TweedieError.self) { try spec.makePrior() }
        let flat = try spec.makePrior { _ in ([Double](repeating: 3, count: 16), ImageShape(channels: 1, height: 4, width: 4)) }
        let g = try #require(flat as? StationaryGaussianPrior)
        #expect(g.spectrum.values.allSatisfy { $0 == 3 })
        #expect(throws: TweedieError.self) {
            try spec.makePrior { _ in ([Double](repeating: 3, count: 25), ImageShape(channels: 1, height: 5, width: 5)) }
        }
    }
}
