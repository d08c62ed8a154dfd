"""The practice API keeps the promises of its own OpenAPI schema: schemathesis (4.x) generates
valid and invalid requests for every operation of a practice host's schema, sends them as the
practice's owner (an API token) to the app in-process, and no answer may be a 5xx, carry a
status code the schema does not document, or differ from the documented shape; invalid input
must be refused. Bounded: a few examples per operation and mode, derandomized (the same cases on
every run), no deadline (the machine is shared; time is measured by benchmarks, not here)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import Client
from django_tenants.utils import tenant_context
from rest_framework.authtoken.models import Token

from practice.models import Appointment, Patient
from tenants.models import JoinedVia, Practice, Role, User
from tests.conftest import BASE
from tests.factories import AppointmentFactory, PatientFactory, UserFactory

pytestmark = pytest.mark.django_db

Pair = tuple[User, Practice]
EXAMPLES_PER_OPERATION = 10


@contextlib.contextmanager
def in_process_app() -> Iterator[WSGIHandler]:
    """Django's WSGI app, called inside this test's transaction: like Django's test client, keep
    request signals from closing the connection the test's data lives on (the test client
    reconnects them after each of its own requests, so no test client call inside this block)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield WSGIHandler()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def practice_schema(host: str, token: str) -> dict[str, Any]:
    response = Client(HTTP_HOST=host, HTTP_AUTHORIZATION=f"Token {token}").get(
        "/api/schema/", HTTP_ACCEPT="application/json"
    )
    assert response.status_code == 200
    return response.json()


def test_every_practice_operation_keeps_the_schemas_promises(practice_a: Pair) -> None:
    import schemathesis
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        negative_data_rejection,
        response_schema_conformance,
        status_code_conformance,
    )

    owner, alpha = practice_a
    # Some rows for the generated ids to meet: a patient, an appointment, a colleague.
    with tenant_context(alpha):
        AppointmentFactory(patient=PatientFactory())
    colleague = UserFactory(email="colleague@example.com")
    from tenants.services import membership_create

    membership_create(user=colleague, practice=alpha, role=Role.DENTIST, joined_via=JoinedVia.INVITATION)
    token = Token.objects.create(user=owner).key
    host = f"{alpha.slug}.{BASE}"

    schema = schemathesis.openapi.from_dict(practice_schema(host, token))
    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
        negative_data_rejection,
    ]
    failures: list[str] = []
    operations = 0
    with in_process_app() as app:
        schema.app = app
        operations, failures = run_all(schema, host, token, checks)
    assert operations >= 20
    assert failures == [], "\n\n".join(failures)


def run_all(schema: Any, host: str, token: str, checks: list[Any]) -> tuple[int, list[str]]:
    import schemathesis
    from hypothesis import HealthCheck, Phase, given
    from hypothesis import settings as hypothesis_settings

    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        definition = operation.definition.raw
        modes = [schemathesis.GenerationMode.POSITIVE]
        # Every operation takes the Accept-Language header, free text with no invalid value.
        checked = [parameter for parameter in definition.get("parameters", []) if parameter.get("in") != "header"]
        if checked or definition.get("requestBody"):
            modes.append(schemathesis.GenerationMode.NEGATIVE)  # else there is nothing to make invalid
        for mode in modes:

            @hypothesis_settings(
                max_examples=EXAMPLES_PER_OPERATION,
                derandomize=True,
                deadline=None,
                database=None,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode))
            def send(case: Any) -> None:
                case.call_and_validate(
                    base_url=f"http://{host}",
                    headers={"Authorization": f"Token {token}"},
                    checks=checks,
                )

            try:
                send()
            except (Exception, BaseExceptionGroup) as error:  # noqa: BLE001 - all operations are tried
                failures.append(f"{operation.label} [{mode}]: {error}")
    return operations, failures


# --------------------------------------------------------------------------- what schemathesis found


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    return node


