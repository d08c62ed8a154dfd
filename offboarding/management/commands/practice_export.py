"""manage.py practice_export <slug> --out FILE --reason "..." : one practice as one archive."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from dentaltap.errors import ApplicationError
from offboarding.management.commands._actor import command_actor, refused
from offboarding.services import practice_export
from tenants.models import Practice


class Command(BaseCommand):
    help = "Export one practice (its schema's tables and the public rows naming it) as one archive."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("--out", required=True, help="The archive to write (.zip).")
        parser.add_argument("--reason", required=True, help="Why (kept in the operation log).")

    def handle(self, *args: Any, **options: Any) -> None:
        practice = Practice.objects.filter(slug=options["slug"]).first()
        if practice is None:
            raise CommandError(f"No practice has the address {options['slug']!r}.")
        try:
            with open(options["out"], "w+b") as out:
                result = practice_export(
                    practice=practice, actor=command_actor("practice_export"), reason=options["reason"], out=out
                )
        except ApplicationError as error:
            raise refused(error) from error
        counts = result.manifest["row_counts"]
        self.stdout.write(
            f"{options['out']}: {sum(counts['tenant'].values())} rows of {len(counts['tenant'])} tables, "
            f"{sum(counts['shared'].values())} shared rows; sha256 {result.sha256}"
        )
