#!/usr/bin/env bash
# Installs what the test suite needs: the package with its test and cuda extras, and a Chromium
# for the Playwright UI tests (Debian's package; Playwright's own download is not used).
set -euo pipefail
cd "$(dirname "$0")/.."
# cuda: numba-cuda, whose simulator runs tests/cuda_sim. editable_mode=compat puts the checkout
# on sys.path (a .pth line) rather than behind an import hook: a `kernels/` folder left in
# site-packages by an earlier `pip install .` (Numba's cache outlives the uninstall) would
# otherwise be imported as an empty namespace package by every subprocess (CLI, notebook).
python -m pip install --quiet -e ".[test,cuda]" --config-settings editable_mode=compat
if ! command -v chromium >/dev/null 2>&1; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq chromium >/dev/null
fi
command -v chromium >/dev/null || { echo "setup-tests: chromium is still missing" >&2; exit 1; }
