"""Issue 13's figure: a page rendered in Russian costs what it costs in English.

    .venv/bin/python bench/translations.py [--rounds 11] [--requests 400]

Requests/s of the real patients page (25 patients rendered, logged in as the owner) in one
process, through Django's full request handling (LocaleMiddleware included), with
`Accept-Language: ru` and with `Accept-Language: en` (the owner's stored language switched to
match before each batch, untimed: a signed-in user's stored language wins over the header), from
the compiled catalogues. Within every
round the two are interleaved in batches of 10 requests (the order alternating), so drift on a
busy machine hits both alike; the figure is the median of the per-round ratios ru/en (goal
>= 0.95).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parent.parent)  # run as a script: the project first, not bench/

from bench import stack  # noqa: E402
from dentaltap import catalogues  # noqa: E402


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=str(Path(tempfile.gettempdir()) / "dentaltap-translations-bench"))
    parser.add_argument("--rounds", type=int, default=11)
    parser.add_argument("--requests", type=int, default=400)
    return parser.parse_args()


OPTIONS = arguments()
catalogues.compile_catalogues()
stack.stack_start(OPTIONS.data_dir, environ={"DJANGO_LOG_LEVEL": "ERROR"})

from django.test import Client  # noqa: E402

MARKERS = {"en": "New patient", "ru": "Новый пациент"}


def timed(client: Client, owner_id: int, language: str, count: int) -> float:
    """Seconds for `count` requests of the page in `language`. A signed-in user's stored language
    wins over Accept-Language (tenants/languages.py), so the owner's is switched first, untimed,
    as the switcher would (i18n.py does the same); the header says the same language."""
    from tenants.models import User

    User.objects.filter(pk=owner_id).update(language=language)
    started = time.perf_counter()
    for _ in range(count):
        response = client.get("/patients/", HTTP_ACCEPT_LANGUAGE=language)
        assert response.status_code == 200, response.status_code
    elapsed = time.perf_counter() - started
    assert MARKERS[language] in response.content.decode(), f"the last {language} page is not in {language}"
    return elapsed


def one_round(client: Client, owner_id: int, requests: int, batch: int = 10) -> tuple[float, float]:
    """Requests/s in Russian and in English, the two interleaved in small batches (the order
    alternating), so a neighbour's load on the machine falls on both alike."""
    batches = max(1, requests // batch)
    seconds = stack.all_turns(["ru", "en"], batches, lambda language: timed(client, owner_id, language, batch))
    done = batches * batch
    return done / sum(seconds["ru"], 0.0), done / sum(seconds["en"], 0.0)


def main() -> None:
    stack.database_reset()
    owner, _practice, client = stack.practice_client(
        "translations-bench", patients=60, first_name="First{n}", last_name="Last{n:03d}"
    )

    one_round(client, owner.pk, 100)
    rounds = [one_round(client, owner.pk, OPTIONS.requests) for _ in range(OPTIONS.rounds)]
    ratios = [russian / english for russian, english in rounds]
    title = "Patients page (25 rows, logged-in owner), requests/s in one process"
    rates = {
        "Russian (Accept-Language: ru)": [russian for russian, _english in rounds],
        "English (Accept-Language: en)": [english for _russian, english in rounds],
    }
    print(stack.rates_table(title, "language", rates))
    print("\n" + stack.ratio_line("ru/en", ratios, 0.95))
    stack.stack_stop()


if __name__ == "__main__":
    main()
