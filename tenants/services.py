"""Everything that changes users and practices. Memberships are the team's: tenants/team/services.py."""

from __future__ import annotations

import logging
import re

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, connection, transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_tenants.utils import schema_exists

from dentaltap.errors import ApplicationError
from dentaltap.locks import advisory_lock
from provisioning.services import practice_schema_provide
from tenants.handoffs import PracticeCreated, practice_created
from tenants.models import Domain, JoinedVia, Practice, Role, User, normalize_email
from tenants.team.audit import RequestMeta
from tenants.team.services import membership_create
from tenants.urls_helpers import practice_host

logger = logging.getLogger(__name__)

SLUG_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$")
RESERVED_SLUGS = frozenset(
    {
        "admin", "api", "app", "assets", "billing", "blog", "cdn", "dentaltap", "docs", "help",
        "mail", "media", "public", "static", "status", "stripe", "support", "www",
    }
)  # fmt: skip


EMAIL_TAKEN = gettext_lazy("An account with this email already exists. Log in instead.")
SLUG_TAKEN = gettext_lazy("This address is already taken. Please choose another.")


def _field_error(field: str, message: str, code: str = "invalid") -> ApplicationError:
    return ApplicationError(message, code=code, fields={field: [message]})


# Practice names in the dentists' languages become Latin addresses: Russian by the common
# passport-style transliteration, German umlauts spelt out (Zahnärzte -> zahnaerzte), so a
# Cyrillic name still gets an address from its name instead of an empty one.
_TRANSLITERATION = str.maketrans(
    {
        **dict(zip("абвгдезийклмнопрстуфхцы", "abvgdeziiklmnoprstufhcy", strict=True)),
        "ё": "e", "ж": "zh", "ч": "ch", "ш": "sh", "щ": "shch", "ъ": "", "ь": "", "э": "e", "ю": "iu",
        "я": "ia", "ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss",
    }
)  # fmt: skip


def slugify_practice_name(name: str) -> str:
    from django.utils.text import slugify  # noqa: PLC0415

    return slugify(name.lower().translate(_TRANSLITERATION))[:40].strip("-")


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


def user_errors(*, email: str, password: str, full_name: str, check_taken: bool = True) -> dict[str, list[str]]:
    """What is wrong with a new account's details, by field (empty: nothing). The one place
    these rules live: user_create refuses with them, and a signup reports them together with
    the practice's (practice_errors) so a form shows every problem at once. A taken email
    (`check_taken`) is a courtesy of that report; the unique constraint decides, so user_create
    leaves the query out."""
    errors: dict[str, list[str]] = {}
    email = normalize_email(email)
    try:
        validate_email(email)
    except ValidationError:
        errors["email"] = [_("Enter a valid email address.")]
    else:
        if check_taken and User.objects.filter(email=email).exists():
            errors["email"] = [str(EMAIL_TAKEN)]
    if not full_name.strip():
        errors["full_name"] = [_("Please tell us your name.")]
    try:
        validate_password(password, user=User(email=email, full_name=full_name.strip()))
    except ValidationError as error:
        errors["password"] = list(error.messages)
    return errors


def practice_errors(*, name: str, slug: str, check_taken: bool = True) -> dict[str, list[str]]:
    """What is wrong with a new practice's name and address, by field (empty: nothing). Used by
    practice_create and by a signup's all-at-once check; a taken address found here is a
    courtesy (`check_taken`): practice_create looks again under its advisory lock, which decides."""
    errors: dict[str, list[str]] = {}
    name = name.strip()
    if not name:
        errors["practice_name"] = [_("Please name your practice.")]
    elif len(name) > 120:
        errors["practice_name"] = [_("Use at most 120 characters.")]
    try:
        slug = practice_slug_validate(slug)
    except ApplicationError as error:
        errors.update(error.fields)
    else:
        if check_taken and Practice.objects.filter(slug=slug).exists():
            errors["practice_slug"] = [str(SLUG_TAKEN)]
    return errors


def errors_raise(errors: dict[str, list[str]], *, code: str = "invalid") -> None:
    """Refuse with every field's problems (the first one as the message); nothing when none."""
    if errors:
        first = next(iter(errors.values()))[0]
        raise ApplicationError(first, code=code, fields=errors)


def user_create(*, email: str, password: str, full_name: str) -> User:
    errors_raise(user_errors(email=email, password=password, full_name=full_name, check_taken=False))
    user = User(email=normalize_email(email), full_name=full_name.strip())
    user.set_password(password)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:
        raise _field_error("email", str(EMAIL_TAKEN), "email_taken") from None
    return user


@transaction.atomic
def practice_create(*, name: str, slug: str, owner: User, meta: RequestMeta | None = None) -> Practice:
    """Create a practice: its row, its schema (migrated), its domain and the owner membership
    (its audit entry carries `meta`: where the owner signed up from).

    All or nothing: the schema is created inside this transaction (PostgreSQL DDL is
    transactional), so a failure at any step leaves no row, schema, domain or membership.
    Concurrent creations of one slug are serialised by an advisory lock and then refused."""
    if connection.schema_name != settings.PUBLIC_SCHEMA_NAME:  # type: ignore[attr-defined]
        raise RuntimeError("practice_create must run in the public schema")
    errors_raise(practice_errors(name=name, slug=slug, check_taken=False))
    name, slug = name.strip(), practice_slug_validate(slug)

    advisory_lock(f"practice-slug:{slug}")
    # A schema of that name without its practice (one deleted without dropping its schema) is
    # taken too: a new practice must never be handed another's leftover data.
    if Practice.objects.filter(slug=slug).exists() or schema_exists(_schema_name_for(slug)):
        raise _field_error("practice_slug", str(SLUG_TAKEN), "slug_taken")

    practice = Practice(name=name, slug=slug, schema_name=_schema_name_for(slug))
    practice_schema_provide(schema_name=practice.schema_name)  # a spare, or built from the recipe
    practice.save(verbosity=0)  # creates and migrates the schema if provisioning did not
    Domain.objects.create(domain=practice_host(slug), tenant=practice, is_primary=True)
    # Before the owner joins: billing creates the practice's account here (its plan's limits
    # are checked for the owner's seat next).
    practice_created.send(PracticeCreated(practice=practice))
    membership_create(user=owner, practice=practice, role=Role.OWNER, joined_via=JoinedVia.CREATED_PRACTICE, meta=meta)
    logger.info("practice created: %s (%s) by user %s", practice.slug, practice.schema_name, owner.pk)
    return practice


def public_tenant_ensure() -> Practice:
    """The public tenant (schema "public") and its domain: the base site lives there."""
    public, _ = Practice.objects.get_or_create(
        schema_name=settings.PUBLIC_SCHEMA_NAME, defaults={"name": "DentalTap", "slug": "public"}
    )
    Domain.objects.get_or_create(domain=settings.BASE_DOMAIN, defaults={"tenant": public, "is_primary": True})
    return public
