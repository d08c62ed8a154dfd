"""Growth-loop figures (issue 3), standalone: `.venv/bin/python bench/growth.py`.

- bulk invitation of 500 emails: time for the API to respond, and time until one Celery worker
  (a real subprocess on the real Redis broker) has emailed all 500 (file backend);
- referral signup: new user + own practice (a new schema) + referral + membership, median and
  p95 over N runs, through the services the pages call (link with guest-at-once, and invitation).

Uses its own data folder (embedded PostgreSQL and Redis) so it never touches a dev or test
database: DENTALTAP_DATA_DIR=/tmp/dentaltap-growth-bench unless set.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parent.parent)  # run as a script: the project first, not bench/

from bench import stack  # noqa: E402

ROOT = stack.PROJECT_DIR
DATA_DIR = os.environ.get("DENTALTAP_DATA_DIR", "/tmp/dentaltap-growth-bench")  # noqa: S108 - a scratch stack
# Many signups by one referrer in minutes: keep them eligible (the check still runs).
os.environ.setdefault("DENTALTAP_REFERRAL_VELOCITY_LIMIT_PER_DAY", "100000")
stack.stack_start(DATA_DIR)  # sent mail: <data dir>/mail

import logging  # noqa: E402

for name in ("tenants", "invitations", "referrals"):
    logging.getLogger(name).setLevel(logging.WARNING)

from django.test import Client  # noqa: E402
from django_tenants.utils import schema_context  # noqa: E402

from accounts.services import account_signup  # noqa: E402
from dentaltap.celery import app  # noqa: E402
from invitations import services as invitation_services  # noqa: E402
from invitations import tokens  # noqa: E402
from invitations.models import Invitation  # noqa: E402
from referrals import services as referral_services  # noqa: E402
from referrals.models import PracticeReferralSettings  # noqa: E402

BULK = int(os.environ.get("BENCH_BULK", "500"))
SIGNUPS = int(os.environ.get("BENCH_SIGNUPS", "20"))
PASSWORD = "molar-Crown-2026"  # noqa: S105 - throw-away bench accounts
RUN = str(int(time.time()))


def owner_practice(slug: str) -> tuple[object, object]:
    with schema_context("public"):
        return stack.practice_signup(
            slug, email=f"{slug}@bench.example", full_name=f"Dr. {slug}", practice_name=f"Bench {slug}"
        )


def start_worker() -> subprocess.Popen[bytes]:
    worker = subprocess.Popen(
        [str(ROOT / ".venv/bin/celery"), "-A", "dentaltap", "worker", "--pool=solo", "--concurrency=1",
         "--loglevel=WARNING", "--without-gossip", "--without-mingle", "--without-heartbeat"],
        cwd=ROOT,
        env={**os.environ},
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if app.control.ping(timeout=0.5):
            return worker
    worker.terminate()
    raise RuntimeError("the worker did not answer a ping within 60 s")


def bench_bulk_invitations() -> None:
    owner, practice = owner_practice(f"bulk-{RUN}")
    app.control.purge()
    worker = start_worker()
    try:
        client = Client(HTTP_HOST=f"{practice.slug}.dentaltap.localhost")  # type: ignore[attr-defined]
        client.force_login(owner)  # type: ignore[arg-type]
        emails = [f"colleague{number}@bench-{RUN}.example" for number in range(BULK)]
        started = time.perf_counter()
        response = client.post("/api/invitations/", {"emails": emails}, content_type="application/json")
        responded = time.perf_counter() - started
        assert response.status_code == 201, response.content
        assert len(response.json()["created"]) == BULK
        pending = Invitation.objects.filter(practice=practice)
        while pending.filter(sent_at__isnull=True).exists():
            if time.perf_counter() - started > 600:
                raise RuntimeError("emails not all sent after 600 s")
            time.sleep(0.05)
        all_sent = time.perf_counter() - started
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    print(f"bulk invitation of {BULK} emails: API responded in {responded * 1000:.0f} ms")
    print(f"  all {BULK} emails sent by one worker {all_sent:.2f} s after the request ({BULK / all_sent:.0f}/s)")


def bench_referral_signups() -> None:
    referrer, practice = owner_practice(f"ref-{RUN}")
    PracticeReferralSettings.objects.create(practice=practice, links_grant_guest_access=True)  # type: ignore[misc]
    code = referral_services.referral_code_get_or_create(user=referrer).code  # type: ignore[arg-type]
    link_times: list[float] = []
    for number in range(SIGNUPS):
        started = time.perf_counter()
        with schema_context("public"):
            result = account_signup(
                email=f"link{number}-{RUN}@example.com",
                password=PASSWORD,
                full_name="Dr. Newcomer",
                practice_name="Newcomer",
                practice_slug=f"l{number}-{RUN}",
                referral_code=code,
                referral_link_code=code,
            )
        link_times.append(time.perf_counter() - started)
        assert result.referral is not None and result.guest_membership is not None

    invitation_times: list[float] = []
    batch = invitation_services.invitation_create_many(
        practice=practice,  # type: ignore[arg-type]
        invited_by=referrer,  # type: ignore[arg-type]
        emails=[f"inv{number}-{RUN}@example.com" for number in range(SIGNUPS)],
    )
    for number, invitation in enumerate(batch.created):
        token = tokens.token_new()
        Invitation.objects.filter(pk=invitation.pk).update(token_hash=tokens.token_hash(token))
        started = time.perf_counter()
        with schema_context("public"):
            account_signup(
                email=None,
                invitation_token=token,
                password=PASSWORD,
                full_name="Dr. Invited",
                practice_name="Invited",
                practice_slug=f"i{number}-{RUN}",
            )
        invitation_times.append(time.perf_counter() - started)

    for label, times in (("referral link", link_times), ("invitation", invitation_times)):
        print(
            f"referral signup via {label} (user + own practice + referral + membership), n={len(times)}: "
            f"median {statistics.median(times) * 1000:.0f} ms, p95 {stack.percentile_nearest(times, 0.95) * 1000:.0f} ms"
        )


def main() -> None:
    with schema_context("public"):
        stack.database_migrate()
    app.control.purge()
    print(f"data: {DATA_DIR}; {os.cpu_count()} CPUs")
    bench_bulk_invitations()
    bench_referral_signups()


if __name__ == "__main__":
    main()
