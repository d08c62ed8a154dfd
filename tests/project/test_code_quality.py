"""The checks every commit must pass, run with the suite so CI enforces them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False, timeout=300)


def test_ruff_lint_and_format_are_clean() -> None:
    lint = run(str(BIN / "ruff"), "check", ".")
    assert lint.returncode == 0, lint.stdout + lint.stderr
    form = run(str(BIN / "ruff"), "format", "--check", ".")
    assert form.returncode == 0, form.stdout + form.stderr


def test_mypy_is_clean() -> None:
    result = run(str(BIN / "mypy"), ".")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.django_db
def test_no_missing_migrations() -> None:
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


def test_import_contracts_hold() -> None:
    """The layer order and the kit's independence ([tool.importlinter] in pyproject.toml), every
    import counted, function-local ones included."""
    result = run(str(BIN / "lint-imports"), "--no-cache")
    assert result.returncode == 0, result.stdout + result.stderr


# A module holds one subject; past this many lines it is split by subject (docs/CONVENTIONS.md
# says about 400; the limit leaves room for a small addition before the split).
MODULE_LINE_LIMIT = 450
# Not counted: migrations (generated, never edited by hand) and the tests.
_NOT_MODULES = {"migrations", "tests", "node_modules", "staticfiles", "__pycache__"}
# Modules allowed past the limit, each with its reason. An entry whose module is gone or back
# under the limit fails the test below, so the list cannot go stale: remove it then.
MODULE_LINE_LIMIT_EXCEPTIONS: dict[str, str] = {
    "bench/scale.py": "a benchmark run by hand, one scenario read top to bottom (docs/benchmarks.md)",
}


def _module_lines() -> dict[str, int]:
    lines = {}
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT).parts
        if any(part.startswith(".") or part in _NOT_MODULES or part.endswith(".egg-info") for part in parts):
            continue
        lines[path.relative_to(ROOT).as_posix()] = len(path.read_text(encoding="utf-8").splitlines())
    return lines


def test_modules_stay_under_the_line_limit() -> None:
    lines = _module_lines()
    assert "dentaltap/devstack.py" in lines and "tests/conftest.py" not in lines  # the walk sees the right files
    too_long = {
        name: count
        for name, count in sorted(lines.items())
        if count > MODULE_LINE_LIMIT and name not in MODULE_LINE_LIMIT_EXCEPTIONS
    }
    assert not too_long, (
        f"modules over {MODULE_LINE_LIMIT} lines (split them by subject, or add an exception with its reason): "
        + ", ".join(f"{name} ({count})" for name, count in too_long.items())
    )
    stale = sorted(name for name in MODULE_LINE_LIMIT_EXCEPTIONS if lines.get(name, 0) <= MODULE_LINE_LIMIT)
    assert not stale, f"no longer over {MODULE_LINE_LIMIT} lines (or gone): remove from the exceptions: {stale}"
