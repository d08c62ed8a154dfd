"""The one place that talks to Stripe. Every write carries a fixed idempotency key derived from
what it does, so a retry (ours, the SDK's or Celery's) never does the thing twice; Stripe's
errors become the project's own (transient: retry later; permanent: stop and show)."""

from __future__ import annotations

import functools
from typing import Any

import stripe
from django.conf import settings

from dentaltap.errors import ApplicationError


class StripeTransientError(Exception):
    """Network trouble, rate limits, Stripe's own 5xx: the same call may succeed later."""


class StripePermanentError(ApplicationError):
    code = "payment_provider_error"
    status_code = 502


@functools.cache
def _client(api_key: str, api_base: str | None) -> stripe.StripeClient:
    return stripe.StripeClient(
        api_key,
        base_addresses={"api": api_base} if api_base else None,
        max_network_retries=2,  # the SDK retries with the same idempotency key
        http_client=stripe.RequestsClient(timeout=10),
    )


def client() -> stripe.StripeClient:
    return _client(settings.STRIPE_SECRET_KEY, settings.STRIPE_API_BASE or None)


def _call(operation: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return operation(*args, **kwargs)
    except (stripe.APIConnectionError, stripe.RateLimitError) as error:
        raise StripeTransientError(str(error)) from error
    except stripe.IdempotencyError as error:
        # The same key is still being processed (a retry overtook a slow first attempt).
        raise StripeTransientError(str(error)) from error
    except stripe.APIError as error:
        raise StripeTransientError(str(error)) from error
    except stripe.StripeError as error:
        if getattr(error, "http_status", None) and error.http_status >= 500:  # type: ignore[operator]
            raise StripeTransientError(str(error)) from error
        raise StripePermanentError(f"Stripe refused the request: {error.user_message or error}") from error


def customer_create(*, practice_id: int, name: str, email: str) -> str:
    customer = _call(
        client().v1.customers.create,
        params={"name": name, "email": email, "metadata": {"practice_id": str(practice_id)}},
        options={"idempotency_key": f"dentaltap-practice-{practice_id}-customer"},
    )
    return str(customer.id)


def customer_balance_adjust(
    *,
    customer_id: str,
    amount_cents: int,
    currency: str,
    idempotency_key: str,
    description: str,
    metadata: dict[str, str],
) -> str:
    """Negative amounts are credit (they lower the next invoice); positive ones take it back."""
    transaction = _call(
        client().v1.customers.balance_transactions.create,
        customer_id,
        params={"amount": amount_cents, "currency": currency, "description": description, "metadata": metadata},
        options={"idempotency_key": idempotency_key},
    )
    return str(transaction.id)


def customer_balance_find(*, customer_id: str, metadata: dict[str, str]) -> str | None:
    """The id of an existing balance transaction whose metadata includes `metadata`, if any: how
    a retry learns that an earlier attempt went through after its idempotency key expired."""
    page = _call(client().v1.customers.balance_transactions.list, customer_id, params={"limit": 100})
    for transaction in page.data:
        found = transaction.metadata.to_dict() if transaction.metadata else {}
        if all(found.get(key) == value for key, value in metadata.items()):
            return str(transaction.id)
    return None


def checkout_session_create(
    *,
    practice_id: int,
    customer_id: str,
    price_id: str,
    success_url: str,
    cancel_url: str,
    idempotency_key: str,
    trial_days: int = 0,
    coupon_id: str = "",
) -> str:
    """A subscription Checkout Session; a partner code's benefit rides along: free trial days
    (`subscription_data.trial_period_days`) and a coupon (`discounts`)."""
    subscription_data: dict[str, Any] = {"metadata": {"practice_id": str(practice_id)}}
    if trial_days > 0:
        subscription_data["trial_period_days"] = trial_days
    params: dict[str, Any] = {
        "mode": "subscription",
        "customer": customer_id,
        "client_reference_id": str(practice_id),
        "line_items": [{"price": price_id, "quantity": 1}],
        "success_url": success_url,
        "cancel_url": cancel_url,
        "subscription_data": subscription_data,
    }
    if coupon_id:
        params["discounts"] = [{"coupon": coupon_id}]
    session = _call(client().v1.checkout.sessions.create, params=params, options={"idempotency_key": idempotency_key})
    return str(session.url)


def billing_portal_session_create(*, customer_id: str, return_url: str, idempotency_key: str) -> str:
    session = _call(
        client().v1.billing_portal.sessions.create,
        params={"customer": customer_id, "return_url": return_url},
        options={"idempotency_key": idempotency_key},
    )
    return str(session.url)


def customer_balance(*, customer_id: str) -> int:
    """The customer's balance in cents as Stripe keeps it: positive is owed to us (it is added to
    the next invoice), negative is credit. A deleted or unknown customer owes nothing."""

    def retrieve() -> dict[str, Any]:
        try:
            return dict(client().v1.customers.retrieve(customer_id).to_dict())
        except stripe.InvalidRequestError as error:
            if error.code == "resource_missing":
                return {"deleted": True}
            raise

    customer = _call(retrieve)
    if customer.get("deleted"):
        return 0
    return int(customer.get("balance") or 0)


def coupon_retrieve(*, coupon_id: str) -> dict[str, Any] | None:
    """The coupon as Stripe keeps it (`valid` is False once it expired or was used up), or None
    when Stripe knows no such coupon. A read a person waits on: one attempt, no retries; Stripe
    unreachable (or its 5xx) raises StripeTransientError."""

    def retrieve() -> dict[str, Any] | None:
        try:
            coupon = client().v1.coupons.retrieve(coupon_id, options={"max_network_retries": 0})
        except stripe.InvalidRequestError as error:
            if error.code == "resource_missing" or error.http_status == 404:
                return None
            raise
        return dict(coupon.to_dict())

    found: dict[str, Any] | None = _call(retrieve)
    return found


def customer_delete(*, customer_id: str, idempotency_key: str) -> bool:
    """Delete the customer (Stripe cancels its subscriptions with it). Safe to repeat: a customer
    already gone counts as done. True when this call deleted it."""

    def delete() -> bool:
        try:
            client().v1.customers.delete(customer_id, options={"idempotency_key": idempotency_key})
        except stripe.InvalidRequestError as error:
            if error.code == "resource_missing":
                return False
            raise
        return True

    return bool(_call(delete))
