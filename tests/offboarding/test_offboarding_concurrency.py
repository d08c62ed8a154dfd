"""An export and a deletion of the same practice at the same moment, for real (threads, each with
its own connection, committing): the export is whole and the deletion waits for it, or the
deletion goes first and the export is refused as of a deleted practice; never a crash or a
half archive."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import pytest
from django.db import connection
from django_tenants.utils import schema_exists, tenant_context

from dentaltap.errors import ApplicationError
from offboarding.services import ExportResult, practice_delete, practice_export
from practice.models import Patient
from tests.concurrency import run_together
from tests.offboarding.offboarding_support import COMMAND

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("round_", range(3))
def test_an_export_racing_a_deletion_is_whole_or_refused(make_practice: Any, round_: int) -> None:
    _, practice = make_practice(f"race-{round_}")
    with tenant_context(practice):
        Patient.objects.bulk_create([Patient(first_name=f"P{i}", last_name="Race") for i in range(200)])
    connection.set_schema_to_public()
    out = io.BytesIO()

    exported, deleted = run_together(
        lambda: practice_export(practice=practice, actor=COMMAND, reason="Race export", out=out),
        lambda: practice_delete(practice=practice, actor=COMMAND, reason="Race delete"),
    )

    assert not isinstance(deleted, ApplicationError), deleted
    assert not schema_exists(practice.schema_name)
    if isinstance(exported, ApplicationError):
        assert exported.code == "practice_deleted", exported.message
    else:
        assert isinstance(exported, ExportResult)
        assert exported.manifest["row_counts"]["tenant"]["practice_patient"] == 200
        members = zipfile.ZipFile(io.BytesIO(out.getvalue()))
        assert members.read("tenant/practice_patient.csv").count(b"Race") == 200


def test_an_export_waiting_on_a_change_to_the_practice_starts_again_and_sees_it(make_practice: Any) -> None:
    """A change to the practice row in flight when the export starts (here a time zone, as the
    settings page does; a deletion likewise): the export waits for its lock, PostgreSQL's
    snapshot then refuses it (a serialization failure), and it starts again, seeing the change."""
    import threading

    import psycopg2
    from django.conf import settings

    _, practice = make_practice("inflight")
    database = settings.DATABASES["default"]
    options = {"dbname": database["NAME"], "user": database["USER"], "host": database["HOST"]}
    holder, watcher = psycopg2.connect(**options), psycopg2.connect(**options)
    watcher.autocommit = True  # pg_stat_activity is read afresh only outside a transaction
    cursor = holder.cursor()
    cursor.execute("SELECT 1 FROM tenants_practice WHERE id = %s FOR UPDATE", [practice.pk])
    out = io.BytesIO()
    results: list[Any] = []
    exporting = threading.Thread(
        target=lambda: results.extend(
            run_together(lambda: practice_export(practice=practice, actor=COMMAND, reason="Waits", out=out))
        )
    )
    exporting.start()
    waiting = 0
    with watcher.cursor() as watch:
        while waiting == 0 and exporting.is_alive():  # until the export waits for the row lock
            watch.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE %s",
                ["SELECT 1 FROM tenants_practice WHERE id = % FOR SHARE"],
            )
            waiting = watch.fetchone()[0]
    watcher.close()
    cursor.execute("UPDATE tenants_practice SET time_zone = 'Europe/Berlin' WHERE id = %s", [practice.pk])
    holder.commit()
    holder.close()
    exporting.join(timeout=60)
    assert waiting == 1
    (exported,) = results
    assert isinstance(exported, ExportResult), exported
    assert exported.manifest["practice"]["time_zone"] == "Europe/Berlin"
