from typing import Any

from django.http import HttpRequest

from tenants.urls_helpers import public_url


def referral_nav(request: HttpRequest) -> dict[str, Any]:
    """Where the nav's "Refer colleagues" goes: the base domain's page, from every host (the
    figures are the user's own, whichever practice they are in). No query."""
    return {"refer_url": public_url("/referrals/")}
