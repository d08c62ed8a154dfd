"""The Team API from the attacker's side: a member whose access was suspended or revoked keeps
their API token and replays it against every Team endpoint; and the API accepts exactly the
changes the Team pages offer (tenants/team/rules.py `member_actions`), no more, for every viewer
and every member."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.db import transaction
from django.test import Client
from django.utils import timezone
from rest_framework.authtoken.models import Token

from tenants.models import AccessChange, JoinedVia, Membership, MembershipStatus, Practice, Role, User
from tenants.services import membership_create
from tenants.team import rules as team_rules
from tests.conftest import upgrade_to_paid_plan
from tests.factories import UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.practice_rows_only]

Pair = tuple[User, Practice]


def api(user: User, practice: Practice) -> Client:
    token, _ = Token.objects.get_or_create(user=user)
    return Client(HTTP_HOST=f"{practice.slug}.dentaltap.localhost", HTTP_AUTHORIZATION=f"Token {token.key}")


@pytest.fixture
def team(practice_a: Pair) -> dict[str, Any]:
    """alpha's owner, a second owner, a practice admin, a dentist who may manage the team (a
    single permission on top of the role), an assistant, and a suspended receptionist."""
    owner, alpha = practice_a
    upgrade_to_paid_plan(alpha)

    def member(role: str, **changes: Any) -> Membership:
        membership = membership_create(
            user=UserFactory(), practice=alpha, role=role, joined_via=JoinedVia.INVITATION, actor=owner
        )
        if changes:
            Membership.objects.filter(pk=membership.pk).update(**changes)
            membership.refresh_from_db()
        return membership

    return {
        "practice": alpha,
        "owner": Membership.objects.get(user=owner, practice=alpha),
        "co_owner": member(Role.OWNER),
        "admin": member(Role.PRACTICE_ADMIN),
        "manager": member(Role.DENTIST, granted_permissions=["manage_team"]),
        "assistant": member(Role.ASSISTANT),
        "suspended": member(Role.RECEPTIONIST, status=MembershipStatus.SUSPENDED),
    }


def team_requests(target: Membership, own: Membership) -> list[tuple[str, str, dict[str, Any] | None]]:
    """Every Team API operation, aimed at `target` where it takes a member (and at the caller's
    own membership, for the ones a locked-out member would try on themselves)."""
    requests: list[tuple[str, str, dict[str, Any] | None]] = [
        ("get", "/api/team/members/", None),
        ("get", "/api/team/audit/", None),
        ("post", "/api/team/leave/", None),
    ]
    for membership in (target, own):
        base = f"/api/team/members/{membership.pk}/"
        requests += [
            ("get", base, None),
            ("patch", base, {"role": Role.PRACTICE_ADMIN}),
            ("patch", base, {"granted_permissions": ["manage_team", "view_billing"]}),
            ("post", f"{base}suspend/", None),
            ("post", f"{base}restore/", None),
            ("post", f"{base}revoke/", None),
            ("post", f"{base}transfer-ownership/", None),
        ]
    return requests


def send(client: Client, method: str, path: str, body: dict[str, Any] | None) -> Any:
    if method == "get":
        return client.get(path)
    return getattr(client, method)(path, body or {}, content_type="application/json")


def state(practice: Practice) -> list[tuple[Any, ...]]:
    return list(
        Membership.objects.filter(practice=practice)
        .order_by("pk")
        .values_list("pk", "role", "status", "granted_permissions", "revoked_permissions", "expires_at")
    )


# --------------------------------------------------------------------------- locked out, token in hand


@pytest.mark.parametrize("action", ["suspend", "revoke"])
def test_a_suspended_or_revoked_team_manager_is_refused_by_every_team_endpoint_on_the_next_request(
    team: dict[str, Any], action: str
) -> None:
    practice, admin = team["practice"], team["admin"]
    attacker = api(admin.user, practice)
    assert attacker.get("/api/team/members/").status_code == 200  # the token works, and is kept

    response = api(team["owner"].user, practice).post(f"/api/team/members/{admin.pk}/{action}/")
    assert response.status_code == 200, response.content

    before, log_before = state(practice), AccessChange.objects.count()
    for method, path, body in team_requests(team["assistant"], admin):
        response = send(attacker, method, path, body)
        assert response.status_code == 403, (method, path, response.status_code, response.content)
        assert response.json()["error"]["code"], (method, path)
        assert b"@" not in response.content, (method, path)  # no member data in the refusal
    assert state(practice) == before
    assert AccessChange.objects.count() == log_before


def test_an_expired_temporary_team_manager_is_refused_by_every_team_endpoint(team: dict[str, Any]) -> None:
    practice, admin = team["practice"], team["admin"]
    attacker = api(admin.user, practice)
    assert attacker.get("/api/team/audit/").status_code == 200
    Membership.objects.filter(pk=admin.pk).update(expires_at=timezone.now() - datetime.timedelta(seconds=1))

    before, log_before = state(practice), AccessChange.objects.count()
    for method, path, body in team_requests(team["assistant"], admin):
        assert send(attacker, method, path, body).status_code == 403, (method, path)
    assert state(practice) == before and AccessChange.objects.count() == log_before


def test_the_member_list_says_what_each_member_can_do_now_not_what_a_suspended_one_could(
    team: dict[str, Any],
) -> None:
    """`permissions` is what works on the next request (as the Team page's list): nothing for a
    suspended or expired member; what restoring a suspended member gives back is listed apart."""
    practice, owner = team["practice"], team["owner"]
    Membership.objects.filter(pk=team["admin"].pk).update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    rows = {row["id"]: row for row in api(owner.user, practice).get("/api/team/members/").json()}

    suspended, expired, assistant = rows[team["suspended"].pk], rows[team["admin"].pk], rows[team["assistant"].pk]
    assert suspended["permissions"] == [] and "view_patients" in suspended["restorable_permissions"]
    assert expired["permissions"] == [] and expired["restorable_permissions"] == []
    assert "view_patients" in assistant["permissions"] and assistant["restorable_permissions"] == []


# --------------------------------------------------------------------------- the API matches the pages


class _Undo(Exception):
    """Raised inside an atomic block to undo what one attempt changed, keeping its response."""

    def __init__(self, response: Any) -> None:
        super().__init__()
        self.response = response


def attempt(client: Client, method: str, path: str, body: dict[str, Any] | None) -> Any:
    """Send one request and undo whatever it wrote, so every attempt starts from the same team."""
    try:
        with transaction.atomic():
            raise _Undo(send(client, method, path, body))
    except _Undo as undo:
        return undo.response


VIEWERS = ["owner", "co_owner", "admin", "manager", "assistant"]
TARGETS = ["owner", "co_owner", "admin", "manager", "assistant", "suspended"]


@pytest.mark.parametrize("viewer_name", VIEWERS)
def test_the_team_api_accepts_exactly_what_the_team_pages_offer(team: dict[str, Any], viewer_name: str) -> None:
    practice, viewer = team["practice"], team[viewer_name]
    client = api(viewer.user, practice)
    before, log_before = state(practice), AccessChange.objects.count()
    disagreements = []
    for target_name in TARGETS:
        target = Membership.objects.get(pk=team[target_name].pk)
        others = Membership.objects.filter(practice=practice, role=Role.OWNER, status=MembershipStatus.ACTIVE).exclude(
            pk=target.pk
        )
        offered = team_rules.member_actions(
            viewer=Membership.objects.get(pk=viewer.pk), target=target, other_active_owners=others.count()
        )
        base = f"/api/team/members/{target.pk}/"
        checks: list[tuple[str, str, dict[str, Any] | None, bool]] = [
            ("post", f"{base}suspend/", None, offered.can_suspend),
            ("post", f"{base}restore/", None, offered.can_restore),
            ("post", f"{base}revoke/", None, offered.can_revoke),
            ("post", f"{base}transfer-ownership/", None, offered.can_transfer_ownership),
            ("patch", base, {}, offered.can_edit),
        ]
        for role in Role.values:
            if role != target.role:
                checks.append(("patch", base, {"role": role}, offered.can_edit and role in offered.assignable_roles))
        for method, path, body, expected in checks:
            response = attempt(client, method, path, body)
            assert response.status_code < 500, (method, path, body, response.content)
            if (response.status_code == 200) != expected:
                disagreements.append(
                    f"{viewer_name} -> {target_name}: {method} {path} {body}: page offers {expected}, "
                    f"API answered {response.status_code} {response.content[:160]!r}"
                )
    assert not disagreements, "\n".join(disagreements)
    assert state(practice) == before and AccessChange.objects.count() == log_before  # each attempt undone
