// EngineSettings: the three environment knobs parse into one value; an unparsable value keeps
// its default and is reported by name.
import Testing
import TweedieCore

@Suite struct EngineSettingsTests {
    @Test func emptyEnvironmentGivesTheDefaults() {
        let (s, problems) = EngineSettings.parse(environment: [:])
        #expect(s == EngineSettings(fftwRigor: .estimate, im2colBudgetFloats: 1 << 22, winogradBudgetFloats: 1 << 20))
        #expect(problems.isEmpty)
    }

    @Test func everyKnobIsRead() {
        let (s, problems) = EngineSettings.parse(environment: ["TWEEDIE_FFTW_RIGOR": "Measure", "TWEEDIE_COL_BUDGET": "4096",
                                                              "TWEEDIE_WINOGRAD_BUDGET": "1024", "PATH": "/bin"])
        #expect(s == EngineSettings(fftwRigor: .measure, im2colBudgetFloats: 4096, winogradBudgetFloats: 1024))
        #expect(problems.isEmpty)
    }

    @Test func badValuesKeepTheDefaultAndAreNamed() {
        let (s, problems) = EngineSettings.parse(environment: ["TWEEDIE_FFTW_RIGOR": "patient", "TWEEDIE_COL_BUDGET": "-5",
                                                              "TWEEDIE_WINOGRAD_BUDGET": "lots"])
        #expect(s == EngineSettings.defaults)
        #expect(problems.count == 3)
        for name in ["TWEEDIE_FFTW_RIGOR=patient", "TWEEDIE_COL_BUDGET=-5", "TWEEDIE_WINOGRAD_BUDGET=lots"] {
            #expect(problems.contains { $0.hasPrefix(name) }, "\(problems)")
        }
    }
}
