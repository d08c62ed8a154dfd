"""The page frame: the practice navigation (Billing for those who may see it), the practice
switcher in the header, message styles per level, and the styled unknown-host page."""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable

import pytest
from django.test import Client
from django.utils import timezone

from tenants.models import JoinedVia, Membership, PermissionCode, Practice, Role, User
from tenants.services import membership_create
from tests.conftest import PORT, upgrade_to_paid_plan
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

Pair = tuple[User, Practice]


def _nav(html: str) -> str:
    return html[html.index('<header class="app">') : html.index("</header>")]


def test_billing_is_in_the_practice_nav_only_for_members_who_may_see_billing(
    practice_a: Pair, client_for: Callable[..., Client]
) -> None:
    owner, alpha = practice_a
    assistant = UserFactory()
    membership = membership_create(user=assistant, practice=alpha, role=Role.ASSISTANT, joined_via=JoinedVia.INVITATION)

    owner_nav = _nav(client_for(owner, alpha).get("/").content.decode())
    assert 'href="/billing/"' in owner_nav and ">Billing<" in owner_nav

    assistant_client = client_for(assistant, alpha)
    assert 'href="/billing/"' not in _nav(assistant_client.get("/").content.decode())
    assert assistant_client.get("/billing/").status_code == 403  # the link hides what the page refuses

    Membership.objects.filter(pk=membership.pk).update(granted_permissions=[PermissionCode.VIEW_BILLING])
    assert 'href="/billing/"' in _nav(assistant_client.get("/").content.decode())
    assert assistant_client.get("/billing/").status_code == 200


def test_the_practice_name_in_the_header_switches_between_own_and_guest_practices(
    practice_a: Pair, practice_b: Pair, make_practice: Callable[..., Pair], client_for: Callable[..., Client]
) -> None:
    owner_a, _alpha = practice_a
    _owner_b, bravo = practice_b
    _owner_c, charlie = make_practice("charlie")
    _owner_d, delta = make_practice("delta")
    membership_create(user=owner_a, practice=bravo, role=Role.GUEST, joined_via=JoinedVia.REFERRAL_LINK)
    expired = membership_create(user=owner_a, practice=delta, role=Role.GUEST, joined_via=JoinedVia.INVITATION)
    Membership.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - datetime.timedelta(hours=1))

    html = client_for(owner_a, bravo).get("/").content.decode()
    header = _nav(html)
    switcher = header[header.index('data-testid="practice-switcher"') : header.index("</details>")]
    assert f"<strong>{bravo.name}</strong>" in switcher
    links = re.findall(r'<a href="([^"]+)" data-practice="([^"]+)"', switcher)
    # Own practice first, then the guest one; never a practice the user may not enter now.
    assert links == [
        (f"http://alpha.dentaltap.localhost:{PORT}/", "alpha"),
        (f"http://bravo.dentaltap.localhost:{PORT}/", "bravo"),
    ]
    assert 'data-practice="bravo" aria-current="page"' in switcher
    assert charlie.slug not in switcher and delta.slug not in switcher
    assert "Guest" in switcher and "Owner" in switcher
    assert f'href="http://dentaltap.localhost:{PORT}/practices/"' in switcher  # the full list is one click away
    # The switcher page itself no longer offers the expired access either.
    assert 'data-practice="delta"' not in client_for(owner_a).get("/practices/").content.decode()


@pytest.mark.practice_rows_only
def test_messages_have_one_style_per_level_and_no_list_bullet(
    practice_a: Pair, client_for: Callable[..., Client]
) -> None:
    owner, alpha = practice_a
    upgrade_to_paid_plan(alpha)
    dentist = UserFactory()
    target = membership_create(user=dentist, practice=alpha, role=Role.DENTIST, joined_via=JoinedVia.INVITATION)
    client = client_for(owner, alpha)

    client.post(f"/team/{target.pk}/suspend/")
    success = client.get("/team/").content.decode()
    assert 'class="message message-success" data-message-level="success" role="status"' in success

    own = Membership.objects.get(user=owner, practice=alpha)
    client.post(f"/team/{own.pk}/suspend/")  # refused: one's own access
    error = client.get("/team/").content.decode()
    assert 'class="message message-error" data-message-level="error" role="alert"' in error
    assert "You cannot change your own access" in error
    assert '<ul class="messages">' not in error and '<ul class="messages">' not in success
    css = Client(HTTP_HOST="dentaltap.localhost").get("/static/css/app.css")
    stylesheet = b"".join(css.streaming_content).decode()  # type: ignore[attr-defined]
    assert ".message-error" in stylesheet and ".message-success" in stylesheet


def test_the_unknown_host_page_gets_its_stylesheet(public_tenant: Practice) -> None:
    """It was rendered in Times with bullet lists: its CSS, asked for on the unknown host,
    was itself answered with the "no practice here" page."""
    client = Client(HTTP_HOST="no-such-practice.dentaltap.localhost")
    page = client.get("/")
    assert page.status_code == 404
    html = page.content.decode()
    assert "No practice at this address" in html
    stylesheets = re.findall(r'<link rel="stylesheet" href="([^"]+)">', html)
    assert stylesheets
    for href in stylesheets:
        response = client.get(href)
        assert response.status_code == 200, href
        assert response["Content-Type"].startswith("text/css")
    # Only static files pass: every other path on the unknown host is still the 404 page.
    assert client.get("/login/").status_code == 404
    assert client.get("/admin/").status_code == 404
    assert Client(HTTP_HOST="evil.example").get(stylesheets[0]).status_code == 200