def test_list_endpoints_are_documented_as_what_they_answer(practice_a: Pair) -> None:
    """Each GET without a path parameter answers the JSON type its schema documents (a page
    object for paged lists, an array for short ones, an object otherwise)."""
    owner, alpha = practice_a
    token = Token.objects.create(user=owner).key
    host = f"{alpha.slug}.{BASE}"
    schema = practice_schema(host, token)
    api = Client(HTTP_HOST=host, HTTP_AUTHORIZATION=f"Token {token}")
    checked = set()
    for path, operations in schema["paths"].items():
        if "{" in path or "get" not in operations:
            continue
        documented = _resolve(schema, operations["get"]["responses"]["200"]["content"]["application/json"]["schema"])
        answer = api.get(path).json()
        assert documented["type"] == ("array" if isinstance(answer, list) else "object"), path
        if isinstance(answer, dict) and "results" in answer:
            assert set(documented["properties"]) >= {"count", "next", "previous", "results"}, path
            assert any(parameter["name"] == "page" for parameter in operations["get"]["parameters"]), path
        checked.add(path)
    assert {"/api/invitations/", "/api/team/audit/", "/api/patients/", "/api/team/members/"} <= checked
    for paged in ("/api/invitations/", "/api/team/audit/"):
        assert (
            _resolve(
                schema, schema["paths"][paged]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
            )["properties"]["results"]["type"]
            == "array"
        )


