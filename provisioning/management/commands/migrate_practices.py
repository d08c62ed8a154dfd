"""Migrate every practice schema (and the spare pool) that is behind; skip the rest at once.

    manage.py migrate_schemas --shared     # the public schema first, as before
    manage.py migrate_practices            # then the practices: only those that need it

Exits 1 when a schema failed (the others are migrated all the same; run it again to finish).
"""

from __future__ import annotations

import os
from typing import Any, TextIO, cast

from django.core.management.base import BaseCommand, CommandError, CommandParser

from provisioning import runner, services
from provisioning.recipe import recipe_current


class Command(BaseCommand):
    help = "Migrate the practice schemas that are behind, in parallel (the public schema: migrate_schemas --shared)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--workers", type=int, default=min(4, os.cpu_count() or 1), help="processes migrating at once"
        )
        parser.add_argument("--schema", action="append", default=[], help="only these schemas (repeatable)")
        parser.add_argument("--no-refill", action="store_true", help="leave the spare pool as it is")

    def handle(self, *args: Any, **options: Any) -> None:
        schemas = options["schema"] or services.schemas_to_migrate
        run = runner.schemas_migrate(schemas, workers=options["workers"], stream=cast(TextIO, self.stderr._out))
        vanished = f", {len(run.vanished):,} gone meanwhile" if run.vanished else ""
        recorded = f", {len(run.recorded):,} recorded (shared-app migrations only)" if run.recorded else ""
        replayed = f" ({len(run.replayed):,} of them by replay)" if run.replayed else ""
        self.stdout.write(
            f"{run.considered:,} schemas: {run.up_to_date:,} already up to date, "
            f"{len(run.migrated):,} migrated{replayed}, {len(run.failed):,} failed{recorded}{vanished} "
            f"({run.seconds:.1f} s)"
        )
        for schema, error in sorted(run.failed.items()):
            self.stderr.write(f"  FAILED {schema}: {error.splitlines()[0] if error else ''}")
        if services.fast_schemas_enabled():
            recipe_current()  # new practices get this code's schema from now on
            if not options["no_refill"] and not options["schema"]:
                report = services.spare_schemas_refill()
                if report.created or report.discarded or report.orphans_dropped:
                    self.stdout.write(
                        f"spare schemas: {report.spares} ready ({report.created} created, "
                        f"{report.discarded} stale discarded, {report.orphans_dropped} orphans dropped)"
                    )
        if run.failed:
            raise CommandError(f"{len(run.failed)} schema(s) failed; the others are migrated. Run it again to retry.")
