"""Absolute URLs built from settings and the practice's own domain, never from the Host header
(a forged Host must not end up in a redirect or an email link)."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from django.conf import settings

if TYPE_CHECKING:
    from tenants.models import Practice


def _origin(host: str) -> str:
    port = settings.PUBLIC_PORT
    default_port = {"http": "80", "https": "443"}[settings.PUBLIC_SCHEME]
    suffix = f":{port}" if port and port != default_port else ""
    return f"{settings.PUBLIC_SCHEME}://{host}{suffix}"


def public_url(path: str = "/") -> str:
    return _origin(settings.BASE_DOMAIN) + path


def practice_host(slug: str) -> str:
    return f"{slug}.{settings.BASE_DOMAIN}"


def practice_url(practice: Practice, path: str = "/") -> str:
    return _origin(practice_host(practice.slug)) + path


def is_own_url(url: str) -> bool:
    """True for relative URLs and absolute ones on the base domain or a practice subdomain,
    with our scheme: where a login may send the user next (no open redirect)."""
    parts = urlsplit(url)
    if not parts.netloc:
        return url.startswith("/") and not url.startswith("//") and "\\" not in url
    if parts.scheme != settings.PUBLIC_SCHEME:
        return False
    host = (parts.hostname or "").lower()
    return host == settings.BASE_DOMAIN or host.endswith("." + settings.BASE_DOMAIN)
