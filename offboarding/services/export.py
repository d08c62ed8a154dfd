"""Export one practice as one archive (offboarding/archive.py): every table of its schema, by
COPY, and every public row that names it, with the users' minimal identity (never a password).
Read in one snapshot (REPEATABLE READ when this opens the transaction) while the practice row is
held FOR SHARE, so a deletion waits for a running export and an export never sees half of one."""

from __future__ import annotations

import csv
import io
import json
import logging
from dataclasses import dataclass
from typing import IO, Any

from django.conf import settings
from django.core import serializers
from django.core.serializers.json import DjangoJSONEncoder
from django.db import OperationalError, connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from billing.models import LedgerEntry, Payment, PaymentCard, PaymentReversal, PracticeAccount
from dentaltap.errors import ApplicationError, ConflictError
from invitations.models import Invitation
from lifecycle.models import LifecycleMessage
from offboarding.archive import ArchiveWriter, sha256_of
from offboarding.models import OperationKind, PracticeOperation
from offboarding.services.common import Actor, operation_log, reason_clean
from onboarding.models import ChecklistPreference, PracticeMilestone
from provisioning.services import DELETED_SCHEMA_PREFIX
from referrals.models import (
    AccessRequest,
    AttributionChange,
    PartnerRedemption,
    PracticeReferralSettings,
    Referral,
)
from rewards.models import Reward, RewardAction
from tenants.models import AccessChange, Domain, Membership, Practice, User

USERS_MEMBER = "shared/tenants.user.json"
logger = logging.getLogger("offboarding")


@dataclass(frozen=True)
class ExportResult:
    manifest: dict[str, Any]
    sha256: str
    operation: PracticeOperation


def shared_querysets(practice: Practice) -> dict[str, QuerySet[Any]]:
    """Every public row that names the practice, by model label. Nothing of another practice:
    rewards and referrals are those where this practice is the beneficiary or the referred one."""
    account = PracticeAccount.objects.filter(practice=practice).first()
    customer = account.stripe_customer_id if account else None
    rewards = Reward.objects.filter(Q(beneficiary_practice=practice) | Q(referral__referred_practice=practice))
    return {
        "tenants.practice": Practice.objects.filter(pk=practice.pk),
        "tenants.domain": Domain.objects.filter(tenant=practice),
        "tenants.membership": Membership.objects.filter(practice=practice),
        "tenants.accesschange": AccessChange.objects.filter(practice=practice),
        "billing.practiceaccount": PracticeAccount.objects.filter(practice=practice),
        "billing.payment": Payment.objects.filter(practice=practice),
        "billing.paymentreversal": (
            PaymentReversal.objects.filter(stripe_customer_id=customer) if customer else PaymentReversal.objects.none()
        ),
        "billing.paymentcard": PaymentCard.objects.filter(practice=practice),
        "billing.ledgerentry": LedgerEntry.objects.filter(practice=practice),
        "rewards.reward": rewards,
        "rewards.rewardaction": RewardAction.objects.filter(reward__in=rewards),
        "referrals.referral": Referral.objects.filter(referred_practice=practice),
        "referrals.accessrequest": AccessRequest.objects.filter(practice=practice),
        "referrals.practicereferralsettings": PracticeReferralSettings.objects.filter(practice=practice),
        "referrals.partnerredemption": PartnerRedemption.objects.filter(practice=practice),
        "referrals.attributionchange": AttributionChange.objects.filter(practice=practice),
        "invitations.invitation": Invitation.objects.filter(practice=practice),
        "onboarding.practicemilestone": PracticeMilestone.objects.filter(practice=practice),
        "onboarding.checklistpreference": ChecklistPreference.objects.filter(practice=practice),
        "lifecycle.lifecyclemessage": LifecycleMessage.objects.filter(practice=practice),
    }


def _members_identity(practice: Practice) -> list[dict[str, Any]]:
    """Who the memberships name, as little as restoring them needs: no password, no staff flags."""
    users = User.objects.filter(memberships__practice=practice).order_by("pk")
    return [
        {"id": user.pk, "email": user.email, "full_name": user.full_name, "language": user.language} for user in users
    ]


