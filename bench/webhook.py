"""Issue 5's figures: the Stripe webhook under load, and webhook-to-credit latency.

    .venv/bin/python bench/webhook.py [--events 2000] [--concurrency 16] [--credits 20]

1. Distinct events: N signed `invoice.paid` events for unknown customers (stored, then ignored by
   processing), posted by C client threads over keep-alive HTTP to gunicorn (2 workers x 4
   threads, the run command's shape): events/s accepted and latency percentiles.
2. A storm of duplicates: the same signed event posted N times by C threads: events/s and p95
   (each answers 200 `duplicate: true`; one inbox row).
3. Webhook to credit: with an idle Celery worker, the Stripe stand-in and the referral program's
   hold set to zero, the time from posting a referred practice's first `invoice.paid` to its
   reward's ledger entry, over K referrals: median and p95.

Runs on its own embedded PostgreSQL and Redis under --data-dir (never the dev or test data) and
stops them at the end.
"""

from __future__ import annotations

import argparse
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

PROJECT_DIR = Path(__file__).resolve().parent.parent
SECRET = "whsec_bench"  # noqa: S105 - the bench servers' own signing secret
HOST = "dentaltap.localhost"


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=str(Path(tempfile.gettempdir()) / "dentaltap-webhook-bench"))
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--duplicates", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--credits", type=int, default=20)
    parser.add_argument("--port", type=int, default=8131)
    parser.add_argument("--stripe-port", type=int, default=12131)
    return parser.parse_args()


OPTIONS = arguments()
os.environ["DENTALTAP_DATA_DIR"] = OPTIONS.data_dir
os.environ.pop("DATABASE_URL", None)
os.environ.pop("REDIS_URL", None)
os.environ["DJANGO_SETTINGS_MODULE"] = "dentaltap.settings.local"
os.environ["STRIPE_WEBHOOK_SECRETS"] = SECRET
os.environ["STRIPE_API_BASE"] = f"http://127.0.0.1:{OPTIONS.stripe_port}"
os.environ["DENTALTAP_PUBLIC_PORT"] = str(OPTIONS.port)
os.environ["DJANGO_LOG_LEVEL"] = "ERROR"
Path(OPTIONS.data_dir).mkdir(parents=True, exist_ok=True)
sys.path.insert(0, str(PROJECT_DIR))

import django  # noqa: E402

from dentaltap import devstack  # noqa: E402

devstack.ensure_environment()  # the bench's own PostgreSQL and Redis (settings start nothing)
django.setup()

from bench.stack import database_reset, percentile, practice_signup, table  # noqa: E402
from billing.standin import sign  # noqa: E402
from dentaltap import devstack  # noqa: E402


def invoice_event(event_id: str, customer: str, invoice_id: str) -> str:
    fixtures = json.loads((PROJECT_DIR / "tests" / "fixtures" / "stripe" / "objects.json").read_text())
    invoice = dict(
        fixtures["invoice"], id=invoice_id, customer=customer, amount_paid=4900, status="paid", livemode=False
    )
    invoice["status_transitions"] = {"paid_at": int(time.time())}
    envelope = dict(fixtures["event"], id=event_id, type="invoice.paid", created=int(time.time()), livemode=False)
    envelope["data"] = {"object": invoice}
    return json.dumps(envelope)


