"""Delete one practice. Refused while it owes money or a reward of its referrals is still open;
otherwise, in one transaction: its schema dropped, the public rows that only describe it removed
(domain, memberships, access log, invitations, access requests, settings, cards, scheduled
lifecycle emails, the billing account), and the practice row kept as an anonymised **tombstone**
because the ledger is append-only: ledger entries (and the rewards and payments they and the
referral figures stand on) still name it, by a PROTECT foreign key, and are never edited.

The Stripe customer is deleted **after** the commit, by a task (an outbox: the operation row
names the customer until it is done; beat retries). The other order would be worse: a customer
deleted before a transaction that then fails leaves a live practice whose billing is broken;
this order at worst leaves a deleted practice's customer alive for a retry to finish, and a
customer already gone counts as done, so the step is safe to repeat."""

from __future__ import annotations

import datetime
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from billing import stripe_gateway
from billing.models import Payment, PaymentCard, PracticeAccount
from dentaltap.errors import ApplicationError, ConflictError
from dentaltap.formatting import money
from dentaltap.locks import row_lock
from invitations.models import Invitation
from lifecycle.models import LifecycleMessage
from offboarding.models import OperationKind, PracticeOperation
from offboarding.services.common import Actor, operation_log, reason_clean
from onboarding.models import ChecklistPreference
from provisioning.services import DELETED_SCHEMA_PREFIX
from referrals.models import AccessRequest, AttributionChange, PartnerRedemption, PracticeReferralSettings
from rewards.models import Reward, RewardStatus
from tenants.models import AccessChange, Domain, Membership, Practice
from tenants.routing import host_cache_generation_bump, tenant_host_cache

# Every table with a foreign key to the practice, by what a deletion does with its rows
# (tests/offboarding/test_offboarding_coverage.py holds a new one to this list).
REMOVED_ON_DELETE = frozenset(
    {
        "tenants.accesschange", "tenants.membership", "tenants.domain", "invitations.invitation",
        "referrals.accessrequest", "referrals.practicereferralsettings", "billing.paymentcard",
        "onboarding.checklistpreference", "lifecycle.lifecyclemessage", "billing.practiceaccount",
    }
)  # fmt: skip
KEPT_ON_DELETE = frozenset(
    {
        "billing.ledgerentry", "billing.payment", "rewards.reward", "referrals.referral",
        "onboarding.practicemilestone", "referrals.partnerredemption", "referrals.attributionchange",
        "offboarding.practiceoperation",
        # A restored practice names its original signup (restored_from): the tombstone stays that.
        "tenants.practice",
    }
)  # fmt: skip
OPEN_REWARD_STATUSES = (RewardStatus.PENDING, RewardStatus.ON_HOLD, RewardStatus.CREDITING)
UNPAID_SUBSCRIPTION_STATUSES = ("past_due", "unpaid", "incomplete")


class PracticeNotDeletable(ConflictError):
    code = "practice_not_deletable"


def tombstone_slug(practice_id: int) -> str:
    """A slug no signup can take (signup refuses "--")."""
    return f"deleted--{practice_id}"


def is_tombstone(practice: Practice) -> bool:
    return practice.schema_name.startswith(DELETED_SCHEMA_PREFIX)


def _deletable(practice: Practice) -> None:
    if practice.schema_name == settings.PUBLIC_SCHEMA_NAME:
        raise ApplicationError(_("The public site is not a practice."), code="not_a_practice")
    if is_tombstone(practice):
        raise ApplicationError(_("This practice is already deleted."), code="practice_deleted")


def stripe_balance_owed(practice: Practice) -> int:
    """What the practice's Stripe customer owes (cents; 0 without a customer). Read from Stripe
    before the deletion's transaction: no network call holds the row lock."""
    account = PracticeAccount.objects.filter(practice=practice).first()
    if account is None or not account.stripe_customer_id:
        return 0
    try:
        return max(stripe_gateway.customer_balance(customer_id=account.stripe_customer_id), 0)
    except stripe_gateway.StripeTransientError as error:
        raise ApplicationError(
            _("Stripe could not be asked what the practice owes; nothing was deleted. Try again in a minute."),
            code="payment_provider_unavailable",
            status_code=503,
        ) from error


def practice_delete_refusals(*, practice: Practice, stripe_owed_cents: int = 0) -> list[str]:
    """Why the practice cannot be deleted now, in words for staff; empty when it can."""
    refusals: list[str] = []
    account = PracticeAccount.objects.filter(practice=practice).first()
    if account is not None and account.subscription_status in UNPAID_SUBSCRIPTION_STATUSES:
        refusals.append(
            _("Its subscription has an unpaid invoice (status %(status)s).") % {"status": account.subscription_status}
        )
    if stripe_owed_cents > 0:
        refusals.append(_("It owes %(amount)s on its Stripe balance.") % {"amount": money(stripe_owed_cents, "usd")})
    rewards = Reward.objects.filter(
        Q(beneficiary_practice=practice) | Q(referral__referred_practice=practice), status__in=OPEN_REWARD_STATUSES
    ).count()
    if rewards:
        refusals.append(
            ngettext(
                "%(count)d referral reward is still open (in its hold, held for review or being credited).",
                "%(count)d referral rewards are still open (in their hold, held for review or being credited).",
                rewards,
            )
            % {"count": rewards}
        )
    return refusals


