"""captchala_cleanup over 1,000,000 expired checkpoints on PostgreSQL while 4 processes write.

Each expired checkpoint has one event. Reports rows deleted per second, the
longest single statement, and the writers' errors (there must be none).
"""

from __future__ import annotations

import multiprocessing
import time

from django.db import connection

from bench.db import prepare
from bench.workers import write_until
from captchala_django.cleanup import cleanup
from captchala_django.models import Checkpoint, CheckpointEvent

ROWS = 1_000_000
WRITERS = 4
BATCH = 5000


def _seed() -> float:
    started = time.perf_counter()
    cp = Checkpoint._meta.db_table
    ev = CheckpointEvent._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {cp} (scope_key, scope_kind, route, status, version, token_digest, "
            "failure_class, failure_detail, attempts, created_at, updated_at, passed_at, "
            "expires_at, request_id) "
            "SELECT md5(g::text) || md5((-g)::text), 'session', 'bench', 'passed', 1, '', '', "
            "'', 1, now() - interval '2 hours', now() - interval '2 hours', "
            "now() - interval '2 hours', now() - interval '1 hour', '' "
            "FROM generate_series(1, %s) AS g",
            [ROWS],
        )
        cursor.execute(
            f"INSERT INTO {ev} (checkpoint_id, kind, created_at, version, decision, "
            "failure_class, code, detail, platform, request_id) "
            f"SELECT id, 'check', now() - interval '2 hours', 1, 'allow', '', 'ok', '', '', '' "
            f"FROM {cp}"
        )
        cursor.execute(f"ANALYZE {cp}")
        cursor.execute(f"ANALYZE {ev}")
    return time.perf_counter() - started


def run() -> list[str]:
    if connection.vendor != "postgresql":
        return ["cleanup: skipped (needs PostgreSQL: run through `make bench`)"]
    prepare()
    seed_seconds = _seed()
    connection.close()
    ctx = multiprocessing.get_context("spawn")
    stop = ctx.Event()
    barrier = ctx.Barrier(WRITERS + 1)
    out = ctx.Queue()
    writers = [
        ctx.Process(target=write_until, args=(w, stop, barrier, out)) for w in range(WRITERS)
    ]
    for proc in writers:
        proc.start()
    barrier.wait()
    started = time.perf_counter()
    try:
        result = cleanup(batch_size=BATCH)
    finally:
        elapsed = time.perf_counter() - started
        stop.set()
    reports = [out.get(timeout=120) for _ in writers]
    for proc in writers:
        proc.join(60)
    writes = sum(r[0] for r in reports)
    failures = sum(r[1] for r in reports)
    errors = [e for r in reports for e in r[2]]
    deleted = result.checkpoints + result.events
    remaining = Checkpoint.objects.filter(route="bench").count()
    fresh = Checkpoint.objects.exclude(route="bench").count()
    return [
        f"cleanup: seeded {ROWS} expired checkpoints + {ROWS} events in {seed_seconds:.1f} s",
        f"cleanup: deleted {result.checkpoints} checkpoints and {result.events} events in "
        f"{elapsed:.1f} s = {deleted / elapsed:,.0f} rows/s ({result.batches} batches of {BATCH})",
        f"cleanup: longest single statement {result.longest_statement * 1000:.0f} ms",
        f"cleanup: {WRITERS} writers meanwhile: {writes} writes ({writes / elapsed:,.0f}/s), "
        f"{failures} not persisted, {len(errors)} exceptions {errors}",
        f"cleanup: left {remaining} expired rows; {fresh} fresh rows written during the run",
    ]
