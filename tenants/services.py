"""Everything that changes users, practices and memberships."""

from __future__ import annotations

import logging
import re

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, connection, transaction
from django.utils.translation import gettext as _
from django_tenants.utils import schema_exists

from dentaltap.errors import ApplicationError
from provisioning.services import practice_schema_provide
from tenants.handoffs import PracticeCreated, practice_created, practitioner_limit_check
from tenants.models import (
    AccessAction,
    Domain,
    JoinedVia,
    Membership,
    MembershipStatus,
    Practice,
    Role,
    User,
    normalize_email,
)
from tenants.urls_helpers import practice_host

logger = logging.getLogger(__name__)

SLUG_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$")
RESERVED_SLUGS = frozenset(
    {
        "admin", "api", "app", "assets", "billing", "blog", "cdn", "dentaltap", "docs", "help",
        "mail", "media", "public", "static", "status", "stripe", "support", "www",
    }
)  # fmt: skip


def _field_error(field: str, message: str, code: str = "invalid") -> ApplicationError:
    return ApplicationError(message, code=code, fields={field: [message]})


def slugify_practice_name(name: str) -> str:
    from django.utils.text import slugify  # noqa: PLC0415

    return slugify(name)[:40].strip("-")


def practice_slug_validate(slug: str) -> str:
    slug = slug.strip().lower()
    if not SLUG_PATTERN.match(slug) or "--" in slug:
        raise _field_error(
            "practice_slug",
            _("Use 1 to 40 lowercase letters, digits and single hyphens, starting and ending with a letter or digit."),
        )
    if slug in RESERVED_SLUGS:
        raise _field_error("practice_slug", _("This address is reserved. Please choose another."), "reserved")
    return slug


def _schema_name_for(slug: str) -> str:
    # Slugs have no underscores, so this mapping is one-to-one; the prefix keeps practice schemas
    # apart from PostgreSQL's own (pg_*) and from "public".
    return "practice_" + slug.replace("-", "_")


def user_create(*, email: str, password: str, full_name: str) -> User:
    email = normalize_email(email)
    try:
        validate_email(email)
    except ValidationError:
        raise _field_error("email", _("Enter a valid email address.")) from None
    full_name = full_name.strip()
    if not full_name:
        raise _field_error("full_name", _("Please tell us your name."), "required")
    user = User(email=email, full_name=full_name)
    try:
        validate_password(password, user=user)
    except ValidationError as error:
        raise ApplicationError(
            " ".join(error.messages), code="weak_password", fields={"password": error.messages}
        ) from None
    user.set_password(password)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:
        raise _field_error(
            "email", _("An account with this email already exists. Log in instead."), "email_taken"
        ) from None
    return user


@transaction.atomic
def practice_create(*, name: str, slug: str, owner: User) -> Practice:
    """Create a practice: its row, its schema (migrated), its domain and the owner membership.

    All or nothing: the schema is created inside this transaction (PostgreSQL DDL is
    transactional), so a failure at any step leaves no row, schema, domain or membership.
    Concurrent creations of one slug are serialised by an advisory lock and then refused."""
    if connection.schema_name != settings.PUBLIC_SCHEMA_NAME:  # type: ignore[attr-defined]
        raise RuntimeError("practice_create must run in the public schema")
    name = name.strip()
    if not name:
        raise _field_error("practice_name", _("Please name your practice."), "required")
    if len(name) > 120:
        raise _field_error("practice_name", _("Use at most 120 characters."))
    slug = practice_slug_validate(slug)

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"practice-slug:{slug}"])
    # A schema of that name without its practice (one deleted without dropping its schema) is
    # taken too: a new practice must never be handed another's leftover data.
    if Practice.objects.filter(slug=slug).exists() or schema_exists(_schema_name_for(slug)):
        raise _field_error("practice_slug", _("This address is already taken. Please choose another."), "slug_taken")

    practice = Practice(name=name, slug=slug, schema_name=_schema_name_for(slug))
    practice_schema_provide(schema_name=practice.schema_name)  # a spare, or built from the recipe
    practice.save(verbosity=0)  # creates and migrates the schema if provisioning did not
    Domain.objects.create(domain=practice_host(slug), tenant=practice, is_primary=True)
    # Before the owner joins: billing creates the practice's account here (its plan's limits
    # are checked for the owner's seat next).
    practice_created.send(PracticeCreated(practice=practice))
    membership_create(user=owner, practice=practice, role=Role.OWNER, joined_via=JoinedVia.CREATED_PRACTICE)
    logger.info("practice created: %s (%s) by user %s", practice.slug, practice.schema_name, owner.pk)
    return practice


