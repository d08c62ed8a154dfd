"""The worker's broker connection after a real Redis outage, and the worker's settings for it.

The system tier (tests/system/test_recovery_jobs.py) watches a running worker live through Redis
stopping under a running task. These tests pin the cause down at kombu's level, in seconds: a
Redis server process of the test's own (not the suite's), a consumer holding one message
unacknowledged (what `acks_late` means while a task runs) with a `BRPOP` outstanding on two
channels (the worker's task channel and its remote-control channel), the server stopped, then
what celery 5.7's consumer does with a lost connection: `collect()`, then `close()`.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kombu
import pytest
import yaml

from dentaltap import devstack
from dentaltap.celery import BrokerConnection, app
from dentaltap.settings import base as production_settings
from tests.system.support import RedisServer


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _lose_the_connection(
    server: RedisServer, connection_class: type[kombu.Connection], held: list[Any]
) -> kombu.Connection:
    """A consumer in the state a worker is in while a task runs, and then Redis stops. The
    message it holds is added to `held`."""
    url = f"redis+socket://{server.socket_path}?virtual_host=3"
    queue, other_queue = kombu.Queue("outage-tasks"), kombu.Queue("outage-control")
    with kombu.Connection(url) as publisher:
        publisher.Producer().publish({"task": 1}, routing_key=queue.name, declare=[queue])
    connection = connection_class(url, transport_options={"socket_timeout": 2, "socket_connect_timeout": 2})
    connection.Consumer([queue], callbacks=[lambda body, message: held.append(message)], accept=["json"]).consume()
    control = connection.channel()
    connection.Consumer([other_queue], channel=control, callbacks=[lambda body, message: None]).consume()
    connection.drain_events(timeout=5)
    assert len(held) == 1  # held, not acknowledged
    with pytest.raises(socket.timeout):
        connection.drain_events(timeout=0.2)  # leaves a BRPOP outstanding, as the worker's loop does
    server.stop()
    connection.collect(socket_timeout=1)
    return connection


def test_kombus_own_connection_still_fails_to_close_after_collect(redis_server: RedisServer) -> None:
    """The upstream bug BrokerConnection works around (celery 5.7.0, kombu 5.7.0, redis 8.1.0).
    When this test fails, kombu has fixed it: BrokerConnection can go."""
    held: list[Any] = []
    connection = _lose_the_connection(redis_server, kombu.Connection, held)
    with pytest.raises(AttributeError, match="hostname"):
        connection.close()


def test_the_workers_connection_closes_after_collect_with_redis_gone(redis_server: RedisServer) -> None:
    held: list[Any] = []
    connection = _lose_the_connection(redis_server, BrokerConnection, held)
    connection.close()  # nothing to close twice: no AttributeError, which would end the worker
    _give_back(redis_server, held)


def _give_back(server: RedisServer, held: list[Any]) -> None:
    """With a server listening again, let the lost channel give back what it holds now (kombu
    would try at the process's exit, after this test's server is gone, and print the failure)."""
    server.start()
    for message in held:
        message.channel.qos.restore_unacked_once()


def test_the_celery_app_connects_through_broker_connection() -> None:
    for connection in (app.connection_for_read(), app.connection_for_write()):
        with connection:
            assert isinstance(connection, BrokerConnection)


def test_the_worker_retries_the_broker_forever_and_lets_running_tasks_finish() -> None:
    assert app.conf.broker_connection_retry is True
    assert app.conf.broker_connection_retry_on_startup is True
    # Celery's default (100) ends the worker after about 50 minutes without Redis.
    assert app.conf.broker_connection_max_retries is None
    assert app.conf.worker_cancel_long_running_tasks_on_connection_loss is False
    options = app.conf.broker_transport_options
    assert options["socket_timeout"] == 2 and options["retry_on_timeout"] is False
    assert options["visibility_timeout"] == 3600


def test_the_run_command_and_docker_compose_start_the_same_worker() -> None:
    command = devstack.worker_command()
    assert command[1:4] == ["-A", "dentaltap", "worker"]
    assert all(option in command for option in devstack.WORKER_OPTIONS)
    compose = yaml.safe_load((Path(production_settings.BASE_DIR) / "docker-compose.yml").read_text())
    compose_command = compose["services"]["worker"]["command"]
    assert compose_command[:4] == ["celery", "-A", "dentaltap", "worker"]
    assert [option for option in compose_command if option.startswith("--") and "loglevel" not in option] == (
        devstack.WORKER_OPTIONS
    )
