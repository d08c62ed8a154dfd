"""Shared fixtures. Tests run against the real PostgreSQL (one schema per practice) and Redis."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.utils import translation
from django_tenants.utils import schema_context

from accounts.services import account_signup
from tenants.models import Practice, User
from tenants.routing import tenant_host_cache
from tenants.services import public_tenant_ensure
from tests.billing_support import no_hold, referred  # noqa: F401 - fixtures for every test module
from tests.browser_support import (  # noqa: F401 - browser and page: fixtures for every test module
    SKIP_BROWSER_TESTS_VARIABLE,
    browser,
    browser_tests_opted_out,
    chromium_missing_message,
    page,
)
from tests.database_support import MigrationData, committed_state_reset
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.live_server_support import live_server  # noqa: F401 - pytest-django's, binding with SO_REUSEADDR
from tests.pgbouncer_support import (
    SKIP_PGBOUNCER_TESTS_VARIABLE,
    WHOLE_RUN_MODE_VARIABLE,
    pgbouncer_missing_message,
    pgbouncer_tests_opted_out,
    running_pgbouncer,
)
from tests.stripe_helpers import stripe_standin  # noqa: F401 - a fixture for every test module
from tests.webhooks_support import webhook_receiver  # noqa: F401 - a fixture for every test module

BASE = "dentaltap.localhost"
# Links the app builds carry the public port; in tests it is the live server's (dentaltap/settings/test.py).
PORT = os.environ["DENTALTAP_TEST_PORT"]

_browser_tests_left_out = pytest.StashKey[int]()
_pgbouncer_tests_left_out = pytest.StashKey[int]()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "practice_rows_only(*slugs): the practice fixtures (make_practice, practice_a, ...) write the "
        "public rows only and create no schema, for every practice or those named (see make_practice)",
    )


# --------------------------------------------------------------------------- browser tests: run, or say why not


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """DENTALTAP_SKIP_BROWSER_TESTS=1 leaves the browser tests out, visibly (header, summary);
    DENTALTAP_SKIP_PGBOUNCER_TESTS=1 the same for the tests through PgBouncer."""
    for opted_out, marker, key in (
        (browser_tests_opted_out(), "browser", _browser_tests_left_out),
        (pgbouncer_tests_opted_out(), "pgbouncer", _pgbouncer_tests_left_out),
    ):
        if not opted_out:
            continue
        left_out = [item for item in items if item.get_closest_marker(marker)]
        if left_out:
            config.hook.pytest_deselected(items=left_out)
            items[:] = [item for item in items if not item.get_closest_marker(marker)]
        config.stash[key] = len(left_out)


def pytest_report_header(config: pytest.Config) -> list[str]:
    if browser_tests_opted_out():
        browser = f"browser tests: left out ({SKIP_BROWSER_TESTS_VARIABLE}=1)"
    else:
        browser = f"browser tests: {chromium_missing_message() or 'Chromium found'}"
    if pgbouncer_tests_opted_out():
        return [browser, f"pgbouncer tests: left out ({SKIP_PGBOUNCER_TESTS_VARIABLE}=1)"]
    return [browser, f"pgbouncer tests: {pgbouncer_missing_message() or 'pgbouncer found'}"]


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    for key, what, variable in (
        (_browser_tests_left_out, "browser", SKIP_BROWSER_TESTS_VARIABLE),
        (_pgbouncer_tests_left_out, "pgbouncer", SKIP_PGBOUNCER_TESTS_VARIABLE),
    ):
        left_out = config.stash.get(key, 0)
        if left_out:
            message = f"{left_out} {what} tests were left out of this run ({variable}=1)."
            terminalreporter.write_line(message, yellow=True)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """A browser test without Chromium fails with the reason, before its fixtures start anything:
    a missing browser is a broken environment, not a reason to skip."""
    if item.get_closest_marker("browser") and (message := chromium_missing_message()):
        pytest.fail(message, pytrace=False)
    if item.get_closest_marker("pgbouncer") and (message := pgbouncer_missing_message()):
        pytest.fail(message, pytrace=False)


def _restore_migration_data() -> None:
    import importlib

    from django.apps import apps

    defaults = importlib.import_module("billing.migrations.0002_default_plans_and_program")
    defaults.plans_create(apps)
    from rewards.programs import program_default_ensure

    program_default_ensure()  # what billing 0002 + rewards 0004 leave: the house default program
    from referrals.models import ReferralMessageTemplate

    if not ReferralMessageTemplate.objects.exists():  # referrals 0003 + 0006: the ready messages
        importlib.import_module("referrals.migrations.0003_default_message_templates").create_defaults(apps, None)
        importlib.import_module("referrals.migrations.0006_message_templates_ru_glossary").forwards(apps, None)


_migration_data: list[MigrationData] = []  # taken once the test database is migrated


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    """pytest-django's test database, and what its migrations left in it copied aside: committing
    tests end by putting exactly that back (tests/database_support.py) instead of Django's flush."""
    from django.test import TransactionTestCase

    with django_db_blocker.unblock():
        data = MigrationData.take(connection)
    if data is None:  # not a superuser: Django's flush, then _restore_migration_data
        yield
        return
    _migration_data.append(data)
    flush = TransactionTestCase._fixture_teardown

    def reset(self: TransactionTestCase) -> None:
        from django.db import connections

        for alias in self._databases_names(include_mirrors=False):
            committed_state_reset(connections[alias], data)

    TransactionTestCase._fixture_teardown = reset  # type: ignore[method-assign]
    try:
        yield
    finally:
        TransactionTestCase._fixture_teardown = flush  # type: ignore[method-assign]
        _migration_data.clear()


