"""The Team pages offer exactly what the viewer may do (the team services' own rules), say what
each access-log entry changed, show who left, and put waiting access requests in front of the
people who decide them."""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from referrals.models import AccessRequest
from tenants.models import AccessAction, AccessChange, JoinedVia, Membership, PermissionCode, Practice, Role, User
from tenants.services import membership_create
from tenants.team import services as team_services
from tests.conftest import upgrade_to_paid_plan
from tests.factories import UserFactory

# No test here enters a practice's own tables: practices without schemas (tests/conftest.py).
pytestmark = [pytest.mark.django_db, pytest.mark.practice_rows_only]

Pair = tuple[User, Practice]


@pytest.fixture
def team(practice_a: Pair) -> dict[str, Any]:
    """alpha's owner, a practice admin, a dentist, a receptionist and a dentist who manages
    the team (but holds no billing rights)."""
    owner, alpha = practice_a
    upgrade_to_paid_plan(alpha)
    people: dict[str, Any] = {"owner": owner, "practice": alpha}
    for key, role, name in (
        ("admin", Role.PRACTICE_ADMIN, "Ada Admin"),
        ("dentist", Role.DENTIST, "Dan Dentist"),
        ("receptionist", Role.RECEPTIONIST, "Rae Reception"),
        ("manager", Role.DENTIST, "Mo Manager"),
    ):
        user = UserFactory(full_name=name)
        people[key] = user
        people[f"{key}_membership"] = membership_create(
            user=user, practice=alpha, role=role, joined_via=JoinedVia.INVITATION, actor=owner
        )
    Membership.objects.filter(pk=people["manager_membership"].pk).update(
        granted_permissions=[PermissionCode.MANAGE_TEAM]
    )
    people["owner_membership"] = Membership.objects.get(user=owner, practice=alpha)
    return people


def _role_options(html: str) -> list[str]:
    select = re.search(r'<select name="role"[^>]*>(.*?)</select>', html, re.S)
    assert select, "no role field"
    return re.findall(r'<option value="([^"]+)"', select.group(1))


def _buttons(html: str) -> set[str]:
    return set(re.findall(r'action="/team/\d+/([a-z-]+)/"', html))


