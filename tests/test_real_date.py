"""No test depends on the real date: the date-heavy modules pass with the machine's clock moved.

A test that writes a fixed moment (`datetime(2026, 12, 1, ...)`, "2026-11-20T09:30:00+08:00") must
also fix the engine's clock around what it compares with that moment (`engine.clock.frozen_at`, or
the `at` of `tick`/`housekeeping`); otherwise it passes only until the real date goes past it.
This runs a few such modules again on SQLite, in a subprocess under libfaketime (Debian's
`faketime`), with the real clock years ahead and years back.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.world import REPO

FAKETIME = shutil.which("faketime")

# Quick tests that write fixed dates and drive timers, month-end starts, deadlines, search and reports;
# each of the two test nodes named here once depended on the real date.
DATE_HEAVY = [
    "tests/test_jobs.py::test_tick_at_a_moment_runs_each_due_job_once",
    "tests/test_start_timers.py",
    "tests/test_outbound_call.py",
    "tests/test_followup_call.py",
    "tests/web/test_search.py",
    "tests/web/test_reports.py::test_api_answers_the_same_numbers_documented_in_openapi",
]
# Modules whose tests wait on threads (the worker's) are left out: under libfaketime a timed wait
# (threading.Event.wait) never returns.
MOMENTS = ["2033-07-01 03:00:00", "2025-01-15 10:00:00"]


@pytest.mark.parametrize("moment", MOMENTS)
def test_the_date_heavy_tests_pass_whatever_the_real_date(moment: str, tmp_path: Path):
    if FAKETIME is None:
        reason = "faketime is missing (Debian package faketime; scripts/test.sh installs it)"
        if os.environ.get("CI"):
            pytest.fail(f"{reason} (CI is set, so this fails instead of skipping)", pytrace=False)
        pytest.skip(reason)
    command = [FAKETIME, moment, sys.executable, "-m", "pytest", *DATE_HEAVY, "-q", "-x", "-p", "no:cacheprovider",
               "-k", "not postgres", "--basetemp", str(tmp_path / "run")]
    proc = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        pytest.fail(f"with the real clock at {moment}, {' '.join(command[2:])} failed:\n"
                    f"{proc.stdout[-6000:]}\n{proc.stderr[-2000:]}", pytrace=False)
