"""Points: a balance per user is the sum of an append-only ledger (PointsEntry); points buy
catalogue items. A redemption is one idempotent operation: the same (user, idempotency key)
returns the first redemption, never spends twice (a database rule and a lock on the user)."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from dentaltap.errors import ApplicationError, ConflictError
from rewards import handoffs
from rewards.models import CatalogueItem, PointsEntry, PointsKind, Redemption
from tenants.models import User


def points_balance(*, user: User) -> int:
    return PointsEntry.objects.filter(user=user).aggregate(total=Sum("points"))["total"] or 0


def catalogue_available() -> list[CatalogueItem]:
    now = timezone.now()
    return [
        item
        for item in CatalogueItem.objects.filter(is_active=True)
        if (item.available_until is None or item.available_until > now) and item.stock != 0
    ]


def _same_or_refuse(redemption: Redemption, item_id: int) -> Redemption:
    if redemption.item_id != item_id:
        raise ConflictError(
            _("This redemption key was already used for another item."),
            code="idempotency_key_reused",
            fields={"idempotency_key": [_("Already used for another item.")]},
        )
    return redemption


def redemption_create(*, user: User, item_id: int, idempotency_key: str) -> Redemption:
    """Spend points on a catalogue item, once per key: a retry with the same key returns the
    first redemption. Refused (4xx) when the item is gone, expired or out of stock, or the
    balance is short; nothing is written then."""
    key = idempotency_key.strip()[:100]
    if not key:
        raise ApplicationError(
            _("A redemption needs an idempotency key."), fields={"idempotency_key": [_("This field is required.")]}
        )
    earlier = Redemption.objects.filter(user=user, idempotency_key=key).first()
    if earlier is not None:
        return _same_or_refuse(earlier, item_id)
    try:
        with transaction.atomic():
            User.objects.select_for_update().filter(pk=user.pk).first()  # one redemption of a user at a time
            earlier = Redemption.objects.filter(user=user, idempotency_key=key).first()
            if earlier is not None:
                return _same_or_refuse(earlier, item_id)
            item = CatalogueItem.objects.select_for_update().filter(pk=item_id, is_active=True).first()
            if item is None:
                raise ApplicationError(
                    _("This reward is not in the catalogue."), code="not_found", fields={"item": [_("Unknown item.")]}
                )
            if item.available_until is not None and item.available_until <= timezone.now():
                raise ApplicationError(
                    _("This reward is no longer available."), code="expired", fields={"item": [_("Expired.")]}
                )
            if item.stock == 0:
                raise ApplicationError(
                    _("This reward is out of stock."), code="out_of_stock", fields={"item": [_("Out of stock.")]}
                )
            balance = points_balance(user=user)
            if balance < item.cost_points:
                raise ApplicationError(
                    _("Not enough points: this reward costs %(cost)d, you have %(balance)d.")
                    % {"cost": item.cost_points, "balance": balance},
                    code="insufficient_points",
                    fields={"item": [_("Not enough points.")]},
                )
            redemption = Redemption.objects.create(user=user, item=item, points=item.cost_points, idempotency_key=key)
            PointsEntry.objects.create(
                user=user,
                kind=PointsKind.REDEMPTION,
                points=-item.cost_points,
                redemption=redemption,
                description=f"Redeemed: {item.name}"[:200],
            )
            if item.stock is not None:
                item.stock -= 1
                item.save(update_fields=["stock"])
            handoffs.points_redeemed.send(handoffs.PointsRedeemed(redemption_id=redemption.pk))
            return redemption
    except IntegrityError:  # the same key committed by a concurrent call
        return _same_or_refuse(Redemption.objects.get(user=user, idempotency_key=key), item_id)
