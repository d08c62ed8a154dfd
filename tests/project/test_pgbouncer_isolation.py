"""The tenant isolation tests (tests/tenants/test_switcher_and_access.py), run again through
PgBouncer in session mode and in transaction mode (tests/pgbouncer_support.py): every page, API
and forged request there behaves the same when the connection is pooled."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.pgbouncer_support import PGBOUNCER_MARKS, PgBouncer, running_pgbouncer
from tests.tenants import test_switcher_and_access as isolation

pytestmark = [pytest.mark.django_db, *PGBOUNCER_MARKS]

globals().update({name: getattr(isolation, name) for name in dir(isolation) if name.startswith("test_")})


@pytest.fixture(scope="module", autouse=True, params=["session", "transaction"])
def pgbouncer(request: pytest.FixtureRequest, django_db_setup: None) -> Iterator[PgBouncer]:
    with running_pgbouncer(mode=request.param) as bouncer:
        yield bouncer
