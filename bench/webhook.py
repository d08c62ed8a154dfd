"""Issue 5's and issue 14's webhook figures: the Stripe webhook under load against a bare Django
view measured in the same run, and webhook-to-credit latency.

    .venv/bin/python bench/webhook.py [--events 4000] [--rounds 5] [--concurrency 16]
                                      [--workers 2 --threads 4] [--credits 20]

1. Distinct events: signed `invoice.paid` events for unknown customers (stored, then ignored by
   processing), posted by C client threads over keep-alive HTTP to gunicorn (--workers x
   --threads, the run command's shape by default): events/s accepted and latency percentiles.
2. A storm of duplicates: the same signed event posted again and again: events/s and p95 (each
   answers 200 `duplicate: true`; one inbox row).
   Both loads take turns, in --rounds rounds, with the same load on a bare Django view
   (bench/bare_webhook.py: the same SDK signature check and JSON parse, no middleware, no
   database, no broker) served by a second gunicorn with the same options; the ratio
   webhook/bare is taken per round and its median reported, so load from elsewhere on the
   machine lands on both alike. Nothing lost: every distinct event has exactly one inbox row,
   and every row's id is in a task message in the broker (no worker runs during 1-2).
3. Webhook to credit: with an idle Celery worker, the Stripe stand-in and the referral program's
   hold set to zero, the time from posting a referred practice's first `invoice.paid` to its
   reward's ledger entry, over K referrals: median and p95.

Runs on its own embedded PostgreSQL and Redis under --data-dir (never the dev or test data) and
stops them at the end. Also writes <data dir>/webhook-results.json.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path[0] = str(Path(__file__).resolve().parent.parent)  # run as a script: the project first, not bench/

from bench import stack  # noqa: E402

PROJECT_DIR = stack.PROJECT_DIR
SECRET = "whsec_bench"  # noqa: S105 - the bench servers' own signing secret
HOST = "dentaltap.localhost"


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=str(Path(tempfile.gettempdir()) / "dentaltap-webhook-bench"))
    parser.add_argument("--events", type=int, default=4000, help="distinct events, over all rounds")
    parser.add_argument("--duplicates", type=int, default=4000, help="duplicates posted, over all rounds")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (both servers)")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker (both servers)")
    parser.add_argument("--credits", type=int, default=20)
    parser.add_argument("--port", type=int, default=8131)
    parser.add_argument("--bare-port", type=int, default=8132)
    parser.add_argument("--stripe-port", type=int, default=12131)
    return parser.parse_args()


OPTIONS = arguments()
stack.stack_start(
    OPTIONS.data_dir,
    environ={
        "STRIPE_WEBHOOK_SECRETS": SECRET,
        "STRIPE_API_BASE": f"http://127.0.0.1:{OPTIONS.stripe_port}",
        "DENTALTAP_PUBLIC_PORT": str(OPTIONS.port),
        "DJANGO_LOG_LEVEL": "ERROR",
    },
)

from bench.stack import percentile, practice_signup, table  # noqa: E402
from bench.stripe_events import invoice_event  # noqa: E402
from billing.standin import sign  # noqa: E402


def post_all(bodies: list[str], concurrency: int, port: int) -> tuple[float, list[float], list[int]]:
    """Post every body (signed at send time) from `concurrency` keep-alive connections."""
    latencies: list[float] = []
    statuses: list[int] = []
    lock = threading.Lock()
    queue = list(enumerate(bodies))

    def client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while True:
            with lock:
                if not queue:
                    break
                _, body = queue.pop()
            started = time.perf_counter()
            connection.request(
                "POST", "/stripe/webhook/", body=body.encode(),
                headers={"Host": f"{HOST}:{port}", "Content-Type": "application/json", "Stripe-Signature": sign(body, SECRET)},
            )  # fmt: skip
            response = connection.getresponse()
            response.read()
            elapsed = time.perf_counter() - started
            with lock:
                latencies.append(elapsed)
                statuses.append(response.status)
        connection.close()

    threads = [threading.Thread(target=client) for _ in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started, latencies, statuses


def wait_http(port: int, path: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", path, headers={"Host": HOST})
            connection.getresponse().read()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"gunicorn on port {port} did not come up")


SERVER_ROOTS: dict[str, list[int]] = {"app": [], "bare": []}


def _stack_pids() -> list[int]:
    """PostgreSQL's postmaster and the Redis server of the bench stack: the webhook's helpers."""
    from dentaltap import devstack_servers as servers

    pgdata, _runtime = servers._postgres_paths()
    _folder, redis_pid, _socket = servers._redis_paths()
    return [pid for pid in (servers._read_pid(pgdata / "postmaster.pid"), servers._read_pid(redis_pid)) if pid]


def cpu_seconds(roots: list[int]) -> float:
    """User + system CPU of these processes and all their children (gunicorn workers,
    PostgreSQL backends), which waiting for a core on a busy machine does not inflate."""
    import psutil

    total = 0.0
    for root in roots:
        try:
            process = psutil.Process(root)
            for member in [process, *process.children(recursive=True)]:
                times = member.cpu_times()
                total += times.user + times.system
        except psutil.NoSuchProcess:
            continue
    return total


def in_turns(name: str, app_batches: list[list[str]], bare_batches: list[list[str]]) -> dict[str, Any]:
    """Each round: the app and the bare view in turns (the first one alternates), same load.
    Besides the rates, each turn's CPU per request: the server's (gunicorn and, for the webhook,
    PostgreSQL and Redis) and the client's (this process), so a ratio of CPU costs comes out the
    same on a busy machine as on an idle one."""
    app_rates, bare_rates, ratios = [], [], []
    cpu: dict[str, list[float]] = {"app": [], "bare": [], "client_app": [], "client_bare": []}
    app_latencies: list[float] = []
    bare_latencies: list[float] = []
    app_statuses: list[int] = []
    for round_number, (app_bodies, bare_bodies) in enumerate(zip(app_batches, bare_batches, strict=True)):
        turns = [("app", OPTIONS.port, app_bodies), ("bare", OPTIONS.bare_port, bare_bodies)]
        rates: dict[str, float] = {}
        for label, port, bodies in stack.turn_order(turns, round_number):
            roots = SERVER_ROOTS[label]
            server_before, client_before = cpu_seconds(roots), time.process_time()
            parts_before = [cpu_seconds([root]) for root in roots]
            elapsed, latencies, statuses = post_all(bodies, OPTIONS.concurrency, port)
            cpu[label].append((cpu_seconds(roots) - server_before) / len(bodies))
            for index, root_before in enumerate(parts_before):
                cpu.setdefault(f"{label}_part{index}", []).append(
                    (cpu_seconds([roots[index]]) - root_before) / len(bodies)
                )
            cpu[f"client_{label}"].append((time.process_time() - client_before) / len(bodies))
            assert statuses.count(200) == len(bodies), f"{label}: non-200 answers: {set(statuses)}"
            rates[label] = len(bodies) / elapsed
            (app_latencies if label == "app" else bare_latencies).extend(latencies)
            if label == "app":
                app_statuses.extend(statuses)
        app_rates.append(rates["app"])
        bare_rates.append(rates["bare"])
        ratios.append(rates["app"] / rates["bare"])
        print(f"  {name}, round {round_number + 1}: webhook {rates['app']:.0f}/s, bare {rates['bare']:.0f}/s, "
              f"ratio {ratios[-1]:.3f}", flush=True)  # fmt: skip
    return {
        "load": name,
        "events_per_round": len(app_batches[0]),
        "rounds": len(app_batches),
        "webhook_per_second": round(statistics.median(app_rates)),
        "webhook_median_ms": round(statistics.median(app_latencies) * 1000, 1),
        "webhook_p95_ms": round(percentile(app_latencies, 0.95) * 1000, 1),
        "webhook_p99_ms": round(percentile(app_latencies, 0.99) * 1000, 1),
        "bare_per_second": round(statistics.median(bare_rates)),
        "bare_p95_ms": round(percentile(bare_latencies, 0.95) * 1000, 1),
        "ratio": round(statistics.median(ratios), 3),
        "ratio_range": [round(min(ratios), 3), round(max(ratios), 3)],
        "server_cpu_ms_per_event": round(statistics.median(cpu["app"]) * 1000, 3),
        "bare_server_cpu_ms_per_request": round(statistics.median(cpu["bare"]) * 1000, 3),
        "server_cpu_ms_by_process_tree": {
            key: round(statistics.median(values) * 1000, 3) for key, values in cpu.items() if "_part" in key
        },
        "client_cpu_ms_per_request": round(statistics.median(cpu["client_app"] + cpu["client_bare"]) * 1000, 3),
        # What the throughput ratio is when CPU is all that limits it (server and client sharing
        # the cores): (client + bare) / (client + webhook).
        "cpu_ratio": round(
            (statistics.median(cpu["client_bare"]) + statistics.median(cpu["bare"]))
            / (statistics.median(cpu["client_app"]) + statistics.median(cpu["app"])),
            3,
        ),
    }


def queued_event_ids() -> list[int]:
    """Every event id in the task messages waiting in the broker (no worker is running)."""
    from dentaltap.celery import app

    ids: list[int] = []
    with app.connection_for_write() as broker:
        client = broker.default_channel.client
        for raw in client.lrange("celery", 0, -1):
            message = json.loads(raw)
            args = json.loads(base64.b64decode(message["body"]))[0]
            ids.extend(args[0] if isinstance(args[0], list) else [args[0]])
    return ids


def main() -> None:
    from django.db import connection

    stack.database_reset()
    env = {**os.environ, "DATABASE_URL": os.environ["DATABASE_URL"], "REDIS_URL": os.environ["REDIS_URL"]}
    binary = Path(sys.executable).parent
    shape = [f"--workers={OPTIONS.workers}", f"--threads={OPTIONS.threads}", "--log-level=error"]
    processes = [
        subprocess.Popen([str(binary / "gunicorn"), "dentaltap.wsgi", f"--bind=127.0.0.1:{OPTIONS.port}", *shape],
                         cwd=PROJECT_DIR, env=env, start_new_session=True),
        subprocess.Popen([str(binary / "gunicorn"), "bench.bare_webhook:application",
                          f"--bind=127.0.0.1:{OPTIONS.bare_port}", *shape],
                         cwd=PROJECT_DIR, env=env, start_new_session=True),
        subprocess.Popen(
            [sys.executable, "-m", "billing.standin", f"--port={OPTIONS.stripe_port}"],
            cwd=PROJECT_DIR, env=env, start_new_session=True, stdout=subprocess.DEVNULL,
        ),
    ]  # fmt: skip
    SERVER_ROOTS["app"] = [processes[0].pid, *_stack_pids()]
    SERVER_ROOTS["bare"] = [processes[1].pid]
    results: dict[str, Any] = {
        "workers": OPTIONS.workers, "threads": OPTIONS.threads, "clients": OPTIONS.concurrency,
        "load_average_start": os.getloadavg(),
    }  # fmt: skip
    try:
        wait_http(OPTIONS.port, "/healthz")
        wait_http(OPTIONS.bare_port, "/healthz")
        from billing.models import StripeEvent

        # warm-up: every worker thread of both servers has its connections and code paths warm
        warm = [invoice_event(f"evt_warm_{n}", f"cus_warm_{n}", f"in_warm_{n}") for n in range(300)]
        post_all(warm, OPTIONS.concurrency, OPTIONS.port)
        post_all(warm, OPTIONS.concurrency, OPTIONS.bare_port)

        # 1. distinct events
        per_round = OPTIONS.events // OPTIONS.rounds
        bodies = [
            invoice_event(f"evt_bench_{n}", f"cus_unknown_{n}", f"in_bench_{n}")
            for n in range(per_round * OPTIONS.rounds)
        ]
        app_batches = [bodies[r * per_round : (r + 1) * per_round] for r in range(OPTIONS.rounds)]
        distinct = in_turns("distinct events", app_batches, app_batches)

        # 2. a storm of duplicates of one event (it is stored by the first request of the storm)
        storm_body = invoice_event("evt_storm", "cus_unknown_storm", "in_storm")
        per_round = OPTIONS.duplicates // OPTIONS.rounds
        storm = [[storm_body] * per_round for _ in range(OPTIONS.rounds)]
        duplicates = in_turns("duplicates of one event", storm, storm)

        # nothing lost: one row per distinct event, and every row handed to the broker
        from billing.ingest import outbox

        time.sleep(1)  # the web processes' outbox threads publish what they hold
        outbox.flush()
        stored = StripeEvent.objects.count()
        expected = len(warm) + len(bodies) + 1
        queued = queued_event_ids()
        stored_ids = set(StripeEvent.objects.values_list("pk", flat=True))
        assert stored == expected, f"{stored} inbox rows for {expected} distinct events"
        assert StripeEvent.objects.filter(stripe_event_id="evt_storm").count() == 1
        missing = stored_ids - set(queued)
        assert not missing, f"{len(missing)} stored events were never queued"
        messages = len(set(map(str, queued)))
        results["nothing_lost"] = {"distinct_events": expected, "inbox_rows": stored, "ids_queued": len(queued),
                                   "ids_never_queued": len(missing)}  # fmt: skip
        from dentaltap.celery import app

        with app.connection_for_write() as broker:
            task_messages = broker.default_channel.client.llen("celery")
        results["nothing_lost"]["task_messages"] = task_messages
        rows = [
            [figure["load"], figure["events_per_round"] * figure["rounds"], OPTIONS.concurrency,
             figure["webhook_per_second"], figure["webhook_median_ms"], figure["webhook_p95_ms"],
             figure["webhook_p99_ms"], figure["bare_per_second"], figure["bare_p95_ms"], figure["ratio"],
             f"{figure['ratio_range'][0]}-{figure['ratio_range'][1]}", figure["server_cpu_ms_per_event"],
             figure["bare_server_cpu_ms_per_request"], figure["client_cpu_ms_per_request"], figure["cpu_ratio"]]
            for figure in (distinct, duplicates)
        ]  # fmt: skip
        results["figures"] = [distinct, duplicates]
        print()
        print(table(f"Webhook endpoint vs a bare Django view (gunicorn {OPTIONS.workers}x{OPTIONS.threads} each, "
                    f"{OPTIONS.concurrency} keep-alive clients, medians of {OPTIONS.rounds} rounds in turns)",
                    ["load", "events", "clients", "webhook/s", "median ms", "p95 ms", "p99 ms", "bare/s",
                     "bare p95 ms", "ratio", "ratio range", "CPU ms/event", "bare CPU ms", "client CPU ms",
                     "CPU ratio"], rows))  # fmt: skip
        print(f"Nothing lost: {stored} inbox rows for {expected} distinct events, all {len(stored_ids)} ids "
              f"queued ({len(queued)} ids in {task_messages} task messages; {messages} distinct)")  # fmt: skip

        # 3. webhook -> credit with an idle worker and no hold
        from billing.models import LedgerEntry, PracticeAccount
        from billing.services import account_for
        from referrals.models import Referral
        from rewards.services import program_current

        program_current().rules.update(hold_days=0, cap_count=10_000)
        referrer, _ = practice_signup("bench-referrer")

        app.control.purge()  # parts 1-2 queued thousands of (ignorable) events: start idle
        StripeEvent.objects.all().delete()
        processes.append(
            subprocess.Popen(
                [str(binary / "celery"), "-A", "dentaltap", "worker", "--concurrency=1", "--loglevel=ERROR", "--without-gossip", "--without-mingle"],
                cwd=PROJECT_DIR, env=env, start_new_session=True,
            )
        )  # fmt: skip
        time.sleep(3)  # the worker starts and idles
        delays: list[float] = []
        for n in range(OPTIONS.credits):
            user, practice = practice_signup(f"bench-referred-{n}")
            Referral.objects.create(
                referrer=referrer, referred_user=user, referred_practice=practice, source="link", eligibility="eligible"
            )
            account_for(practice)
            PracticeAccount.objects.filter(practice=practice).update(stripe_customer_id=f"cus_bench_{n}")
            connection.close()
            time.sleep(0.3)  # idle worker
            body = invoice_event(f"evt_credit_{n}", f"cus_bench_{n}", f"in_credit_{n}")
            started = time.perf_counter()
            post_all([body], 1, OPTIONS.port)
            deadline = started + 30
            while not LedgerEntry.objects.filter(reward__referral__referred_user=user).exists():
                if time.perf_counter() > deadline:
                    raise RuntimeError("credit did not land within 30 s")
                time.sleep(0.002)
            delays.append(time.perf_counter() - started)
        results["credit_ms"] = {"samples": len(delays), "median": round(statistics.median(delays) * 1000),
                                "p95": round(percentile(delays, 0.95) * 1000)}  # fmt: skip
        print()
        print(table("Webhook to credit in the ledger (idle worker, hold 0, Stripe stand-in over HTTP)",
                    ["referrals", "median ms", "p95 ms", "min ms", "max ms"],
                    [[len(delays), f"{statistics.median(delays) * 1000:.0f}", f"{percentile(delays, 0.95) * 1000:.0f}",
                      f"{min(delays) * 1000:.0f}", f"{max(delays) * 1000:.0f}"]]))  # fmt: skip
        print("\n(the poll itself adds up to ~2 ms per sample)")
        results["load_average_end"] = os.getloadavg()
        print(f"Load average: {results['load_average_start']} at the start, {results['load_average_end']} at the end")
        (Path(OPTIONS.data_dir) / "webhook-results.json").write_text(json.dumps(results, indent=2))
    finally:
        for process in processes:
            try:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=20)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                os.killpg(process.pid, signal.SIGKILL)
        stack.stack_stop()


if __name__ == "__main__":
    main()
