"""The test command itself: a missing Chromium is a failure with the reason, never a silent skip,
unless the browser tests are left out on purpose (DENTALTAP_SKIP_BROWSER_TESTS=1), visibly."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MISSING = "/nonexistent/dentaltap-test/chromium"


def run(command: list[str], **changes: str) -> subprocess.CompletedProcess[str]:
    # The servers of this run are reused (DATABASE_URL / REDIS_URL are set) and kept running.
    env = {key: value for key, value in os.environ.items() if key != "DENTALTAP_SKIP_BROWSER_TESTS"}
    env.update(DENTALTAP_CHROMIUM=MISSING, DENTALTAP_KEEP_SERVERS="1", **changes)
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False, timeout=300)


def test_the_test_command_stops_with_the_reason_when_chromium_cannot_be_installed() -> None:
    result = run(["bash", "scripts/test.sh", "-q", "tests/project/test_browser.py"], DENTALTAP_SKIP_BROWSER_INSTALL="1")
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"the browser tests need Chromium at {MISSING}" in result.stderr
    assert "DENTALTAP_SKIP_BROWSER_TESTS=1" in result.stderr  # the way out is named
    assert "passed" not in result.stdout and "collected" not in result.stdout  # pytest never started


def test_browser_tests_fail_without_chromium_instead_of_skipping() -> None:
    result = run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/project/test_browser.py"])
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"Chromium is not installed at {MISSING}" in result.stdout
    assert re.search(r"\b\d+ errors? in ", result.stdout), result.stdout
    assert "skipped" not in result.stdout and "passed" not in result.stdout


def test_opting_out_leaves_the_browser_tests_out_and_says_so() -> None:
    result = run(
        ["bash", "scripts/test.sh", "--collect-only", "-q", "tests/project/test_browser.py"],
        DENTALTAP_SKIP_BROWSER_TESTS="1",
    )
    assert result.returncode == 5, result.stdout + result.stderr  # pytest: nothing left to run
    assert "[setup] DENTALTAP_SKIP_BROWSER_TESTS=1: the browser tests are left out of this run" in result.stdout
    summary = r"(\d+) browser tests were left out of this run \(DENTALTAP_SKIP_BROWSER_TESTS=1\)"
    left_out = re.search(summary, result.stdout)
    assert left_out and int(left_out.group(1)) > 0, result.stdout
    assert f"({left_out.group(1)} deselected)" in result.stdout
