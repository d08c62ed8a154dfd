"""Restore an archive into a **new** practice (a new address and schema; the archive's practice
may still exist, or be a tombstone). Checked first: the archive itself (offboarding/archive.py)
and its schema's migration state, which must be known to this code (an archive made by newer
code is refused; an older one loads when its columns still exist, else it is refused naming the
table).

In one transaction: the members' users found by email (or created with no usable password:
they set one through "forgot password"), the practice created as signup does
(`practice_create`: schema, domain, billing account on Freemium, the owner), the other
memberships as they were, every table of the schema loaded by COPY (sequences moved past the
loaded ids), the milestones (born told: history announces nothing), cards and settings. When the
archive's practice is a tombstone, its payments and the referral that brought it are moved to
the new practice; its ledger entries and rewards stay with the tombstone (append-only). The new
practice names the original signup (`Practice.restored_from`): the onboarding cohorts count it
as that practice, once (lifecycle/cohorts.py)."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import IO, Any

from django.db import DatabaseError, connection, transaction
from django.db.migrations.loader import MigrationLoader
from django.utils import timezone
from django.utils.translation import gettext as _

from billing.models import Payment, PaymentCard
from offboarding.archive import Archive, ArchiveError, archive_open, sha256_of
from offboarding.models import OperationKind, PracticeOperation
from offboarding.services.common import Actor, operation_log, reason_clean
from offboarding.services.deletion import is_tombstone
from offboarding.services.export import USERS_MEMBER, tenant_tables
from onboarding.models import ChecklistPreference, PracticeMilestone
from referrals.models import PartnerRedemption, PracticeReferralSettings, Referral
from tenants.models import Membership, Practice, Role, User, normalize_email
from tenants.services import practice_create

MEMBERSHIP_FIELDS = ("role", "status", "granted_permissions", "revoked_permissions", "expires_at", "last_active_at")


@dataclass(frozen=True)
class RestoreResult:
    practice: Practice
    operation: PracticeOperation
    rows: dict[str, int]


def archive_migrations_check(archive: Archive) -> None:
    """Refuse an archive whose schema has migrations this code does not have."""
    known = set(MigrationLoader(None, ignore_no_migrations=True).disk_migrations)
    unknown = [f"{app}.{name}" for app, name in archive.manifest.get("migrations", []) if (app, name) not in known]
    if unknown:
        raise ArchiveError(
            _(
                "The archive was made by newer code: its practice schema has migrations this code "
                "does not know (%(names)s). Restore it with that version of DentalTap or a later one."
            )
            % {"names": ", ".join(unknown[:5])}
        )


def _users(archive: Archive) -> dict[int, User]:
    """The archive's user ids mapped to users here: the same email, else a new account."""
    found: dict[int, User] = {}
    for identity in archive.json(USERS_MEMBER):
        email = normalize_email(identity["email"])
        user = User.objects.filter(email=email).first()
        if user is None:
            user = User.objects.create_user(email, None, full_name=identity.get("full_name") or "")
            User.objects.filter(pk=user.pk).update(language=identity.get("language") or "")
        found[int(identity["id"])] = user
    return found


def _owner(memberships: list[Membership], users: dict[int, User]) -> User:
    for membership in memberships:
        if membership.role == Role.OWNER and membership.status == "active" and membership.user_id in users:
            return users[membership.user_id]
    raise ArchiveError(_("The archive names no active owner: a practice cannot be restored without one."))


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _tenant_tables_load(archive: Archive, schema_name: str) -> dict[str, int]:
    """Every archived table into the new schema: all emptied first, then loaded by COPY with the
    archive's column list, foreign keys checked once all are in, sequences moved past the ids."""
    here = set(tenant_tables(schema_name))
    tables: dict[str, dict[str, Any]] = {}
    for member in archive.members("tenant/"):
        table = member.removeprefix("tenant/").removesuffix(".csv")
        if table == "django_migrations":  # the new schema's own state stands
            continue
        if table not in here:
            raise ArchiveError(
                _("The archive's table %(table)s does not exist in this code's practice schema.") % {"table": table}
            )
        tables[table] = {**archive.manifest["files"][member], "member": member}
    if not tables:
        return {}
    loaded: dict[str, int] = {}
    table = ""
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
            cursor.execute("TRUNCATE " + ", ".join(_target(schema_name, name) for name in tables) + " CASCADE")
            for table, meta in tables.items():
                if meta["rows"]:
                    columns = ", ".join(_quoted(column) for column in meta["columns"])
                    copy = f"COPY {_target(schema_name, table)} ({columns}) FROM STDIN WITH (FORMAT csv, HEADER true)"
                    cursor.cursor.copy_expert(copy, io.StringIO(archive.read(meta["member"]).decode()))
                cursor.execute(f"SELECT count(*) FROM {_target(schema_name, table)}")  # noqa: S608 - quoted names
                loaded[table] = cursor.fetchone()[0]
                _sequences_move(cursor, schema_name, table)
            table = ""
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the foreign keys, checked now
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
    except DatabaseError as error:
        raise ArchiveError(
            _("The archive's table %(table)s could not be loaded here: %(error)s")
            % {"table": table or _("(foreign keys)"), "error": str(error).strip().splitlines()[0]}
        ) from error
    for name, count in loaded.items():
        if count != tables[name]["rows"]:
            raise ArchiveError(
                _("The table %(table)s loaded %(count)s rows, the manifest says %(expected)s.")
                % {"table": name, "count": count, "expected": tables[name]["rows"]}
            )
    return loaded


