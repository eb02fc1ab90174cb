"""Worker-process bodies for the benchmarks (spawned, so importable)."""

from __future__ import annotations

import os
import time
from collections import defaultdict
from contextlib import contextmanager

#: How the statements of a check are named in the figures (by how their SQL starts).
STATEMENTS = {
    "WITH passed": "fast path + claim",
    "WITH cp": "write",
    "INSERT INTO bench_raw_upsert": "floor upsert",
}


@contextmanager
def timed_statements(connection):
    """Collect each named statement's latency (seconds, as the client sees it)."""
    times: dict[str, list[float]] = defaultdict(list)

    def wrapper(execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            name = next((n for p, n in STATEMENTS.items() if sql.startswith(p)), "other")
            times[name].append(time.perf_counter() - started)

    with connection.execute_wrapper(wrapper):
        yield times


def django_worker(sandbox_url: str | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    import django

    django.setup()
    if sandbox_url:
        from django.conf import settings

        settings.CAPTCHALA_API_URL = sandbox_url


def verify_many(worker: int, sandbox_url: str, tokens: list[str], barrier, out) -> None:
    """Full verifications, each on a scope of its own, through ``verify_and_record``."""
    django_worker(sandbox_url)
    from django.db import connection

    from captchala_django.checkpoints import verify_and_record
    from tests.helpers import make_request, scope

    # The requests exist before their checks, as they do in a view.
    requests = [make_request() for _ in tokens]
    barrier.wait()
    started = time.perf_counter()
    failures = 0
    with timed_statements(connection) as times:
        for request, token in zip(requests, tokens, strict=True):
            # A fresh scope per token: every check is a full one (no fast path).
            outcome = verify_and_record(request, token, scope(f"bench-{worker}-{token}"))
            failures += not (outcome.allowed and outcome.persisted)
    elapsed = time.perf_counter() - started
    connection.close()
    out.put((len(tokens), elapsed, failures, dict(times)))


def floor_checks(worker: int, sandbox_url: str, tokens: list[str], barrier, out) -> None:
    """The floor of a check: the same validate call over the pooled session, then one
    single-row upsert through Django's connection. Nothing a check could do with less."""
    django_worker(sandbox_url)
    from django.db import connection

    from captchala_django.client import CaptchaLaClient

    client = CaptchaLaClient()
    barrier.wait()
    started = time.perf_counter()
    failures = 0
    with timed_statements(connection) as times:
        for i, token in enumerate(tokens):
            result = client.validate(token, "203.0.113.7")
            failures += not result.valid
            with connection.cursor() as cursor:
                cursor.execute(
                    "INSERT INTO bench_raw_upsert AS c (scope_key, version, updated_at) "
                    "VALUES (%s, 1, now()) ON CONFLICT (scope_key) DO UPDATE "
                    "SET version = c.version + 1, updated_at = excluded.updated_at",
                    [f"floor-{worker}-{i}-{token[-8:]}"],
                )
    elapsed = time.perf_counter() - started
    connection.close()
    out.put((len(tokens), elapsed, failures, dict(times)))


def raw_upserts(worker: int, dsn: str, count: int, barrier, out) -> None:
    """The same server's raw rate: a psycopg loop of single-row upserts, autocommit."""
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        barrier.wait()
        started = time.perf_counter()
        for i in range(count):
            conn.execute(
                "INSERT INTO bench_raw_upsert AS c (scope_key, version, updated_at) "
                "VALUES (%s, 1, now()) ON CONFLICT (scope_key) DO UPDATE "
                "SET version = c.version + 1, updated_at = excluded.updated_at",
                (f"raw-{worker}-{i}",),
            )
        elapsed = time.perf_counter() - started
    out.put((count, elapsed, 0))


def write_until(worker: int, stop, barrier, out) -> None:
    """Keep writing fresh checkpoints (locally refused tokens: a write, no provider call)."""
    django_worker()
    from django.db import connection

    from captchala_django.checkpoints import verify_and_record
    from tests.helpers import make_request, scope

    writes = failures = 0
    errors: list[str] = []
    barrier.wait()
    while not stop.is_set():
        try:
            outcome = verify_and_record(make_request(), "", scope(f"fresh-{worker}-{writes}"))
        except Exception as exc:  # noqa: BLE001 - reported
            errors.append(repr(exc))
            continue
        writes += 1
        failures += not outcome.persisted
    connection.close()
    out.put((writes, failures, errors[:3]))
