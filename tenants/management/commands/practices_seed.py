"""Seed N practices with realistic data, fast, for benchmarks (issue 14).

    manage.py practices_seed --count 10000 [--patients 30 --appointments 60 --workers 2]

Each practice gets what a signup gives it (an owner, the practice row, its domain, the owner
membership) plus a dentist and an assistant, and its own schema, built from the provisioning
recipe (the same SQL a spare or a fallback signup gets), filled with patients and appointments
by COPY. Rows in the public schema go in by bulk inserts, a batch per transaction; batches run
in parallel worker processes. Every seeded user has the same password (--password), hashed once.
For throw-away and benchmark databases: nothing here goes through the signup checks.
"""

from __future__ import annotations

import datetime
import io
import multiprocessing
import random
import time
from collections.abc import Sequence
from typing import Any, TextIO, cast

from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand, CommandParser
from django.db import connection, connections, transaction
from django.utils import timezone

from dentaltap.progress import Progress
from provisioning.recipe import Recipe, recipe_current, schema_create_from_recipe
from tenants.models import Domain, JoinedVia, Membership, Practice, Role, User
from tenants.routing import tenant_host_cache
from tenants.services import _schema_name_for
from tenants.urls_helpers import practice_host

FIRST_NAMES = (
    "Anna", "Lukas", "Olga", "Jonas", "Maria", "Ivan", "Sofia", "Felix", "Elena", "Paul", "Mila", "Noah",
    "Lea", "Dmitri", "Clara", "Ben", "Irina", "Emil", "Nina", "Max", "Tatiana", "Leon", "Vera", "Karl",
)  # fmt: skip
LAST_NAMES = (
    "Weber", "Petrov", "Schmidt", "Fischer", "Smirnova", "Becker", "Wagner", "Ivanova", "Hoffmann", "Koch",
    "Popov", "Richter", "Klein", "Volkova", "Wolf", "Neumann", "Sokolov", "Braun", "Zimmermann", "Lebedeva",
)  # fmt: skip
REASONS = ("Check-up", "Cleaning", "Filling", "Crown fitting", "Root canal", "Whitening", "Extraction", "")
STATUSES = ("scheduled", "scheduled", "scheduled", "completed", "completed", "cancelled", "no_show")
BATCH = 50


def _copy(table: str, columns: str, rows: Sequence[tuple[object, ...]]) -> None:
    buffer = io.StringIO()
    for row in rows:
        buffer.write("\t".join("\\N" if value is None else str(value) for value in row) + "\n")
    buffer.seek(0)
    raw = connection.connection.cursor()  # type: ignore[union-attr]
    try:
        raw.copy_expert(f"COPY {table} ({columns}) FROM STDIN", buffer)
    finally:
        raw.close()


def _practice_data(schema: str, number: int, *, patients: int, appointments: int) -> None:
    randomness = random.Random(number)  # noqa: S311 - sample data, not secrets
    now = timezone.now().replace(microsecond=0)
    patient_rows = []
    for index in range(patients):
        first, last = randomness.choice(FIRST_NAMES), randomness.choice(LAST_NAMES)
        born = datetime.date(1940, 1, 1) + datetime.timedelta(days=randomness.randrange(0, 30_000))
        patient_rows.append(
            (first, last, born, f"{first}.{last}.{index}@patients.example".lower(),
             f"+49 30 {randomness.randrange(1_000_000, 9_999_999)}", "", now, now)
        )  # fmt: skip
    _copy(
        f'"{schema}".practice_patient',
        "first_name, last_name, date_of_birth, email, phone, notes, created_at, updated_at",
        patient_rows,
    )
    appointment_rows = []
    for _ in range(appointments if patients else 0):
        starts = now.replace(minute=0, second=0) + datetime.timedelta(hours=randomness.randrange(-24 * 90, 24 * 90))
        appointment_rows.append(
            (randomness.randrange(1, patients + 1), starts, starts + datetime.timedelta(minutes=30),
             randomness.choice(REASONS), randomness.choice(STATUSES), "", now, now)
        )  # fmt: skip
    _copy(
        f'"{schema}".practice_appointment',
        "patient_id, starts_at, ends_at, reason, status, notes, created_at, updated_at",
        appointment_rows,
    )


