from typing import Any

from django.http import HttpRequest

from referrals import selectors
from tenants.access import Permission, current_practice, is_practice_host, membership_has_permission
from tenants.urls_helpers import public_url


def referral_nav(request: HttpRequest) -> dict[str, Any]:
    """Where the nav's "Refer colleagues" goes: the base domain's page, from every host (the
    figures are the user's own, whichever practice they are in). No query.

    For team managers on a practice host, the number of access requests waiting, beside
    "Team": one indexed count, run only when the page shows that link (templates call it)."""
    membership = getattr(request, "membership", None)

    def waiting() -> int:
        if not is_practice_host(request) or not membership_has_permission(membership, Permission.MANAGE_TEAM):
            return 0
        return selectors.access_requests_pending_count(practice=current_practice(request))

    return {"refer_url": public_url("/referrals/"), "access_requests_waiting": waiting}