def post_all(bodies: list[str], concurrency: int) -> tuple[float, list[float], list[int]]:
    """Post every body (signed at send time) from `concurrency` keep-alive connections."""
    latencies: list[float] = []
    statuses: list[int] = []
    lock = threading.Lock()
    queue = list(enumerate(bodies))

    def client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", OPTIONS.port, timeout=30)
        while True:
            with lock:
                if not queue:
                    break
                _, body = queue.pop()
            started = time.perf_counter()
            connection.request(
                "POST", "/stripe/webhook/", body=body.encode(),
                headers={"Host": f"{HOST}:{OPTIONS.port}", "Content-Type": "application/json", "Stripe-Signature": sign(body, SECRET)},
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


def wait_http(path: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", OPTIONS.port, timeout=2)
            connection.request("GET", path, headers={"Host": HOST})
            connection.getresponse().read()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("gunicorn did not come up")


def main() -> None:
    from django.db import connection

    database_reset()
    env = {**os.environ, "DATABASE_URL": os.environ["DATABASE_URL"], "REDIS_URL": os.environ["REDIS_URL"]}
    binary = Path(sys.executable).parent
    processes = [
        subprocess.Popen(
            [str(binary / "gunicorn"), "dentaltap.wsgi", f"--bind=127.0.0.1:{OPTIONS.port}", "--workers=2", "--threads=4", "--log-level=error"],
            cwd=PROJECT_DIR, env=env, start_new_session=True,
        ),
        subprocess.Popen(
            [sys.executable, "-m", "billing.standin", f"--port={OPTIONS.stripe_port}"],
            cwd=PROJECT_DIR, env=env, start_new_session=True, stdout=subprocess.DEVNULL,
        ),
    ]  # fmt: skip
    results: list[list[object]] = []
    try:
        wait_http("/healthz")
        # 1. distinct events
        bodies = [invoice_event(f"evt_bench_{n}", f"cus_unknown_{n}", f"in_bench_{n}") for n in range(OPTIONS.events)]
        post_all(bodies[:200], OPTIONS.concurrency)  # warm-up (their rows stay; the rest are new)
        elapsed, latencies, statuses = post_all(bodies[200:], OPTIONS.concurrency)
        count = len(latencies)
        assert statuses.count(200) == count, f"non-200 answers: {set(statuses)}"
        results.append(["distinct events", count, OPTIONS.concurrency, f"{count / elapsed:.0f}",
                        f"{statistics.median(latencies) * 1000:.1f}", f"{percentile(latencies, 0.95) * 1000:.1f}",
                        f"{percentile(latencies, 0.99) * 1000:.1f}"])  # fmt: skip

        # 2. a storm of duplicates of one event
        storm = [invoice_event("evt_storm", "cus_unknown_storm", "in_storm")] * OPTIONS.duplicates
        elapsed, latencies, statuses = post_all(storm, OPTIONS.concurrency)
        assert statuses.count(200) == len(storm)
        from billing.models import StripeEvent

        assert StripeEvent.objects.filter(stripe_event_id="evt_storm").count() == 1
        results.append(["duplicates of one event", len(storm), OPTIONS.concurrency, f"{len(storm) / elapsed:.0f}",
                        f"{statistics.median(latencies) * 1000:.1f}", f"{percentile(latencies, 0.95) * 1000:.1f}",
                        f"{percentile(latencies, 0.99) * 1000:.1f}"])  # fmt: skip
        print(table("Webhook endpoint (gunicorn 2x4, keep-alive clients)",
                    ["load", "events", "clients", "events/s", "median ms", "p95 ms", "p99 ms"], results))  # fmt: skip

        # 3. webhook -> credit with an idle worker and no hold
        from billing.models import LedgerEntry, PracticeAccount, StripeEvent
        from billing.services import account_for
        from referrals.models import Referral
        from rewards.services import program_current

        program_current().rules.update(hold_days=0, cap_count=10_000)
        referrer, _ = practice_signup("bench-referrer")
        from dentaltap.celery import app

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
            post_all([body], 1)
            deadline = started + 30
            while not LedgerEntry.objects.filter(reward__referral__referred_user=user).exists():
                if time.perf_counter() > deadline:
                    raise RuntimeError("credit did not land within 30 s")
                time.sleep(0.002)
            delays.append(time.perf_counter() - started)
        print()
        print(table("Webhook to credit in the ledger (idle worker, hold 0, Stripe stand-in over HTTP)",
                    ["referrals", "median ms", "p95 ms", "min ms", "max ms"],
                    [[len(delays), f"{statistics.median(delays) * 1000:.0f}", f"{percentile(delays, 0.95) * 1000:.0f}",
                      f"{min(delays) * 1000:.0f}", f"{max(delays) * 1000:.0f}"]]))  # fmt: skip
        print("\n(the poll itself adds up to ~2 ms per sample)")
    finally:
        for process in processes:
            try:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=20)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                os.killpg(process.pid, signal.SIGKILL)
        connection.close()
        devstack.stop()


if __name__ == "__main__":
    main()