def _batch(arguments: tuple[int, int, dict[str, Any]]) -> int:
    """Seed practices number start..end-1 in one transaction; returns how many."""
    start, end, options = arguments
    recipe: Recipe = options["recipe"]
    prefix, password_hash = options["prefix"], options["password_hash"]
    numbers = range(start, end)
    with transaction.atomic():
        owners = User.objects.bulk_create(
            User(email=f"owner-{prefix}{n:05d}@seed.example", full_name=f"Dr. Owner {n}", password=password_hash)
            for n in numbers
        )
        colleagues = User.objects.bulk_create(
            User(email=f"{role}-{prefix}{n:05d}@seed.example", full_name=f"{role.title()} {n}", password=password_hash)
            for n in numbers
            for role in ("dentist", "assistant")
        )
        practices = Practice.objects.bulk_create(
            Practice(name=f"Seeded Practice {prefix}{n}", slug=slug, schema_name=_schema_name_for(slug))
            for n in numbers
            for slug in [f"seed-{prefix}{n:05d}"]
        )
        Domain.objects.bulk_create(
            Domain(domain=practice_host(practice.slug), tenant=practice, is_primary=True) for practice in practices
        )
        memberships = []
        for index, practice in enumerate(practices):
            memberships.append(
                Membership(
                    user=owners[index], practice=practice, role=Role.OWNER, joined_via=JoinedVia.CREATED_PRACTICE
                )
            )
            for offset, role in enumerate((Role.DENTIST, Role.ASSISTANT)):
                memberships.append(
                    Membership(user=colleagues[index * 2 + offset], practice=practice, role=role,
                               joined_via=JoinedVia.INVITATION)
                )  # fmt: skip
        Membership.objects.bulk_create(memberships)
        for number, practice in zip(numbers, practices, strict=True):
            schema_create_from_recipe(practice.schema_name, recipe)
            _practice_data(
                practice.schema_name, number, patients=options["patients"], appointments=options["appointments"]
            )
    # A fresh backend per batch: one that has created thousands of schemas carries their
    # catalogue entries in its caches, and seeding slowed down by half over 10,000 without this.
    connection.close()
    return len(practices)


class Command(BaseCommand):
    help = "Seed N practices with owners, colleagues, schemas, patients and appointments (benchmarks)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--count", type=int, required=True)
        parser.add_argument("--patients", type=int, default=30, help="per practice")
        parser.add_argument("--appointments", type=int, default=60, help="per practice")
        parser.add_argument("--workers", type=int, default=2)
        parser.add_argument("--prefix", default="", help="keeps several seedings of one database apart")
        parser.add_argument("--password", default="dentaltap-seed")

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.monotonic()
        recipe = recipe_current()
        if recipe is None:
            raise RuntimeError("fast schemas are switched off (PROVISIONING_FAST_SCHEMAS): no recipe to seed with")
        prefix = f"{options['prefix']}-" if options["prefix"] else ""
        shared = {
            "recipe": recipe,
            "prefix": prefix,
            "password_hash": make_password(options["password"]),
            "patients": options["patients"],
            "appointments": options["appointments"],
        }
        offset = Practice.objects.filter(slug__startswith=f"seed-{prefix}").count()
        batches = [
            (start, min(start + BATCH, offset + options["count"]), shared)
            for start in range(offset, offset + options["count"], BATCH)
        ]
        progress = Progress(options["count"], "seeding practices", stream=cast(TextIO, self.stderr._out))
        if options["workers"] <= 1:
            for batch in batches:
                progress.advance(_batch(batch))
        else:
            connections.close_all()
            with multiprocessing.get_context("fork").Pool(processes=options["workers"]) as pool:
                for done in pool.imap_unordered(_batch, batches):
                    progress.advance(done)
        progress.finish()
        tenant_host_cache.clear()
        self.stdout.write(
            f"seeded {options['count']:,} practices ({options['patients']} patients, {options['appointments']} "
            f"appointments, 3 members each) in {time.monotonic() - started:.1f} s"
        )
