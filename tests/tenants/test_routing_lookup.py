"""The host -> practice lookup behind the routing cache is one fixed SQL statement (issue 14):
it must keep answering exactly what the ORM query it replaced would."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tenants.models import Domain, Practice
from tenants.routing import _PRACTICE_FIELDS, practice_for_host
from tests.conftest import PracticeMaker


@pytest.mark.django_db
def test_the_lookup_answers_what_the_orm_would_in_one_query(make_practice: PracticeMaker) -> None:
    _, practice = make_practice("lookup")
    host = Domain.objects.get(tenant=practice).domain
    expected = Domain.objects.select_related("tenant").get(domain=host).tenant
    with CaptureQueriesContext(connection) as captured:
        found = practice_for_host(host)
    assert len(captured) == 1
    assert found is not None and found.pk == expected.pk
    assert {field: getattr(found, field) for field in _PRACTICE_FIELDS} == {
        field: getattr(expected, field) for field in _PRACTICE_FIELDS
    }
    assert found.get_deferred_fields() == set()  # nothing left to load later, query by query
    assert practice_for_host("nobody." + host) is None


def test_the_lookup_reads_every_column_of_a_practice() -> None:
    assert set(_PRACTICE_FIELDS) == {field.attname for field in Practice._meta.concrete_fields}
