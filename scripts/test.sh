#!/usr/bin/env bash
# Install everything the test suite needs into .venv and run it. Used by README line 2 and CI.
#
# The browser tests (tests/browser) drive Debian's chromium at /usr/bin/chromium through the
# Playwright Python package; a browser is never downloaded by Playwright. When chromium is
# missing, this script installs Debian's `chromium` and `fonts-noto-cjk` with apt-get (as root,
# or through passwordless sudo). If it cannot, it says why: the browser tests then skip on a
# workstation and fail in CI (CI set). TOURFLOW_NO_APT=1 skips the installation attempt.
set -euo pipefail
cd "$(dirname "$0")/.."

CHROMIUM=/usr/bin/chromium
BROWSER_PACKAGES=(chromium fonts-noto-cjk fonts-liberation)

install_browser() {
  if [ -x "$CHROMIUM" ]; then
    return 0
  fi
  if [ "${TOURFLOW_NO_APT:-}" = "1" ]; then
    echo "test.sh: $CHROMIUM is missing and TOURFLOW_NO_APT=1: not installing it; the browser tests will be skipped (in CI: fail)" >&2
    return 0
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "test.sh: $CHROMIUM is missing and there is no apt-get (not Debian/Ubuntu):" \
         "install chromium at $CHROMIUM yourself; the browser tests will be skipped (in CI: fail)" >&2
    return 0
  fi
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
      sudo=(sudo -n)
    else
      echo "test.sh: $CHROMIUM is missing; installing it needs root (not root, and no passwordless sudo)." \
           "Run: sudo apt-get install ${BROWSER_PACKAGES[*]} ; the browser tests will be skipped (in CI: fail)" >&2
      return 0
    fi
  fi
  echo "test.sh: $CHROMIUM is missing: installing Debian's ${BROWSER_PACKAGES[*]} with apt-get" >&2
  if ! "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq \
     || ! "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
          "${BROWSER_PACKAGES[@]}" >/dev/null; then
    echo "test.sh: apt-get could not install ${BROWSER_PACKAGES[*]} (see above); the browser tests will be skipped (in CI: fail)" >&2
    return 0
  fi
  if [ ! -x "$CHROMIUM" ]; then
    echo "test.sh: apt-get installed chromium but $CHROMIUM is still missing" \
         "(on Ubuntu the chromium package is a snap wrapper); the browser tests will be skipped (in CI: fail)" >&2
  fi
}

python3 -m venv .venv
.venv/bin/pip install --quiet --upgrade pip
.venv/bin/pip install --quiet -e '.[test]'
.venv/bin/ruff check .
install_browser
.venv/bin/python -m pytest "$@"
