#!/usr/bin/env bash
# Run HERE (where pip reaches PyPI) before a GPU galaxy run: the CUDA device image has Python 3.12,
# torch, numpy, scipy, safetensors but no GalSim or astropy, and the travelling working tree is
# limited to 64 MiB. This puts, under Priors/training/data/devpy/ (ignored by git; name it in the
# device tool's `carry`), the cp312 wheels of astropy, pyerfa, astropy-iers-data, LSSTDESC.Coord and
# a slimmed GalSim 2.8.5 (the wheel's extension module with its symbol tables stripped, and without
# its LSST-sensor and Roman data files, which galaxies.py does not use): ≈ 17 MB in all.
# The radio prior needs none of this.
set -euo pipefail
cd "$(dirname "$0")"
DEV=data/devpy; mkdir -p "$DEV"
PLAT=(--only-binary=:all: --no-deps --python-version 3.12 --implementation cp
      --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64
      --platform manylinux2014_x86_64 --platform manylinux1_x86_64)
TMP=$(mktemp -d)
python3 -m pip download -q "${PLAT[@]}" -d "$TMP" galsim==2.8.5 astropy==8.0.2 pyerfa==2.0.1.5 \
  astropy-iers-data==0.2026.11.2.0.34.55 LSSTDESC.Coord==1.3.1
mv "$TMP"/astropy-*.whl "$TMP"/astropy_iers_data-*.whl "$TMP"/pyerfa-*.whl "$TMP"/lsstdesc_coord-*.whl "$DEV"/
mkdir "$TMP/g" && (cd "$TMP/g" && python3 -m zipfile -e "$TMP"/galsim-2.8.5-*.whl . \
  && strip --strip-unneeded galsim/_galsim.*.so && rm -rf galsim/share/sensors galsim/share/roman \
  && tar czf galsim-slim.tgz galsim galsim.libs)
mv "$TMP/g/galsim-slim.tgz" "$DEV"/
rm -rf "$TMP"
du -sh "$DEV"; ls -la "$DEV"
