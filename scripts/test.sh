#!/usr/bin/env bash
# Install everything the test suite needs into .venv and run it. Used by README line 2 and CI.
# Extra arguments go to pytest (e.g. `bash scripts/test.sh tests/test_lint.py -n 0` runs one file serially).
#
# The browser tests (tests/browser) drive Debian's chromium at /usr/bin/chromium through the
# Playwright Python package; a browser is never downloaded by Playwright. The engine and scheduler
# tests run on SQLite and on a throwaway PostgreSQL server that the suite starts itself
# (tests/support/pg.py) from Debian's server binaries in /usr/lib/postgresql/<version>/bin.
# tests/test_real_date.py runs the date-heavy tests again under Debian's `faketime`, with the
# machine's clock moved to another year.
# When chromium, those binaries or faketime are missing, this script installs Debian's `chromium`
# and `fonts-noto-cjk`, `postgresql` and/or `faketime`, with one apt-get call (as root, or through
# passwordless sudo). If it cannot, it says why: the tests needing them then skip on a workstation
# and fail in CI (CI set). TOURFLOW_NO_APT=1 skips the installation attempt.
set -euo pipefail
cd "$(dirname "$0")/.."

CHROMIUM=/usr/bin/chromium
BROWSER_PACKAGES=(chromium fonts-noto-cjk fonts-liberation)
POSTGRES_PACKAGES=(postgresql)
FAKETIME=/usr/bin/faketime
FAKETIME_PACKAGES=(faketime)

have_postgres() {
  compgen -G "/usr/lib/postgresql/*/bin/pg_ctl" >/dev/null
}

install_system_packages() {
  local packages=() missing=()
  if [ ! -x "$CHROMIUM" ]; then
    packages+=("${BROWSER_PACKAGES[@]}")
    missing+=("$CHROMIUM (the browser tests)")
  fi
  if ! have_postgres; then
    packages+=("${POSTGRES_PACKAGES[@]}")
    missing+=("/usr/lib/postgresql/*/bin/pg_ctl (the PostgreSQL variants of the engine tests)")
  fi
  if [ ! -x "$FAKETIME" ]; then
    packages+=("${FAKETIME_PACKAGES[@]}")
    missing+=("$FAKETIME (the test that moves the real clock, tests/test_real_date.py)")
  fi
  if [ ${#packages[@]} -eq 0 ]; then
    return 0
  fi
  local what
  what=$(printf '%s, ' "${missing[@]}")
  what=${what%, }
  local outcome="those tests will be skipped (in CI: fail)"
  if [ "${TOURFLOW_NO_APT:-}" = "1" ]; then
    echo "test.sh: missing $what and TOURFLOW_NO_APT=1: not installing ${packages[*]}; $outcome" >&2
    return 0
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "test.sh: missing $what and there is no apt-get (not Debian/Ubuntu):" \
         "install them yourself (or set TOURFLOW_TEST_POSTGRES_URL to a PostgreSQL server); $outcome" >&2
    return 0
  fi
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
      sudo=(sudo -n)
    else
      echo "test.sh: missing $what; installing it needs root (not root, and no passwordless sudo)." \
           "Run: sudo apt-get install ${packages[*]} ; $outcome" >&2
      return 0
    fi
  fi
  echo "test.sh: missing $what: installing Debian's ${packages[*]} with apt-get" >&2
  if ! "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq \
     || ! "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
          "${packages[@]}" >/dev/null; then
    echo "test.sh: apt-get could not install ${packages[*]} (see above); $outcome" >&2
    return 0
  fi
  if [[ " ${packages[*]} " == *" chromium "* ]] && [ ! -x "$CHROMIUM" ]; then
    echo "test.sh: apt-get installed chromium but $CHROMIUM is still missing" \
         "(on Ubuntu the chromium package is a snap wrapper); the browser tests will be skipped (in CI: fail)" >&2
  fi
  if [[ " ${packages[*]} " == *" faketime "* ]] && [ ! -x "$FAKETIME" ]; then
    echo "test.sh: apt-get installed faketime but $FAKETIME is still missing;" \
         "tests/test_real_date.py will be skipped (in CI: fail)" >&2
  fi
  if ! have_postgres; then
    echo "test.sh: apt-get installed postgresql but no /usr/lib/postgresql/*/bin/pg_ctl appeared;" \
         "the PostgreSQL variants will be skipped (in CI: fail)" >&2
  fi
}

python3 -m venv .venv
.venv/bin/pip install --quiet --upgrade pip
.venv/bin/pip install --quiet -e '.[test]'
.venv/bin/ruff check .
.venv/bin/lint-imports --no-cache  # the layers in pyproject.toml [tool.importlinter]
install_system_packages
# One pytest worker per core (at most 4); a test file stays on one worker, so a file's
# session fixtures (the live server, the PostgreSQL cluster) are started once per worker.
.venv/bin/python -m pytest -n auto --maxprocesses=4 --dist loadfile "$@"