@pytest.fixture(scope="session", autouse=True)
def _whole_run_through_pgbouncer(request: pytest.FixtureRequest) -> Iterator[None]:
    """DENTALTAP_TEST_PGBOUNCER_MODE=session|transaction: every test of the run talks to the
    database through PgBouncer in that mode (the test database is created directly first)."""
    mode = os.environ.get(WHOLE_RUN_MODE_VARIABLE)
    if not mode:
        yield
        return
    request.getfixturevalue("django_db_setup")
    with running_pgbouncer(mode=mode, pool_size=20):
        yield


@pytest.fixture(autouse=True)
def _english_after_each_test() -> Iterator[None]:
    """A request with Accept-Language activates its language for the thread (LocaleMiddleware
    does not switch back): the next test starts in English, the default, whatever this one did."""
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def _fresh_routing_and_schema(request: pytest.FixtureRequest) -> Iterator[None]:
    """Each test starts in the public schema with an empty host cache and an empty Redis cache
    (the staff analytics cache figures per period, rate limits count there). Tests that commit
    (transactional_db, live_server) get their practice schemas dropped afterwards: Django's
    flush empties the public tables but knows nothing of tenant schemas."""
    tenant_host_cache.clear()
    cache.clear()
    marker = request.node.get_closest_marker("django_db")
    committing = (
        "transactional_db" in request.fixturenames
        or "live_server" in request.fixturenames
        or bool(marker and marker.kwargs.get("transaction"))
    )
    if committing:
        request.getfixturevalue("transactional_db")
    elif "db" in request.fixturenames:
        request.getfixturevalue("db")
    if (committing or "db" in request.fixturenames) and not _migration_data:
        # Without the copy of the migrations' rows (not a superuser), a committing test before
        # this one ended with Django's flush, which also empties the rows data migrations
        # created (plans, the referral program): put them back.
        _restore_migration_data()
    yield
    tenant_host_cache.clear()
    if committing:
        connection.set_schema_to_public()
        with connection.cursor() as cursor:
            cursor.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'practice\\_%%'")
            for (schema,) in cursor.fetchall():
                cursor.execute(f'DROP SCHEMA "{schema}" CASCADE')
    elif "db" in request.fixturenames or "django_db_setup" in request.fixturenames:
        with contextlib.suppress(Exception):  # the connection may be closed in teardown
            connection.set_schema_to_public()


@pytest.fixture(autouse=True)
def _milestone_memory_cleared() -> Iterator[None]:
    """The milestone store's in-process memory (onboarding.services) describes committed rows;
    each test's database starts afresh, so does the memory."""
    from onboarding.services import milestone_cache_clear

    milestone_cache_clear()
    yield
    milestone_cache_clear()


@pytest.fixture
def public_tenant(db: None) -> Practice:
    return public_tenant_ensure()


PracticeMaker = Callable[..., tuple[User, Practice]]


@contextlib.contextmanager
def practice_schema_creation_skipped() -> Iterator[None]:
    """Practices saved meanwhile get their public rows only: no schema is created or migrated."""
    previous = Practice.auto_create_schema
    Practice.auto_create_schema = False
    try:
        yield
    finally:
        Practice.auto_create_schema = previous


