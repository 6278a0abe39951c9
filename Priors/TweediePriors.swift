// Score priors (DESIGN §4): the improved/guided-diffusion U-Net, checkpoint
// loading, analytic oracle priors, against the Denoiser protocol in TweedieCore.
import TweedieCore
