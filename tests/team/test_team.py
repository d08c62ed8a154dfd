"""Clinic owners manage colleagues' access; the access layer enforces it on the next request.
Many tests are written from the attacker's side: a narrowed, suspended, revoked or expired
member who replays a saved session or token, crafts a form post, or uses another host."""

from __future__ import annotations

import datetime
from collections.abc import Callable

import pytest
from django.test import Client
from django.utils import timezone
from django_tenants.utils import tenant_context
from rest_framework.authtoken.models import Token

from practice.models import Patient
from tenants.models import AccessAction, AccessChange, JoinedVia, Membership, MembershipStatus, Practice, Role, User
from tenants.services import membership_create
from tenants.team import services as team_services
from tests.conftest import PORT, upgrade_to_paid_plan
from tests.factories import PatientFactory, UserFactory

pytestmark = pytest.mark.django_db

Pair = tuple[User, Practice]


@pytest.fixture
def team(practice_a: Pair) -> dict[str, object]:
    """alpha's owner, plus a dentist and an assistant who joined by invitation."""
    owner, alpha = practice_a
    upgrade_to_paid_plan(alpha)  # these tests are about access rules, not plan limits
    dentist, assistant = UserFactory(full_name="Dr. Dent"), UserFactory(full_name="Asa Sistant")
    return {
        "owner": owner,
        "practice": alpha,
        "owner_membership": Membership.objects.get(user=owner, practice=alpha),
        "dentist": dentist,
        "dentist_membership": membership_create(
            user=dentist, practice=alpha, role=Role.DENTIST, joined_via=JoinedVia.INVITATION, actor=owner
        ),
        "assistant": assistant,
        "assistant_membership": membership_create(
            user=assistant, practice=alpha, role=Role.ASSISTANT, joined_via=JoinedVia.INVITATION, actor=owner
        ),
    }


def api(user: User, practice: Practice) -> Client:
    token, _ = Token.objects.get_or_create(user=user)
    return Client(HTTP_HOST=f"{practice.slug}.dentaltap.localhost", HTTP_AUTHORIZATION=f"Token {token.key}")


# --------------------------------------------------------------------------- the Team page


@pytest.mark.practice_rows_only
def test_team_page_shows_every_member_with_role_permissions_and_origin(
    team: dict, client_for: Callable[..., Client]
) -> None:
    response = client_for(team["owner"], team["practice"]).get("/team/")
    assert response.status_code == 200
    body = response.content.decode()
    for email in (team["owner"].email, team["dentist"].email, team["assistant"].email):
        assert f'data-member="{email}"' in body
    assert "Created the practice" in body and "Invitation" in body
    assert "Edit patients" in body  # the dentist's template shows what they can do


def test_owner_narrows_a_colleague_to_view_only_in_the_page_and_it_applies_next_request(
    team: dict, client_for: Callable[..., Client]
) -> None:
    practice, dentist_membership = team["practice"], team["dentist_membership"]
    with tenant_context(practice):
        patient = PatientFactory(last_name="Original")
    colleague = client_for(team["dentist"], practice)
    assert (
        colleague.post(f"/patients/{patient.pk}/edit/", {"first_name": "A", "last_name": "Changed"}).status_code == 302
    )

    response = client_for(team["owner"], practice).post(
        f"/team/{dentist_membership.pk}/", {"role": "dentist", "permissions": ["view_patients", "view_schedule"]}
    )
    assert response.status_code == 302

    dentist_membership.refresh_from_db()
    assert dentist_membership.revoked_permissions == ["edit_patients", "invite_colleagues", "manage_schedule"]
    page = colleague.get("/patients/")
    assert page.status_code == 200 and b'data-testid="read-only"' in page.content
    assert colleague.post(f"/patients/{patient.pk}/edit/", {"first_name": "B", "last_name": "Again"}).status_code == 403
    assert (
        api(team["dentist"], practice)
        .patch(f"/api/patients/{patient.pk}/", {"last_name": "Api"}, content_type="application/json")
        .status_code
        == 403
    )
    with tenant_context(practice):
        assert Patient.objects.get().last_name == "Changed"
    change = AccessChange.objects.filter(membership=dentist_membership, action=AccessAction.CHANGED).get()
    assert change.actor == team["owner"] and "edit_patients" in change.before["effective_permissions"]
    assert "edit_patients" not in change.after["effective_permissions"] and change.ip_address == "127.0.0.1"