def practice_delete(*, practice: Practice, actor: Actor, reason: str) -> PracticeOperation:
    reason = reason_clean(reason)
    _deletable(practice)
    _refuse(practice, practice_delete_refusals(practice=practice))  # before asking Stripe
    owed = stripe_balance_owed(practice)
    with transaction.atomic():
        locked = row_lock(Practice.objects, pk=practice.pk)  # waits for a running export
        if locked is None:
            raise ApplicationError(_("This practice does not exist."), code="not_found", status_code=404)
        _deletable(locked)
        refusals = practice_delete_refusals(practice=locked, stripe_owed_cents=owed)
        if refusals:
            raise PracticeNotDeletable(
                _("%(practice)s cannot be deleted: %(reasons)s")
                % {"practice": locked.slug, "reasons": " ".join(refusals)}
            )
        slug, schema_name = locked.slug, locked.schema_name
        account = PracticeAccount.objects.filter(practice=locked).first()
        customer = (account.stripe_customer_id or "") if account else ""
        with connection.cursor() as cursor:
            # Deferred foreign-key checks still pending in this transaction (rows written earlier
            # in it) would refuse the drop: run them now.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(f'DROP SCHEMA IF EXISTS "{schema_name}" CASCADE')
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")  # Django's foreign keys: deferred again
        removed = _shared_rows_remove(locked)
        kept = {
            "ledger_entries": locked.ledger_entries.count(),
            "payments": Payment.objects.filter(practice=locked).update(hosted_invoice_url=""),
            "rewards": Reward.objects.filter(beneficiary_practice=locked).count(),
            # Facts about the signup, not about anyone: the cohort figures stay as they were.
            "milestones": locked.milestones.count(),
            # Who brought it (a partner code used, staff's append-only attribution log).
            "partner_redemption": PartnerRedemption.objects.filter(practice=locked).count(),
            "attribution_changes": AttributionChange.objects.filter(practice=locked).count(),
        }
        Practice.objects.filter(pk=locked.pk).update(
            name=f"Deleted practice {locked.pk}",
            slug=tombstone_slug(locked.pk),
            schema_name=f"{DELETED_SCHEMA_PREFIX}{locked.pk}",
        )
        operation = operation_log(
            kind=OperationKind.DELETE,
            practice=locked,
            practice_slug=slug,
            actor=actor,
            reason=reason,
            stripe_customer_id=customer,
            detail={"schema": schema_name, "removed": removed, "kept": kept},
        )
        if customer:
            from offboarding.tasks import practice_customer_delete  # noqa: PLC0415 - the task module imports this one

            operation_id = operation.pk
            transaction.on_commit(lambda: practice_customer_delete.delay(operation_id), robust=True)
        # The tombstone is written with update() (no signal): every process's host cache is told
        # here, not only through the domain's deletion.
        transaction.on_commit(tenant_host_cache.clear)
        transaction.on_commit(host_cache_generation_bump, robust=True)
    return operation


def _refuse(practice: Practice, refusals: list[str]) -> None:
    if refusals:
        raise PracticeNotDeletable(
            _("%(practice)s cannot be deleted: %(reasons)s")
            % {"practice": practice.slug, "reasons": " ".join(refusals)}
        )


def _shared_rows_remove(practice: Practice) -> dict[str, int]:
    """The public rows that only describe the practice; each count as deleted (cascades included)."""
    querysets: dict[str, Any] = {
        "access_changes": AccessChange.objects.filter(practice=practice),
        "memberships": Membership.objects.filter(practice=practice),
        "domains": Domain.objects.filter(tenant=practice),
        "invitations": Invitation.objects.filter(practice=practice),
        "access_requests": AccessRequest.objects.filter(practice=practice),
        "referral_settings": PracticeReferralSettings.objects.filter(practice=practice),
        "payment_cards": PaymentCard.objects.filter(practice=practice),
        "checklist": ChecklistPreference.objects.filter(practice=practice),
        "lifecycle_messages": LifecycleMessage.objects.filter(practice=practice),
        "billing_account": PracticeAccount.objects.filter(practice=practice),
    }
    return {name: queryset.delete()[0] for name, queryset in querysets.items()}


def practice_customer_forget(*, operation_id: int) -> bool:
    """Delete a deleted practice's Stripe customer, once (the operation row is the outbox).
    True when this call finished the step."""
    operation = PracticeOperation.objects.filter(
        pk=operation_id, kind=OperationKind.DELETE, stripe_customer_done_at__isnull=True
    ).first()
    if operation is None or not operation.stripe_customer_id:
        return False
    stripe_gateway.customer_delete(
        customer_id=operation.stripe_customer_id,
        idempotency_key=f"dentaltap-practice-deletion-{operation.pk}-customer",
    )
    return bool(
        PracticeOperation.objects.filter(pk=operation.pk, stripe_customer_done_at__isnull=True).update(
            stripe_customer_done_at=timezone.now()
        )
    )


def practice_customers_owed(*, older_than_seconds: int = 300) -> list[int]:
    """Deletions whose Stripe step is still owed (a lost task, a Stripe outage), past the time
    their own task had to do it."""
    before = timezone.now() - datetime.timedelta(seconds=older_than_seconds)
    return list(
        PracticeOperation.objects.filter(
            kind=OperationKind.DELETE, stripe_customer_done_at__isnull=True, created_at__lt=before
        )
        .exclude(stripe_customer_id="")
        .order_by("pk")
        .values_list("pk", flat=True)[:100]
    )
