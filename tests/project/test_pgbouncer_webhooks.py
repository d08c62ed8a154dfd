"""The Stripe webhook tests (tests/billing/test_webhook_ingest.py, the signed input tests of
tests/billing/test_billing_webhook_input.py), run again through PgBouncer in session mode and in
transaction mode: one INSERT per event, batches queued after commit, nothing lost."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.billing import test_billing_webhook_input as webhook_input
from tests.billing import test_webhook_ingest as ingest
from tests.billing.test_webhook_ingest import empty_broker  # noqa: F401 - a fixture of the re-run tests
from tests.pgbouncer_support import PGBOUNCER_MARKS, PgBouncer, running_pgbouncer

pytestmark = [pytest.mark.django_db, pytest.mark.practice_rows_only, *PGBOUNCER_MARKS]

# Kills the server process behind Django's connection by its pid: behind PgBouncer the client
# holds PgBouncer's id, not a server's (PgBouncer itself replaces a dead server connection).
DIRECT_ONLY = {"test_a_dead_database_connection_is_replaced_and_the_event_stored"}

for module in (ingest, webhook_input):
    globals().update(
        {name: getattr(module, name) for name in dir(module) if name.startswith("test_") and name not in DIRECT_ONLY}
    )


@pytest.fixture(scope="module", autouse=True, params=["session", "transaction"])
def pgbouncer(request: pytest.FixtureRequest, django_db_setup: None) -> Iterator[PgBouncer]:
    with running_pgbouncer(mode=request.param) as bouncer:
        yield bouncer