@pytest.fixture
def make_practice(public_tenant: Practice, request: pytest.FixtureRequest) -> PracticeMaker:
    """Sign a new owner up with their own practice, through the real service.

    In a test marked `practice_rows_only` the same service writes the same public rows (practice,
    domain, owner membership, ...) but no schema is created or migrated: that is most of the
    suite's time, and most tests never enter a practice's tables. The mark may name slugs
    (`practice_rows_only("bravo")`): then only those practices go without a schema. A test that
    enters the tables of a practice without one fails with "relation ... does not exist"; one that
    saves such a practice again (`practice.save()`) makes django-tenants create its schema by
    every migration, seconds instead of the recipe's milliseconds: leave the mark off there.
    `schema=` on a call decides for that practice whatever the mark says. Signups a test makes
    itself (services, HTTP) always create real schemas."""
    mark = request.node.get_closest_marker("practice_rows_only")
    counter = iter(range(1, 10_000))

    def make(
        slug: str | None = None, email: str | None = None, name: str | None = None, *, schema: bool | None = None
    ) -> tuple[User, Practice]:
        number = next(counter)
        slug = slug or f"practice-{number}"
        rows_only = mark is not None and (not mark.args or slug in mark.args)
        with_schema = not rows_only if schema is None else schema
        skipping = contextlib.nullcontext() if with_schema else practice_schema_creation_skipped()
        with schema_context("public"), skipping:
            result = account_signup(
                email=email or f"owner-{slug}@example.com",
                password=DEFAULT_PASSWORD,
                full_name=f"Owner of {slug}",
                practice_name=name or f"Practice {slug}",
                practice_slug=slug,
            )
            return result.user, result.practice

    return make


@pytest.fixture
def practice_a(make_practice: PracticeMaker) -> tuple[User, Practice]:
    return make_practice("alpha")


@pytest.fixture
def practice_b(make_practice: PracticeMaker) -> tuple[User, Practice]:
    return make_practice("bravo")


def host(practice: Practice | None = None) -> str:
    return f"{practice.slug}.{BASE}" if practice else BASE


@pytest.fixture
def client_for() -> Callable[..., Client]:
    """A test client logged in as `user` (or anonymous) talking to `practice`'s host."""

    def make(user: User | None = None, practice: Practice | None = None, **extra: Any) -> Client:
        client = Client(HTTP_HOST=host(practice), **extra)
        if user is not None:
            client.force_login(user)
        return client

    return make


@pytest.fixture
def user(db: None) -> User:
    return UserFactory()


@pytest.fixture
def celery_worker(transactional_db: None) -> Iterator[object]:
    """A real Celery worker consuming from the real Redis broker, in a thread of this process
    (its own database connection, so tests that use it commit: transactional_db)."""
    from celery.contrib.testing.worker import TestWorkController, start_worker

    from dentaltap.celery import app

    class Worker(TestWorkController):
        def start(self) -> None:  # the worker thread's whole life
            try:
                super().start()
            finally:
                # The worker keeps its database connection across tasks (CELERY_DB_REUSE_MAX);
                # left open when the thread ends, it made the run's last step, dropping the test
                # database, wait 5 s for it and fail ("being accessed by other users").
                from django.db import connections

                connections.close_all()

    app.control.purge()
    # Stopping, the worker waits for its pending BRPOP to answer: up to the polling interval,
    # kombu's 1 s by default, in every test's teardown. Its own connection polls every 50 ms.
    transport_options = app.conf.broker_transport_options
    app.conf.broker_transport_options = {**transport_options, "polling_interval": 0.05}
    try:
        with start_worker(
            app, pool="solo", concurrency=1, perform_ping_check=False, shutdown_timeout=10, WorkController=Worker
        ) as worker:
            yield worker
    finally:
        app.conf.broker_transport_options = transport_options


def _reset_broker_clients() -> None:
    # Django resets its cache handlers itself when the CACHES setting changes.
    from dentaltap.celery import app

    app._pool = None
    if "amqp" in app.__dict__:
        app.amqp._producer_pool = None


@contextlib.contextmanager
def redis_down(settings: Any) -> Iterator[None]:
    """Point the broker and the cache at a Redis that is not there (as during an outage), with
    the same short timeouts production uses; restore them on exit."""
    from dentaltap.celery import app

    dead_socket = "/nonexistent/dentaltap-redis.sock"
    previous_broker, previous_caches = app.conf.broker_url, settings.CACHES
    app.conf.broker_url = f"redis+socket://{dead_socket}?virtual_host=0"
    settings.CACHES = {"default": {**previous_caches["default"], "LOCATION": f"unix://{dead_socket}?db=0"}}
    _reset_broker_clients()
    try:
        yield
    finally:
        app.conf.broker_url = previous_broker
        settings.CACHES = previous_caches
        _reset_broker_clients()


@pytest.fixture
def redis_outage(settings: Any) -> Iterator[None]:
    with redis_down(settings):
        yield


def upgrade_to_paid_plan(practice: Practice, plan_code: str = "pro") -> None:
    """Put a practice on a paid plan directly (tests about rules other than plan limits)."""
    from billing.models import Plan, PracticeAccount
    from billing.services import account_for

    account_for(practice)
    PracticeAccount.objects.filter(practice=practice).update(plan=Plan.objects.get(code=plan_code))


# The growth helpers import BASE from this module, so their fixtures are taken in last.
from tests.growth_support import _fresh_rate_limits, outbox, owner_and_practice, referral_world  # noqa: E402, F401
