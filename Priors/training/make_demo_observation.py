"""The bundled demo observation of `tweedie demo` (issue 6 item 6).

A held-out galaxy of the galaxy prior's generator (index 1 000 000 + DEMO_OFFSET = 1 000 013,
never in training) observed like an HSC Wide cutout:

* redshift z = 0.2 at 0.168″/px (flat ΛCDM H0 = 67.66, Ωm = 0.30966): the 38.4 kpc
  prior field becomes m = 67 observed pixels (Tweedie keeps the whole field, so an
  observed pixel is 38.4/67 kpc);
* Moffat PSF, FWHM 0.7″, β = 3.5, the same in g, r, i;
* r-band magnitude 19.5 (about L* at z = 0.2) with zero point 27 (flux 10^(−0.4(19.5−27)) ≈ 1000 counts),
  g and i from the galaxy's own colours;
* Gaussian sky noise per pixel from HSC Wide 5σ point-source depths g, r, i =
  26.5, 26.1, 25.9 mag: σ = F_5σ / (5 √NEA) with the Moffat's noise-equivalent area
  NEA = 1 / Σ p_k² (p the pixel-integrated PSF), i.e. ≈ 0.047, 0.068, 0.082 counts.

The observation is made independently of Tweedie's operator: GalSim renders the galaxy
4× finer than the observed pixels, it is convolved there with the Moffat (GalSim,
pixel-integrated at the fine scale) and binned 4 × 4. Tweedie's operator (exact area-
overlap resampling then PSF convolution) is therefore a model of this process, not the
process itself, as with real data.

Writes into Priors/Models/galaxy-gri-64/demo/:
  observation.fits  3 × 67 × 67, counts per pixel, TAN WCS, BUNIT, the σ per band;
  truth.fits        3 × 64 × 64 on the prior grid (counts per prior pixel);
  psf.fits          3 × 41 × 41 (g, r, i), 0.168″/px, unit sum;
  operator.yaml     the operator chain for `tweedie sample --spec`.
Run: python3 Priors/training/make_demo_observation.py   (seeded; a few seconds)
"""
from __future__ import annotations

import dataclasses
import math
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import galaxies  # noqa: E402

OUT = os.path.join(HERE, "..", "Models", "galaxy-gri-64", "demo")
DEMO_OFFSET = 13                        # held-out index 1 000 013: a face-on disk with knots
REDSHIFT = 0.2
PIXEL_ARCSEC = 0.168
PSF_FWHM, PSF_BETA, PSF_SIZE = 0.7, 3.5, 41
ZERO_POINT, R_MAG = 27.0, 19.5
DEPTHS = {"g": 26.5, "r": 26.1, "i": 25.9}
OVERSAMPLE = 4
NOISE_SEED = 20261122


def observed_size() -> int:
    row = galaxies.m_table(redshifts=(REDSHIFT,))[0]
    return row["m"]


