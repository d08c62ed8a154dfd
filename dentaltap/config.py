"""Environment-derived values needed both by settings and by launchers that run before Django."""

import os
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent


def base_domain() -> str:
    """The public site's host; each practice lives at `<slug>.<base domain>`."""
    return os.environ.get("DENTALTAP_BASE_DOMAIN", "dentaltap.localhost").lower()


def public_scheme() -> str:
    return os.environ.get("DENTALTAP_PUBLIC_SCHEME", "http")


def public_port() -> str:
    """The port users reach the site on ("" for the scheme's default), for links we build."""
    return os.environ.get("DENTALTAP_PUBLIC_PORT", os.environ.get("PORT", "8000"))


def data_dir() -> Path:
    """Where the embedded servers, sent mail (file backend) and beat's schedule live."""
    return Path(os.environ.get("DENTALTAP_DATA_DIR", PROJECT_DIR / ".data")).resolve()
