// The one place the CLI turns a `--prior` argument into a prior: a prior
// directory or an analytic spec (`gaussian:…`, `mixture:…`, a .json spec), via
// TweediePriors' PriorResolver (whose ResolvedPrior.provenanceCards every output that
// used the prior carries, DESIGN §6). Used by `tweedie prior denoise|sample|variance`
// and meant for every command that takes `--prior`.
import Foundation
import TweedieCore
import TweediePriors

enum PriorLoader {
    /// Help text for a `--prior` option.
    static let help = "A prior directory (config.json + weights.safetensors) or an analytic spec (gaussian:n=16,amplitude=1,slope=3,k0=0.1 | mixture:… | spec.json)."

    /// Resolves `--prior` (errors name the option and what to give).
    static func load(_ text: String, option: String = "--prior", maxBatch: Int? = nil) throws -> ResolvedPrior {
        try PriorResolver.resolve(text, option: option, maxBatch: maxBatch)
    }
}
