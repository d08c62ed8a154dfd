"""Figure 1: practice creation, from signup to a usable schema.

One timed call of `accounts.services.account_signup`: the user (password validated and hashed),
the practice row, its schema created and migrated, its domain and the owner membership, in one
transaction. Each timed sample is undone afterwards (untimed), so every sample starts from
exactly the same number of existing practices: first 0, then N filled in with the same service.

Besides wall time, each sample records the CPU time it cost: this process's (Python) plus that of
its PostgreSQL backend (from /proc/<pid>/schedstat). On a shared, busy machine the wall time
includes waiting for a core; the CPU time does not, so it shows whether a change between 0 and N
practices is the work growing or the machine being busier.
"""

from __future__ import annotations

import os
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bench.stack import PASSWORD, database_reset, practice_remove, practice_signup, summary_ms, table, timed

if TYPE_CHECKING:
    from tenants.models import Practice, User

WARM_UP = 2  # the first signups in a process load the migration graph and templates


@dataclass
class Sample:
    wall: float
    app_cpu: float
    database_cpu: float

    @property
    def cpu(self) -> float:
        return self.app_cpu + self.database_cpu


def _backend_cpu_seconds(pid: int) -> float:
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0]) / 1e9


def _measured_signup(slug: str) -> tuple[Sample, User, Practice]:
    from django.db import connection

    connection.ensure_connection()
    backend = connection.connection.info.backend_pid
    database_before, app_before, started = _backend_cpu_seconds(backend), time.process_time(), time.perf_counter()
    user, practice = practice_signup(slug)
    wall = time.perf_counter() - started
    sample = Sample(wall, time.process_time() - app_before, _backend_cpu_seconds(backend) - database_before)
    return sample, user, practice


def _samples(prefix: str, count: int) -> list[Sample]:
    from django_tenants.utils import tenant_context

    from practice.models import Patient

    samples = []
    for number in range(count):
        sample, user, practice = _measured_signup(f"{prefix}-{number}")
        samples.append(sample)
        with tenant_context(practice):  # usable: its tables answer (untimed)
            assert Patient.objects.count() == 0
        practice_remove(practice, user)
    return samples


def _summary(samples: list[Sample]) -> dict[str, object]:
    return {
        **summary_ms([sample.wall for sample in samples]),
        "cpu": summary_ms([sample.cpu for sample in samples]),
        "app_cpu_median_ms": round(statistics.median(sample.app_cpu for sample in samples) * 1000, 1),
        "database_cpu_median_ms": round(statistics.median(sample.database_cpu for sample in samples) * 1000, 1),
        "load_average_after": os.getloadavg()[0],
    }


def _password_hash_seconds() -> float:
    from django.contrib.auth.hashers import make_password

    return statistics.median(timed(lambda: make_password(PASSWORD))[0] for _ in range(5))


def run(*, practices: int, samples: int) -> dict[str, object]:
    from tenants.models import Practice

    database_reset()
    _samples("warm-up", WARM_UP)
    assert Practice.objects.exclude(schema_name="public").count() == 0
    at_zero = _summary(_samples("zero", samples))

    fill: list[Sample] = []
    started = time.monotonic()
    for number in range(practices):
        fill.append(_measured_signup(f"practice-{number:05d}")[0])
        if (number + 1) % 100 == 0 or number + 1 == practices:
            print(f"  {number + 1}/{practices} practices created ({time.monotonic() - started:.0f}s)", flush=True)
    assert Practice.objects.exclude(schema_name="public").count() == practices
    at_full = _summary(_samples("full", samples))

    def by_hundred(values: list[float]) -> list[float]:
        return [round(statistics.median(values[start : start + 100]) * 1000, 1) for start in range(0, len(values), 100)]

    result = {
        "existing_0": at_zero,
        f"existing_{practices}": at_full,
        "fill": _summary(fill) if fill else None,
        "fill_median_ms_per_hundred": by_hundred([sample.wall for sample in fill]),
        "fill_cpu_median_ms_per_hundred": by_hundred([sample.cpu for sample in fill]),
        "fill_database_cpu_median_ms_per_hundred": by_hundred([sample.database_cpu for sample in fill]),
        "fill_total_s": round(sum(sample.wall for sample in fill), 1),
        "password_hash_ms": round(_password_hash_seconds() * 1000, 1),
    }
    rows = [
        [
            existing,
            stats["samples"],
            stats["median_ms"],
            stats["p95_ms"],
            stats["min_ms"],
            stats["max_ms"],
            stats["cpu"]["median_ms"],  # type: ignore[index]
            stats["cpu"]["p95_ms"],  # type: ignore[index]
            f"{stats['app_cpu_median_ms']} + {stats['database_cpu_median_ms']}",
        ]
        for existing, stats in ((0, at_zero), (practices, at_full))
    ]
    header = ["existing", "n", "median", "p95", "min", "max", "CPU median", "CPU p95", "CPU app + db (medians)"]
    print(table("Practice creation (account_signup), ms", header, rows))
    print(f"  of which one password hash (PBKDF2, Django's default): {result['password_hash_ms']} ms")
    print(f"  filling {practices} took {result['fill_total_s']} s; medians per 100 created, ms:")
    print(f"    wall:   {result['fill_median_ms_per_hundred']}")
    print(f"    CPU:    {result['fill_cpu_median_ms_per_hundred']}")
    print(f"    of it PostgreSQL: {result['fill_database_cpu_median_ms_per_hundred']}")
    return result
