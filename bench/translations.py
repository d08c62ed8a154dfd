"""Issue 13's figure: a page rendered in Russian costs what it costs in English.

    .venv/bin/python bench/translations.py [--rounds 11] [--requests 400]

Requests/s of the real patients page (25 patients rendered, logged in as the owner) in one
process, through Django's full request handling (LocaleMiddleware included), with
`Accept-Language: ru` and with `Accept-Language: en`, from the compiled catalogues. Within every
round the two are interleaved in batches of 10 requests (the order alternating), so drift on a
busy machine hits both alike; the figure is the median of the per-round ratios ru/en (goal
>= 0.95).
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
    parser.add_argument("--data-dir", default=str(Path(tempfile.gettempdir()) / "dentaltap-translations-bench"))
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

from dentaltap import catalogues  # noqa: E402

catalogues.compile_catalogues()

import django  # noqa: E402

from dentaltap import devstack  # noqa: E402

devstack.ensure_environment()  # the bench's own PostgreSQL and Redis (settings start nothing)
django.setup()

from django.conf import settings  # noqa: E402
from django.test import Client  # noqa: E402

from bench.stack import database_reset, practice_signup, table  # noqa: E402

MARKERS = {"en": "New patient", "ru": "Новый пациент"}


def timed(client: Client, language: str, count: int) -> float:
    """Seconds for `count` requests of the page in `language`."""
    started = time.perf_counter()
    for _ in range(count):
        response = client.get("/patients/", HTTP_ACCEPT_LANGUAGE=language)
        assert response.status_code == 200, response.status_code
    elapsed = time.perf_counter() - started
    assert MARKERS[language] in response.content.decode(), f"the last {language} page is not in {language}"
    return elapsed


def one_round(client: Client, requests: int, batch: int = 10) -> tuple[float, float]:
    """Requests/s in Russian and in English, the two interleaved in small batches (the order
    alternating), so a neighbour's load on the machine falls on both alike."""
    seconds = {"ru": 0.0, "en": 0.0}
    for index in range(max(1, requests // batch)):
        order = ("ru", "en") if index % 2 == 0 else ("en", "ru")
        for language in order:
            seconds[language] += timed(client, language, batch)
    done = max(1, requests // batch) * batch
    return done / seconds["ru"], done / seconds["en"]


def main() -> None:
    from django_tenants.utils import tenant_context

    from practice.models import Patient

    database_reset()
    owner, practice = practice_signup("translations-bench")
    with tenant_context(practice):
        Patient.objects.bulk_create([Patient(first_name=f"First{n}", last_name=f"Last{n:03d}") for n in range(60)])
    client = Client(HTTP_HOST=f"{practice.slug}.{settings.BASE_DOMAIN}")
    client.force_login(owner)

    one_round(client, 100)
    rounds = [one_round(client, OPTIONS.requests) for _ in range(OPTIONS.rounds)]
    ratios = [russian / english for russian, english in rounds]
    rows = [
        [
            "Russian (Accept-Language: ru)",
            f"{statistics.median(r[0] for r in rounds):.0f}",
            f"{max(r[0] for r in rounds):.0f}",
        ],
        [
            "English (Accept-Language: en)",
            f"{statistics.median(r[1] for r in rounds):.0f}",
            f"{max(r[1] for r in rounds):.0f}",
        ],
    ]
    print(
        table(
            "Patients page (25 rows, logged-in owner), requests/s in one process", ["language", "median", "best"], rows
        )
    )
    print(f"\nratio ru/en: median of {len(ratios)} rounds {statistics.median(ratios):.3f} "
          f"(min {min(ratios):.3f}, max {max(ratios):.3f}); goal >= 0.95")  # fmt: skip
    devstack.stop()


if __name__ == "__main__":
    main()