@pytest.mark.practice_rows_only
def test_single_permission_granted_on_top_of_a_role(team: dict) -> None:
    membership = team_services.membership_change(
        actor=team["owner"], practice=team["practice"], membership_id=team["assistant_membership"].pk,
        granted_permissions=["view_billing"],
    )  # fmt: skip
    from tenants.access import membership_permissions

    assert membership_permissions(membership) == {"view_patients", "view_schedule", "view_billing"}


# --------------------------------------------------------------------------- revocation takes effect now


@pytest.mark.parametrize("action", ["suspend", "revoke"])
def test_suspended_or_revoked_colleague_replaying_session_and_token_is_refused(
    team: dict, client_for: Callable[..., Client], action: str
) -> None:
    practice, dentist = team["practice"], team["dentist"]
    session = client_for(dentist, practice)
    token_client = api(dentist, practice)
    assert session.get("/patients/").status_code == 200 and token_client.get("/api/patients/").status_code == 200

    owner_page = client_for(team["owner"], practice)
    assert owner_page.post(f"/team/{team['dentist_membership'].pk}/{action}/").status_code == 302

    assert session.get("/patients/").status_code == 403
    assert session.post("/patients/new/", {"first_name": "X", "last_name": "Y"}).status_code == 403
    assert token_client.get("/api/patients/").status_code == 403
    assert (
        token_client.post(
            "/api/patients/", {"first_name": "X", "last_name": "Y"}, content_type="application/json"
        ).status_code
        == 403
    )
    with tenant_context(practice):
        assert not Patient.objects.exists()
    switcher = client_for(dentist).get("/practices/").content.decode()
    assert practice.slug not in switcher


def test_restore_gives_access_back(team: dict, client_for: Callable[..., Client]) -> None:
    owner, practice, target = team["owner"], team["practice"], team["dentist_membership"]
    team_services.membership_suspend(actor=owner, practice=practice, membership_id=target.pk)
    team_services.membership_restore(actor=owner, practice=practice, membership_id=target.pk)
    assert client_for(team["dentist"], practice).get("/patients/").status_code == 200


def test_temporary_access_stops_at_its_expiry(team: dict, client_for: Callable[..., Client]) -> None:
    owner, practice, target = team["owner"], team["practice"], team["dentist_membership"]
    team_services.membership_change(
        actor=owner, practice=practice, membership_id=target.pk, expires_at=timezone.now() + datetime.timedelta(hours=1)
    )
    colleague = client_for(team["dentist"], practice)
    assert colleague.get("/patients/").status_code == 200
    # The visit ends: move the expiry into the past as time would (no service accepts a past date).
    Membership.objects.filter(pk=target.pk).update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    assert colleague.get("/patients/").status_code == 403
    assert api(team["dentist"], practice).get("/api/patients/").status_code == 403


@pytest.mark.practice_rows_only("bravo")
def test_guest_with_view_only_rights_cannot_edit_through_api_form_or_another_host(
    team: dict, practice_b: Pair, client_for: Callable[..., Client]
) -> None:
    practice = team["practice"]
    guest = UserFactory()
    membership = membership_create(user=guest, practice=practice, role=Role.GUEST, joined_via=JoinedVia.REFERRAL_LINK)
    team_services.membership_change(
        actor=team["owner"], practice=practice, membership_id=membership.pk, granted_permissions=["view_patients"]
    )
    with tenant_context(practice):
        patient = PatientFactory(last_name="Kept")

    assert client_for(guest, practice).get("/patients/").status_code == 200
    assert (
        api(guest, practice)
        .patch(f"/api/patients/{patient.pk}/", {"last_name": "Api"}, content_type="application/json")
        .status_code
        == 403
    )
    assert (
        client_for(guest, practice)
        .post(f"/patients/{patient.pk}/edit/", {"first_name": "F", "last_name": "Form"})
        .status_code
        == 403
    )
    assert client_for(guest, practice).post("/team/", {}).status_code == 403
    other_host = practice_b[1]
    assert (
        api(guest, other_host)
        .patch(f"/api/patients/{patient.pk}/", {"last_name": "Host"}, content_type="application/json")
        .status_code
        == 403
    )
    with tenant_context(practice):
        assert Patient.objects.get().last_name == "Kept"


