"""One client address for the project (dentaltap.ip, django-ipware): X-Forwarded-For is believed
only as far as the configured proxies reach, from the right; what a client writes there itself
never names it."""

from __future__ import annotations

import pytest
from django.test import RequestFactory, override_settings

from dentaltap.ip import request_client_ip
from dentaltap.ratelimit import client_ip
from tenants.team.audit import RequestMeta

PROXY = "10.0.0.2"  # the load balancer: REMOTE_ADDR of every request it forwards
CLIENT = "203.0.113.7"
SPOOFED = "198.51.100.66"


def _request(remote: str = PROXY, forwarded: str | None = None) -> object:
    headers = {} if forwarded is None else {"HTTP_X_FORWARDED_FOR": forwarded}
    return RequestFactory().get("/", REMOTE_ADDR=remote, **headers)


def test_without_proxies_the_header_is_ignored() -> None:
    """The default (DENTALTAP_TRUSTED_PROXY_COUNT=0): whoever connects is the client."""
    request = _request(remote=CLIENT, forwarded=SPOOFED)
    assert request_client_ip(request) == CLIENT  # type: ignore[arg-type]
    assert client_ip(request) == CLIENT  # type: ignore[arg-type]  # the rate limits' key
    assert RequestMeta.from_request(request).ip_address == CLIENT  # type: ignore[arg-type]  # the audit log


@override_settings(TRUSTED_PROXY_COUNT=1)
def test_behind_a_trusted_proxy_the_client_is_the_address_it_appended() -> None:
    request = _request(forwarded=CLIENT)
    assert request_client_ip(request) == CLIENT  # type: ignore[arg-type]
    assert client_ip(request) == CLIENT  # type: ignore[arg-type]
    # The audit log records the client, not the proxy (it used to record REMOTE_ADDR).
    assert RequestMeta.from_request(request).ip_address == CLIENT  # type: ignore[arg-type]


@override_settings(TRUSTED_PROXY_COUNT=1)
def test_what_the_client_wrote_before_the_proxys_entry_is_not_believed() -> None:
    assert request_client_ip(_request(forwarded=f"{SPOOFED}, {CLIENT}")) == CLIENT  # type: ignore[arg-type]
    assert request_client_ip(_request(forwarded=f"1.1.1.1, {SPOOFED}, {CLIENT}")) == CLIENT  # type: ignore[arg-type]


@override_settings(TRUSTED_PROXY_COUNT=2)
def test_two_proxies_count_two_from_the_right() -> None:
    inner_proxy = "10.0.0.5"  # the first proxy appended the client, the second appended the first
    assert request_client_ip(_request(forwarded=f"{SPOOFED}, {CLIENT}, {inner_proxy}")) == CLIENT  # type: ignore[arg-type]


@override_settings(TRUSTED_PROXY_COUNT=2)
def test_a_request_that_did_not_come_through_every_proxy_falls_back_to_the_connection() -> None:
    """An untrusted path (the header is shorter than the chain): the header is not believed."""
    assert request_client_ip(_request(remote="192.0.2.50", forwarded=SPOOFED)) == "192.0.2.50"  # type: ignore[arg-type]


@override_settings(TRUSTED_PROXY_COUNT=1)
@pytest.mark.parametrize(
    ("forwarded", "expected"),
    [
        ("not-an-address", PROXY),  # garbage in the trusted entry: not an address, not believed
        (f"{CLIENT}:5555", CLIENT),  # a port is stripped
        ("[2001:db8::1]:443", "2001:db8::1"),  # IPv6, bracketed with a port
        ("2001:db8::2", "2001:db8::2"),
        ("", PROXY),  # no header at all
    ],
)
def test_addresses_are_validated_and_normalised(forwarded: str, expected: str) -> None:
    assert request_client_ip(_request(forwarded=forwarded or None)) == expected  # type: ignore[arg-type]


def test_a_request_without_any_address() -> None:
    request = RequestFactory().get("/", REMOTE_ADDR="")
    assert request_client_ip(request) is None
    assert client_ip(request) == "unknown"
