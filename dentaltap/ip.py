"""The client's address, one way for the whole project (rate limits, login protection, referral
signals, the team audit log), read with django-ipware.

Without proxies (DENTALTAP_TRUSTED_PROXY_COUNT=0, the default) it is the connection's address,
REMOTE_ADDR: X-Forwarded-For is ignored, because anyone can send it. Behind N reverse proxies
(load balancer, ingress) each proxy appends the address it was reached from, so the client is
the N-th address from the right of X-Forwarded-For; whatever stands left of it was written by
the client and is never believed. Only that trusted tail is handed to ipware (which validates
it: an address, IPv4 or IPv6, with any port stripped); a header shorter than the chain, or one
whose trusted entry is not an address, falls back to REMOTE_ADDR.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from ipware import get_client_ip

FORWARDED_HEADER = "HTTP_X_FORWARDED_FOR"


def request_client_ip(request: HttpRequest) -> str | None:
    """The client's address, or None when the request carries none we can read."""
    proxies = int(getattr(settings, "TRUSTED_PROXY_COUNT", 0))
    remote = request.META.get("REMOTE_ADDR") or None
    if proxies <= 0:
        return _address(remote)
    hops = [part.strip() for part in str(request.META.get(FORWARDED_HEADER, "")).split(",") if part.strip()]
    if len(hops) < proxies:
        return _address(remote)
    # The client plus the proxies before the last one (the last one is REMOTE_ADDR itself).
    trusted = hops[-proxies:]
    address, _routable = get_client_ip(
        _ForwardedRequest({FORWARDED_HEADER: ", ".join(trusted)}),  # type: ignore[arg-type]
        proxy_order="left-most",
        proxy_count=proxies - 1,
        request_header_order=(FORWARDED_HEADER,),
        strict=True,
    )
    return address if address is not None else _address(remote)


def _address(value: str | None) -> str | None:
    if not value:
        return None
    address, _routable = get_client_ip(
        _ForwardedRequest({"REMOTE_ADDR": value}),  # type: ignore[arg-type]
        request_header_order=("REMOTE_ADDR",),
    )
    return address


class _ForwardedRequest:
    """Just the part of a request ipware reads (its META), so only the headers we chose count."""

    def __init__(self, meta: dict[str, str]) -> None:
        self.META = meta
