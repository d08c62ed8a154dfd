"""Health of the parts a request needs: the database and the broker."""

import time
from typing import Any

import redis
from django.conf import settings
from django.db import connection


def _timed(check: Any) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        check()
    except Exception as error:  # noqa: BLE001 - a health check reports every failure
        return {"status": "error", "error": f"{type(error).__name__}: {error}"[:200]}
    return {"status": "ok", "ms": round((time.perf_counter() - started) * 1000, 2)}


def _database() -> None:
    connection.set_schema_to_public()  # type: ignore[attr-defined]
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _broker() -> None:
    url = settings.CELERY_BROKER_URL.replace("redis+socket://", "unix://").replace("virtual_host=", "db=")
    client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
    try:
        client.ping()
    finally:
        client.close()


def check() -> dict[str, Any]:
    parts = {"database": _timed(_database), "broker": _timed(_broker)}
    healthy = all(part["status"] == "ok" for part in parts.values())
    return {"status": "ok" if healthy else "degraded", **parts}
