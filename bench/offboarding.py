"""Export, delete and restore one practice (issue 14), standalone: `.venv/bin/python bench/offboarding.py`.

Seeds one practice with --patients patients (default 10,000), two appointments each and three
members, then times, once each and in this order: the export (archive written to a temporary
file), the deletion (schema dropped, shared rows, tombstone) and the restore into a new practice
(users, memberships, COPY of every table, sequences). Prints the archive's size and rows. Not a
goal, a sizing figure for operations (how long a patient-data request or an offboarding holds a
lock): the export holds the practice row FOR SHARE, the deletion and restore are one transaction.

Uses its own data folder (embedded PostgreSQL and Redis): DENTALTAP_DATA_DIR=/tmp/dentaltap-offboarding-bench
unless set; stop the servers afterwards:
    DENTALTAP_DATA_DIR=/tmp/dentaltap-offboarding-bench .venv/bin/python -m dentaltap.devstack stop
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parent.parent)  # run as a script: the project first, not bench/

from bench import stack  # noqa: E402

stack.stack_start(os.environ.get("DENTALTAP_DATA_DIR", "/tmp/dentaltap-offboarding-bench"))  # noqa: S108 - a scratch stack

import logging  # noqa: E402

for name in ("tenants", "onboarding", "lifecycle", "provisioning", "offboarding", "django.request"):
    logging.getLogger(name).setLevel(logging.ERROR)

from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402
from django_tenants.utils import tenant_context  # noqa: E402

from offboarding.services import Actor, practice_delete, practice_export, practice_restore  # noqa: E402
from practice.models import Appointment, Patient  # noqa: E402
from tenants.models import Membership, Practice, Role, User  # noqa: E402

ACTOR = Actor(user=None, label="bench/offboarding.py")


def seed(patients: int) -> tuple[Practice, str]:
    tag = uuid.uuid4().hex[:8]
    _, practice = stack.practice_signup(f"off-{tag}")
    for role in (Role.DENTIST, Role.RECEPTIONIST):
        user = User.objects.create_user(f"{role}-{tag}@bench.example", None, full_name=f"{role} {tag}")
        Membership.objects.create(user=user, practice=practice, role=role, joined_via="invitation")
    start = timezone.now()
    with tenant_context(practice):
        rows = Patient.objects.bulk_create(
            [
                Patient(
                    first_name=f"First{i}",
                    last_name=f"Last{i}",
                    email=f"p{i}@example.com",
                    notes='Notes, "quoted"\nline',
                )
                for i in range(patients)
            ],
            batch_size=2000,
        )
        Appointment.objects.bulk_create(
            [
                Appointment(
                    patient=patient,
                    starts_at=start + datetime.timedelta(hours=k),
                    ends_at=start + datetime.timedelta(hours=k, minutes=30),
                )
                for patient in rows
                for k in (1, 2)
            ],
            batch_size=2000,
        )
    connection.set_schema_to_public()  # type: ignore[attr-defined]
    return practice, tag


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--patients", type=int, default=10_000)
    options = parser.parse_args()
    stack.database_migrate(executor="standard")
    practice, tag = seed(options.patients)
    load = os.getloadavg()[0]
    with tempfile.TemporaryFile() as out:
        started = time.perf_counter()
        result = practice_export(practice=practice, actor=ACTOR, reason="bench export", out=out)
        exported = time.perf_counter() - started
        size = out.seek(0, os.SEEK_END)
        started = time.perf_counter()
        practice_delete(practice=practice, actor=ACTOR, reason="bench delete")
        deleted = time.perf_counter() - started
        out.seek(0)
        started = time.perf_counter()
        restored = practice_restore(archive_file=out, slug=f"off-{tag}-back", actor=ACTOR, reason="bench restore")
        restoring = time.perf_counter() - started
    rows = sum(result.manifest["row_counts"]["tenant"].values())
    print(f"practice with {options.patients} patients, {2 * options.patients} appointments ({rows} tenant rows)")
    print(f"archive: {size / 1e6:.1f} MB")
    print(f"export:  {exported:.2f} s")
    print(f"delete:  {deleted:.2f} s")
    print(f"restore: {restoring:.2f} s  ({restored.rows.get('practice_patient')} patients back)")
    print(f"load average at start: {load:.2f} (2 cores)")


if __name__ == "__main__":
    main()
