"""manage.py practice_restore FILE --slug NEW --reason "..." : an archive into a new practice."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from dentaltap.errors import ApplicationError
from offboarding.management.commands._actor import command_actor, refused
from offboarding.services import practice_restore


class Command(BaseCommand):
    help = "Restore a practice archive into a new practice (a new address and schema)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("archive")
        parser.add_argument("--slug", required=True, help="The new practice's address.")
        parser.add_argument("--name", default="", help="Its name (default: the archive's).")
        parser.add_argument("--reason", required=True, help="Why (kept in the operation log).")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            with open(options["archive"], "rb") as archive:
                result = practice_restore(
                    archive_file=archive,
                    slug=options["slug"],
                    name=options["name"],
                    actor=command_actor("practice_restore"),
                    reason=options["reason"],
                )
        except ApplicationError as error:
            raise refused(error) from error
        self.stdout.write(f"Restored into {result.practice.slug} ({result.practice.schema_name}): {result.rows}")
