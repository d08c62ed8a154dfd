"""The translation catalogues: `locale/<language>/LC_MESSAGES/django.po`, one per language.

    python -m dentaltap.catalogues update   # re-extract every marked string, keep the translations
    python -m dentaltap.catalogues compile  # .po -> .mo (pure Python: nothing from apt)
    python -m dentaltap.catalogues check    # list untranslated, fuzzy and mismatched entries

`update` runs Django's makemessages for every translated language over the whole project (apps,
templates, email templates), which needs GNU gettext's xgettext and msgmerge; it keeps the
translations already written (msgmerge) and drops entries whose string is gone. `compile` turns
the .po files into the .mo files Django reads, with polib, so a fresh machine or the Docker image
needs no apt package; the run and test commands and the image call it (the .mo files are build
output, not committed). `check` is what tests/project/test_translations.py asserts on.

No JavaScript catalogue (djangojs.po): the one script that shows text
(referrals/static/referrals/dashboard.js) takes every word from data attributes the server
renders translated.

This module must stay importable without Django configured: the run and test commands and the
Docker build call `compile` before any settings exist.
"""

from __future__ import annotations

import dataclasses
import datetime
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
LOCALE_DIRNAME = "locale"
# Every language but the source one (English, as the msgids are written).
LANGUAGES = ("ru", "de")
# makemessages also skips dot-folders (.venv, .data, .git) on its own.
IGNORED = ("bench", "tests", "docs", "staticfiles", "tmp", "node_modules", "locale", "docker")

# The standard headers: Russian has three plural forms (1, 21 -> 0; 2-4, 22-24 -> 1; the rest,
# 11-14 included -> 2), German two.
PLURAL_FORMS = {
    "ru": "nplurals=3; plural=(n%10==1 && n%100!=11 ? 0 : n%10>=2 && n%10<=4 && (n%100<10 || n%100>=20) ? 1 : 2);",
    "de": "nplurals=2; plural=(n != 1);",
}
LANGUAGE_TEAMS = {"ru": "Russian", "de": "German"}

# Placeholders that must survive translation exactly: %(name)s, %s / %d, {name} / {}, HTML tags.
_PERCENT = re.compile(r"%(?:\([^)]+\))?[-#0 +]*\d*(?:\.\d+)?[sdifrxXeEgGc]")
_BRACES = re.compile(r"(?<!\{)\{[A-Za-z_][A-Za-z0-9_]*(?:[.:!][^{}]*)?\}|\{\}(?!\})")
_TAG = re.compile(r"</?([A-Za-z][A-Za-z0-9]*)\b[^>]*>")


def _text_placeholders(text: str, *, percent: bool = True) -> Counter[str]:
    """The placeholders of a text, counted: positional ones (%s, {}) and tags by number, named
    ones (%(name)s, {name}) once, as a translation may name a value once or twice. `percent`
    False: a text marked no-python-format, whose percent signs are plain ("1% is 100")."""
    without_escapes = text.replace("%%", "")
    found: Counter[str] = Counter()
    for placeholder in (_PERCENT.findall(without_escapes) if percent else []) + _BRACES.findall(text):
        is_named = placeholder.startswith(("%(", "{")) and placeholder != "{}"
        found[placeholder] = 1 if is_named else found[placeholder] + 1
    found.update(f"<{name.lower()}>" for name in _TAG.findall(text))
    return found


@dataclasses.dataclass(frozen=True)
class Problem:
    language: str
    msgid: str
    files: tuple[str, ...]
    reason: str

    def __str__(self) -> str:
        where = ", ".join(self.files) or "?"
        return f"[{self.language}] {self.reason}: {self.msgid!r} ({where})"


