"""The admin dashboard over 1,000,000 rows on PostgreSQL: its data and its page.

Two tables of 1,000,000 rows, in one run: 1,000,000 checks of one record each (kind
``check``: the decision, the provider's reply and its latency on one row), then the
trail of before one record per check, 250,000 checks of four events each (token
received, validate sent, the provider's reply, the decision), which the same code
still reads. Both spread evenly over the last 14 days on 100,000 checkpoints (12
routes, 5,000 client addresses): 80% allowed, 17% denied (validation and replay), 3%
degraded. Reports the median of 5 warm runs of ``dashboard_data()``, of the page
``/admin/captchala_django/`` (rendered by Django's test client as a superuser) and
of ``report(1 day)``, the queries each makes and the slowest one. Targets: under 1 s,
and 1,000,000 checks no slower than 1,000,000 events of the old trail.
"""

from __future__ import annotations

import statistics
import time
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from bench.db import prepare
from captchala_django.insights.dashboard import dashboard_data
from captchala_django.insights.report import report
from captchala_django.models import Checkpoint, CheckpointEvent

CHECKPOINTS = 100_000
RUNS = 5
TARGET = 1.0


#: The outcome of check ``c``: 80% allowed, 14% bad tokens, 3% replays, 3% degraded.
_OUTCOME = (
    "CROSS JOIN LATERAL (SELECT "
    "  CASE WHEN c %% 100 < 80 THEN 'allow' WHEN c %% 100 < 97 THEN 'deny' "
    "  ELSE 'degrade' END AS decision, "
    "  CASE WHEN c %% 100 < 80 THEN '' WHEN c %% 100 < 94 THEN 'validation' "
    "  WHEN c %% 100 < 97 THEN 'replay' ELSE 'provider' END AS class, "
    "  CASE WHEN c %% 100 < 80 THEN 'ok' WHEN c %% 100 < 94 THEN 'invalid_token' "
    "  WHEN c %% 100 < 97 THEN 'token_replayed' ELSE 'provider_error' END AS code) d "
)
_RECORDS = (
    "INSERT INTO {ev} (checkpoint_id, kind, created_at, version, decision, failure_class, "
    "code, detail, sent_at, status_code, latency_ms, risk_score, platform, request_id) "
    "SELECT %s + (c %% %s), 'check', now() - (c * {spacing}) * interval '1 second', 1, "
    "d.decision, d.class, d.code, 'pt_ (40 chars)', "
    "CASE WHEN d.class <> 'replay' THEN now() - (c * {spacing}) * interval '1 second' END, "
    "CASE WHEN d.class <> 'replay' THEN 200 END, "
    "CASE WHEN d.class <> 'replay' THEN 20 + (c::bigint * 7919) %% 400 END, NULL, "
    "CASE WHEN d.decision = 'allow' THEN 'web' ELSE '' END, md5(c::text) "
    "FROM generate_series(1, %s) AS c " + _OUTCOME
)
_OLD_TRAIL = (
    "INSERT INTO {ev} (checkpoint_id, kind, created_at, version, decision, "
    "failure_class, code, detail, status_code, latency_ms, risk_score, platform, request_id) "
    "SELECT %s + (c %% %s), k.kind, "
    "now() - (c * {spacing}) * interval '1 second' + k.after, 1, "
    "CASE WHEN k.kind = 'decision' THEN d.decision ELSE '' END, "
    "CASE WHEN k.kind = 'decision' THEN d.class ELSE '' END, "
    "CASE WHEN k.kind = 'decision' THEN d.code ELSE '' END, "
    "CASE WHEN k.kind IN ('decision', 'validate_response') THEN d.code ELSE '' END, "
    "CASE WHEN k.kind = 'validate_response' THEN 200 END, "
    "CASE WHEN k.kind = 'validate_response' THEN 20 + (c::bigint * 7919) %% 400 END, "
    "NULL, CASE WHEN k.kind = 'validate_response' AND d.decision = 'allow' "
    "THEN 'web' ELSE '' END, md5(c::text) "
    "FROM generate_series(1, %s) AS c " + _OUTCOME + "CROSS JOIN (VALUES "
    "('token_received', interval '0 ms'), ('validate_sent', interval '1 ms'), "
    "('validate_response', interval '40 ms'), ('decision', interval '41 ms')) AS k(kind, after)"
)
#: (name, statement, checks): each fills the events table with 1,000,000 rows.
SHAPES = (
    ("1,000,000 checks (one record each)", _RECORDS, 1_000_000),
    ("250,000 checks of the old trail (4 events each)", _OLD_TRAIL, 250_000),
)


