"""Figure 3: peak memory (RSS) of one web worker and of one Celery worker under work.

Web: gunicorn with dentaltap.wsgi, run.sh's options but one worker (--workers=1 --threads=4),
serves N requests from 4 keep-alive clients: logged-in practice pages (dashboard, patient and
appointment lists, search, the practice switcher) and API calls with a token (lists, a detail,
creating and editing patients), over two practices. Celery: `celery -A dentaltap worker --concurrency=1`
(prefork: the parent and the one child that runs tasks) works through N queued
`practice.tasks.patient_count_refresh` tasks, alternating between the two practices; then the
same with --pool=solo (one process), for comparison.

RSS of every process in the tree is sampled every 20 ms; the peak is the larger of the highest
sample and the kernel's high-water mark (VmHWM in /proc/<pid>/status). RSS counts pages a
forked child shares with its parent in both, so the total's PSS (shared pages split) is given too.
"""

from __future__ import annotations

import datetime
import http.client
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
from django.conf import settings
from django.db import connection

from bench.stack import database_reset, practice_signup, table
from dentaltap.ports import free_port

CLIENTS = 4
SEEDED_PATIENTS = 40
CREATES_PER_PRACTICE = 50  # 40 + 50 stays under the free plan's 100 patients
SAMPLE_SECONDS = 0.02
MB = 1024 * 1024


@dataclass
class ProcessMemory:
    pid: int
    role: str
    rss_start: int = 0
    rss_peak_sampled: int = 0
    rss_end: int = 0
    vm_hwm: int = 0
    pss_end: int = 0

    @property
    def peak(self) -> int:
        return max(self.rss_peak_sampled, self.vm_hwm)


@dataclass
class Sampler:
    """Samples the RSS of a process tree in a background thread until stopped."""

    root: psutil.Process
    processes: dict[int, ProcessMemory] = field(default_factory=dict)
    total_peak_sampled: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)

    def tree(self) -> list[psutil.Process]:
        return [self.root, *self.root.children(recursive=True)]

    def sample(self) -> None:
        total = 0
        for process in self.tree():
            try:
                rss = process.memory_info().rss
            except psutil.NoSuchProcess:
                continue
            total += rss
            entry = self.processes.setdefault(process.pid, ProcessMemory(process.pid, _role(process), rss_start=rss))
            entry.rss_peak_sampled = max(entry.rss_peak_sampled, rss)
        self.total_peak_sampled = max(self.total_peak_sampled, total)

    def _loop(self) -> None:
        while not self._stop.wait(SAMPLE_SECONDS):
            self.sample()

    def start(self) -> None:
        self.sample()
        threading.Thread(target=self._loop, daemon=True).start()

    def finish(self) -> None:
        self._stop.set()
        self.sample()
        for process in self.tree():
            entry = self.processes.get(process.pid)
            if entry is None:
                continue
            status = Path(f"/proc/{process.pid}/status").read_text()
            entry.vm_hwm = _status_kib(status, "VmHWM") * 1024
            entry.rss_end = _status_kib(status, "VmRSS") * 1024
            entry.pss_end = process.memory_full_info().pss


def _status_kib(status: str, key: str) -> int:
    for line in status.splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1])
    raise KeyError(key)


def _role(process: psutil.Process) -> str:
    command = " ".join(process.cmdline())
    if "gunicorn" in command:
        return "gunicorn master" if process.ppid() == os.getpid() else "gunicorn worker"
    if "celery" in command:
        if "--pool=solo" in command:
            return "celery (runs tasks)"
        return "celery parent" if process.ppid() == os.getpid() else "celery child (runs tasks)"
    return process.name()