def _entry_problems(entry: object, language: str) -> Iterable[str]:
    # polib's entries (typed loosely: polib has no type information).
    percent = "no-python-format" not in entry.flags  # type: ignore[attr-defined]

    def _placeholders(text: str) -> Counter[str]:
        return _text_placeholders(text, percent=percent)

    msgid: str = entry.msgid  # type: ignore[attr-defined]
    msgid_plural: str = entry.msgid_plural  # type: ignore[attr-defined]
    if "fuzzy" in entry.flags:  # type: ignore[attr-defined]
        yield "fuzzy (a guess by msgmerge: check it and remove the flag)"
    if not msgid_plural:
        msgstr: str = entry.msgstr  # type: ignore[attr-defined]
        if not msgstr.strip():
            yield "not translated"
        elif _placeholders(msgstr) != _placeholders(msgid):
            in_msgid, in_translation = sorted(_placeholders(msgid)), sorted(_placeholders(msgstr))
            yield f"placeholders differ: {in_msgid} in the msgid, {in_translation} in the translation"
        return
    forms: dict[int, str] = entry.msgstr_plural  # type: ignore[attr-defined]
    expected = int(PLURAL_FORMS[language].split(";")[0].split("=")[1])
    missing = [index for index in range(expected) if not forms.get(index, "").strip()]
    if missing:
        yield f"plural forms {missing} missing ({expected} needed)"
        return
    plural = _placeholders(msgid_plural)
    for index in range(expected):
        found = _placeholders(forms[index])
        # German's singular form is only for n == 1 and may say "one" instead of the number; every
        # Russian form also serves numbers (21, 22, 25), so each keeps the plural's placeholders.
        allowed = (found == plural) or (language != "ru" and index == 0 and found == _placeholders(msgid))
        if not allowed:
            yield f"placeholders differ in plural form {index}: {sorted(plural)} expected, {sorted(found)} found"


def catalogue_problems(po_path: Path, language: str) -> list[Problem]:
    """Everything that keeps a catalogue from being complete: untranslated, fuzzy or mismatched
    entries, a Russian plural entry short of a form, a wrong Plural-Forms header."""
    import polib  # noqa: PLC0415 - only the commands that read catalogues need it

    if not po_path.exists():
        return [Problem(language, "", (str(po_path),), "catalogue missing")]
    catalogue = polib.pofile(str(po_path), wrapwidth=0)
    problems = []
    if catalogue.metadata.get("Plural-Forms", "").replace(" ", "") != PLURAL_FORMS[language].replace(" ", ""):
        problems.append(
            Problem(language, "", (str(po_path),), f"Plural-Forms header must be {PLURAL_FORMS[language]!r}")
        )
    for entry in catalogue:
        if entry.obsolete:
            continue
        files = tuple(dict.fromkeys(path for path, _line in entry.occurrences))
        problems.extend(Problem(language, entry.msgid, files, reason) for reason in _entry_problems(entry, language))
    return problems


def catalogue_path(language: str, *, project_dir: Path = PROJECT_DIR, domain: str = "django") -> Path:
    return project_dir / LOCALE_DIRNAME / language / "LC_MESSAGES" / f"{domain}.po"


def _normalise_header(po_path: Path, language: str) -> None:
    """The language's own header, whatever makemessages wrote: a new catalogue carries xgettext's
    template (fuzzy, no plural rule), and every run stamps a fresh POT-Creation-Date, a line that
    would change (and conflict between branches) on every update without saying anything."""
    import polib  # noqa: PLC0415

    catalogue = polib.pofile(str(po_path), wrapwidth=0)
    catalogue.header = f"DentalTap's {LANGUAGE_TEAMS[language]} catalogue. Terms: locale/GLOSSARY.md."
    kept = {key: catalogue.metadata.get(key, "") for key in ("PO-Revision-Date", "Last-Translator")}
    if not kept["PO-Revision-Date"] or kept["PO-Revision-Date"].startswith("YEAR"):
        kept["PO-Revision-Date"] = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M+0000")
    if not kept["Last-Translator"] or kept["Last-Translator"].startswith("FULL NAME"):
        kept["Last-Translator"] = "DentalTap"
    catalogue.metadata = {
        "Project-Id-Version": "DentalTap",
        **kept,
        "Language": language,
        "Language-Team": LANGUAGE_TEAMS[language],
        "MIME-Version": "1.0",
        "Content-Type": "text/plain; charset=UTF-8",
        "Content-Transfer-Encoding": "8bit",
        "Plural-Forms": PLURAL_FORMS[language],
    }
    catalogue.metadata_is_fuzzy = False
    catalogue.save(str(po_path))


