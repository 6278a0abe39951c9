#!/usr/bin/env bash
# Real data end to end (issue 5): M51 (KPNO B band, 0.766″/px) deconvolved with the PSF measured
# from its own stars and the bundled galaxy prior through band selection (B observed as g).
# Assumptions (operator.yaml): z = 0.01865 so that the 128-px cutout around the nucleus is the
# prior's 38.4 kpc field; flux scale = Σ(cutout − sky) / 0.65 (the prior's mean g/r flux ratio),
# because the interim prior's mean image is not clean enough for the automatic estimate.
# Outputs: Notebooks/results/m51/ (summary.json, preview.png; FITS left in /tmp/m51run).
set -euo pipefail
cd "$(dirname "$0")/../.."
B=.build/release/tweedie
$B psf --from-stars ../shared/data/real/m51_kpno_B_devpix.fits --pixel-scale 0.766 -o Notebooks/m51/psf.fits
rm -rf /tmp/m51run
$B sample --prior Priors/Models/galaxy-gri-64 --observation ../shared/data/real/m51_kpno_B_devpix.fits \
  --cutout 258,259,128 --spec Notebooks/m51/operator.yaml --background auto --flux-scale 5.13e6 \
  --samples 16 --batch 8 --steps 100 -o /tmp/m51run
mkdir -p Notebooks/results/m51
cp /tmp/m51run/summary.json /tmp/m51run/preview.png Notebooks/results/m51/
