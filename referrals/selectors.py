from __future__ import annotations

from django.db.models import QuerySet

from referrals.models import AccessRequest, AccessRequestStatus, PracticeReferralSettings, ReferralCode
from tenants.models import Practice, User
from tenants.selectors import home_practice


def referral_code_find(code: str) -> ReferralCode | None:
    code = (code or "").strip()
    if not code or len(code) > 32:
        return None
    return ReferralCode.objects.select_related("user").filter(code=code, user__is_active=True).first()


def referrer_home_practice(*, user: User) -> Practice | None:
    """The practice a referral link opens a door to: the referrer's own."""
    return home_practice(user=user)


def practice_links_grant_guest_access(*, practice: Practice) -> bool:
    return PracticeReferralSettings.objects.filter(practice=practice, links_grant_guest_access=True).exists()


def access_requests_pending(*, practice: Practice) -> QuerySet[AccessRequest]:
    return (
        AccessRequest.objects.filter(practice=practice, status=AccessRequestStatus.PENDING)
        .select_related("requester")
        .order_by("created_at")
    )


def access_requests_recent(*, practice: Practice, limit: int = 20) -> QuerySet[AccessRequest]:
    return (
        AccessRequest.objects.filter(practice=practice)
        .exclude(status=AccessRequestStatus.PENDING)
        .select_related("requester", "decided_by")
        .order_by("-decided_at")[:limit]
    )


def access_requests_of_user(*, user: User) -> QuerySet[AccessRequest]:
    return AccessRequest.objects.filter(requester=user).select_related("practice").order_by("-created_at")


def access_requests_pending_count(*, practice: Practice) -> int:
    return AccessRequest.objects.filter(practice=practice, status=AccessRequestStatus.PENDING).count()