def gettext_missing_message() -> str | None:
    """Why `update` cannot run here, or None when GNU gettext's tools are there."""
    missing = [tool for tool in ("xgettext", "msgmerge", "msguniq") if shutil.which(tool) is None]
    if not missing:
        return None
    return (
        f"updating the catalogues needs GNU gettext ({', '.join(missing)} not found): install Debian's "
        "`gettext` package (scripts/test.sh does, as root with apt). Compiling them does not."
    )


def update(*, project_dir: Path = PROJECT_DIR) -> None:
    """Re-extract the marked strings of `project_dir` into its catalogues, keeping translations."""
    if message := gettext_missing_message():
        raise SystemExit(message)
    (project_dir / LOCALE_DIRNAME).mkdir(exist_ok=True)
    env = dict(os.environ)
    # makemessages loads settings; these keep them from starting the embedded servers (nothing
    # connects to them), as in the Dockerfile's collectstatic step.
    env.setdefault("DATABASE_URL", "postgres://makemessages@localhost:1/makemessages")
    env.setdefault("REDIS_URL", "redis://localhost:1/0")
    env["DJANGO_SETTINGS_MODULE"] = "dentaltap.settings.local"  # as manage.py: the development settings
    command = [sys.executable, str(project_dir / "manage.py"), "makemessages", "--verbosity=0"]
    command += [f"--locale={language}" for language in LANGUAGES]
    command += [f"--ignore={pattern}" for pattern in IGNORED]
    # File names without line numbers: a line moving does not change the catalogue (fewer merge
    # conflicts), and the test still names the files a string comes from.
    command += ["--add-location=file", "--no-obsolete", "--no-wrap"]
    subprocess.run(command, cwd=project_dir, env=env, check=True)  # noqa: S603
    for language in LANGUAGES:
        _normalise_header(catalogue_path(language, project_dir=project_dir), language)


def compile_catalogues(*, project_dir: Path = PROJECT_DIR, force: bool = False) -> list[Path]:
    """Write each .po's .mo next to it (fuzzy and untranslated entries left out, as msgfmt does);
    only those older than their .po unless forced. Returns the files written."""
    import polib  # noqa: PLC0415

    written = []
    for po_path in sorted((project_dir / LOCALE_DIRNAME).glob("*/LC_MESSAGES/*.po")):
        mo_path = po_path.with_suffix(".mo")
        if not force and mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        partial = mo_path.with_name(f".{mo_path.name}.{os.getpid()}")
        polib.pofile(str(po_path)).save_as_mofile(str(partial))
        partial.replace(mo_path)  # atomic: a process starting meanwhile reads the old or the new
        written.append(mo_path)
    return written


def main(argv: list[str]) -> int:
    command = argv[0] if argv else ""
    if command == "update":
        update()
        problems = [p for language in LANGUAGES for p in catalogue_problems(catalogue_path(language), language)]
        for problem in problems:
            print(problem)
        print(f"catalogues updated; {len(problems)} entries to translate or fix", file=sys.stderr)
        return 0
    if command == "compile":
        written = compile_catalogues(force="--force" in argv)
        print(f"catalogues compiled: {len(written)} .mo written", file=sys.stderr)
        return 0
    if command == "check":
        problems = [p for language in LANGUAGES for p in catalogue_problems(catalogue_path(language), language)]
        for problem in problems:
            print(problem)
        return 1 if problems else 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
