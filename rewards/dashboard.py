"""The "Refer colleagues" dashboard: one user's link, ready messages, funnel and referrals.

It lives in rewards, the layer above referrals and billing, because its figures join all three
(referrals and visits, payments, rewards and the ledger) and its rows say where each reward is.

Everything here is keyed on the user, never on a practice: a dentist sees the same figures from
every practice they enter. The figures and the weekly chart are in rewards/dashboard_figures.py
(two statements); a page of the list is two queries whatever the number of rows."""

from __future__ import annotations

import datetime
import io
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from django.db import models
from django.db.models import Prefetch, QuerySet
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _

from billing.models import Payment
from referrals.models import (
    LINK_PLACEHOLDER,
    Eligibility,
    EligibilityReason,
    Referral,
    ReferralCode,
    ReferralMessageTemplate,
    ReferralSource,
    ShareChannel,
)
from rewards.models import Reward, RewardRecipient, RewardStatus
from rewards.selectors import reward_reason_for_customer
from tenants.models import User
from tenants.urls_helpers import public_url

# --------------------------------------------------------------------------- the link


def referral_link(code: ReferralCode) -> str:
    return public_url(f"/r/{code.code}/")


def qr_svg(data: str) -> str:
    """The link as a QR code, an SVG document (the qrcode library's path renderer: no Pillow)."""
    import qrcode  # noqa: PLC0415 - only this view needs it
    import qrcode.image.svg  # noqa: PLC0415

    image = qrcode.make(
        data,
        image_factory=qrcode.image.svg.SvgPathFillImage,
        box_size=10,
        border=2,
        error_correction=qrcode.constants.ERROR_CORRECT_M,
    )
    buffer = io.BytesIO()
    image.save(buffer)
    return buffer.getvalue().decode()


# --------------------------------------------------------------------------- ready messages

# Used when staff deleted or switched off a channel's template (or before the defaults exist).
FALLBACK_TEXT = gettext_lazy(
    "I use DentalTap for my practice: patients, schedule and team in one place. Start free: {link}"
)
FALLBACK_SUBJECT = gettext_lazy("Try DentalTap for your practice")


@dataclass(frozen=True)
class ShareMessage:
    channel: str
    label: str
    subject: str
    text: str
    share_url: str


def _share_url(channel: str, link: str, text: str, subject: str) -> str:
    if channel == ShareChannel.EMAIL:
        return "mailto:?" + urlencode({"subject": subject, "body": text}, quote_via=quote)
    if channel == ShareChannel.WHATSAPP:
        return "https://wa.me/?" + urlencode({"text": text}, quote_via=quote)
    if channel == ShareChannel.TELEGRAM:
        without_link = text.replace(link, "").strip()
        return "https://t.me/share/url?" + urlencode({"url": link, "text": without_link}, quote_via=quote)
    if channel == ShareChannel.LINKEDIN:
        # LinkedIn's share dialog takes the URL only; the text is offered to copy beside it.
        return "https://www.linkedin.com/sharing/share-offsite/?" + urlencode({"url": link}, quote_via=quote)
    if channel == ShareChannel.X:
        return "https://x.com/intent/post?" + urlencode({"text": text}, quote_via=quote)
    if channel == ShareChannel.FACEBOOK:
        return "https://www.facebook.com/sharer/sharer.php?" + urlencode({"u": link}, quote_via=quote)
    raise ValueError(channel)


def share_text_render(template_text: str, link: str) -> str:
    """The template with its `{link}` placeholders replaced (plain replace: the rest of a
    staff-written text may hold braces, so no str.format)."""
    return template_text.replace(LINK_PLACEHOLDER, link)


def share_messages(*, link: str, language: str | None = None) -> list[ShareMessage]:
    """One ready message per channel, in the user's language (else English, else the built-in
    text). One query."""
    language = (language or get_language() or "en").split("-")[0]
    rows = ReferralMessageTemplate.objects.filter(is_active=True, language__in={language, "en"})
    by_channel: dict[str, ReferralMessageTemplate] = {}
    for row in rows:
        if row.channel not in by_channel or row.language == language:
            by_channel[row.channel] = row
    messages = []
    for channel, label in ShareChannel.choices:
        chosen = by_channel.get(channel)
        template_text = chosen.text if chosen else str(FALLBACK_TEXT)
        subject = (chosen.subject if chosen and chosen.subject else "") or str(FALLBACK_SUBJECT)
        text = share_text_render(template_text, link)
        messages.append(ShareMessage(channel, str(label), subject, text, _share_url(channel, link, text, subject)))
    return messages


# --------------------------------------------------------------------------- the list


def email_mask(email: str) -> str:
    """j***@example.com: enough to recognise a colleague, not enough to harvest an address."""
    local, _sep, domain = email.partition("@")
    if not domain:
        return "***"
    return f"{local[:1]}***@{domain}"


