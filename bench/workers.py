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
    "/* least claim */": "least: claim",
    "/* least write */": "least: write",
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
            # A fresh scope per token: every check is a full one. Called as the front
            # doors call it: the decorator has made its own fast-path query first, and a
            # form field takes none.
            outcome = verify_and_record(
                request, token, scope(f"bench-{worker}-{token}"), fast_path=False
            )
            failures += not (outcome.allowed and outcome.persisted)
    elapsed = time.perf_counter() - started
    connection.close()
    out.put((len(tokens), elapsed, failures, dict(times)))


def _checks_by_hand(check, worker: int, sandbox_url: str, tokens: list[str], barrier, out):
    """Run ``check(cursor_factory, client, worker, i, token) -> ok`` over ``tokens``, timed
    as ``verify_many`` is (the floors below)."""
    django_worker(sandbox_url)
    from django.db import connection

    from captchala_django.client import CaptchaLaClient

    client = CaptchaLaClient()
    barrier.wait()
    started = time.perf_counter()
    failures = 0
    with timed_statements(connection) as times:
        for i, token in enumerate(tokens):
            failures += not check(connection.cursor, client, worker, i, token)
    elapsed = time.perf_counter() - started
    connection.close()
    out.put((len(tokens), elapsed, failures, dict(times)))


def _floor_check(cursor, client, worker: int, i: int, token: str) -> bool:
    result = client.validate(token, "203.0.113.7")
    with cursor() as c:
        c.execute(
            "INSERT INTO bench_raw_upsert AS c (scope_key, version, updated_at) "
            "VALUES (%s, 1, now()) ON CONFLICT (scope_key) DO UPDATE "
            "SET version = c.version + 1, updated_at = excluded.updated_at",
            [f"floor-{worker}-{i}-{token[-8:]}"],
        )
    return bool(result.valid)


def floor_checks(worker: int, sandbox_url: str, tokens: list[str], barrier, out) -> None:
    """The floor of a check: the same validate call over the pooled session, then one
    single-row upsert through Django's connection. Nothing a check could do with less."""
    _checks_by_hand(_floor_check, worker, sandbox_url, tokens, barrier, out)


#: The least a check can do and keep its guarantees: the digest claimed before the call...
LEAST_CLAIM = (
    "/* least claim */ INSERT INTO captchala_django_passtoken (token_digest, scope_key, state, "
    "allowed, degraded, failure_class, code, created_at, expires_at) "
    "VALUES (%s, %s, 'pending', NULL, false, '', '', now(), now() + interval '1 day') "
    "ON CONFLICT (token_digest) DO NOTHING RETURNING id"
)
#: ... then one statement: the checkpoint upserted (version + 1), the claim finished, one
#: record appended.
LEAST_WRITE = (
    "/* least write */ WITH cp AS (INSERT INTO captchala_django_checkpoint AS c (scope_key, "
    "scope_kind, route, status, version, token_digest, failure_class, failure_detail, "
    "client_ip, attempts, created_at, updated_at, passed_at, expires_at, request_id) "
    "VALUES (%s, 'session', 'route', 'passed', 1, %s, '', 'ok', '203.0.113.7', 1, now(), "
    "now(), now(), now() + interval '30 minutes', %s) ON CONFLICT (scope_key) DO UPDATE SET "
    "version = c.version + 1, attempts = c.attempts + 1, status = excluded.status, "
    "token_digest = excluded.token_digest, updated_at = excluded.updated_at, "
    "passed_at = excluded.passed_at, expires_at = excluded.expires_at RETURNING id, version), "
    "pt AS (UPDATE captchala_django_passtoken SET state = 'done', allowed = true, code = 'ok' "
    "WHERE token_digest = %s AND scope_key = %s), "
    "rec AS (INSERT INTO captchala_django_checkpointevent (checkpoint_id, version, kind, "
    "created_at, decision, failure_class, code, detail, sent_at, status_code, latency_ms, "
    "platform, request_id) SELECT id, version, 'check', now(), 'allow', '', 'ok', '', now(), "
    "200, %s, '', %s FROM cp) SELECT id, version FROM cp"
)


def _least_check(cursor, client, worker: int, i: int, token: str) -> bool:
    from captchala_django.checkpoints import token_digest

    digest, scope_key = token_digest(token), f"least-{worker}-{i}-{token[-12:]}"[:64]
    with cursor() as c:
        c.execute(LEAST_CLAIM, [digest, scope_key])
        claimed = c.fetchone() is not None
    result = client.validate(token, "203.0.113.7")
    request_id = f"least-{i}"
    latency = int(result.latency_ms)
    with cursor() as c:
        c.execute(
            LEAST_WRITE, [scope_key, digest, request_id, digest, scope_key, latency, request_id]
        )
        c.fetchone()
    return claimed and bool(result.valid)


def least_checks(worker: int, sandbox_url: str, tokens: list[str], barrier, out) -> None:
    """A hand-written check doing the least the guarantees need (DESIGN §5): claim the
    token's digest, ask the provider, then one statement that upserts the checkpoint,
    finishes the claim and appends one record. No scope resolution, no budget, no
    signal, no log line: the floor our own Python is measured against."""
    _checks_by_hand(_least_check, worker, sandbox_url, tokens, barrier, out)


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
