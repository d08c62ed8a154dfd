"""The staff page: only staff reach it (not even a practice's owner), every action needs a reason
and is logged with who did it, the export is a download; and the three commands."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django_tenants.utils import schema_exists

from offboarding.models import OperationKind, PracticeOperation
from tenants.models import Practice
from tests.conftest import BASE, host
from tests.factories import UserFactory
from tests.offboarding.offboarding_support import exported, patients_of, practice_filled

pytestmark = pytest.mark.django_db

PAGE = "/staff/practices/offboarding/"


@pytest.fixture
def staff() -> Any:
    return UserFactory(email="staff@dentaltap.example", is_staff=True)


def _client(user: Any = None) -> Client:
    client = Client(HTTP_HOST=BASE)
    if user is not None:
        client.force_login(user)
    return client


def test_nobody_but_staff_reaches_the_page_or_its_actions(make_practice: Any) -> None:
    owner, practice = make_practice("mine")
    archive, _ = exported(practice)
    PracticeOperation.objects.all().delete()
    anonymous = _client()
    assert anonymous.get(f"{PAGE}?slug=mine").status_code == 302
    as_owner = _client(owner)
    attempts = [
        as_owner.get(f"{PAGE}?slug=mine"),
        as_owner.post("/staff/practices/mine/export/", {"export-reason": "I own it, give me everything"}),
        as_owner.post(
            "/staff/practices/mine/delete/", {"delete-reason": "I own it, delete it", "delete-confirm_slug": "mine"}
        ),
        as_owner.post(
            f"{PAGE}restore/",
            {"restore-reason": "Copy it", "restore-slug": "mine-copy", "restore-archive": archive},
        ),
    ]
    assert [response.status_code for response in attempts] == [403, 403, 403, 403]
    # On the practice's own host the staff URLs do not exist at all.
    practice_host = Client(HTTP_HOST=host(practice))
    practice_host.force_login(owner)
    assert practice_host.post("/staff/practices/mine/delete/").status_code == 404
    assert schema_exists(practice.schema_name) and not Practice.objects.filter(slug="mine-copy").exists()
    assert not PracticeOperation.objects.exists()


def test_staff_export_needs_a_reason_and_downloads_the_archive(
    make_practice: Any, staff: Any, stripe_standin: Any
) -> None:
    owner, practice = make_practice("clinic")
    practice_filled(practice, owner, tag="clinic")
    client = _client(staff)
    page = client.get(f"{PAGE}?slug=clinic")
    assert page.status_code == 200 and "3 members" in page.content.decode()

    missing = client.post("/staff/practices/clinic/export/", {"export-reason": ""})
    assert missing.status_code == 400 and 'data-testid="form-error"' in missing.content.decode()
    assert not PracticeOperation.objects.exists()

    download = client.post("/staff/practices/clinic/export/", {"export-reason": "GDPR request 2026-118"})
    assert download.status_code == 200
    assert download["Content-Disposition"].startswith('attachment; filename="practice-clinic-')
    archive = zipfile.ZipFile(io.BytesIO(b"".join(download.streaming_content)))
    assert "tenant/practice_patient.csv" in archive.namelist()
    log = PracticeOperation.objects.get()
    assert (log.kind, log.actor, log.reason, log.practice_slug) == (
        OperationKind.EXPORT,
        staff,
        "GDPR request 2026-118",
        "clinic",
    )


def test_staff_delete_asks_for_the_address_then_restore_brings_it_back(
    make_practice: Any, staff: Any, stripe_standin: Any
) -> None:
    owner, practice = make_practice("leaving")
    practice_filled(practice, owner, tag="leaving")
    before = patients_of(practice)
    archive, _ = exported(practice)
    client = _client(staff)
    wrong = client.post(
        "/staff/practices/leaving/delete/", {"delete-reason": "Contract ended", "delete-confirm_slug": "leave"}
    )
    assert wrong.status_code == 400 and "Type the address exactly" in wrong.content.decode()
    assert schema_exists(practice.schema_name)

    deleted = client.post(
        "/staff/practices/leaving/delete/", {"delete-reason": "Contract ended", "delete-confirm_slug": "leaving"}
    )
    assert deleted.status_code == 302
    assert not schema_exists(practice.schema_name)
    assert PracticeOperation.objects.filter(kind=OperationKind.DELETE, actor=staff, reason="Contract ended").exists()

    restored = client.post(
        f"{PAGE}restore/",
        {"restore-reason": "Came back", "restore-slug": "back-again", "restore-archive": archive},
    )
    assert restored.status_code == 302, restored.content.decode()
    assert patients_of(Practice.objects.get(slug="back-again")) == before
    bad = client.post(
        f"{PAGE}restore/",
        {"restore-reason": "Try junk", "restore-slug": "junk", "restore-archive": io.BytesIO(b"junk")},
    )
    assert bad.status_code == 400 and "not a practice archive" in bad.content.decode()


def test_the_commands_export_delete_and_restore(make_practice: Any, stripe_standin: Any, tmp_path: Path) -> None:
    owner, practice = make_practice("cli")
    filled = practice_filled(practice, owner, tag="cli")
    before = patients_of(practice)
    out = tmp_path / "cli.zip"
    call_command("practice_export", "cli", out=str(out), reason="Ticket 55", stdout=io.StringIO())
    with pytest.raises(CommandError, match="reason"):
        call_command("practice_delete", "cli", reason="", yes=True, stdout=io.StringIO())
    said = io.StringIO()
    call_command("practice_delete", "cli", reason="Ticket 55", yes=True, stdout=said)
    assert f"Stripe customer {filled['customer']} deleted" in said.getvalue()
    assert stripe_standin.state.customers[filled["customer"]]["deleted"] is True
    call_command("practice_restore", str(out), slug="cli-two", reason="Ticket 56", stdout=io.StringIO())
    assert patients_of(Practice.objects.get(slug="cli-two")) == before
    labels = set(PracticeOperation.objects.values_list("actor_label", flat=True))
    assert {label.split(" (")[0] for label in labels} == {
        "manage.py practice_export",
        "manage.py practice_delete",
        "manage.py practice_restore",
    }
