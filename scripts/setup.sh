#!/usr/bin/env bash
# Installs what Tweedie needs on a fresh Debian 12 machine with Swift 6.3 at
# /opt/swift (run as root): the C libraries as Debian packages. Idempotent:
# only what is missing is installed. Python tooling (fixture scripts,
# training, notebooks) is installed by scripts/setup-python.sh when asked for.
set -euo pipefail

packages=(libfftw3-dev libopenblas-dev libcfitsio-dev libgsl-dev libpng-dev zlib1g-dev wcslib-dev libcairo2-dev fonts-dejavu-core pkg-config)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}" >&2
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if ! command -v swift >/dev/null 2>&1; then
  if [ -x /opt/swift/usr/bin/swift ]; then
    echo "setup: swift is not on PATH; use: export PATH=/opt/swift/usr/bin:\$PATH" >&2
  else
    echo "setup: Swift 6.3 not found (expected at /opt/swift); install it from swift.org" >&2
    exit 1
  fi
fi
echo "setup: system packages present" >&2
