"""Headers on every answer: a strict Content-Security-Policy (django-csp) on pages, API answers,
error pages and static files; `Cache-Control: no-store, private` on every dynamic answer (they
carry practice and patient data, or a login's) while static files stay cacheable. And nothing
the admin or the API docs send needs an inline script or style."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from django.contrib import admin
from django.test import Client
from django.urls import reverse
from rest_framework.authtoken.models import Token

from tenants.models import Practice, User
from tests.conftest import BASE, PORT
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

Pair = tuple[User, Practice]
ClientFor = Callable[..., Client]


def directives(response: object) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]  # type: ignore[index]
    parsed: dict[str, list[str]] = {}
    for part in header.split(";"):
        name, *values = part.split()
        parsed[name] = values
    return parsed


def assert_strict_policy(response: object) -> None:
    policy = directives(response)
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]
    assert policy["img-src"] == ["'self'", "data:"]
    assert policy["object-src"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"]
    form_action = policy["form-action"]
    assert (
        "'self'" in form_action and f"http://*.{BASE}:{PORT}" in form_action and f"http://{BASE}:{PORT}" in form_action
    )
    header = response["Content-Security-Policy"]  # type: ignore[index]
    assert "unsafe-inline" not in header and "unsafe-eval" not in header


def assert_no_store(response: object) -> None:
    cache_control = {part.strip() for part in response["Cache-Control"].split(",")}  # type: ignore[index]
    assert {"no-store", "private"} <= cache_control, cache_control
    assert "public" not in cache_control


def test_practice_pages_and_api_answers_carry_the_policy_and_no_store(practice_a: Pair, client_for: ClientFor) -> None:
    owner, alpha = practice_a
    client = client_for(owner, alpha)
    token = Token.objects.create(user=owner)
    api = client_for(None, alpha, HTTP_AUTHORIZATION=f"Token {token.key}")
    answers = {
        "dashboard": client.get("/"),
        "patients page": client.get("/patients/"),
        "new patient form": client.get("/patients/new/"),
        "team page": client.get("/team/"),
        "billing page": client.get("/billing/"),
        "patients API (session)": client.get("/api/patients/"),
        "patients API (token)": api.get("/api/patients/"),
        "an API error": api.post("/api/patients/", {}, content_type="application/json"),
        "the schema": api.get("/api/schema/", HTTP_ACCEPT="application/json"),
        "a 404 page": client.get("/no-such-page/"),
    }
    expected_status = {"an API error": 400, "a 404 page": 404}
    for name, response in answers.items():
        assert response.status_code == expected_status.get(name, 200), name
        assert_strict_policy(response)
        assert_no_store(response)


@pytest.mark.practice_rows_only
def test_base_domain_pages_logged_in_or_not_carry_the_policy_and_no_store(
    practice_a: Pair, client_for: ClientFor
) -> None:
    owner, _ = practice_a
    anonymous = client_for()
    logged_in = client_for(owner)
    for response in (
        anonymous.get("/"),
        anonymous.get("/login/"),
        anonymous.get("/password-reset/"),
        logged_in.get("/practices/"),
        logged_in.get("/referrals/"),
        logged_in.get("/referrals/qr.svg"),  # the user's own link: no copy kept anywhere either
        logged_in.get("/api/practices/"),
    ):
        assert response.status_code == 200, response
        assert_strict_policy(response)
        assert_no_store(response)


def test_static_files_stay_cacheable_and_carry_the_policy(public_tenant: Practice) -> None:
    for path in ("/static/css/app.css", "/static/vendor/uplot/uPlot.iife.min.js", "/static/favicon.svg"):
        response = Client(HTTP_HOST=BASE).get(path)
        assert response.status_code == 200, path
        cache_control = response.get("Cache-Control", "")
        assert "no-store" not in cache_control and "max-age=" in cache_control, (path, cache_control)
        assert_strict_policy(response)


def test_an_unknown_host_gets_the_policy_too(public_tenant: Practice) -> None:
    response = Client(HTTP_HOST=f"nobody.{BASE}").get("/")
    assert response.status_code == 404
    assert_strict_policy(response)


INLINE = re.compile(r"<style|\sstyle=\"|\son[a-z]+=\"|javascript:|<script>", re.IGNORECASE)


def test_admin_pages_have_no_inline_script_or_style(public_tenant: Practice) -> None:
    """The browser test visits a few admin pages; this reads the markup of all of them."""
    staff = UserFactory(email="staff@dentaltap.example", is_staff=True, is_superuser=True)
    client = Client(HTTP_HOST=BASE)
    client.force_login(staff)
    paths = ["/admin/", "/admin/password_change/"]
    for model, model_admin in admin.site._registry.items():
        name = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        paths.append(reverse(f"{name}_changelist", urlconf="dentaltap.urls_public"))
        if model_admin.has_add_permission(type("R", (), {"user": staff})()):  # type: ignore[arg-type]
            paths.append(reverse(f"{name}_add", urlconf="dentaltap.urls_public"))
    for path in paths:
        response = client.get(path, follow=True)  # one list redirects to the staff analytics page
        assert response.status_code == 200, path
        found = INLINE.findall(response.content.decode())
        assert found == [], (path, found)


def test_the_api_docs_page_loads_its_script_from_a_url(practice_a: Pair, client_for: ClientFor) -> None:
    owner, alpha = practice_a
    docs = client_for(owner, alpha).get("/api/docs/")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert INLINE.findall(html) == [], INLINE.findall(html)
    script = re.search(r'<script src="(/api/docs/\?[^"]*script[^"]*)"', html)
    assert script, html
    init = client_for(owner, alpha).get(script.group(1).replace("&amp;", "&"))
    assert init.status_code == 200 and init["Content-Type"].startswith("application/javascript")
    assert b"SwaggerUIBundle" in init.content and b"/api/schema/" in init.content
