"""Plans and practice accounts, the Stripe customer, checkout and the billing portal."""

from __future__ import annotations

import uuid

from django.db import IntegrityError, connection, transaction
from django.utils.translation import gettext as _

from billing import stripe_gateway
from billing.models import Plan, PracticeAccount
from dentaltap.errors import ApplicationError
from dentaltap.translated import translated, translated_columns
from tenants.handoffs import FREEMIUM, PlanFacts, PracticeCreated
from tenants.models import Membership, MembershipStatus, Practice, Role

PAID_SUBSCRIPTION_STATUSES = ("active", "trialing", "past_due")


def in_open_transaction() -> bool:
    """True inside a transaction the code opened (a test case's own wrapping one does not count:
    it stands for the request or task boundary)."""
    return any(not getattr(block, "_from_testcase", False) for block in connection.atomic_blocks)


def plan_freemium() -> Plan:
    return Plan.objects.get(is_freemium=True)


def practice_account_create(*, practice: Practice) -> PracticeAccount:
    """The practice's billing account on the freemium plan; an existing one is returned as is.
    Called when the practice is created (tenants' `practice_created` hand-off)."""
    account = PracticeAccount.objects.select_related("plan").filter(practice=practice).first()
    if account is not None:
        return account
    try:
        with transaction.atomic():
            return PracticeAccount.objects.create(practice=practice, plan=plan_freemium())
    except IntegrityError:  # created concurrently
        return PracticeAccount.objects.select_related("plan").get(practice=practice)


def on_practice_created(event: PracticeCreated) -> None:
    practice_account_create(practice=event.practice)


def account_for(practice: Practice) -> PracticeAccount:
    """The practice's billing account. Every practice has one from its creation on (and a data
    migration gave older practices theirs); a practice row made another way (bulk seeding,
    test factories) gets it here, in a service, never in a read."""
    return practice_account_create(practice=practice)


def plan_facts(practice: Practice) -> PlanFacts:
    """What plan the practice is on, for `Practice.plan`: a read, never a write. Freemium when
    the account row is missing."""
    plan = (
        Plan.objects.filter(accounts__practice=practice).only("code", *translated_columns("name")).first()
        or Plan.objects.filter(is_freemium=True).only("code", *translated_columns("name")).first()
    )
    return PlanFacts(code=plan.code, name=translated(plan)) if plan else FREEMIUM


def _practice_owner_email(practice: Practice) -> str:
    owner = (
        Membership.objects.filter(practice=practice, role=Role.OWNER, status=MembershipStatus.ACTIVE)
        .select_related("user")
        .order_by("created_at")
        .first()
    )
    return owner.user.email if owner else ""


def stripe_customer_ensure(*, practice: Practice) -> str:
    """The practice's Stripe customer id, creating the customer on first need. Call outside a
    transaction: it talks to Stripe. Safe under concurrency: the create carries a fixed
    idempotency key per practice, so two callers get the same customer."""
    if in_open_transaction():
        raise RuntimeError("stripe_customer_ensure talks to Stripe: call it outside a transaction")
    account = account_for(practice)
    if account.stripe_customer_id:
        return account.stripe_customer_id
    customer_id = stripe_gateway.customer_create(
        practice_id=practice.pk, name=practice.name, email=_practice_owner_email(practice)
    )
    PracticeAccount.objects.filter(pk=account.pk, stripe_customer_id__isnull=True).update(
        stripe_customer_id=customer_id
    )
    return PracticeAccount.objects.values_list("stripe_customer_id", flat=True).get(pk=account.pk) or customer_id


def has_live_subscription(account: PracticeAccount) -> bool:
    return bool(account.stripe_subscription_id) and account.subscription_status in (
        *PAID_SUBSCRIPTION_STATUSES,
        "incomplete",
    )


def account_checkout_benefit_set(*, practice: Practice, trial_days: int, coupon_id: str) -> None:
    """What a partner code gave the practice for its first checkout: free trial days and a Stripe
    coupon. Billing does not know partners; it applies what it is given at checkout."""
    account = account_for(practice)
    PracticeAccount.objects.filter(pk=account.pk).update(
        checkout_trial_days=max(0, trial_days), checkout_coupon_id=(coupon_id or "").strip()
    )


def checkout_start(*, practice: Practice, plan_code: str, success_url: str, cancel_url: str) -> str:
    """A Stripe Checkout URL for upgrading the practice to a paid plan."""
    plan = Plan.objects.filter(code=plan_code, is_active=True, is_freemium=False).first()
    if plan is None:
        raise ApplicationError(_("There is no such plan to upgrade to."), code="unknown_plan", status_code=404)
    account = account_for(practice)
    if has_live_subscription(account):
        # One subscription per practice: plan changes and payment details go through the portal.
        raise ApplicationError(
            _("This practice already has a subscription. Change plans under “Manage payment details”."),
            code="already_subscribed",
            status_code=409,
        )
    customer_id = stripe_customer_ensure(practice=practice)
    return stripe_gateway.checkout_session_create(
        practice_id=practice.pk,
        customer_id=customer_id,
        price_id=plan.stripe_price_id,
        success_url=success_url,
        cancel_url=cancel_url,
        trial_days=account.checkout_trial_days,
        coupon_id=account.checkout_coupon_id,
        # One key per click: the SDK's own retries of this call reuse it.
        idempotency_key=f"dentaltap-checkout-{practice.pk}-{plan.code}-{uuid.uuid4()}",
    )


def billing_portal_start(*, practice: Practice, return_url: str) -> str:
    account = account_for(practice)
    if not account.stripe_customer_id:
        raise ApplicationError(_("This practice has no payment details yet. Choose a plan first."), code="no_customer")
    return stripe_gateway.billing_portal_session_create(
        customer_id=account.stripe_customer_id,
        return_url=return_url,
        idempotency_key=f"dentaltap-portal-{uuid.uuid4()}",
    )
