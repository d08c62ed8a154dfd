"""Translation must not cost: the same pages rendered in Russian and in English, in one run.

    .venv/bin/python bench/i18n.py               # 200 rounds per page
    .venv/bin/python bench/i18n.py --runs 500

Runs against its own embedded PostgreSQL and Redis (DENTALTAP_DATA_DIR, default
/tmp/dentaltap-i18n-bench), never the dev or test data. One practice is signed up through the real
service and given 50 patients and 50 appointments; then whole HTTP requests go through Django's
test Client (middleware, session, templates, formatting) for the practice's appointment list and
patient list, alternating Russian and English request by request (so both see the same machine
load), after warm-ups. The owner's stored language is switched between the two, as the
switcher would. Prints the medians and the ratio English / Russian (goal: at least 0.95, i.e. a
Russian page costs at most about 5% more). The catalogues must be compiled first
(`python -m dentaltap.catalogues compile`; the run and test commands do it).

Stop the bench servers afterwards:
    DENTALTAP_DATA_DIR=/tmp/dentaltap-i18n-bench .venv/bin/python -m dentaltap.devstack stop
"""

from __future__ import annotations

import argparse
import datetime
import functools
import os
import statistics
import sys
import time
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parent.parent)  # run as a script: the project first, not bench/

from bench import stack  # noqa: E402

DEFAULT_DATA_DIR = "/tmp/dentaltap-i18n-bench"  # noqa: S108 - the bench's own throw-away servers
GOAL = 0.95


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=200, help="timed requests per page and language")
    parser.add_argument("--data-dir", default=os.environ.get("DENTALTAP_DATA_DIR", DEFAULT_DATA_DIR))
    arguments = parser.parse_args(argv)
    stack.stack_start(arguments.data_dir)

    from django.conf import settings
    from django.utils import timezone, translation
    from django_tenants.utils import tenant_context

    from practice.models import Appointment, Patient
    from tenants.models import User

    for language in ("ru", "de"):
        compiled = stack.PROJECT_DIR / "locale" / language / "LC_MESSAGES" / "django.mo"
        if not compiled.exists():
            print(f"{compiled} is missing: run `python -m dentaltap.catalogues compile` first", file=sys.stderr)
            return 2
    with translation.override("ru"):
        if translation.gettext("Patients") == "Patients":
            print("The Russian catalogue does not translate 'Patients': nothing would be measured", file=sys.stderr)
            return 2

    settings.ALLOWED_HOSTS = ["*"]
    print(f"Resetting the bench database in {os.environ['DENTALTAP_DATA_DIR']} ...", flush=True)
    stack.database_reset()
    owner, practice, client = stack.practice_client("i18nbench")
    start = timezone.now().replace(minute=0, second=0, microsecond=0) + datetime.timedelta(days=1)
    with tenant_context(practice):
        patients = Patient.objects.bulk_create(
            Patient(first_name=f"Patient{n}", last_name=f"Number{n}", date_of_birth=datetime.date(1980, 1, 1 + n % 28))
            for n in range(50)
        )
        Appointment.objects.bulk_create(
            Appointment(
                patient=patients[n],
                starts_at=start + datetime.timedelta(hours=n),
                ends_at=start + datetime.timedelta(hours=n, minutes=30),
                reason="Check-up",
            )
            for n in range(50)
        )

    pages = ["/appointments/", "/patients/"]
    marker = {"ru": "Пациенты", "en": "Patients"}

    def get(path: str, language: str) -> float:
        User.objects.filter(pk=owner.pk).update(language=language)  # what the switcher stores
        started = time.perf_counter()
        response = client.get(path)
        elapsed = time.perf_counter() - started
        assert response.status_code == 200, (path, response.status_code)
        assert response.headers["Content-Language"] == language
        assert marker[language] in response.content.decode()
        return elapsed

    rows = []
    ratios = []
    for path in pages:
        for _warm_up in range(10):
            get(path, "ru")
            get(path, "en")
        samples = stack.all_turns(["ru", "en"], arguments.runs, functools.partial(get, path))
        ru, en = stack.summary_ms(samples["ru"]), stack.summary_ms(samples["en"])
        ratio = statistics.median(samples["en"]) / statistics.median(samples["ru"])
        ratios.append(ratio)
        rows.append((path, "ru", ru["samples"], ru["median_ms"], ru["p95_ms"], ""))
        rows.append((path, "en", en["samples"], en["median_ms"], en["p95_ms"], f"{ratio:.3f}"))
    print()
    print(
        stack.table(
            "A practice page in Russian vs English (whole requests, same run)",
            ["page", "language", "runs", "median ms", "p95 ms", "en/ru median"],
            rows,
        )
    )
    worst = min(ratios)
    verdict = "meets" if worst >= GOAL else "MISSES"
    print(f"\nLowest ratio English/Russian: {worst:.3f} ({verdict} the goal of >= {GOAL})")
    return 0 if worst >= GOAL else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
