"""Figure 4: the README's two commands, timed from a fresh clone.

run:  `git clone` of the committed tree, then `scripts/run.sh` (PORT=8123) until /healthz
      answers and the home page (Host: dentaltap.localhost) is served with 200. Then Ctrl-C
      (SIGINT to the command's process group) and a check that nothing it started is left.
test: `git clone`, then `scripts/test.sh` (DENTALTAP_TEST_PORT=8777) until pytest's summary line;
      the clone carries everything it needs (Stripe's fixtures are in tests/fixtures/stripe/).

Each clone gets a new .venv, so pip installs every dependency. pip's cache is a dedicated folder
(pip-cache in the bench data folder); with --pip-cache both (the default) it is emptied and run.sh
timed once more first, as a first-ever install. Each figure reports the cache's size before and
after, so it is plain how much came from it.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import psutil

from bench.stack import table
from dentaltap import ports

PROJECT_DIR = Path(__file__).resolve().parent.parent
# Beside the bench data (bench/run.py sets DENTALTAP_DATA_DIR before this module loads).
BENCH_DIR = Path(os.environ["DENTALTAP_DATA_DIR"])
PIP_CACHE = BENCH_DIR / "pip-cache"
LOGS = BENCH_DIR / "logs"
RUN_PORT = 8123
LINGER_SECONDS = 10
TEST_PORT = 8777
PYTEST_SUMMARY = re.compile(r"^=+ (.*\b(?:passed|failed|error|errors|skipped|deselected)\b.*) in [\d.]+s.*=+$")
# Variables that would point a clone at this checkout's servers, settings or virtualenv.
INHERITED = (
    "DATABASE_URL",
    "REDIS_URL",
    "DENTALTAP_DATA_DIR",
    "DJANGO_SETTINGS_MODULE",
    "DENTALTAP_MAIL_DIR",
    "DENTALTAP_KEEP_SERVERS",
    "VIRTUAL_ENV",
    "PYTHONPATH",
    "PYTHON",
    "PORT",
)


@dataclass
class Output:
    """A child's combined output, each line with the seconds since `started`, also to a file."""

    process: subprocess.Popen[bytes]
    started: float
    log_path: Path
    lines: list[tuple[float, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        stream: IO[bytes] = self.process.stdout
        with open(self.log_path, "w") as log:
            for raw in stream:
                line = raw.decode(errors="replace").rstrip()
                elapsed = time.monotonic() - self.started
                self.lines.append((elapsed, line))
                log.write(f"{elapsed:8.1f}s  {line}\n")
                log.flush()

    def first(self, pattern: str | re.Pattern[str]) -> tuple[float, str] | None:
        regex = re.compile(pattern)
        return next(((elapsed, line) for elapsed, line in list(self.lines) if regex.search(line)), None)

    def join(self) -> None:
        self._thread.join(timeout=10)


def _environment(base: dict[str, str], **extra: str) -> dict[str, str]:
    environment = {key: value for key, value in base.items() if key not in INHERITED}
    return {**environment, "PIP_CACHE_DIR": str(PIP_CACHE), **extra}


def _pip_cache_mb() -> float:
    if not PIP_CACHE.exists():
        return 0.0
    return round(sum(path.stat().st_size for path in PIP_CACHE.rglob("*") if path.is_file()) / 1024 / 1024, 1)


def _clone() -> Path:
    target = Path(tempfile.mkdtemp(prefix="bench-fresh-"))
    subprocess.run(["git", "clone", "--quiet", str(PROJECT_DIR), str(target)], check=True)
    return target


def _wait_for_free_port(port: int, timeout: float = 60) -> None:
    """Wait until a server could listen on `port` (as gunicorn does, with SO_REUSEADDR, so
    connections of an earlier run in TIME_WAIT do not count)."""
    remedy = "the run figure needs it"
    ports.wait_until_free("0.0.0.0", port, what="the run command", remedy=remedy, timeout=timeout)  # noqa: S104


def _http_status(url: str, host: str | None = None) -> int | None:
    request = urllib.request.Request(url, headers={"Host": host} if host else {})  # noqa: S310 - loopback only
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except OSError:
        return None


def _leftovers(clone: Path) -> list[psutil.Process]:
    """Processes still running from the clone: servers, workers, the embedded PostgreSQL/Redis."""
    found = []
    for process in psutil.process_iter():
        with contextlib.suppress(psutil.Error):
            if process.pid == os.getpid():
                continue
            command = " ".join(process.cmdline())
            cwd = ""
            with contextlib.suppress(psutil.Error):
                cwd = process.cwd()
            if str(clone) in command or cwd.startswith(str(clone)):
                found.append(process)
    return found


def _clean_up(clone: Path, environment: dict[str, str], *, keep: bool) -> list[str]:
    """Stop the clone's embedded servers (a no-op if the command did) and report anything left.
    A straggler gets LINGER_SECONDS to exit by itself (an orphaned gunicorn worker notices its
    parent is gone within a second or so); what is still there then is ended by pid: every such
    process was started by this benchmark."""
    python = clone / ".venv" / "bin" / "python"
    if python.exists():
        subprocess.run(
            [str(python), "-m", "dentaltap.devstack", "stop"],
            cwd=clone,
            env=environment,
            capture_output=True,
            timeout=60,
            check=False,
        )
    left = _leftovers(clone)
    described = []
    for process in left:
        with contextlib.suppress(psutil.Error):
            described.append(f"pid {process.pid} (parent {process.ppid()}): {' '.join(process.cmdline())[:120]}")
    _, alive = psutil.wait_procs(left, timeout=LINGER_SECONDS)
    for process in alive:
        with contextlib.suppress(psutil.Error):
            process.kill()
    if left:
        described.append(f"{len(alive)} of {len(left)} still running after {LINGER_SECONDS}s, then killed")
    if not keep:
        shutil.rmtree(clone, ignore_errors=True)
    return described


def _time_run(label: str, base_environment: dict[str, str], *, keep: bool) -> dict[str, object]:
    _wait_for_free_port(RUN_PORT)
    environment = _environment(base_environment, PORT=str(RUN_PORT))
    cache_mb = _pip_cache_mb()
    started = time.monotonic()
    clone = _clone()
    cloned = time.monotonic() - started
    process = subprocess.Popen(
        ["scripts/run.sh"],
        cwd=clone,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    output = Output(process, started, LOGS / f"{label}.log")
    try:
        deadline = started + 1800
        while _http_status(f"http://127.0.0.1:{RUN_PORT}/healthz") != 200:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"run.sh did not come up; see {output.log_path}")
            time.sleep(0.1)
        healthy = time.monotonic() - started
        page_status = _http_status(f"http://127.0.0.1:{RUN_PORT}/", host=f"dentaltap.localhost:{RUN_PORT}")
        first_page = time.monotonic() - started
        assert page_status == 200, f"home page answered {page_status}"
    finally:
        stop_started = time.monotonic()
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in its terminal sends
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        stopped = time.monotonic() - stop_started
        output.join()
        left = _clean_up(clone, environment, keep=keep)
    setup_done = output.first(r"^\[devstack\]|^Operations|DentalTap is up")
    return {
        "pip_cache_mb_before": cache_mb,
        "pip_cache_mb_after": _pip_cache_mb(),
        "clone_s": round(cloned, 1),
        "setup_done_s": round(setup_done[0], 1) if setup_done else None,
        "healthz_s": round(healthy, 1),
        "first_page_s": round(first_page, 1),
        "stop_s": round(stopped, 1),
        "exit_code": process.returncode,
        "left_running": left,
        "log": str(output.log_path),
    }


def _time_test(label: str, base_environment: dict[str, str], *, keep: bool) -> dict[str, object]:
    environment = _environment(base_environment, DENTALTAP_TEST_PORT=str(TEST_PORT))
    cache_mb = _pip_cache_mb()
    started = time.monotonic()
    clone = _clone()
    cloned = time.monotonic() - started
    process = subprocess.Popen(
        ["scripts/test.sh"],
        cwd=clone,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    output = Output(process, started, LOGS / f"{label}.log")
    try:
        process.wait(timeout=3600)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGINT)
            process.wait(timeout=60)
        output.join()
        left = _clean_up(clone, environment, keep=keep)
    summary = output.first(PYTEST_SUMMARY)
    setup_done = output.first(r"^\[devstack\]|^=+ test session starts")
    return {
        "stripe_fixtures": environment.get("DENTALTAP_STRIPE_FIXTURES"),
        "pip_cache_mb_before": cache_mb,
        "pip_cache_mb_after": _pip_cache_mb(),
        "clone_s": round(cloned, 1),
        "setup_done_s": round(setup_done[0], 1) if setup_done else None,
        "summary_s": round(summary[0], 1) if summary else None,
        "summary": summary[1].strip("= ") if summary else None,
        "exit_code": process.returncode,
        "left_running": left,
        "log": str(output.log_path),
    }


def run(*, environment: dict[str, str], cold_pip_cache: bool, keep_clones: bool) -> dict[str, object]:
    LOGS.mkdir(parents=True, exist_ok=True)
    results: dict[str, dict[str, object]] = {}
    runs = [("run.sh, pip cache emptied first", "run-cold")] if cold_pip_cache else []
    runs.append(("run.sh", "run"))
    if cold_pip_cache:
        shutil.rmtree(PIP_CACHE, ignore_errors=True)
    for name, label in runs:
        results[name] = _time_run(label, environment, keep=keep_clones)
        print(f"  {name}: {results[name]}", flush=True)
    results["test.sh"] = _time_test("test", environment, keep=keep_clones)
    print(f"  test.sh: {results['test.sh']}", flush=True)

    header = ["command", "pip cache MB", "clone", "deps installed", "first page / pytest summary", "exit", "left"]
    rows = [
        [
            name,
            f"{values['pip_cache_mb_before']} -> {values['pip_cache_mb_after']}",
            values["clone_s"],
            values["setup_done_s"],
            values.get("first_page_s", values.get("summary_s")),
            values["exit_code"],
            "yes" if values["left_running"] else "none",
        ]
        for name, values in results.items()
    ]
    print(table("README commands from a fresh clone, seconds from the start of `git clone`", header, rows))
    print(f"  pytest: {results['test.sh']['summary']}")
    return results
