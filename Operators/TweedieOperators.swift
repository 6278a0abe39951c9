// Forward operators (DESIGN §3): PSF convolution, redshift / pixel-scale
// resampling, radio UV sampling and noise models, against the protocols in TweedieCore.
import TweedieCore
