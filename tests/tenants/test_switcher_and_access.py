"""One login reaches every practice the user belongs to, and nothing else. Written from the
attacker's side: another member's session, a forged Host, guessed ids in the API."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client
from django_tenants.utils import tenant_context
from rest_framework.authtoken.models import Token

from tenants.models import JoinedVia, Membership, MembershipStatus, Practice, Role, User
from tests.conftest import BASE, PORT
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db

Pair = tuple[User, Practice]


@pytest.mark.practice_rows_only
def test_switcher_lists_every_practice_of_the_user_and_only_those(
    practice_a: Pair, practice_b: Pair, make_practice: Callable[..., Pair], client_for: Callable[..., Client]
) -> None:
    owner_a, _alpha = practice_a
    _, bravo = practice_b
    _, _charlie = make_practice("charlie")
    Membership.objects.create(user=owner_a, practice=bravo, role=Role.DENTIST, joined_via=JoinedVia.INVITATION)

    response = client_for(owner_a).get("/practices/")

    assert response.status_code == 200
    body = response.content.decode()
    assert f"http://alpha.dentaltap.localhost:{PORT}/" in body
    assert f"http://bravo.dentaltap.localhost:{PORT}/" in body
    assert "charlie" not in body
    api = client_for(owner_a).get("/api/practices/").json()
    assert sorted((row["slug"], row["role"]) for row in api) == [("alpha", "owner"), ("bravo", "dentist")]


def test_switcher_requires_login(public_tenant: Practice) -> None:
    response = Client(HTTP_HOST=BASE).get("/practices/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


@pytest.mark.practice_rows_only("alpha")
def test_member_of_one_practice_is_refused_in_another_in_pages(
    practice_a: Pair, practice_b: Pair, client_for: Callable[..., Client]
) -> None:
    owner_a, _ = practice_a
    _, bravo = practice_b
    with tenant_context(bravo):
        PatientFactory(last_name="SecretBravoPatient")

    for path in ("/", "/patients/", "/appointments/", "/patients/1/edit/", "/patients/new/"):
        response = client_for(owner_a, bravo).get(path)
        assert response.status_code == 403, path
        assert b"SecretBravoPatient" not in response.content
    post = client_for(owner_a, bravo).post("/patients/new/", {"first_name": "X", "last_name": "Injected"})
    assert post.status_code == 403
    with tenant_context(bravo):
        from practice.models import Patient

        assert not Patient.objects.filter(last_name="Injected").exists()


@pytest.mark.practice_rows_only
def test_anonymous_visitor_is_sent_to_login_on_the_base_domain(
    practice_a: Pair, client_for: Callable[..., Client]
) -> None:
    response = client_for(None, practice_a[1]).get("/patients/")
    assert response.status_code == 302
    assert response["Location"].startswith(f"http://dentaltap.localhost:{PORT}/login/?next=")


def test_api_refuses_token_of_a_member_of_another_practice_even_with_guessed_ids(
    practice_a: Pair, practice_b: Pair
) -> None:
    owner_a, _alpha = practice_a
    _, bravo = practice_b
    with tenant_context(bravo):
        secret = PatientFactory(last_name="SecretBravoPatient")
    token = Token.objects.create(user=owner_a)
    attacker = Client(HTTP_HOST="bravo.dentaltap.localhost", HTTP_AUTHORIZATION=f"Token {token.key}")

    for method, path in (
        ("get", "/api/patients/"),
        ("get", f"/api/patients/{secret.pk}/"),
        ("patch", f"/api/patients/{secret.pk}/"),
        ("post", "/api/patients/"),
    ):
        response = getattr(attacker, method)(path, {"last_name": "Owned"}, content_type="application/json")
        assert response.status_code == 403, (method, path)
        assert response.json()["error"]["code"] == "permission_denied"
        assert b"SecretBravoPatient" not in response.content

    # On their own host the same id names their own practice's rows (or nothing), never bravo's.
    own = Client(HTTP_HOST="alpha.dentaltap.localhost", HTTP_AUTHORIZATION=f"Token {token.key}")
    response = own.get(f"/api/patients/{secret.pk}/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    with tenant_context(bravo):
        secret.refresh_from_db()
        assert secret.last_name == "SecretBravoPatient"


@pytest.mark.practice_rows_only("bravo")
def test_session_cookie_replayed_against_another_host_is_refused(
    practice_a: Pair, practice_b: Pair, client_for: Callable[..., Client]
) -> None:
    owner_a, alpha = practice_a
    _, _bravo = practice_b
    client = client_for(owner_a, alpha)
    assert client.get("/patients/").status_code == 200
    # Forge the Host header of bravo on the same session.
    assert client.get("/patients/", HTTP_HOST="bravo.dentaltap.localhost").status_code == 403
    assert client.get("/api/patients/", HTTP_HOST="bravo.dentaltap.localhost").status_code == 403


def test_unknown_or_foreign_host_gets_a_clear_404_page(public_tenant: Practice) -> None:
    for forged in ("nosuch.dentaltap.localhost", "evil.example", "dentaltap.localhost.evil.example"):
        response = Client(HTTP_HOST=forged).get("/")
        assert response.status_code == 404, forged
        assert b"No practice at this address" in response.content


@pytest.mark.practice_rows_only("alpha")
def test_suspended_or_revoked_membership_is_refused_on_the_next_request(
    practice_a: Pair, practice_b: Pair, client_for: Callable[..., Client]
) -> None:
    owner_a, _ = practice_a
    _, bravo = practice_b
    membership = Membership.objects.create(
        user=owner_a, practice=bravo, role=Role.DENTIST, joined_via=JoinedVia.INVITATION
    )
    token = Token.objects.create(user=owner_a)
    client = client_for(owner_a, bravo)
    api = Client(HTTP_HOST="bravo.dentaltap.localhost", HTTP_AUTHORIZATION=f"Token {token.key}")
    assert client.get("/patients/").status_code == 200
    assert api.get("/api/patients/").status_code == 200

    for status in (MembershipStatus.SUSPENDED, MembershipStatus.REVOKED):
        Membership.objects.filter(pk=membership.pk).update(status=status)
        assert client.get("/patients/").status_code == 403
        assert api.get("/api/patients/").status_code == 403


@pytest.mark.practice_rows_only("alpha")
def test_guest_role_sees_no_patient_data(practice_a: Pair, practice_b: Pair, client_for: Callable[..., Client]) -> None:
    owner_a, _ = practice_a
    _, bravo = practice_b
    with tenant_context(bravo):
        PatientFactory(last_name="SecretBravoPatient")
    Membership.objects.create(user=owner_a, practice=bravo, role=Role.GUEST, joined_via=JoinedVia.REFERRAL_LINK)
    client = client_for(owner_a, bravo)

    assert client.get("/").status_code == 200
    page = client.get("/patients/")
    assert page.status_code == 403 and b"SecretBravoPatient" not in page.content
    assert client.get("/api/patients/").status_code == 403


@pytest.mark.practice_rows_only
def test_staff_superuser_without_membership_cannot_enter_a_practice(
    practice_a: Pair, client_for: Callable[..., Client]
) -> None:
    staff = User.objects.create_superuser("staff@dentaltap.example", "x-Strong-pass-99", full_name="Staff")
    assert client_for(staff, practice_a[1]).get("/patients/").status_code == 403
    assert client_for(staff).get("/admin/").status_code == 200


@pytest.mark.practice_rows_only
def test_practice_owner_cannot_reach_the_admin(practice_a: Pair, client_for: Callable[..., Client]) -> None:
    owner_a, alpha = practice_a
    response = client_for(owner_a).get("/admin/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    # The admin does not exist on practice hosts at all.
    assert client_for(owner_a, alpha).get("/admin/").status_code == 404


@pytest.mark.practice_rows_only
def test_api_docs_of_a_practice_are_for_its_members_only(
    practice_a: Pair, practice_b: Pair, client_for: Callable[..., Client]
) -> None:
    owner_a, alpha = practice_a
    owner_b, _ = practice_b
    assert client_for(owner_a, alpha).get("/api/schema/").status_code == 200
    assert client_for(owner_b, alpha).get("/api/schema/").status_code == 403
    assert client_for(None, alpha).get("/api/docs/").status_code in (401, 403)
    assert client_for(None).get("/api/schema/").status_code == 200  # the public API stays documented
