"""What referrals adds to the practice's Team page (registered in ReferralsConfig.ready)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from referrals import selectors
from tenants.models import Practice

SHOWN_ON_TEAM_PAGE = 5


def access_requests_section(request: HttpRequest, practice: Practice) -> dict[str, Any] | None:
    """The access requests waiting for a decision, with their count: the Team page is where a
    manager looks, not only the Invite page and the email. Nothing when none wait."""
    pending = list(selectors.access_requests_pending(practice=practice)[: SHOWN_ON_TEAM_PAGE + 1])
    if not pending:
        return None
    return {
        "template": "referrals/team_access_requests.html",
        "count": selectors.access_requests_pending_count(practice=practice),
        "requests": pending[:SHOWN_ON_TEAM_PAGE],
    }