@pytest.mark.practice_rows_only
def test_every_operation_documents_its_errors_in_the_one_shape(practice_a: Pair) -> None:
    owner, alpha = practice_a
    token = Token.objects.create(user=owner).key
    schema = practice_schema(f"{alpha.slug}.{BASE}", token)
    error = schema["components"]["schemas"]["Error"]
    assert error["required"] == ["error"]
    assert error["properties"]["error"]["required"] == ["code", "message", "fields"]
    assert not [name for name in schema["components"]["schemas"] if name in ("Input", "Output")]  # no collisions
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            expected = {"401", "403"}
            if method in ("post", "put", "patch") or any(p["in"] == "query" for p in operation.get("parameters", [])):
                expected.add("400")
            if "{" in path:
                expected.add("404")
            assert expected <= set(responses), (method, path, sorted(responses))
            for status in expected:
                assert responses[status]["content"]["application/json"]["schema"] == {
                    "$ref": "#/components/schemas/Error"
                }, (method, path, status)
            if "requestBody" in operation:
                assert set(operation["requestBody"]["content"]) == {"application/json"}, (method, path)
    # Statuses only some operations give: conflicts with the current state, rate limits.
    for method, path, status in (
        ("post", "/api/invitations/", "429"),
        ("post", "/api/invitations/{invitation_id}/resend/", "409"),
        ("post", "/api/invitations/{invitation_id}/revoke/", "409"),
        ("post", "/api/access-requests/{access_request_id}/approve/", "409"),
        ("post", "/api/access-requests/{access_request_id}/decline/", "409"),
    ):
        documented = schema["paths"][path][method]["responses"][status]
        assert documented["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}


def test_an_empty_or_malformed_page_is_a_400_and_a_page_past_the_end_a_404(practice_a: Pair) -> None:
    owner, alpha = practice_a
    token = Token.objects.create(user=owner).key
    api = Client(HTTP_HOST=f"{alpha.slug}.{BASE}", HTTP_AUTHORIZATION=f"Token {token}")
    for path in ("/api/patients/", "/api/invitations/", "/api/team/audit/"):
        for page in ("", "abc", "0", "-1", "1.5", "last", "\u0661"):  # the last: an Arabic-Indic one
            response = api.get(path, {"page": page})
            assert response.status_code == 400, (path, page, response.content)
            assert list(response.json()["error"]["fields"]) == ["page"], (path, page)
        assert api.get(path, {"page": "1"}).status_code == 200
        past = api.get(path, {"page": "999"})
        assert past.status_code == 404 and past.json()["error"]["message"] == "Page 999 does not exist."


def test_a_body_that_is_an_array_or_null_is_a_400(practice_a: Pair) -> None:
    owner, alpha = practice_a
    with tenant_context(alpha):
        patient = PatientFactory(last_name="Kept")
        appointment = AppointmentFactory(patient=patient, reason="Check-up")
    colleague = UserFactory(email="colleague@example.com")
    from tenants.services import membership_create

    member = membership_create(user=colleague, practice=alpha, role=Role.DENTIST, joined_via=JoinedVia.INVITATION)
    token = Token.objects.create(user=owner).key
    api = Client(HTTP_HOST=f"{alpha.slug}.{BASE}", HTTP_AUTHORIZATION=f"Token {token}")
    for method, path in (
        ("patch", f"/api/patients/{patient.pk}/"),
        ("put", f"/api/patients/{patient.pk}/"),
        ("patch", f"/api/appointments/{appointment.pk}/"),
        ("patch", f"/api/team/members/{member.pk}/"),
        ("put", "/api/referral-settings/"),
        ("post", "/api/patients/"),
        ("post", "/api/invitations/"),
    ):
        for body in ("[]", "null", '[{"last_name": "X"}]', '"text"', "3"):
            response = getattr(api, method)(path, body, content_type="application/json")
            assert response.status_code == 400, (method, path, body, response.content)
            error = response.json()["error"]
            assert error["code"] == "invalid" and error["message"], (method, path, body)
    with tenant_context(alpha):
        assert Patient.objects.get().last_name == "Kept" and Patient.objects.count() == 1
        assert Appointment.objects.get().reason == "Check-up"
    member.refresh_from_db()
    assert member.role == Role.DENTIST


def test_an_unknown_api_address_answers_in_the_error_shape(practice_a: Pair) -> None:
    owner, alpha = practice_a
    token = Token.objects.create(user=owner).key
    api = Client(HTTP_HOST=f"{alpha.slug}.{BASE}", HTTP_AUTHORIZATION=f"Token {token}")
    for path in ("/api/nothing/", "/api/patients/not-a-number/"):
        response = api.get(path)
        assert response.status_code == 404 and response.json()["error"]["code"] == "not_found", path
    member = Client(HTTP_HOST=f"{alpha.slug}.{BASE}")
    member.force_login(owner)
    page = member.get("/nothing/")
    assert page.status_code == 404 and b"Page not found" in page.content  # pages keep the 404 page


def test_text_lengths_count_what_was_sent(practice_a: Pair) -> None:
    owner, alpha = practice_a
    token = Token.objects.create(user=owner).key
    api = Client(HTTP_HOST=f"{alpha.slug}.{BASE}", HTTP_AUTHORIZATION=f"Token {token}")
    response = api.post(
        "/api/patients/", {"first_name": " " + "M" * 80, "last_name": "Schmidt"}, content_type="application/json"
    )
    assert response.status_code == 400 and "first_name" in response.json()["error"]["fields"]
    trimmed = api.post(
        "/api/patients/", {"first_name": "  Maria ", "last_name": "Schmidt"}, content_type="application/json"
    )
    assert trimmed.status_code == 201 and trimmed.json()["first_name"] == "Maria"


def test_text_fields_take_text_only(practice_a: Pair) -> None:
    """The schema says `type: string`: a number or a boolean is refused by name, not stored as
    its decimal spelling (schemathesis's negative mode found `first_name: 1.3e14` accepted)."""
    owner, alpha = practice_a
    token = Token.objects.create(user=owner).key
    api = Client(HTTP_HOST=f"{alpha.slug}.{BASE}", HTTP_AUTHORIZATION=f"Token {token}")
    with tenant_context(alpha):
        before = Patient.objects.count()
    for value in (138468981730568.53, 7, True):
        response = api.post(
            "/api/patients/", {"first_name": value, "last_name": "Schmidt"}, content_type="application/json"
        )
        assert response.status_code == 400, value
        assert response.json()["error"]["fields"]["first_name"] == ["Not a valid string."]
    with tenant_context(alpha):
        assert Patient.objects.count() == before
