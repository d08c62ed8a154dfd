"""Sending one webhook request, and which addresses may receive one.

The rules (`url_problem`, checked when staff save an endpoint and again before every request,
since DNS can change):

- production settings (`WEBHOOKS_ALLOW_LOCAL` off): https only, and the host must resolve to
  public addresses only: loopback, private, link-local (cloud metadata), shared, reserved and
  multicast addresses are refused, so an endpoint cannot be aimed at our own network (SSRF);
- development and tests (`WEBHOOKS_ALLOW_LOCAL` on): https anywhere, and http to localhost or a
  loopback address (the tests' receiver).

A request connects to the address that was checked (no second DNS lookup to rebind), follows no
redirect, sends with short timeouts and reads at most a snippet of the answer under an overall
deadline, so a slow or chatty receiver costs one worker a few seconds at most."""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.translation import gettext as _

SNIPPET_BYTES = 500
LOCAL_NAMES = {"localhost", "localhost.localdomain"}


class Refused(Exception):
    """The endpoint may not receive requests (scheme or address); the message says why."""


@dataclass(frozen=True)
class Answer:
    status_code: int | None
    snippet: str
    duration_ms: int
    error: str

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def _is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def _is_loopback_host(host: str) -> bool:
    if host.lower() in LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _resolve(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise Refused(_("The host %(host)s could not be resolved.") % {"host": host}) from error
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _checked_address(host: str, port: int) -> str:
    """The address to connect to; every address the host resolves to must be allowed."""
    addresses = _resolve(host, port)
    if not settings.WEBHOOKS_ALLOW_LOCAL:
        for address in addresses:
            if not _is_public(ipaddress.ip_address(address.split("%")[0])):
                raise Refused(
                    _(
                        "%(host)s resolves to a private or local address (%(address)s): "
                        "webhooks go to public hosts only."
                    )
                    % {"host": host, "address": address}
                )
    return addresses[0]


def _scheme_problem(url: str) -> str | None:
    try:
        parts = urlsplit(url)
        host, _port = parts.hostname or "", parts.port
    except ValueError:  # a port out of range, a malformed IPv6 address
        return _("Enter a full https:// address.")
    if parts.scheme not in ("http", "https") or not host:
        return _("Enter a full https:// address.")
    if parts.username or parts.password:
        return _("The address must not contain a user name or password.")
    if parts.scheme == "http" and not (settings.WEBHOOKS_ALLOW_LOCAL and _is_loopback_host(host)):
        return _("Webhooks are sent over https only (http:// is allowed for localhost in development).")
    return None


def url_problem(url: str) -> str | None:
    """Why this URL may not receive webhooks (None: it may), for the endpoint form."""
    problem = _scheme_problem(url)
    if problem is not None or settings.WEBHOOKS_ALLOW_LOCAL:
        return problem
    parts = urlsplit(url)
    try:
        _checked_address(parts.hostname or "", parts.port or 443)
    except Refused as refused:
        return str(refused)
    return None


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, *, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, *, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        raw = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(raw, server_hostname=self.host)  # type: ignore[attr-defined]


def post(*, url: str, body: bytes, headers: dict[str, str]) -> Answer:
    """POST body to url; never raises: a refusal, a network error or a timeout is in `error`."""
    timeout = float(settings.WEBHOOK_TIMEOUT_SECONDS)
    started = time.monotonic()
    status, snippet, error = None, b"", ""
    connection: http.client.HTTPConnection | None = None
    try:
        problem = _scheme_problem(url)
        if problem is not None:
            raise Refused(problem)
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        address = _checked_address(host, port)
        pinned = _PinnedHTTPSConnection if parts.scheme == "https" else _PinnedHTTPConnection
        connection = pinned(host, port, address=address, timeout=timeout)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        connection.request("POST", target, body=body, headers={**headers, "Content-Length": str(len(body))})
        response = connection.getresponse()
        status = response.status
        snippet = _read_snippet(response, connection, deadline=started + 2 * timeout)
    except Refused as refused:
        error = f"refused: {refused}"
    except (OSError, http.client.HTTPException) as failure:
        error = f"{type(failure).__name__}: {failure}" if str(failure) else type(failure).__name__
    finally:
        if connection is not None:
            connection.close()
    return Answer(
        status_code=status,
        snippet=snippet.decode("utf-8", "replace"),
        duration_ms=int((time.monotonic() - started) * 1000),
        error=error[:300],
    )


def _read_snippet(
    response: http.client.HTTPResponse, connection: http.client.HTTPConnection, *, deadline: float
) -> bytes:
    """The first SNIPPET_BYTES of the answer, or what arrived before the deadline."""
    received = b""
    while len(received) < SNIPPET_BYTES:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        if connection.sock is not None:
            connection.sock.settimeout(left)
        try:
            chunk = response.read1(SNIPPET_BYTES - len(received))
        except (TimeoutError, OSError, http.client.HTTPException):
            break
        if not chunk:
            break
        received += chunk
    return received