def test_an_admin_is_offered_nothing_on_the_owner_and_the_service_agrees(
    team: dict[str, Any], client_for: Callable[..., Client]
) -> None:
    admin = client_for(team["admin"], team["practice"])
    owner_membership = team["owner_membership"]

    page = admin.get(f"/team/{owner_membership.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-testid="access-form"' not in html and '<select name="role"' not in html
    assert _buttons(html) == set()
    assert "Only an owner can change another owner&#x27;s access." in html

    listing = admin.get("/team/").content.decode()
    owner_row = re.search(rf'<tr data-member="{team["owner"].email}">(.*?)</tr>', listing, re.S)
    assert owner_row and 'data-testid="manage"' not in owner_row.group(1) and ">View<" in owner_row.group(1)

    # What the page does not offer, the service refuses: a crafted post changes nothing.
    crafted = admin.post(f"/team/{owner_membership.pk}/", {"role": Role.GUEST})
    assert crafted.status_code == 400
    assert "Only an owner can change another owner&#x27;s access." in crafted.content.decode()
    for action in ("suspend", "revoke"):
        admin.post(f"/team/{owner_membership.pk}/{action}/")
    owner_membership.refresh_from_db()
    assert (owner_membership.role, owner_membership.status) == (Role.OWNER, "active")


def test_the_roles_and_buttons_offered_are_the_ones_that_work(
    team: dict[str, Any], client_for: Callable[..., Client]
) -> None:
    practice, dentist_membership = team["practice"], team["dentist_membership"]

    as_admin = client_for(team["admin"], practice).get(f"/team/{dentist_membership.pk}/").content.decode()
    assert Role.OWNER not in _role_options(as_admin)  # only an owner makes owners
    assert _buttons(as_admin) == {"suspend", "revoke"}  # no ownership transfer for an admin

    as_owner = client_for(team["owner"], practice).get(f"/team/{dentist_membership.pk}/").content.decode()
    assert _role_options(as_owner) == [value for value, _label in Role.choices]
    assert _buttons(as_owner) == {"suspend", "revoke", "transfer-ownership"}

    # A dentist who may manage the team gives only what they hold: no admin or owner role, the
    # billing permissions locked (shown, not changeable).
    as_manager = client_for(team["manager"], practice).get(f"/team/{team['receptionist_membership'].pk}/")
    html = as_manager.content.decode()
    assert _role_options(html) == [Role.DENTIST, Role.ASSISTANT, Role.RECEPTIONIST, Role.GUEST]
    assert 'data-locked="view_billing"' in html and 'data-locked="manage_billing"' in html
    assert 'name="permissions" value="view_patients"' in html

    # Every offered button does what it says for the admin.
    admin = client_for(team["admin"], practice)
    assert admin.post(f"/team/{dentist_membership.pk}/suspend/").status_code == 302
    dentist_membership.refresh_from_db()
    assert dentist_membership.status == "suspended"
    assert _buttons(admin.get(f"/team/{dentist_membership.pk}/").content.decode()) == {"restore", "revoke"}


def test_a_locked_permission_keeps_its_state_whatever_is_posted(
    team: dict[str, Any], client_for: Callable[..., Client]
) -> None:
    receptionist = team["receptionist_membership"]
    manager = client_for(team["manager"], team["practice"])
    response = manager.post(
        f"/team/{receptionist.pk}/",
        {"role": Role.RECEPTIONIST, "permissions": ["view_patients", "view_schedule", "view_billing"]},
    )
    assert response.status_code == 302
    receptionist.refresh_from_db()
    assert receptionist.granted_permissions == [] and receptionist.revoked_permissions == ["manage_schedule"]


def test_a_member_who_left_shows_as_left_with_no_permissions(
    team: dict[str, Any], client_for: Callable[..., Client]
) -> None:
    practice = team["practice"]
    team_services.membership_leave(user=team["dentist"], practice=practice)
    team_services.membership_revoke(
        actor=team["owner"], practice=practice, membership_id=team["receptionist_membership"].pk
    )
    team_services.membership_suspend(actor=team["owner"], practice=practice, membership_id=team["admin_membership"].pk)
    html = client_for(team["owner"], practice).get("/team/").content.decode()

    def row(user: User) -> str:
        found = re.search(rf'<tr data-member="{user.email}">(.*?)</tr>', html, re.S)
        assert found
        return found.group(1)

    left, revoked, suspended = row(team["dentist"]), row(team["receptionist"]), row(team["admin"])
    assert re.search(r'data-testid="member-status">Left<', left) and "Revoked" not in left
    assert re.search(r'data-testid="member-status">Revoked<', revoked)
    for ended in (left, revoked):
        can = re.search(r'data-testid="member-can"><small>(.*?)</small>', ended, re.S)
        assert can and "patients" not in can.group(1).lower() and "schedule" not in can.group(1).lower()
        assert 'href="/team/' not in ended
    assert "Nothing while suspended. On restore:" in suspended and "Manage the team" in suspended


def test_the_access_log_says_what_changed(team: dict[str, Any], client_for: Callable[..., Client]) -> None:
    owner, practice, receptionist = team["owner"], team["practice"], team["receptionist_membership"]
    team_services.membership_change(
        actor=owner, practice=practice, membership_id=receptionist.pk, granted_permissions=["view_billing"]
    )
    team_services.membership_change(actor=owner, practice=practice, membership_id=receptionist.pk, role=Role.DENTIST)
    until = timezone.now() + datetime.timedelta(days=10)
    team_services.membership_change(actor=owner, practice=practice, membership_id=receptionist.pk, expires_at=until)
    team_services.membership_suspend(actor=owner, practice=practice, membership_id=receptionist.pk)

    html = client_for(owner, practice).get("/team/audit/").content.decode()
    cells = re.findall(r'data-testid="change-summary">(.*?)</small>', html, re.S)
    summaries = [re.sub(r"\s+", " ", text).strip() for text in cells]
    assert "receptionist / active → receptionist / active" not in html
    # Newest first: the suspension, the expiry, the role change, the single permission, joins.
    assert summaries[0] == "Access: Active → Suspended"
    assert summaries[1].startswith("Access until: lasting → ")
    assert summaries[2].startswith("Role: Receptionist → Dentist<br>Can now: Edit patients")
    assert summaries[3] == "Can now: View billing"
    assert "Joined as Receptionist" in summaries


def test_switching_referral_links_grant_guest_access_is_logged(
    team: dict[str, Any], client_for: Callable[..., Client]
) -> None:
    owner, practice = team["owner"], team["practice"]
    client = client_for(owner, practice)
    assert client.post("/access-requests/settings/", {"links_grant_guest_access": "on"}).status_code == 302
    assert client.post("/access-requests/settings/", {"links_grant_guest_access": "on"}).status_code == 302
    changes = AccessChange.objects.filter(practice=practice, action=AccessAction.SETTING_CHANGED)
    assert changes.count() == 1  # saving the same value again is not a change
    change = changes.get()
    assert (change.actor, change.before, change.after) == (
        owner,
        {"setting": "links_grant_guest_access", "value": False},
        {"setting": "links_grant_guest_access", "value": True},
    )
    api = client.put("/api/referral-settings/", {"links_grant_guest_access": False}, content_type="application/json")
    assert api.status_code == 200 and changes.count() == 2

    html = client.get("/team/audit/").content.decode()
    assert "Referral links grant guest access at once: off → on" in html
    assert "Referral links grant guest access at once: on → off" in html


def test_waiting_access_requests_are_on_the_team_page_and_in_the_nav(
    team: dict[str, Any], client_for: Callable[..., Client]
) -> None:
    practice = team["practice"]
    owner = client_for(team["owner"], practice)
    assert 'data-testid="team-access-requests"' not in owner.get("/team/").content.decode()
    assert 'data-testid="nav-access-requests"' not in owner.get("/invitations/").content.decode()

    newcomers = [UserFactory(full_name=name) for name in ("Nora New", "Nils Next")]
    for newcomer in newcomers:
        AccessRequest.objects.create(practice=practice, requester=newcomer)
    html = owner.get("/team/").content.decode()
    section = html[html.index('data-testid="team-access-requests"') :]
    assert 'data-count="2"' in section and "2 access requests waiting" in section
    assert "Nora New" in section and "Nils Next" in section and 'href="/access-requests/"' in section
    nav = owner.get("/invitations/").content.decode()
    assert re.search(r'data-testid="nav-access-requests"[^>]*>2</span>', nav)

    AccessRequest.objects.filter(requester=newcomers[1]).update(status="declined")
    assert "1 access request waiting" in owner.get("/team/").content.decode()
    # Who may not manage the team sees neither the count nor the link.
    dentist_page = client_for(team["dentist"], practice).get("/invitations/").content.decode()
    assert 'data-testid="nav-access-requests"' not in dentist_page and 'href="/team/"' not in dentist_page


def test_a_post_to_ones_own_edit_page_gets_a_clear_message(
    team: dict[str, Any], client_for: Callable[..., Client]
) -> None:
    own = team["owner_membership"]
    response = client_for(team["owner"], team["practice"]).post(f"/team/{own.pk}/", {"role": Role.GUEST})
    assert response.status_code == 400
    html = response.content.decode()
    assert 'data-testid="edit-errors"' in html and "You cannot change your own access. Ask another owner." in html
    own.refresh_from_db()
    assert own.role == Role.OWNER