def main() -> int:
    import galsim
    from astropy.io import fits
    from scipy.signal import fftconvolve

    os.makedirs(OUT, exist_ok=True)
    index = galaxies.SPLITS["heldout"][0] + DEMO_OFFSET
    p = galaxies.draw_parameters(index)
    n, s_kpc = galaxies.IMAGE_SIZE, galaxies.PIXEL_SCALE_KPC
    m = observed_size()
    field = n * s_kpc
    flux = 10 ** (-0.4 * (R_MAG - ZERO_POINT))

    # Truth on the prior grid: counts per prior pixel.
    truth = galaxies.render(p) * flux

    # The same galaxy rendered 4× finer than the observed pixels over the same field. The
    # centre shift is re-expressed in fine pixels so the galaxy sits at the same kpc position:
    # centre (0-based pixel) = X / scale − ½ with X = (n/2 + dx + ½)·s the distance from the edge.
    nf = OVERSAMPLE * m
    sf = field / nf
    xc = (n / 2 + p.dx_px + 0.5) * s_kpc
    yc = (n / 2 + p.dy_px + 0.5) * s_kpc
    pf = dataclasses.replace(p, dx_px=xc / sf - 0.5 - nf / 2, dy_px=yc / sf - 0.5 - nf / 2)
    fine = galaxies.render(pf, n=nf, scale=sf).astype(np.float64) * flux

    # PSF at the fine scale (arcsec per fine pixel = observed pixel / 4), pixel-integrated.
    moffat = galsim.Moffat(beta=PSF_BETA, fwhm=PSF_FWHM)
    kf = moffat.drawImage(nx=OVERSAMPLE * PSF_SIZE + 1, ny=OVERSAMPLE * PSF_SIZE + 1,
                          scale=PIXEL_ARCSEC / OVERSAMPLE).array.astype(np.float64)
    kf /= kf.sum()
    clean = np.zeros((3, m, m))
    for b in range(3):
        conv = fftconvolve(fine[b], kf, mode="same")
        clean[b] = conv.reshape(m, OVERSAMPLE, m, OVERSAMPLE).sum(axis=(1, 3))

    # The PSF file at the observed scale (what a user would measure), odd size, centred.
    psf = moffat.drawImage(nx=PSF_SIZE, ny=PSF_SIZE, scale=PIXEL_ARCSEC).array.astype(np.float64)
    psf /= psf.sum()
    nea = 1.0 / np.sum(psf ** 2)
    sigmas = []
    for band in galaxies.BANDS:
        f5 = 10 ** (-0.4 * (DEPTHS[band] - ZERO_POINT))
        sigmas.append(f5 / (5 * math.sqrt(nea)))
    rng = np.random.default_rng(NOISE_SEED)
    noisy = clean + rng.standard_normal(clean.shape) * np.array(sigmas)[:, None, None]

    def header(kind: str, scale_arcsec: float, size: int) -> fits.Header:
        h = fits.Header()
        h["BUNIT"] = ("count", "counts per pixel, zero point 27 (AB)")
        if kind == "observation":
            h["CTYPE1"], h["CTYPE2"] = "RA---TAN", "DEC--TAN"
            h["CRVAL1"], h["CRVAL2"] = 150.1163, 2.2058       # COSMOS field
            h["CRPIX1"] = h["CRPIX2"] = (size + 1) / 2
            h["CDELT1"], h["CDELT2"] = -scale_arcsec / 3600, scale_arcsec / 3600
            h["CUNIT1"] = h["CUNIT2"] = "deg"
            for b, sg in zip(galaxies.BANDS, sigmas):
                h[f"SIGMA_{b.upper()}"] = (sg, f"noise sigma per pixel, {b} band")
        for k, b in enumerate(galaxies.BANDS):
            h[f"BAND{k + 1}"] = b
        h["GALINDEX"] = (index, "held-out galaxy index (galaxies.py)")
        h["REDSHIFT"] = REDSHIFT
        h["MAG_R"] = (R_MAG, "r-band AB magnitude")
        h["PSFFWHM"] = (PSF_FWHM, "Moffat FWHM, arcsec")
        h["PSFBETA"] = PSF_BETA
        h["ORIGIN"] = "Priors/training/make_demo_observation.py"
        return h

    fits.writeto(os.path.join(OUT, "observation.fits"), noisy.astype(np.float32),
                 header("observation", PIXEL_ARCSEC, m), overwrite=True)
    fits.writeto(os.path.join(OUT, "truth.fits"), truth.astype(np.float32),
                 header("truth", 0, n), overwrite=True)
    fits.writeto(os.path.join(OUT, "psf.fits"), np.stack([psf] * 3).astype(np.float32),
                 header("psf", PIXEL_ARCSEC, PSF_SIZE), overwrite=True)
    with open(os.path.join(OUT, "operator.yaml"), "w") as f:
        f.write(f"""# Operator of the demo observation (made by make_demo_observation.py):
# the galaxy prior's 64 × 64 grid at 0.6 kpc/px, seen at z = {REDSHIFT} with HSC's
# {PIXEL_ARCSEC}″ pixels ({m} × {m}), through a Moffat PSF (FWHM {PSF_FWHM}″, β = {PSF_BETA}).
prior:
  size: {n}
  bands: [g, r, i]
  pixel_scale_kpc: {s_kpc}
chain:
  - resample:
      redshift: {REDSHIFT}
      pixel_scale: {PIXEL_ARCSEC}
  - psf:
      file: psf.fits
""")
    print(f"galaxy {index}: r_disk {p.r_disk_kpc:.2f} kpc, B/T {p.bulge_to_total:.2f}, "
          f"cos i {p.cos_inclination:.2f}, shift ({p.dx_px:.2f}, {p.dy_px:.2f}) px; "
          f"m = {m}; flux {flux:.1f}; σ = " + ", ".join(f"{x:.4f}" for x in sigmas)
          + f"; peak SNR (r) {noisy[1].max() / sigmas[1]:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
