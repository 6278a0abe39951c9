// Posterior samplers, running statistics, metrics and studies (DESIGN §5–§6).
// Filled in by the DPS-engine issue.
import TweedieCore
import TweedieOperators
import TweediePriors
