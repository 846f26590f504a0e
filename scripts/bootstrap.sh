#!/usr/bin/env bash
# Installs everything the demo and the test suite need on a fresh Debian machine:
# system packages (only the missing ones), then a virtualenv with the project and its extras.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(gcc libasound2-dev libasound2-plugins alsa-utils espeak-ng sox systemd systemd-container strace iproute2 valgrind)
missing=()
for package in "${APT_PACKAGES[@]}"; do
  dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if ((${#missing[@]})); then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "bootstrap: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The browser test needs Debian's chromium + chromedriver. Optional: when they cannot be
# installed, that test is skipped and says why.
BROWSER_PACKAGES=(chromium chromium-driver)
if ! command -v chromedriver >/dev/null 2>&1; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "bootstrap: installing ${BROWSER_PACKAGES[*]} (optional, for the browser test)"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    "${BROWSER_PACKAGES[@]}" >/dev/null 2>&1 \
    || echo "bootstrap: could not install ${BROWSER_PACKAGES[*]}; the browser test will be skipped"
fi

python=${PYTHON:-python3}
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "bootstrap: Python 3.11 or newer is needed ($python is $("$python" --version))" >&2
  exit 1
fi
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[dev]'
# The fixed-format ALSA test microphone (an ioplug plugin), built here for the tests.
.venv/bin/python -m devkit.alsa_fixture >/dev/null
touch .venv/.installed
