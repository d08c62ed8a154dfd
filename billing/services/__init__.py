"""Billing services, one module per subject:

- `accounts`: plans, practice accounts, the Stripe customer, checkout and the billing portal;
- `inbox`: the webhook inbox (store once, process in a task, relay what was lost);
- `events`: what each Stripe event type changes;
- `payments`: payments, refunds and disputes, and the append-only credit ledger.

The names below are billing's public service API (views, APIs, admin, tasks and the apps above
import them from here). Referral rewards are one layer up, in `rewards`.
"""

from billing.services.accounts import (
    PAID_SUBSCRIPTION_STATUSES,
    account_checkout_benefit_set,
    account_for,
    billing_portal_start,
    checkout_start,
    has_live_subscription,
    in_open_transaction,
    plan_facts,
    plan_freemium,
    practice_account_create,
    stripe_customer_ensure,
)
from billing.services.events import EVENT_HANDLERS, UnknownCustomer
from billing.services.inbox import MAX_EVENT_ATTEMPTS, stripe_event_process, stripe_events_relay, webhook_receive
from billing.services.payments import (
    REFUND_VOID_PERCENT,
    credit_balance_cents,
    ledger_entry_record,
    payment_kept_cents,
    payment_refunded_cents,
    payment_reversed,
    payment_void_reason,
    payments_lock,
)
from billing.webhooks import WebhookRejected

__all__ = [
    "EVENT_HANDLERS",
    "MAX_EVENT_ATTEMPTS",
    "PAID_SUBSCRIPTION_STATUSES",
    "REFUND_VOID_PERCENT",
    "UnknownCustomer",
    "WebhookRejected",
    "account_checkout_benefit_set",
    "account_for",
    "billing_portal_start",
    "checkout_start",
    "credit_balance_cents",
    "has_live_subscription",
    "in_open_transaction",
    "ledger_entry_record",
    "payment_kept_cents",
    "payment_refunded_cents",
    "payment_reversed",
    "payment_void_reason",
    "payments_lock",
    "plan_facts",
    "plan_freemium",
    "practice_account_create",
    "stripe_customer_ensure",
    "stripe_event_process",
    "stripe_events_relay",
    "webhook_receive",
]
