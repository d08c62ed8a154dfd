from __future__ import annotations

from typing import Any, TextIO, cast

from django.core.management.base import BaseCommand

from lifecycle.backfill import onboarding_backfill


class Command(BaseCommand):
    help = (
        "Derive the onboarding milestones of existing practices from their data (patients, "
        "appointments, invitations, memberships, payments). Safe to re-run: recorded milestones keep their time."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args: Any, **options: Any) -> None:
        counts = onboarding_backfill(progress=not options["no_progress"], stream=cast(TextIO, self.stderr))
        for key, count in counts.items():
            self.stdout.write(f"{key}: {count}")
        if counts["failed_practices"]:
            self.stderr.write(f"{counts['failed_practices']} practice(s) could not be read; run again to retry them")
