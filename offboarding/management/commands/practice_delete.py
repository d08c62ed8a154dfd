"""manage.py practice_delete <slug> --reason "..." [--yes] : delete one practice (export it first)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from dentaltap.errors import ApplicationError
from offboarding.management.commands._actor import command_actor, refused
from offboarding.services import practice_customer_forget, practice_delete
from tenants.models import Practice


class Command(BaseCommand):
    help = (
        "Delete one practice: its schema dropped, the rows that only describe it removed, the row kept "
        "as a tombstone for the ledger, its Stripe customer deleted. Refused while it owes money or a "
        "referral reward is open."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("--reason", required=True, help="Why (kept in the operation log).")
        parser.add_argument("--yes", action="store_true", help="Do not ask to type the address again.")

    def handle(self, *args: Any, **options: Any) -> None:
        practice = Practice.objects.filter(slug=options["slug"]).first()
        if practice is None:
            raise CommandError(f"No practice has the address {options['slug']!r}.")
        if not options["yes"] and input(f"Type {practice.slug} to delete it for good: ").strip() != practice.slug:
            raise CommandError("Not confirmed; nothing was deleted.")
        try:
            operation = practice_delete(
                practice=practice, actor=command_actor("practice_delete"), reason=options["reason"]
            )
        except ApplicationError as error:
            raise refused(error) from error
        stripe = "no Stripe customer"
        if operation.stripe_customer_id:
            try:  # the task queued on commit does the same; this makes the command's answer final
                practice_customer_forget(operation_id=operation.pk)
                stripe = f"Stripe customer {operation.stripe_customer_id} deleted"
            except Exception as error:  # noqa: BLE001 - owed, beat retries it; say so
                stripe = f"Stripe customer {operation.stripe_customer_id} still to delete (retried by beat): {error}"
        self.stdout.write(f"{options['slug']} deleted (operation {operation.pk}); {stripe}.")