# --------------------------------------------------------------------------- rules and bad input


@pytest.mark.practice_rows_only
def test_nobody_gives_permissions_they_do_not_have(team: dict) -> None:
    practice = team["practice"]
    # Let the dentist manage the team, but they still lack billing.
    team_services.membership_change(
        actor=team["owner"],
        practice=practice,
        membership_id=team["dentist_membership"].pk,
        granted_permissions=["manage_team"],
    )
    with pytest.raises(team_services.NotAllowed, match="View billing"):
        team_services.membership_change(
            actor=team["dentist"],
            practice=practice,
            membership_id=team["assistant_membership"].pk,
            granted_permissions=["view_billing"],
        )
    with pytest.raises(team_services.NotAllowed, match="own access"):
        team_services.membership_change(
            actor=team["dentist"],
            practice=practice,
            membership_id=team["dentist_membership"].pk,
            role=Role.PRACTICE_ADMIN,
        )
    with pytest.raises(team_services.NotAllowed, match="Only an owner"):
        team_services.membership_change(
            actor=team["dentist"], practice=practice, membership_id=team["owner_membership"].pk, role=Role.GUEST
        )
    team["assistant_membership"].refresh_from_db()
    assert team["assistant_membership"].granted_permissions == []


@pytest.mark.practice_rows_only
def test_the_last_owner_cannot_be_removed_demoted_suspended_or_leave(team: dict) -> None:
    owner, practice = team["owner"], team["practice"]
    admin = UserFactory()
    admin_membership = membership_create(
        user=admin, practice=practice, role=Role.PRACTICE_ADMIN, joined_via=JoinedVia.INVITATION
    )
    owner_id = team["owner_membership"].pk
    for service in (team_services.membership_suspend, team_services.membership_revoke):
        with pytest.raises(team_services.NotAllowed):  # an admin may not touch the owner at all
            service(actor=admin, practice=practice, membership_id=owner_id)
    with pytest.raises(team_services.NotAllowed, match="own access"):
        team_services.membership_revoke(actor=owner, practice=practice, membership_id=owner_id)
    with pytest.raises(team_services.ApplicationError, match="only owner"):
        team_services.membership_leave(user=owner, practice=practice)

    # With a second owner, the first may step down; then the second is the last one.
    team_services.membership_change(actor=owner, practice=practice, membership_id=admin_membership.pk, role=Role.OWNER)
    team_services.membership_leave(user=owner, practice=practice)
    with pytest.raises(team_services.ApplicationError, match="only owner"):
        team_services.membership_leave(user=admin, practice=practice)
    assert Membership.objects.filter(practice=practice, role=Role.OWNER, status=MembershipStatus.ACTIVE).count() == 1


@pytest.mark.practice_rows_only
def test_ownership_transfer_keeps_the_old_owner_as_admin(team: dict, client_for: Callable[..., Client]) -> None:
    owner, practice, dentist_membership = team["owner"], team["practice"], team["dentist_membership"]
    response = client_for(owner, practice).post(f"/team/{dentist_membership.pk}/transfer-ownership/")
    assert response.status_code == 302
    roles = dict(Membership.objects.filter(practice=practice).values_list("user__email", "role"))
    assert roles[team["dentist"].email] == Role.OWNER and roles[owner.email] == Role.PRACTICE_ADMIN
    assert AccessChange.objects.filter(action=AccessAction.OWNERSHIP_TRANSFERRED).count() == 2


