"""Signing up in the browser gives the dentist an account and their own practice."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client

from tenants.models import Domain, JoinedVia, Membership, Practice, Role, User
from tests.conftest import BASE, PORT, PracticeMaker

# The practices here are their public rows only: no test enters a practice's tables (conftest).
pytestmark = [pytest.mark.django_db, pytest.mark.practice_rows_only]

GOOD = {
    "full_name": "Dr. Lena Vogel",
    "email": "Lena.Vogel@Example.com",
    "password": "molar-Crown-2026",
    "practice_name": "Vogel Zahnarztpraxis",
    "practice_slug": "vogel",
}


def schema_exists(name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [name])
        return cursor.fetchone() is not None


def post_signup(client: Client, **changes: str) -> object:
    return client.post("/signup/", {**GOOD, **changes})


def test_signup_creates_user_own_practice_schema_domain_and_owner_membership(public_tenant: Practice) -> None:
    client = Client(HTTP_HOST=BASE)
    response = post_signup(client)

    assert response.status_code == 302
    assert response["Location"] == f"http://vogel.dentaltap.localhost:{PORT}/"
    user = User.objects.get(email="lena.vogel@example.com")  # stored normalised
    practice = Practice.objects.get(slug="vogel")
    assert practice.plan == "freemium"
    assert practice.schema_name == "practice_vogel" and schema_exists("practice_vogel")
    assert Domain.objects.get(tenant=practice).domain == "vogel.dentaltap.localhost"
    membership = Membership.objects.get(user=user, practice=practice)
    assert (membership.role, membership.status, membership.joined_via) == (
        Role.OWNER,
        "active",
        JoinedVia.CREATED_PRACTICE,
    )

    # The same session reaches the new practice's pages (one login across subdomains).
    practice_client = Client(HTTP_HOST="vogel.dentaltap.localhost")
    practice_client.cookies = client.cookies
    assert practice_client.get("/patients/").status_code == 200


def test_signup_page_renders(public_tenant: Practice) -> None:
    response = Client(HTTP_HOST=BASE).get("/signup/")
    assert response.status_code == 200
    assert b"Create your practice" in response.content


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"password": "short"}, "password", "too short"),
        ({"password": "password123"}, "password", "too common"),
        ({"email": "not-an-email"}, "email", "valid email"),
        ({"practice_slug": "Bad_Slug!"}, "practice_slug", "lowercase letters"),
        ({"practice_slug": "-edge"}, "practice_slug", "lowercase letters"),
        ({"practice_slug": "admin"}, "practice_slug", "reserved"),
        ({"practice_name": "   "}, "practice_name", "required"),
    ],
)
def test_signup_bad_input_shows_form_errors_and_creates_nothing(
    public_tenant: Practice, changes: dict[str, str], field: str, message: str
) -> None:
    response = post_signup(Client(HTTP_HOST=BASE), **changes)

    assert response.status_code == 400
    errors = " ".join(str(error) for error in response.context["form"].errors.get(field, []))
    assert message in errors.lower() or message in errors
    assert not User.objects.exists()
    assert not Practice.objects.exclude(schema_name="public").exists()


def test_signup_duplicate_email_and_taken_address_are_both_reported(
    make_practice: PracticeMaker,
) -> None:
    _existing_user, _existing_practice = make_practice("vogel", email="lena.vogel@example.com")

    response = post_signup(Client(HTTP_HOST=BASE), email="LENA.VOGEL@example.com")

    assert response.status_code == 400
    form = response.context["form"]
    assert "already exists" in form.errors["email"][0]
    assert "already taken" in form.errors["practice_slug"][0]
    assert User.objects.count() == 1 and Practice.objects.exclude(schema_name="public").count() == 1


def test_signup_without_slug_derives_it_from_the_name(public_tenant: Practice) -> None:
    response = post_signup(Client(HTTP_HOST=BASE), practice_slug="", practice_name="Zahnarzt Müller & Söhne")
    assert response.status_code == 302
    assert Practice.objects.filter(slug="zahnarzt-mueller-soehne").exists()  # umlauts spelt out


def test_a_cyrillic_practice_name_gets_a_latin_address_from_its_name(public_tenant: Practice) -> None:
    """A Moscow dentist who names the practice in Russian and leaves the address empty gets an
    address transliterated from the name, not the form error an empty slug used to give."""
    response = post_signup(Client(HTTP_HOST=BASE), practice_slug="", practice_name="Клиника «Жемчуг» Щёлково")
    assert response.status_code == 302
    practice = Practice.objects.get(name="Клиника «Жемчуг» Щёлково")
    assert practice.slug == "klinika-zhemchug-shchelkovo"


def test_signup_api_returns_the_error_shape(public_tenant: Practice) -> None:
    client = Client(HTTP_HOST=BASE)
    response = client.post(
        "/api/signup/", {**GOOD, "practice_slug": "admin", "password": "x"}, content_type="application/json"
    )

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert set(error["fields"]) == {"practice_slug", "password"}
    assert not User.objects.exists()


def test_signup_api_creates_account_and_practice(public_tenant: Practice) -> None:
    response = Client(HTTP_HOST=BASE).post("/api/signup/", GOOD, content_type="application/json")
    assert response.status_code == 201
    assert response.json()["practice_url"] == f"http://vogel.dentaltap.localhost:{PORT}/"


def test_login_next_may_name_a_practice_but_not_a_foreign_site(practice_a: tuple[User, Practice]) -> None:
    owner, _ = practice_a
    client = Client(HTTP_HOST=BASE)
    good = client.post(
        "/login/",
        {
            "username": owner.email,
            "password": "a-Strong-pass-123",
            "next": f"http://alpha.dentaltap.localhost:{PORT}/patients/",
        },
    )
    assert good["Location"] == f"http://alpha.dentaltap.localhost:{PORT}/patients/"

    client = Client(HTTP_HOST=BASE)
    evil = client.post(
        "/login/", {"username": owner.email, "password": "a-Strong-pass-123", "next": "https://evil.example/phish"}
    )
    assert evil.status_code == 302 and evil["Location"] == "/practices/"


def test_login_with_wrong_password_is_a_form_error(practice_a: tuple[User, Practice]) -> None:
    owner, _ = practice_a
    response = Client(HTTP_HOST=BASE).post("/login/", {"username": owner.email, "password": "nope"})
    assert response.status_code == 200
    assert "correct email and password" in str(response.context["form"].non_field_errors())
