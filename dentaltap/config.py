"""Environment-derived values needed both by settings and by launchers that run before Django."""

import os


def base_domain() -> str:
    """The public site's host; each practice lives at `<slug>.<base domain>`."""
    return os.environ.get("DENTALTAP_BASE_DOMAIN", "dentaltap.localhost").lower()


def public_scheme() -> str:
    return os.environ.get("DENTALTAP_PUBLIC_SCHEME", "http")


def public_port() -> str:
    """The port users reach the site on ("" for the scheme's default), for links we build."""
    return os.environ.get("DENTALTAP_PUBLIC_PORT", os.environ.get("PORT", "8000"))