def _target(schema_name: str, table: str) -> str:
    return f"{_quoted(schema_name)}.{_quoted(table)}"


def _sequences_move(cursor: Any, schema_name: str, table: str) -> None:
    cursor.execute(
        "SELECT attname, pg_get_serial_sequence(%s, attname) FROM pg_attribute "
        "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped",
        [f"{_quoted(schema_name)}.{_quoted(table)}"] * 2,
    )
    for column, sequence in cursor.fetchall():
        if sequence:
            cursor.execute(
                f"SELECT setval(%s, COALESCE((SELECT max({_quoted(column)}) FROM "  # noqa: S608
                f"{_quoted(schema_name)}.{_quoted(table)}), 0) + 1, false)",
                [sequence],
            )


def _memberships_restore(practice: Practice, memberships: list[Membership], users: dict[int, User], owner: User) -> int:
    restored = 0
    for membership in memberships:
        user = users.get(membership.user_id)
        if user is None:
            continue
        values = {name: getattr(membership, name) for name in MEMBERSHIP_FIELDS}
        if user == owner:
            Membership.objects.filter(practice=practice, user=owner).update(**values)
        else:
            Membership.objects.create(practice=practice, user=user, joined_via=membership.joined_via, **values)
        restored += 1
    return restored


def _shared_restore(archive: Archive, practice: Practice, source_id: int) -> dict[str, int]:
    counts: dict[str, int] = {}
    now = timezone.now()
    milestones = [
        PracticeMilestone(practice=practice, key=row.key, reached_at=row.reached_at, notified_at=row.notified_at or now)
        for row in archive.objects("shared/onboarding.practicemilestone.json")
    ]
    counts["milestones"] = len(PracticeMilestone.objects.bulk_create(milestones, ignore_conflicts=True))
    cards = [
        PaymentCard(practice=practice, fingerprint=row.fingerprint, brand=row.brand, last4=row.last4,
                    first_seen_on=row.first_seen_on)
        for row in archive.objects("shared/billing.paymentcard.json")
    ]  # fmt: skip
    counts["payment_cards"] = len(PaymentCard.objects.bulk_create(cards, ignore_conflicts=True))
    for row in archive.objects("shared/referrals.practicereferralsettings.json"):
        PracticeReferralSettings.objects.update_or_create(
            practice=practice, defaults={"links_grant_guest_access": row.links_grant_guest_access}
        )
    for row in archive.objects("shared/onboarding.checklistpreference.json"):
        ChecklistPreference.objects.update_or_create(practice=practice, defaults={"hidden_at": row.hidden_at})
    source = Practice.objects.filter(pk=source_id).first()
    if source is not None and is_tombstone(source):
        invoices = [row.stripe_invoice_id for row in archive.objects("shared/billing.payment.json")]
        counts["payments_moved"] = Payment.objects.filter(practice=source, stripe_invoice_id__in=invoices).update(
            practice=practice
        )
        referrals = [row.pk for row in archive.objects("shared/referrals.referral.json")]
        counts["referrals_moved"] = Referral.objects.filter(referred_practice=source, pk__in=referrals).update(
            referred_practice=practice
        )
        counts["partner_redemption_moved"] = PartnerRedemption.objects.filter(practice=source).update(practice=practice)
    return counts


def _original_of(source_id: int) -> int | None:
    """The original signup the restored practice continues: the archive's practice (an archive
    is only ever restored where it was signed, so the id is this installation's), or the one that
    practice was itself restored from. None when the row is gone."""
    source = Practice.objects.filter(pk=source_id).values_list("pk", "restored_from_id").first()
    if source is None:
        return None
    return source[1] or source[0]


def practice_restore(*, archive_file: IO[bytes], slug: str, actor: Actor, reason: str, name: str = "") -> RestoreResult:
    reason = reason_clean(reason)
    archive_file.seek(0)
    digest = sha256_of(archive_file.read())
    archive_file.seek(0)
    archive = archive_open(archive_file)
    archive_migrations_check(archive)
    source = archive.manifest["practice"]
    memberships: list[Membership] = archive.objects("shared/tenants.membership.json")
    with transaction.atomic():
        users = _users(archive)
        owner = _owner(memberships, users)
        practice = practice_create(name=name.strip() or source["name"], slug=slug, owner=owner)
        Practice.objects.filter(pk=practice.pk).update(
            time_zone=source.get("time_zone") or "UTC", restored_from=_original_of(int(source["id"]))
        )
        practice.refresh_from_db()
        rows: dict[str, int] = {"memberships": _memberships_restore(practice, memberships, users, owner)}
        rows.update(_tenant_tables_load(archive, practice.schema_name))
        rows.update(_shared_restore(archive, practice, int(source["id"])))
        operation = operation_log(
            kind=OperationKind.RESTORE,
            practice=practice,
            practice_slug=practice.slug,
            actor=actor,
            reason=reason,
            archive_sha256=digest,
            source_practice_id=int(source["id"]),
            detail={"from_slug": source["slug"], "rows": rows},
        )
    return RestoreResult(practice=practice, operation=operation, rows=rows)