@pytest.mark.practice_rows_only
def test_member_leaves_a_practice_that_is_not_their_own(team: dict, client_for: Callable[..., Client]) -> None:
    client = client_for(team["assistant"], team["practice"])
    response = client.post("/team/leave/")
    assert response.status_code == 302 and response["Location"] == f"http://dentaltap.localhost:{PORT}/practices/"
    assert client.get("/").status_code == 403
    team["assistant_membership"].refresh_from_db()
    assert team["assistant_membership"].status == MembershipStatus.REVOKED


@pytest.mark.practice_rows_only
def test_api_bad_input_each_gets_a_clear_4xx_and_changes_nothing(team: dict, practice_b: Pair) -> None:
    owner, practice = team["owner"], team["practice"]
    client = api(owner, practice)
    target = team["dentist_membership"]
    _, bravo = practice_b
    foreign = Membership.objects.get(practice=bravo)

    cases = [
        ("patch", "/api/team/members/999999/", {"role": "guest"}, 404, "member_not_found"),
        ("patch", f"/api/team/members/{foreign.pk}/", {"role": "guest"}, 404, "member_not_found"),
        ("post", f"/api/team/members/{foreign.pk}/revoke/", None, 404, "member_not_found"),
        ("patch", f"/api/team/members/{target.pk}/", {"role": "overlord"}, 400, "invalid"),
        ("patch", f"/api/team/members/{target.pk}/", {"granted_permissions": ["fly"]}, 400, "invalid"),
        ("patch", f"/api/team/members/{target.pk}/", {"expires_at": "2001-01-01T00:00:00Z"}, 400, "invalid"),
        ("patch", f"/api/team/members/{team['owner_membership'].pk}/", {"role": "guest"}, 403, "own_access"),
        ("post", f"/api/team/members/{team['owner_membership'].pk}/revoke/", None, 403, "own_access"),
        ("post", f"/api/team/members/{target.pk}/restore/", None, 400, "not_suspended"),
    ]
    for method, path, body, status, code in cases:
        response = (
            getattr(client, method)(path, body, content_type="application/json")
            if body is not None
            else getattr(client, method)(path)
        )
        assert response.status_code == status, (path, body, response.content)
        error = response.json()["error"]
        assert error["code"] == code and error["message"], (path, error)
    target.refresh_from_db()
    foreign.refresh_from_db()
    assert (target.role, target.status, target.expires_at) == (Role.DENTIST, MembershipStatus.ACTIVE, None)
    assert foreign.status == MembershipStatus.ACTIVE
    assert not AccessChange.objects.filter(action=AccessAction.CHANGED).exists()


@pytest.mark.practice_rows_only
def test_form_bad_input_is_shown_beside_the_field(team: dict, client_for: Callable[..., Client]) -> None:
    client = client_for(team["owner"], team["practice"])
    target = team["dentist_membership"]
    past = client.post(f"/team/{target.pk}/", {"role": "dentist", "expires_on": "2001-01-01"})
    assert past.status_code == 400 and "in the future" in str(past.context["form"].errors["expires_on"])
    unknown = client.post(f"/team/{target.pk}/", {"role": "overlord"})
    assert unknown.status_code == 400 and "role" in unknown.context["form"].errors
    crafted = client.post(f"/team/{target.pk}/", {"role": "dentist", "permissions": ["fly"]})
    assert crafted.status_code == 400 and "permissions" in crafted.context["form"].errors
    assert client.get("/team/999999/").status_code == 404
    assert client.post(f"/team/{target.pk}/explode/").status_code == 404


@pytest.mark.practice_rows_only
def test_team_api_lists_members_and_audit(team: dict) -> None:
    client = api(team["owner"], team["practice"])
    members = client.get("/api/team/members/").json()
    assert [row["role"] for row in members][:1] == ["owner"] and len(members) == 3
    team_services.membership_suspend(
        actor=team["owner"], practice=team["practice"], membership_id=team["assistant_membership"].pk
    )
    audit = client.get("/api/team/audit/").json()
    assert audit["results"][0]["action"] == "suspended" and audit["results"][0]["member"] == team["assistant"].email
    assert api(team["assistant"], team["practice"]).get("/api/team/members/").status_code == 403


