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
import sys
import tempfile
import time
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parent.parent)  # run as a script: the project first, not bench/

from bench import stack  # noqa: E402


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=str(Path(tempfile.gettempdir()) / "dentaltap-access-bench"))
    parser.add_argument("--rounds", type=int, default=11)
    parser.add_argument("--requests", type=int, default=400)
    return parser.parse_args()


OPTIONS = arguments()
stack.stack_start(OPTIONS.data_dir, environ={"DJANGO_LOG_LEVEL": "ERROR"})

from django.conf import settings  # noqa: E402
from django.test import Client, override_settings  # noqa: E402

from bench.access_support import PRELOADED  # noqa: E402


def run(client: Client, count: int) -> float:
    started = time.perf_counter()
    for _ in range(count):
        response = client.get("/patients/")
        assert response.status_code == 200, response.status_code
    return count / (time.perf_counter() - started)


def main() -> None:
    from tenants.models import Membership

    stack.database_reset()
    owner, practice, with_client = stack.practice_client(
        "access-bench", patients=60, first_name="First{n}", last_name="Last{n:03d}"
    )
    PRELOADED["membership"] = Membership.objects.get(user=owner, practice=practice)

    without_middleware = [
        "bench.access_support.PreloadedMembershipMiddleware"
        if name == "tenants.middleware.PracticeAccessMiddleware"
        else name
        for name in settings.MIDDLEWARE
    ]
    without_client = Client(HTTP_HOST=f"{practice.slug}.{settings.BASE_DOMAIN}")
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
    stacks = {"with": with_layer, "without": without_layer}
    rates = stack.all_turns(list(stacks), OPTIONS.rounds, lambda way: stacks[way](OPTIONS.requests))
    ratios = [with_rate / without_rate for with_rate, without_rate in zip(rates["with"], rates["without"], strict=True)]
    title = "Patients page (25 rows, logged-in owner), requests/s in one process"
    print(stack.rates_table(title, "stack", {"with the access layer": rates["with"], "without it": rates["without"]}))
    print("\n" + stack.ratio_line("with/without", ratios, 0.9))
    stack.stack_stop()


if __name__ == "__main__":
    main()
