// Noise-schedule values against the closed forms quoted in DESIGN §4.2
// (computed independently from improved-diffusion's formula).
import Testing
@testable import TweedieCore

@Suite struct ScheduleTests {
    @Test func cosineScheduleMatchesImprovedDiffusion() throws {
        let s = try NoiseSchedule(kind: .cosine, steps: 1000)
        #expect(abs(s.betas[0] - 4.128e-5) / 4.128e-5 < 1e-3)
        #expect(s.betas[999] == 0.999)
        #expect(abs(s.alphasCumprod[499] - 0.4938) < 1e-4)
    }

    @Test func linearScheduleEndpoints() throws {
        let s = try NoiseSchedule(kind: .linear, steps: 1000)
        #expect(abs(s.betas[0] - 1e-4) < 1e-12)
        #expect(abs(s.betas[999] - 0.02) < 1e-12)
        let s2 = try NoiseSchedule(kind: .linear, steps: 500)
        #expect(abs(s2.betas[0] - 2e-4) < 1e-12 && abs(s2.betas[499] - 0.04) < 1e-12)
    }

    @Test func respacingKeepsAlphaBarsAndOriginalTimesteps() throws {
        let s = try NoiseSchedule(kind: .cosine, steps: 1000)
        let r = try s.respaced(to: 50)
        #expect(r.count == 50)
        #expect(r.timesteps.first == 0 && r.timesteps.last == 999)
        for (j, t) in r.timesteps.enumerated() {
            #expect(abs(r.alphasCumprod[j] - s.alphasCumprod[t]) < 1e-12)
        }
    }
}
