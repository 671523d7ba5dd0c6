#!/usr/bin/env bash
# Install everything the test suite needs into .venv and run it. Used by README line 2 and CI.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/pip install --quiet --upgrade pip
.venv/bin/pip install --quiet -e '.[test]'
.venv/bin/ruff check .
.venv/bin/python -m pytest "$@"
