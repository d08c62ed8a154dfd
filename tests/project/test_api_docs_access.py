"""A practice's API schema and docs are for its members; a refusal explains who may see them and
how to get access (like the pages' no-access page), in the docs page and in the schema's JSON."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client

from tenants.models import Practice, User
from tests.conftest import PORT

# No test here enters a practice's own tables: the practices need no schema.
pytestmark = [pytest.mark.django_db, pytest.mark.practice_rows_only]

Pair = tuple[User, Practice]
ClientFor = Callable[..., Client]


def test_the_docs_page_explains_a_refusal_to_a_visitor_and_offers_the_login(
    practice_a: Pair, client_for: ClientFor
) -> None:
    _, alpha = practice_a
    response = client_for(None, alpha).get("/api/docs/")
    assert response.status_code == 401 and response["WWW-Authenticate"]
    html = response.content.decode()
    assert "for its members only" in html and alpha.name in html and "Log in" in html
    assert f"http://dentaltap.localhost:{PORT}/login/?next=" in html
    assert "Not allowed" not in html
    assert "/static/css/app.css" in html  # the site's own page, not a bare error


def test_the_docs_page_tells_a_non_member_to_ask_the_owner(
    practice_a: Pair, practice_b: Pair, client_for: ClientFor
) -> None:
    _, alpha = practice_a
    outsider, _ = practice_b
    response = client_for(outsider, alpha).get("/api/docs/")
    assert response.status_code == 403
    html = response.content.decode()
    assert "not a member" in html and "Ask the practice owner to invite you" in html and alpha.name in html
    assert "Not allowed" not in html and "/login/?next=" not in html


def test_the_schema_refusal_explains_in_the_error_shape(
    practice_a: Pair, practice_b: Pair, client_for: ClientFor
) -> None:
    _, alpha = practice_a
    outsider, _ = practice_b
    anonymous = client_for(None, alpha).get("/api/schema/", HTTP_ACCEPT="application/json")
    assert anonymous.status_code == 401
    error = anonymous.json()["error"]
    assert error["code"] == "not_authenticated" and "for its members only" in error["message"]
    assert "API token" in error["message"]
    refused = client_for(outsider, alpha).get("/api/schema/", HTTP_ACCEPT="application/json")
    assert refused.status_code == 403
    error = refused.json()["error"]
    assert error["code"] == "permission_denied" and "Ask the practice owner to invite you" in error["message"]
