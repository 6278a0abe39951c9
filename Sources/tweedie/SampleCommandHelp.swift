// The long help of `tweedie sample` (`tweedie sample --help`): the observation model, the
// samplers and what is known of their calibration, the scores and the outputs.

extension SampleCommand {
    static let discussion = """
            The observation y is modelled as y = A(s·T(u)) + n: u is an image from the prior (network space), \
            T the prior's pixel transform, s the observation's flux scale, A the operator chain of --spec and n \
            Gaussian noise (σ from --sigma, a variance or weight map, or estimated from the data by a \
            sigma-clipped MAD). NaN / BLANK pixels of the observation drop out of the likelihood.

            Samplers (--sampler):
              split-gibbs  (default) plug-and-play split Gibbs (Wu et al. 2024): alternates an exact Gaussian \
            likelihood step (conjugate gradients on the operator, solved to full accuracy at any SNR) with a prior \
            denoising step from the coupling noise level, annealed; no network VJP. Cost per sample ≈ Σ prior-step \
            network calls (printed) plus the CG solves, ≈ 1.6× DPS-100 per sample on the demo (`tweedie bench \
            sampler`). Calibrated on unimodal analytic oracles (coverage, mean, std); the mean fits the demo \
            (reduced χ² 0.99) and still fits at 10× and 100× its SNR (0.86–0.92). Multimodal posteriors get wrong mode weights when the \
            annealing freezes a sample's mode (use smc). On the neural galaxy prior a first simulation-based \
            calibration (`tweedie calibrate` with an sbc: spec; docs/calibration.md) finds the prior's settings \
            somewhat too wide at the demo SNR (68 % intervals hold 0.82 of the source pixels; earlier settings: \
            0.58, too narrow).
              dps          Diffusion Posterior Sampling (Chung et al. 2022; DESIGN §5.1): per step one network \
            forward pass and one VJP per sample. NOT calibrated, and not recommended for uncertainties: \
            against exact Gaussian posteriors its std is 1.6–1.9× the exact one at SNR 20 and 0.8× at a \
            per-pixel SNR below 1, its mean is off by 0.3–0.5 posterior std, and in the Fourier modes the \
            data pin down its variance is 10⁴× too large; on the demo its 68/95 % intervals cover the truth \
            0.20/0.56 of the time; at high SNR it diverges (reduced χ² 3,440 at 10× the demo's SNR). ζ \
            (--guidance) is per step on ∇‖r‖, default from the prior's config (prior.dps_guidance) for the \
            step count — an untabulated count takes the nearest entry scaled by n₀/steps, with a warning — else 1.
              smc          sequential Monte Carlo over the split-Gibbs annealing: populations of \
            --particles samples carry importance weights from one coupling ρ to the next (Woodbury form of \
            the ρ-smoothed likelihood, two CG solves per iteration) and are resampled when their effective \
            size drops below half; moves are the split-Gibbs steps. Right mode weights on multimodal \
            posteriors; samples of one population are correlated (resampling), populations independent. \
            Weights are exact for affine pixel transforms; otherwise every particle is linearised at \
            the population's weighted mean (samples ≈ 12 % too narrow in std on a 16-pixel asinh \
            oracle). --smc-tempering adaptive \
            (default) walks down from the top of the schedule in as many steps as the weights need \
            (7–13× split-Gibbs's time per sample on the 16×16 and 32×32 analytic oracles; not known ahead); \
            planned uses the split-Gibbs levels only (cost as split-Gibbs plus one prior sample) and \
            collapses to one particle on large images. An adaptive population checkpoints between \
            tempering steps (smc-population.ckpt, at most once a minute), so --resume continues inside it. \
            --samples-per-population S keeps S samples of each population (default all): with 1, every \
            sample is one draw by weight from its own population, so samples are independent and a \
            population that collapses onto one lineage still gives a distinct sample (calibrated on \
            16×16 and 32×32 analytic oracles with 4 particles, where keeping all collapses), at \
            --particles times the work per sample.

            Scores: the variance ratio var_post/var_prior (prior variance from the prior directory's \
            variance map) averaged over a disk of --aperture-radius px (default n·30/256 px, i.e. paper 003's \
            30 px on a 256 px grid, centred on the image) in each band; the headline averages the observed \
            bands only (a band the operator chain drops, or whose data are all masked, keeps the prior's \
            variance; summary.json lists observedBands and the per-band values). The reduced χ² of A(mean) \
            and of each sample; a reduced χ² of the mean outside [0.7, 1.5] is warned about (low: σ \
            overestimated or over-fitting, unless the data pin down most pixels; high: the mean does not \
            fit, or σ is underestimated). With --truth: MSE, PSNR, SSIM and coverage of the truth by the \
            50/68/95 % credible intervals, taken between type-6 empirical quantiles of the samples (the \
            rule of tweedie calibrate, under which exact draws cover at the nominal rate) when there are at \
            least 39 (they are kept on disk for the run, removed after unless --keep-samples), else \
            mean ± z·std; summary.json says which (truth.coverageRule).

            Outputs in -o DIR: mean.fits, std.fits, variance_ratio.fits, residual.fits, samples.fits \
            (--keep-samples), summary.json, preview.png; checkpoint.json and run.json let --resume DIR \
            finish an interrupted run with exactly the result of an uninterrupted one.
            """
}