@pytest.mark.practice_rows_only
def test_practice_owner_cannot_manage_another_practices_team(
    team: dict, practice_b: Pair, client_for: Callable[..., Client]
) -> None:
    owner_b, bravo = practice_b
    target = team["dentist_membership"]
    assert client_for(owner_b, team["practice"]).post(f"/team/{target.pk}/revoke/").status_code == 403
    # Even on their own host, alpha's membership id names nothing in bravo.
    assert client_for(owner_b, bravo).post(f"/team/{target.pk}/revoke/").status_code == 302
    target.refresh_from_db()
    assert target.status == MembershipStatus.ACTIVE


def test_last_active_is_recorded_at_most_every_few_minutes(team: dict, client_for: Callable[..., Client]) -> None:
    client = client_for(team["dentist"], team["practice"])
    client.get("/")
    first = Membership.objects.get(pk=team["dentist_membership"].pk).last_active_at
    assert first is not None
    client.get("/")
    assert Membership.objects.get(pk=team["dentist_membership"].pk).last_active_at == first


@pytest.mark.practice_rows_only
def test_owners_keep_every_permission_and_managers_cannot_touch_those_above_them(team: dict) -> None:
    owner, practice = team["owner"], team["practice"]
    with pytest.raises(team_services.ApplicationError, match="every permission"):
        team_services.membership_change(
            actor=owner, practice=practice, membership_id=team["dentist_membership"].pk, role=Role.OWNER,
            revoked_permissions=["manage_team"],
        )  # fmt: skip
    # A dentist allowed to manage the team may not demote a practice admin, who may do more.
    team_services.membership_change(
        actor=owner, practice=practice, membership_id=team["dentist_membership"].pk, granted_permissions=["manage_team"]
    )
    admin = UserFactory()
    admin_membership = membership_create(
        user=admin, practice=practice, role=Role.PRACTICE_ADMIN, joined_via=JoinedVia.INVITATION
    )
    with pytest.raises(team_services.NotAllowed, match="may do more than you"):
        team_services.membership_revoke(actor=team["dentist"], practice=practice, membership_id=admin_membership.pk)


@pytest.mark.practice_rows_only
def test_an_invitation_cannot_lift_a_suspension(team: dict) -> None:
    from dentaltap.errors import ApplicationError

    owner, practice = team["owner"], team["practice"]
    team_services.membership_suspend(actor=owner, practice=practice, membership_id=team["assistant_membership"].pk)
    with pytest.raises(ApplicationError, match="suspended"):
        membership_create(
            user=team["assistant"], practice=practice, role=Role.ASSISTANT, joined_via=JoinedVia.INVITATION
        )
    team["assistant_membership"].refresh_from_db()
    assert team["assistant_membership"].status == MembershipStatus.SUSPENDED


@pytest.mark.practice_rows_only
@pytest.mark.parametrize(
    ("language", "said"),
    [("en", "3\xa0days, 1\xa0hour ago"), ("ru", "3\xa0дня, 1\xa0час назад"), ("de", "vor 3\xa0Tagen, 1\xa0Stunde")],  # noqa: RUF001 - Russian
)
def test_last_active_reads_as_a_sentence_in_each_language(
    team: dict, client_for: Callable[..., Client], language: str, said: str
) -> None:
    """'3 days ago' is said as each language says it (German puts 'vor' first, with the dative),
    not as a translated duration with a word glued after it."""
    Membership.objects.filter(pk=team["dentist_membership"].pk).update(
        last_active_at=timezone.now() - datetime.timedelta(days=3, hours=1)
    )
    page = client_for(team["owner"], team["practice"]).get("/team/", HTTP_ACCEPT_LANGUAGE=language)
    assert said in page.content.decode()
