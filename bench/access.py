"""Issue 4's figure: the cost of the access layer on a practice page.

    .venv/bin/python bench/access.py [--rounds 11] [--requests 400]

Requests/s of the real patients page (25 patients rendered, logged in as the owner) in one
process, through Django's full request handling:

  with      the app as it runs: PracticeAccessMiddleware reads the membership fresh on every
            request (one indexed query; the last-active write happens at most every 5 minutes),
            and the view's permission decorator checks "view patients".
  without   the same stack minus PracticeAccessMiddleware, and the same view without its
            decorator; a bench middleware hands the view the owner's membership from memory,
            so the page renders exactly the same.

The two take turns in every round (the first one alternates); the figure is the median of the
per-round ratios with/without (goal >= 0.9), so drift on a busy 2-core machine hits both alike.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=str(Path(tempfile.gettempdir()) / "dentaltap-access-bench"))
    parser.add_argument("--rounds", type=int, default=11)
    parser.add_argument("--requests", type=int, default=400)
    return parser.parse_args()


OPTIONS = arguments()
os.environ["DENTALTAP_DATA_DIR"] = OPTIONS.data_dir
os.environ.pop("DATABASE_URL", None)
os.environ.pop("REDIS_URL", None)
os.environ["DJANGO_SETTINGS_MODULE"] = "dentaltap.settings.local"
os.environ["DJANGO_LOG_LEVEL"] = "ERROR"
Path(OPTIONS.data_dir).mkdir(parents=True, exist_ok=True)
sys.path.insert(0, str(PROJECT_DIR))

import django  # noqa: E402

from dentaltap import devstack  # noqa: E402

devstack.ensure_environment()  # the bench's own PostgreSQL and Redis (settings start nothing)
django.setup()

from django.conf import settings  # noqa: E402
from django.test import Client, override_settings  # noqa: E402

from bench.access_support import PRELOADED  # noqa: E402
from bench.stack import database_reset, practice_signup, table  # noqa: E402
from dentaltap import devstack  # noqa: E402


def run(client: Client, count: int) -> float:
    started = time.perf_counter()
    for _ in range(count):
        response = client.get("/patients/")
        assert response.status_code == 200, response.status_code
    return count / (time.perf_counter() - started)


def main() -> None:
    from django_tenants.utils import tenant_context

    from practice.models import Patient
    from tenants.models import Membership

    database_reset()
    owner, practice = practice_signup("access-bench")
    with tenant_context(practice):
        Patient.objects.bulk_create([Patient(first_name=f"First{n}", last_name=f"Last{n:03d}") for n in range(60)])
    PRELOADED["membership"] = Membership.objects.get(user=owner, practice=practice)

    host = f"{practice.slug}.{settings.BASE_DOMAIN}"
    with_client = Client(HTTP_HOST=host)
    with_client.force_login(owner)
    without_middleware = [
        "bench.access_support.PreloadedMembershipMiddleware"
        if name == "tenants.middleware.PracticeAccessMiddleware"
        else name
        for name in settings.MIDDLEWARE
    ]
    without_client = Client(HTTP_HOST=host)
    without_client.cookies = with_client.cookies

    def with_layer(count: int) -> float:
        return run(with_client, count)

    def without_layer(count: int) -> float:
        with override_settings(MIDDLEWARE=without_middleware, ROOT_URLCONF="bench.access_support"):
            from django.urls import clear_url_caches

            clear_url_caches()
            try:
                return run(without_client, count)
            finally:
                clear_url_caches()

    with_layer(100)
    without_layer(100)
    rounds: list[tuple[float, float]] = []
    for index in range(OPTIONS.rounds):
        if index % 2 == 0:
            first, second = with_layer(OPTIONS.requests), without_layer(OPTIONS.requests)
            rounds.append((first, second))
        else:
            second, first = without_layer(OPTIONS.requests), with_layer(OPTIONS.requests)
            rounds.append((first, second))
    ratios = [with_rate / without_rate for with_rate, without_rate in rounds]
    rows = [
        ["with the access layer", f"{statistics.median(r[0] for r in rounds):.0f}", f"{max(r[0] for r in rounds):.0f}"],
        ["without it", f"{statistics.median(r[1] for r in rounds):.0f}", f"{max(r[1] for r in rounds):.0f}"],
    ]
    print(
        table("Patients page (25 rows, logged-in owner), requests/s in one process", ["stack", "median", "best"], rows)
    )
    print(f"\nratio with/without: median of {len(ratios)} rounds {statistics.median(ratios):.3f} "
          f"(min {min(ratios):.3f}, max {max(ratios):.3f}); goal >= 0.9")  # fmt: skip
    devstack.stop()


if __name__ == "__main__":
    main()