def _seed(statement: str, checks: int) -> float:
    started = time.perf_counter()
    cp = Checkpoint._meta.db_table
    ev = CheckpointEvent._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {ev}")
        cursor.execute(f"DELETE FROM {cp}")
        cursor.execute(
            f"INSERT INTO {cp} (scope_key, scope_kind, route, status, version, token_digest, "
            "failure_class, failure_detail, client_ip, attempts, created_at, updated_at, "
            "passed_at, expires_at, request_id) "
            "SELECT md5(g::text) || md5((-g)::text), 'ip', 'route-' || (g %% 12), "
            "CASE WHEN g %% 5 = 0 THEN 'failed' ELSE 'passed' END, 1, '', '', '', "
            "('198.18.' || (g %% 5000 / 250) || '.' || (g %% 250))::inet, 1, "
            "now() - interval '14 days', now(), NULL, now() + interval '1 hour', '' "
            "FROM generate_series(1, %s) AS g",
            [CHECKPOINTS],
        )
        cursor.execute(f"SELECT min(id) FROM {cp}")
        first = cursor.fetchone()[0]
        # The checks spread evenly over 14 days (1,209,600 s).
        spacing = f"{1_209_600 / checks:.4f}"
        cursor.execute(statement.format(ev=ev, spacing=spacing), [first, CHECKPOINTS, checks])
        cursor.execute(f"ANALYZE {cp}")
        cursor.execute(f"ANALYZE {ev}")
    return time.perf_counter() - started


def _timed(fn) -> tuple[float, int, float]:
    """Median seconds of ``RUNS`` warm runs, the queries of one, and its slowest (s)."""
    fn()  # warm: connection, templates, plans
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    with CaptureQueriesContext(connection) as queries:
        fn()
    slowest = max(float(q["time"]) for q in queries.captured_queries)
    return statistics.median(times), len(queries), slowest


def run() -> list[str]:
    if connection.vendor != "postgresql":
        return ["dashboard: skipped (needs PostgreSQL: run through `make bench`)"]
    prepare()
    users = get_user_model()
    user = users.objects.filter(username="bench-admin").first() or users.objects.create_superuser(
        "bench-admin", "bench@example.com", "bench-pw"
    )
    client = Client()
    client.force_login(user)

    def page() -> None:
        response = client.get("/admin/captchala_django/")
        assert response.status_code == 200 and b'id="captchala-verdict"' in response.content

    lines, medians = [], []
    for shape, statement, checks in SHAPES:
        seed_seconds = _seed(statement, checks)
        events = CheckpointEvent.objects.count()
        board = dashboard_data()
        lines.append(f"dashboard: {shape}: {events:,} rows seeded in {seed_seconds:.1f} s")
        for name, fn in (
            ("dashboard_data()", dashboard_data),
            ("admin page", page),
            ("report(1 day)", lambda: report(timedelta(days=1))),
        ):
            median, count, slowest = _timed(fn)
            medians.append(median)
            verdict = "ok" if median < TARGET else "OVER TARGET"
            lines.append(
                f"dashboard:   {name:<18} {median * 1000:7.0f} ms median of {RUNS} "
                f"({count} queries, slowest {slowest * 1000:.0f} ms) [{verdict}: < {TARGET:.0f} s]"
            )
        lines.append(f"dashboard:   verdict: {board.verdict}")
    ratios = ", ".join(
        f"{new / old:.2f}x" for new, old in zip(medians[:3], medians[3:], strict=True)
    )
    lines.append(
        f"dashboard: 1M checks / 1M old events, data, page, report: {ratios} (target: 1.0x)"
    )
    return lines