def tenant_tables(schema_name: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s ORDER BY tablename", [schema_name])
        return [name for (name,) in cursor.fetchall()]


def _table_copy(schema_name: str, table: str) -> tuple[bytes, list[str], int]:
    buffer = io.StringIO()
    with connection.cursor() as cursor:
        # Names come from pg_tables, quoted; COPY cannot take them as parameters.
        cursor.cursor.copy_expert(f'COPY "{schema_name}"."{table}" TO STDOUT WITH (FORMAT csv, HEADER true)', buffer)
    text = buffer.getvalue()
    rows = list(csv.reader(io.StringIO(text)))
    return text.encode(), rows[0] if rows else [], max(len(rows) - 1, 0)


def tenant_migrations(schema_name: str) -> list[list[str]]:
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT app, name FROM "{schema_name}".django_migrations ORDER BY id')  # noqa: S608
        return [[app, name] for app, name in cursor.fetchall()]


def _exportable(practice: Practice) -> None:
    if practice.schema_name == settings.PUBLIC_SCHEMA_NAME:
        raise ApplicationError(_("The public site is not a practice."), code="not_a_practice")
    if practice.schema_name.startswith(DELETED_SCHEMA_PREFIX):
        raise ApplicationError(
            _("This practice was deleted: its data is only in the archive made before."), code="practice_deleted"
        )


def _serialization_failure(error: OperationalError) -> bool:
    return getattr(error.__cause__, "pgcode", None) == "40001"


def practice_export(*, practice: Practice, actor: Actor, reason: str, out: IO[bytes]) -> ExportResult:
    """Write the practice's archive to `out` (seekable: a file opened w+b, a temporary file) and
    log who exported it and why. Refused without a reason, for the public site and for tombstones.

    The snapshot starts with the row lock; a change to the practice row committed meanwhile (a
    deletion, a time zone) is a serialization failure: tried once more, when the deletion is seen."""
    reason = reason_clean(reason)
    _exportable(practice)
    if connection.schema_name != settings.PUBLIC_SCHEMA_NAME:  # type: ignore[attr-defined]
        raise RuntimeError("practice_export runs in the public schema")
    opens_transaction = not connection.in_atomic_block
    for attempt in range(3 if opens_transaction else 1):
        try:
            return _export_once(practice, actor, reason, out, repeatable_read=opens_transaction)
        except OperationalError as error:
            if not _serialization_failure(error):
                raise
            logger.info("practice export of %s: the practice changed at the start (attempt %s)", practice.pk, attempt)
            out.seek(0)
            out.truncate()
    raise ConflictError(_("The practice kept changing while its export started; nothing was exported. Try again."))


def _export_once(
    practice: Practice, actor: Actor, reason: str, out: IO[bytes], *, repeatable_read: bool
) -> ExportResult:
    with transaction.atomic():
        if repeatable_read:
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        with connection.cursor() as cursor:  # a deletion (FOR UPDATE) waits for this export
            cursor.execute("SELECT 1 FROM tenants_practice WHERE id = %s FOR SHARE", [practice.pk])
        practice = Practice.objects.get(pk=practice.pk)
        _exportable(practice)
        writer = ArchiveWriter(out)
        tables: dict[str, int] = {}
        for table in tenant_tables(practice.schema_name):
            data, columns, rows = _table_copy(practice.schema_name, table)
            writer.add(f"tenant/{table}.csv", data, rows=rows, columns=columns)
            tables[table] = rows
        shared: dict[str, int] = {}
        for label, queryset in shared_querysets(practice).items():
            objects = list(queryset.order_by("pk"))
            writer.add(f"shared/{label}.json", serializers.serialize("json", objects).encode(), rows=len(objects))
            shared[label] = len(objects)
        identities = _members_identity(practice)
        writer.add(USERS_MEMBER, json.dumps(identities, cls=DjangoJSONEncoder).encode(), rows=len(identities))
        manifest = writer.close(
            {
                "created_at": timezone.now(),
                "practice": {
                    "id": practice.pk,
                    "slug": practice.slug,
                    "name": practice.name,
                    "schema_name": practice.schema_name,
                    "time_zone": practice.time_zone,
                    "created_at": practice.created_at,
                },
                "migrations": tenant_migrations(practice.schema_name),
                "row_counts": {"tenant": tables, "shared": shared},
                "exported_by": actor.label,
                "reason": reason,
            }
        )
        out.flush()
        out.seek(0)
        digest = sha256_of(out.read())
        out.seek(0)
        operation = operation_log(
            kind=OperationKind.EXPORT,
            practice=practice,
            practice_slug=practice.slug,
            actor=actor,
            reason=reason,
            archive_sha256=digest,
            detail={"tenant_rows": sum(tables.values()), "shared_rows": sum(shared.values())},
        )
    return ExportResult(manifest=manifest, sha256=digest, operation=operation)
