"""The Russian and German catalogues: complete for every marked string, and working.

The completeness test re-extracts the marked strings the way `python -m dentaltap.catalogues
update` does, in a copy of the project (the real locale folder is never written), and fails
naming every msgid that lacks a translation, is fuzzy, loses a placeholder, or (Russian) misses a
plural form: a new string cannot ship untranslated. The others check that the compiled catalogues
are what Django serves: Accept-Language ru / de gets Russian / German pages and API errors, and
no header gets English."""

from __future__ import annotations

import gettext
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import polib
import pytest
from django.test import Client, RequestFactory
from django.utils import translation
from django.views.defaults import server_error

from dentaltap import catalogues
from tests.conftest import BASE

ROOT = Path(__file__).resolve().parents[2]
# What a copy of the project for makemessages leaves out: what it ignores anyway, and what is
# large or not source (the virtualenv, the data folder, caches, compiled catalogues).
COPY_IGNORED = {".git", ".venv", ".data", ".mypy_cache", ".ruff_cache", ".pytest_cache", "__pycache__"}
COPY_IGNORED |= {"tests", "bench", "docs", "staticfiles", "tmp", "node_modules"}


def _copy_ignore(folder: str, names: list[str]) -> set[str]:
    return {name for name in names if name in COPY_IGNORED or name.endswith((".mo", ".pyc"))}


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_every_marked_string_has_a_complete_russian_and_german_translation(tmp_path: Path) -> None:
    if message := catalogues.gettext_missing_message():
        pytest.fail(message, pytrace=False)
    real = {language: catalogues.catalogue_path(language) for language in catalogues.LANGUAGES}
    before = {language: _digest(path) for language, path in real.items()}
    copy = tmp_path / "project"
    shutil.copytree(ROOT, copy, ignore=_copy_ignore, symlinks=True)
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    result = subprocess.run(
        [sys.executable, "-m", "dentaltap.catalogues", "update"],
        cwd=copy,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    problems = [
        problem
        for language in catalogues.LANGUAGES
        for problem in catalogues.catalogue_problems(catalogues.catalogue_path(language, project_dir=copy), language)
    ]
    assert not problems, (
        f"{len(problems)} catalogue entries to fix (run `python -m dentaltap.catalogues update`, translate "
        "them in locale/<language>/LC_MESSAGES/django.po following locale/GLOSSARY.md, then `... compile`):\n"
        + "\n".join(str(problem) for problem in problems)
    )
    # Extracted from the copy's own code, and the same entries as the committed catalogues.
    for language, path in real.items():
        extracted = polib.pofile(str(catalogues.catalogue_path(language, project_dir=copy)))
        committed = polib.pofile(str(path))
        assert {(e.msgctxt, e.msgid) for e in extracted} == {(e.msgctxt, e.msgid) for e in committed}
        assert len(extracted) > 700
    assert {language: _digest(path) for language, path in real.items()} == before, "the real catalogues changed"


def _catalogue(tmp_path: Path, language: str, entries: list[polib.POEntry]) -> Path:
    catalogue = polib.POFile()
    catalogue.metadata = {
        "Content-Type": "text/plain; charset=UTF-8",
        "Plural-Forms": catalogues.PLURAL_FORMS[language],
    }
    for entry in entries:
        catalogue.append(entry)
    path = tmp_path / f"{language}.po"
    catalogue.save(str(path))
    return path


def test_the_check_names_each_kind_of_problem_with_its_file(tmp_path: Path) -> None:
    where = [("practice/views.py", "")]
    entries = [
        polib.POEntry(msgid="Patients", msgstr="Пациенты", occurrences=where),
        polib.POEntry(msgid="Appointments", msgstr="", occurrences=where),
        polib.POEntry(msgid="Visit", msgstr="Визит", flags=["fuzzy"], occurrences=where),
        polib.POEntry(msgid="Hello %(name)s", msgstr="Здравствуйте, %(nom)s", occurrences=where),
        polib.POEntry(msgid="Join as <strong>%(role)s</strong>", msgstr="Роль: %(role)s", occurrences=where),
        polib.POEntry(msgid="Start free: {link}", msgstr="Начните бесплатно", occurrences=where),
        polib.POEntry(msgid="50%%", msgstr="50 %%", occurrences=where),
        polib.POEntry(msgid="1% is 100", msgstr="1 % — это 100", flags=["no-python-format"], occurrences=where),
        polib.POEntry(
            msgid="%(count)d patient",
            msgid_plural="%(count)d patients",
            msgstr_plural={0: "%(count)d пациент", 1: "%(count)d пациента", 2: ""},
            occurrences=[("practice/templates/practice/dashboard.html", "")],
        ),
        polib.POEntry(
            msgid="%(count)d visit",
            msgid_plural="%(count)d visits",
            msgstr_plural={0: "%(count)d визит", 1: "%(count)d визита", 2: "визитов"},
            occurrences=where,
        ),
    ]
    problems = catalogues.catalogue_problems(_catalogue(tmp_path, "ru", entries), "ru")
    found = {problem.msgid: problem.reason for problem in problems}
    assert set(found) == {
        "Appointments",
        "Visit",
        "Hello %(name)s",
        "Join as <strong>%(role)s</strong>",
        "Start free: {link}",
        "%(count)d patient",
        "%(count)d visit",
    }
    assert found["Appointments"] == "not translated"
    assert found["Visit"].startswith("fuzzy")
    assert "%(nom)s" in found["Hello %(name)s"]
    assert "plural forms [2] missing" in found["%(count)d patient"]
    assert "plural form 2" in found["%(count)d visit"]
    shown = "\n".join(str(problem) for problem in problems)
    assert "practice/templates/practice/dashboard.html" in shown and "[ru]" in shown

    # German: two forms, and the singular may say "one" without the number.
    german = [
        polib.POEntry(
            msgid="%(count)d patient",
            msgid_plural="%(count)d patients",
            msgstr_plural={0: "ein Patient", 1: "%(count)d Patienten"},
        )
    ]
    path = _catalogue(tmp_path, "de", german)
    problems = catalogues.catalogue_problems(path, "de")
    assert [problem.msgid for problem in problems] == ["%(count)d patient"]  # "ein Patient" drops the number
    german[0].msgstr_plural = {0: "%(count)d Patient", 1: "%(count)d Patienten"}
    assert catalogues.catalogue_problems(_catalogue(tmp_path, "de", german), "de") == []


def test_a_catalogue_without_the_russian_plural_rule_is_a_problem(tmp_path: Path) -> None:
    catalogue = polib.POFile()
    catalogue.metadata = {"Plural-Forms": "nplurals=2; plural=(n != 1);"}
    path = tmp_path / "ru.po"
    catalogue.save(str(path))
    assert [problem.reason.split(" must")[0] for problem in catalogues.catalogue_problems(path, "ru")] == [
        "Plural-Forms header"
    ]


def test_the_compiled_catalogues_translate_with_russian_plural_forms(tmp_path: Path) -> None:
    copy = tmp_path / "project"
    shutil.copytree(ROOT / "locale", copy / "locale", ignore=_copy_ignore)
    written = catalogues.compile_catalogues(project_dir=copy)
    assert sorted(path.relative_to(copy).as_posix() for path in written) == [
        "locale/de/LC_MESSAGES/django.mo",
        "locale/ru/LC_MESSAGES/django.mo",
    ]
    assert catalogues.compile_catalogues(project_dir=copy) == []  # up to date: nothing rewritten
    with (copy / "locale/ru/LC_MESSAGES/django.mo").open("rb") as handle:
        russian = gettext.GNUTranslations(handle)
    assert russian.gettext("Patients") == "Пациенты"
    forms = [
        russian.ngettext("%(count)d event queued.", "%(count)d events queued.", n) % {"count": n}
        for n in (1, 3, 5, 11, 21)
    ]
    assert forms == [
        "1 событие поставлено в очередь.",
        "3 события поставлены в очередь.",
        "5 событий поставлено в очередь.",
        "11 событий поставлено в очередь.",
        "21 событие поставлено в очередь.",
    ]
    with (copy / "locale/de/LC_MESSAGES/django.mo").open("rb") as handle:
        german = gettext.GNUTranslations(handle)
    assert german.gettext("Appointments") == "Termine"


def test_the_catalogues_django_serves_are_compiled_from_the_current_po_files() -> None:
    for language in catalogues.LANGUAGES:
        po_path = catalogues.catalogue_path(language)
        mo_path = po_path.with_suffix(".mo")
        assert mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime, (
            f"{mo_path} is missing or older than its .po: run `python -m dentaltap.catalogues compile` "
            "(scripts/test.sh and scripts/run.sh do)"
        )
    with translation.override("ru"):
        assert translation.gettext("Patients") == "Пациенты"
        assert (
            translation.pgettext("money with a currency symbol", "%(symbol)s%(amount)s") == "%(amount)s\u00a0%(symbol)s"
        )
        assert [
            translation.ngettext("Up to %(counter)s patient", "Up to %(counter)s patients", n) for n in (1, 2, 5)
        ] == ["До %(counter)s пациента", "До %(counter)s пациентов", "До %(counter)s пациентов"]
    with translation.override("de"):
        assert translation.gettext("Appointments") == "Termine"
        assert translation.gettext("Log in") == "Anmelden"
    assert translation.gettext("Patients") == "Patients"


def _text(response: Any) -> str:
    return response.content.decode()


@pytest.mark.django_db
@pytest.mark.practice_rows_only
def test_pages_follow_accept_language_and_stay_english_without_it(public_tenant: Any, practice_a: Any) -> None:
    owner, _practice = practice_a
    english = Client(HTTP_HOST=BASE).get("/login/")
    assert english.status_code == 200 and 'lang="en"' in _text(english) and "Log in" in _text(english)

    russian = Client(HTTP_HOST=BASE, HTTP_ACCEPT_LANGUAGE="ru-RU,ru;q=0.9,en;q=0.5").get("/login/")
    assert 'lang="ru"' in _text(russian) and "Войти" in _text(russian) and "Забыли пароль?" in _text(russian)
    assert "Forgot your password?" not in _text(russian)
    assert russian["Content-Language"] == "ru"

    german = Client(HTTP_HOST=BASE, HTTP_ACCEPT_LANGUAGE="de-DE,de;q=0.9")
    german.force_login(owner)
    practices = german.get("/practices/")
    assert practices.status_code == 200
    assert "Meine Praxen" in _text(practices) and "My practices" not in _text(practices)

    # A language DentalTap does not speak falls back to English.
    french = Client(HTTP_HOST=BASE, HTTP_ACCEPT_LANGUAGE="fr-FR,fr;q=0.9").get("/login/")
    assert 'lang="en"' in _text(french) and "Log in" in _text(french)


@pytest.mark.django_db
@pytest.mark.practice_rows_only
def test_api_errors_follow_accept_language(public_tenant: Any, practice_a: Any, client_for: Any) -> None:
    owner, practice = practice_a
    for language, message in (
        ("ru", "По этому адресу нет конечной точки API."),
        ("de", "Unter dieser Adresse gibt es keinen API-Endpunkt."),
        ("", "There is no API endpoint at this address."),
    ):
        extra = {"HTTP_ACCEPT_LANGUAGE": language} if language else {}
        response = client_for(owner, practice, **extra).get("/api/no-such-endpoint/", HTTP_ACCEPT="application/json")
        assert response.status_code == 404
        assert response.json()["error"]["message"] == message


@pytest.mark.browser
def test_chromium_gets_english_by_default_and_russian_when_it_asks(browser: Any) -> None:
    from tests.browser_support import base_url

    english = browser.new_page()
    english.goto(f"{base_url()}/login/")
    assert english.locator("html").get_attribute("lang") == "en"
    assert english.get_by_role("button", name="Log in").is_visible()

    russian = browser.new_context(locale="ru-RU").new_page()
    russian.goto(f"{base_url()}/login/")
    assert russian.locator("html").get_attribute("lang") == "ru"
    assert russian.get_by_role("button", name="Войти").is_visible()
    assert "Forgot your password?" not in russian.locator("body").inner_text()


@pytest.mark.parametrize(
    ("language", "heading"),
    [("en", "Something went wrong on our side"), ("ru", "что-то пошло не так"), ("de", "Bei uns ist etwas")],
)
def test_the_server_error_page_speaks_the_visitors_language(language: str, heading: str) -> None:
    """Django renders 500.html with no context, in the language the request was in (the locale
    middleware has activated it by the time a view fails)."""
    with translation.override(language):
        response = server_error(RequestFactory().get("/"))
    page = response.content.decode()
    assert response.status_code == 500 and heading in page and f'lang="{language}"' in page
