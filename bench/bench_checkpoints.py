"""Checkpoint writes per second on PostgreSQL: 8 processes through verify_and_record vs raw SQL.

Each verification is a full one (fast-path miss, ledger claim, provider call to the
zero-latency sandbox, one-statement write) on a scope of its own. The raw rate is
a psycopg loop of single-row upserts on the same server, in the same run.
"""

from __future__ import annotations

import multiprocessing

from django.db import connection

from bench.db import prepare
from bench.workers import raw_upserts, verify_many
from captchala_django.sandbox.server import LiveSandbox

PROCESSES = 8
PER_PROCESS = 300


def _run(target, args_for) -> tuple[float, int, int]:
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(PROCESSES)
    out = ctx.Queue()
    procs = [
        ctx.Process(target=target, args=(*args_for(w), barrier, out)) for w in range(PROCESSES)
    ]
    for proc in procs:
        proc.start()
    reports = [out.get(timeout=600) for _ in procs]
    for proc in procs:
        proc.join(60)
    done = sum(r[0] for r in reports)
    slowest = max(r[1] for r in reports)
    failures = sum(r[2] for r in reports)
    return done / slowest, done, failures


def run() -> list[str]:
    if connection.vendor != "postgresql":
        return ["checkpoints: skipped (needs PostgreSQL: run through `make bench`)"]
    prepare()
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_raw_upsert")
        cursor.execute(
            "CREATE TABLE bench_raw_upsert (scope_key varchar(64) PRIMARY KEY, "
            "version integer NOT NULL, updated_at timestamptz NOT NULL)"
        )
    settings_dict = connection.settings_dict
    dsn = (
        f"host={settings_dict['HOST']} port={settings_dict['PORT']} "
        f"user={settings_dict['USER']} dbname={settings_dict['NAME']}"
    )
    connection.close()
    with LiveSandbox() as live:
        tokens = [[live.mint_pass_token() for _ in range(PER_PROCESS)] for _ in range(PROCESSES)]
        ours, done, failures = _run(verify_many, lambda w: (w, live.url, tokens[w]))
        calls = live.count("validate")
    raw, raw_done, _ = _run(raw_upserts, lambda w: (w, dsn, PER_PROCESS * 4))
    return [
        f"checkpoints: verify_and_record, {PROCESSES} processes  {ours:8.0f} writes/s "
        f"({done} full verifications, {failures} not allowed+persisted, {calls} provider calls)",
        f"checkpoints: raw psycopg upsert, {PROCESSES} processes {raw:8.0f} upserts/s "
        f"({raw_done} statements)",
        f"checkpoints: ratio raw / verify_and_record       {raw / ours:8.2f}x",
    ]