@transaction.atomic
def membership_create(
    *,
    user: User,
    practice: Practice,
    role: str,
    joined_via: str,
    granted_permissions: list[str] | None = None,
    actor: User | None = None,
) -> Membership:
    """Give a user access to a practice (signup, an accepted invitation, an approved request).

    An active membership is returned as it is: joining again never silently changes someone's
    role. A revoked one (removed, or left) is reactivated with the new role: the practice is
    letting the person back in. A suspended one is refused: lifting a suspension is a team
    manager's decision (Restore on the Team page), not an invitation's. Audited when it changes."""
    from tenants.team_services import access_change_record, membership_snapshot  # noqa: PLC0415

    if role not in Role.values:
        raise _field_error("role", _("Unknown role: %(role)s.") % {"role": role})
    existing = Membership.objects.select_for_update().filter(user=user, practice=practice).first()
    if existing is not None and existing.status == MembershipStatus.ACTIVE:
        return existing
    if existing is not None and existing.status == MembershipStatus.SUSPENDED:
        raise ApplicationError(
            _("This person's access to the practice is suspended. A team manager can restore it on the Team page."),
            code="member_suspended",
            status_code=409,
        )

    practitioner_limit_check(practice=practice, role=role)
    before = membership_snapshot(existing) if existing is not None else None
    if existing is None:
        try:
            with transaction.atomic():
                membership = Membership.objects.create(
                    user=user, practice=practice, role=role, joined_via=joined_via,
                    granted_permissions=sorted(set(granted_permissions or [])),
                )  # fmt: skip
        except IntegrityError:  # a concurrent join of the same person won: use theirs
            return Membership.objects.get(user=user, practice=practice)
    else:
        membership = existing
        membership.role, membership.status, membership.joined_via = role, MembershipStatus.ACTIVE, joined_via
        membership.granted_permissions, membership.revoked_permissions = sorted(set(granted_permissions or [])), []
        membership.expires_at = None
        membership.save()
    access_change_record(
        practice=practice, actor=actor, membership=membership, action=AccessAction.JOINED, before=before
    )
    return membership


@transaction.atomic
def account_signup(
    *, email: str, password: str, full_name: str, practice_name: str, practice_slug: str
) -> tuple[User, Practice]:
    """A new dentist's account and their own practice, in one step or not at all.

    Every field is checked first so the form shows all its errors at once; the constraints
    behind user_create and practice_create still decide races."""
    slug = practice_slug.strip() or slugify_practice_name(practice_name)
    _signup_precheck(email=email, password=password, full_name=full_name, practice_name=practice_name, slug=slug)
    user = user_create(email=email, password=password, full_name=full_name)
    practice = practice_create(name=practice_name, slug=slug, owner=user)
    return user, practice


def _signup_precheck(*, email: str, password: str, full_name: str, practice_name: str, slug: str) -> None:
    fields: dict[str, list[str]] = {}
    email = normalize_email(email)
    try:
        validate_email(email)
        if User.objects.filter(email=email).exists():
            fields["email"] = [_("An account with this email already exists. Log in instead.")]
    except ValidationError:
        fields["email"] = [_("Enter a valid email address.")]
    if not full_name.strip():
        fields["full_name"] = [_("Please tell us your name.")]
    try:
        validate_password(password, user=User(email=email, full_name=full_name))
    except ValidationError as error:
        fields["password"] = list(error.messages)
    if not practice_name.strip():
        fields["practice_name"] = [_("Please name your practice.")]
    try:
        slug = practice_slug_validate(slug)
        if Practice.objects.filter(slug=slug).exists():
            fields["practice_slug"] = [_("This address is already taken. Please choose another.")]
    except ApplicationError as error:
        fields.update(error.fields)
    if fields:
        first = next(iter(fields.values()))[0]
        raise ApplicationError(first, code="invalid", fields=fields)