REASON_IN_PLAIN_WORDS: dict[str, Any] = {
    EligibilityReason.SELF_REFERRAL: gettext_lazy("You cannot refer yourself or your own second account."),
    EligibilityReason.EMAIL_REGISTERED: gettext_lazy("This person already had a DentalTap account."),
    EligibilityReason.VELOCITY_LIMIT: gettext_lazy(
        "Too many signups through your link in one day: the ones over the daily limit earn no reward."
    ),
    EligibilityReason.DISPOSABLE_EMAIL: gettext_lazy(
        "Our team is checking this signup: it used a throw-away email address."
    ),
    EligibilityReason.SHARED_IP: gettext_lazy(
        "Our team is checking this signup: it came from the same network as you or another signup."
    ),
    EligibilityReason.SAME_CARD: gettext_lazy(
        "Our team is checking this referral: it was paid with the same card as your own practice."
    ),
    EligibilityReason.REJECTED_BY_STAFF: gettext_lazy("Our team reviewed this signup and it does not qualify."),
}
# Reward statuses whose row says why (the others speak for themselves). The words come from
# rewards' reward_reason_for_customer: the same as on the Billing page, never a staff note.
REWARD_STATUSES_EXPLAINED = frozenset(
    {RewardStatus.CANCELLED, RewardStatus.REJECTED, RewardStatus.CLAWED_BACK, RewardStatus.FAILED}
)


@dataclass(frozen=True)
class ReferralRow:
    id: int
    name: str
    email_masked: str
    created_at: datetime.datetime
    source: str
    source_label: str
    status: str
    status_label: str
    reason: str


def referrer_referrals(*, user: User) -> QuerySet[Referral]:
    """The user's referrals, newest first, with what a row needs: its rewards to the referrer
    (one query per page); whether its practice paid is asked by referral_rows for the rows shown."""
    return (
        Referral.objects.filter(referrer=user)
        .select_related("referred_user")
        .only(
            "pk", "created_at", "source", "eligibility", "eligibility_reason", "referred_practice_id", "reviewed_at",
            "referred_user__full_name", "referred_user__email",
        )
        .prefetch_related(
            Prefetch(
                "rewards",
                queryset=Reward.objects.filter(recipient=RewardRecipient.REFERRER)
                .select_related("qualifying_payment", "rule")
                .order_by("pk"),
                to_attr="referrer_rewards",
            )
        )
        .order_by("-created_at", "-pk")
    )  # fmt: skip


class _Labels:
    """The labels of a choice field, each translated once per list rather than once per row:
    `get_FOO_display()` hashes (so translates) every label of the field on every call."""

    def __init__(self, choices: type[models.Choices]) -> None:
        self._labels = dict(choices.choices)
        self._done: dict[str, str] = {}

    def __call__(self, value: str) -> str:
        label = self._done.get(value)
        if label is None:
            label = self._done[value] = str(self._labels.get(value, value))
        return label


def referral_rows(referrals: Any) -> list[ReferralRow]:
    """Rows for one page of referrals (from referrer_referrals: its rewards prefetched; whether
    each practice paid is asked here, for the rows that need it)."""

    labels = {"status": _Labels(RewardStatus), "source": _Labels(ReferralSource), "reason": _Labels(EligibilityReason)}
    referrals = list(referrals)
    paid = _paid_practice_ids(referrals)
    return [
        referral_row(referral, labels=labels, has_paid=referral.referred_practice_id in paid) for referral in referrals
    ]


def _paid_practice_ids(referrals: list[Referral]) -> set[int]:
    """Which of these rows' practices have a payment that was not refunded or disputed, asked only
    for the rows whose status depends on it (eligible, no reward yet): one query on the page's few
    practice ids through billing_payment's practice index. (As an EXISTS in the list's own query,
    PostgreSQL costed it for every referral of the referrer before the LIMIT and chose to hash all
    payments: 52 ms at 250k payments, against about 0.3 ms here.)"""
    asked = {
        referral.referred_practice_id
        for referral in referrals
        if referral.referred_practice_id is not None
        and referral.eligibility == Eligibility.ELIGIBLE
        and not getattr(referral, "referrer_rewards", None)
    }
    if not asked:
        return set()
    return set(
        Payment.objects.filter(practice_id__in=asked, is_reversed=False)
        .values_list("practice_id", flat=True)
        .distinct()
    )


def referral_row(referral: Referral, *, labels: dict[str, _Labels], has_paid: bool) -> ReferralRow:
    """What the referrer may see of one referral: a name, a masked email, and the status with
    its reason in plain words (no fraud signals, IP addresses or staff notes)."""

    # The row shows the referral's first reward to the referrer (its first-payment reward, for
    # the default program); every reward is listed on the Billing page.
    rewards = getattr(referral, "referrer_rewards", None)
    reward = rewards[0] if rewards else None
    reason = ""
    if reward is not None:
        status, label = reward.status, labels["status"](reward.status)
        if status in REWARD_STATUSES_EXPLAINED:
            reason = reward_reason_for_customer(reward)
    elif referral.eligibility == Eligibility.INELIGIBLE:
        status, label = "not_eligible", _("Not eligible")
    elif referral.eligibility == Eligibility.REVIEW:
        status, label = "under_review", _("Under review")
    elif has_paid:
        status, label = "paid", _("Paid")
    else:
        status, label = "signed_up", _("Signed up")
    if referral.eligibility == Eligibility.INELIGIBLE and referral.reviewed_at is not None and not reason:
        reason = str(REASON_IN_PLAIN_WORDS[EligibilityReason.REJECTED_BY_STAFF])
    elif referral.eligibility != Eligibility.ELIGIBLE and not reason:
        words = REASON_IN_PLAIN_WORDS.get(referral.eligibility_reason)
        reason = str(words) if words is not None else labels["reason"](referral.eligibility_reason)
    return ReferralRow(
        id=referral.pk,
        name=referral.referred_user.full_name or _("(no name)"),
        email_masked=email_mask(referral.referred_user.email),
        created_at=referral.created_at,
        source=referral.source,
        source_label=labels["source"](referral.source),
        status=status,
        status_label=str(label),
        reason=reason,
    )