def _start(command: list[str], log_path: Path) -> subprocess.Popen[bytes]:
    log = open(log_path, "wb")  # noqa: SIM115 - the child keeps writing after this returns
    return subprocess.Popen(
        command,
        cwd=settings.BASE_DIR,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONPATH": str(settings.BASE_DIR)},
        start_new_session=True,
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _wait_until(condition: Any, what: str, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if process.poll() is not None:
            raise RuntimeError(f"{what}: the process exited with {process.returncode}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not done in {timeout:.0f}s")
        time.sleep(0.1)


# --------------------------------------------------------------------------- data


def _seed() -> dict[str, Any]:
    """Two practices, a dentist in both (owner of one, dentist in the other), patients and
    appointments, a session cookie and an API token for the dentist."""
    from django.test import Client
    from django.utils import timezone
    from django_tenants.utils import tenant_context
    from rest_framework.authtoken.models import Token

    from practice.models import Appointment, Patient
    from tenants.models import JoinedVia, Role
    from tenants.team.services import membership_create

    dentist, practice_a = practice_signup("memory-a", email="dentist@bench.example")
    _, practice_b = practice_signup("memory-b")
    membership_create(user=dentist, practice=practice_b, role=Role.DENTIST, joined_via=JoinedVia.INVITATION)
    now = timezone.now()
    for practice in (practice_a, practice_b):
        with tenant_context(practice):
            patients = Patient.objects.bulk_create(
                Patient(first_name=f"Patient{number}", last_name=f"Bench{number % 7}", email=f"p{number}@example.com")
                for number in range(SEEDED_PATIENTS)
            )
            Appointment.objects.bulk_create(
                Appointment(
                    patient=patients[number],
                    starts_at=now + datetime.timedelta(hours=number + 1),
                    ends_at=now + datetime.timedelta(hours=number + 1, minutes=30),
                    reason="Check-up",
                )
                for number in range(SEEDED_PATIENTS)
            )
    connection.set_schema_to_public()
    client = Client()
    client.force_login(dentist)
    return {
        "cookie": f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}",
        "token": Token.objects.create(user=dentist).key,
        "host_a": f"{practice_a.slug}.{settings.BASE_DOMAIN}",
        "host_b": f"{practice_b.slug}.{settings.BASE_DOMAIN}",
        "practice_ids": [practice_a.pk, practice_b.pk],
    }


Request = tuple[str, str, str, dict[str, str], bytes | None]  # method, host, path, headers, body


def _request_mix(seed: dict[str, Any], count: int) -> list[Request]:
    """6 pages and 4 API calls in every 10 requests. The write creates a patient, in practice
    A and B by turns, until each holds CREATES_PER_PRACTICE more (the free plan's patient limit
    is 100), and then edits one instead."""
    page = {"Cookie": seed["cookie"]}
    api = {"Authorization": f"Token {seed['token']}", "Accept": "application/json"}
    write = {**api, "Content-Type": "application/json"}
    a, b, base = seed["host_a"], seed["host_b"], settings.BASE_DOMAIN
    cycle: list[Request] = [
        ("GET", a, "/", page, None),
        ("GET", a, "/patients/", page, None),
        ("GET", a, "/api/patients/", api, None),
        ("GET", a, "/appointments/?show=all", page, None),
        ("GET", b, "/api/appointments/", api, None),
        ("GET", b, "/patients/?q=bench3", page, None),
        ("WRITE", a, "", write, None),
        ("GET", b, "/", page, None),
        ("GET", b, "/api/patients/1/", api, None),
        ("GET", base, "/practices/", page, None),
    ]
    created: Counter[str] = Counter()
    requests: list[Request] = []
    for number in range(count):
        method, host, path, headers, body = cycle[number % len(cycle)]
        if method == "WRITE":
            host = (a, b)[(number // len(cycle)) % 2]
            if created[host] < CREATES_PER_PRACTICE:
                created[host] += 1
                body = json.dumps({"first_name": "New", "last_name": f"Patient{number}"}).encode()
                method, path = "POST", "/api/patients/"
            else:
                body = json.dumps({"notes": f"edited in request {number}"}).encode()
                method, path = "PATCH", "/api/patients/2/"
        requests.append((method, host, path, headers, body))
    return requests


def _load(port: int, requests: list[Request]) -> Counter[str]:
    work: queue.SimpleQueue[Request] = queue.SimpleQueue()
    for request in requests:
        work.put(request)
    statuses: Counter[str] = Counter()
    lock = threading.Lock()

    def client() -> None:
        connection_ = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while True:
            try:
                method, host, path, headers, body = work.get_nowait()
            except queue.Empty:
                break
            connection_.request(method, path, body=body, headers={"Host": f"{host}:{port}", **headers})
            response = connection_.getresponse()
            response.read()
            expected = 201 if method == "POST" else 200
            with lock:
                statuses["ok" if response.status == expected else f"{method} {path} -> {response.status}"] += 1
        connection_.close()

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


# --------------------------------------------------------------------------- the two figures


def _web(seed: dict[str, Any], requests: int, logs: Path) -> tuple[Sampler, float]:
    port = free_port()
    bin_dir = Path(sys.executable).parent
    server = _start(
        [
            str(bin_dir / "gunicorn"),
            "dentaltap.wsgi",
            f"--bind=127.0.0.1:{port}",
            "--workers=1",
            "--threads=4",
            "--access-logfile=-",
            "--log-level=warning",
        ],
        logs / "gunicorn.log",
    )
    try:

        def answers() -> bool:
            try:
                probe = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                probe.request("GET", "/healthz")
                return probe.getresponse().status == 200
            except OSError:
                return False

        _wait_until(answers, "gunicorn start", server)
        sampler = Sampler(psutil.Process(server.pid))
        sampler.start()
        started = time.monotonic()
        statuses = _load(port, _request_mix(seed, requests))
        elapsed = time.monotonic() - started
        sampler.finish()
        assert statuses == Counter({"ok": requests}), f"unexpected responses: {statuses}"
        return sampler, elapsed
    finally:
        _stop(server)


def _celery(seed: dict[str, Any], tasks: int, logs: Path, pool: str) -> tuple[Sampler, float]:
    import redis

    from practice.tasks import patient_count_refresh

    # The web figure's patient creations queued refresh tasks; start from an empty queue.
    redis.Redis.from_url(
        settings.CELERY_BROKER_URL.replace("redis+socket://", "unix://").replace("virtual_host=", "db=")
    ).flushdb()
    log_path = logs / f"celery-{pool}.log"
    bin_dir = Path(sys.executable).parent
    worker = _start(
        [
            str(bin_dir / "celery"),
            "-A",
            "dentaltap",
            "worker",
            "--concurrency=1",
            f"--pool={pool}",
            "--loglevel=INFO",
            "--hostname=bench@%h",
        ],
        log_path,
    )
    try:
        _wait_until(lambda: b" ready." in log_path.read_bytes(), "celery start", worker)
        sampler = Sampler(psutil.Process(worker.pid))
        sampler.start()
        started = time.monotonic()
        for number in range(tasks):
            patient_count_refresh.delay(seed["practice_ids"][number % 2])

        def done() -> bool:
            return log_path.read_bytes().count(b"patient_count_refresh[") >= 2 * tasks  # received + finished

        _wait_until(done, "celery tasks", worker, timeout=600)
        elapsed = time.monotonic() - started
        sampler.finish()
        text = log_path.read_text()
        succeeded = text.count("succeeded in")
        assert succeeded == tasks, f"{succeeded} of {tasks} tasks succeeded; see {log_path}"
        return sampler, elapsed
    finally:
        _stop(worker)


def _rows(sampler: Sampler) -> list[list[object]]:
    rows: list[list[object]] = []
    for entry in sorted(sampler.processes.values(), key=lambda entry: entry.pid):
        rows.append(
            [
                entry.role,
                entry.pid,
                f"{entry.rss_start / MB:.1f}",
                f"{entry.peak / MB:.1f}",
                f"{entry.rss_end / MB:.1f}",
                f"{entry.pss_end / MB:.1f}",
            ]
        )
    total_peak = max(sampler.total_peak_sampled, sum(entry.peak for entry in sampler.processes.values()))
    rows.append(
        [
            "total",
            "",
            f"{sum(entry.rss_start for entry in sampler.processes.values()) / MB:.1f}",
            f"{total_peak / MB:.1f}",
            f"{sum(entry.rss_end for entry in sampler.processes.values()) / MB:.1f}",
            f"{sum(entry.pss_end for entry in sampler.processes.values()) / MB:.1f}",
        ]
    )
    return rows


def _as_json(sampler: Sampler, elapsed: float, count: int) -> dict[str, object]:
    return {
        "count": count,
        "seconds": round(elapsed, 1),
        "per_second": round(count / elapsed, 1),
        "processes": [
            {
                "role": entry.role,
                "rss_start_mb": round(entry.rss_start / MB, 1),
                "peak_mb": round(entry.peak / MB, 1),
                "peak_sampled_mb": round(entry.rss_peak_sampled / MB, 1),
                "vm_hwm_mb": round(entry.vm_hwm / MB, 1),
                "rss_end_mb": round(entry.rss_end / MB, 1),
                "pss_end_mb": round(entry.pss_end / MB, 1),
            }
            for entry in sorted(sampler.processes.values(), key=lambda entry: entry.pid)
        ],
        "total_peak_mb": round(
            max(sampler.total_peak_sampled, sum(entry.peak for entry in sampler.processes.values())) / MB, 1
        ),
        "total_pss_end_mb": round(sum(entry.pss_end for entry in sampler.processes.values()) / MB, 1),
    }


def run(*, web_requests: int, tasks: int) -> dict[str, object]:
    database_reset()
    seed = _seed()
    logs = Path(os.environ["DENTALTAP_DATA_DIR"]) / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    header = ["process", "pid", "RSS idle MB", "peak RSS MB", "RSS end MB", "PSS end MB"]

    web, web_seconds = _web(seed, web_requests, logs)
    print(
        table(
            f"Web (gunicorn, 1 worker x 4 threads): {web_requests} requests in {web_seconds:.1f}s", header, _rows(web)
        )
    )
    results: dict[str, object] = {"web": _as_json(web, web_seconds, web_requests)}
    for pool, title in (("prefork", "prefork, concurrency 1"), ("solo", "solo pool, for comparison")):
        worker, worker_seconds = _celery(seed, tasks, logs, pool)
        print(table(f"Celery ({title}): {tasks} tasks in {worker_seconds:.1f}s", header, _rows(worker)))
        results[f"celery_{pool}"] = _as_json(worker, worker_seconds, tasks)
    return results
