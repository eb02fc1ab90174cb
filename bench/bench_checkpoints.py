"""Checkpoint writes per second on PostgreSQL: 8 processes through verify_and_record vs floors.

Each verification is a full one (fast-path miss, ledger claim, provider call to the
zero-latency sandbox, one-statement write) on a scope of its own. Three floors, in
the same run: the *least check* (a hand-written check doing the least the
guarantees need: claim the digest, the validate call, then one statement that
upserts the checkpoint, finishes the claim and appends one record) and a *floor
check* (the same validate call, then one single-row upsert through Django), both
interleaved with the full checks in rounds on fresh scopes; and a raw psycopg loop
of single-row upserts. Targets: the full check within 1.3x of the least check and
within 2x of the floor check.
"""

from __future__ import annotations

import multiprocessing
from collections import defaultdict

from django.db import connection

from bench.db import prepare
from bench.workers import floor_checks, least_checks, raw_upserts, verify_many
from captchala_django.sandbox.server import LiveSandbox

PROCESSES = 8
PER_PROCESS = 300
ROUNDS = 7
PER_ROUND = 100


#: Each statement's latencies over every round, by name (see workers.STATEMENTS).
_TIMES: dict[str, list[float]] = defaultdict(list)


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
    for report in (r for r in reports if len(r) > 3):
        for name, times in report[3].items():
            _TIMES[name].extend(times)
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
        rates = _interleaved(live)
    raw, raw_done, _ = _run(raw_upserts, lambda w: (w, dsn, PER_PROCESS * 4))
    statements = [
        f"checkpoints: {name:<32} {sorted(times)[len(times) // 2] * 1000:8.2f} ms "
        f"median statement latency ({len(times)} statements)"
        for name, times in sorted(_TIMES.items())
    ]
    return [
        f"checkpoints: verify_and_record, {PROCESSES} processes  {ours:8.0f} writes/s "
        f"({done} full verifications, {failures} not allowed+persisted, {calls} provider calls)",
        f"checkpoints: raw psycopg upsert, {PROCESSES} processes {raw:8.0f} upserts/s "
        f"({raw_done} statements)",
        f"checkpoints: ratio raw / verify_and_record       {raw / ours:8.2f}x",
        *_pair_lines(rates),
        *statements,
    ]


#: The sides of each round: ours, and the two floors it is measured against.
SIDES = (
    ("full", "verify_and_record", verify_many),
    ("least", "least check (claim, validate, 1 statement)", least_checks),
    ("floor", "floor (validate + 1 upsert)", floor_checks),
)


def _interleaved(live: LiveSandbox) -> dict[str, list[float]]:
    """``ROUNDS`` rounds, each running every side back to back on fresh tokens."""
    rates: dict[str, list[float]] = {name: [] for name, _, _ in SIDES}
    for _ in range(ROUNDS):
        for name, _, target in SIDES:
            batch = [[live.mint_pass_token() for _ in range(PER_ROUND)] for _ in range(PROCESSES)]
            rate, _, bad = _run(target, lambda w, b=batch: (w, live.url, b[w]))
            assert bad == 0, f"{bad} {name} checks were not allowed"
            rates[name].append(rate)
    return rates


def _pair_lines(rates: dict[str, list[float]]) -> list[str]:
    lines = [
        f"checkpoints: pair, {label:<42} {sorted(rates[name])[ROUNDS // 2]:8.0f} checks/s"
        for name, label, _ in SIDES
    ]
    for floor, target in (("least", 1.3), ("floor", 2.0)):
        # Each round's own ratio: the sides of a round ran back to back, under the same load.
        ratios = sorted(b / a for a, b in zip(rates["full"], rates[floor], strict=True))
        lines.append(
            f"checkpoints: pair, ratio {floor} / full{'':<25} {ratios[ROUNDS // 2]:8.2f}x "
            f"(median of {ROUNDS} interleaved rounds of {PROCESSES}x{PER_ROUND}, "
            f"{ratios[0]:.2f}x to {ratios[-1]:.2f}x; target: {target}x or below)"
        )
    return lines
