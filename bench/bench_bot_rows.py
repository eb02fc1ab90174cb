"""Rows and bytes a check adds to each table: a passing check, and a cookieless bot's POST.

A passing check is a full one through ``verify_and_record`` on a scope of its own.
Bots post without cookies, each request a new client: made-up tokens, replays of a
real user's token, and requests with no token at all, through the decorator and a
form. Counted from the database before and after (bytes: ``pg_column_size`` of the
rows, on PostgreSQL); nothing is timed. Targets: at most 3 rows per check and 2
per cookieless bot POST.
"""

from __future__ import annotations

from collections.abc import Callable

from django.contrib.sessions.models import Session
from django.db import connection, models
from django.test import Client
from django.test.utils import override_settings

from bench.db import prepare
from captchala_django.checkpoints import verify_and_record
from captchala_django.models import Checkpoint, CheckpointEvent, PassToken
from captchala_django.sandbox.server import LiveSandbox, sandbox_settings
from tests.helpers import make_request, scope

POSTS = 200
CHECKS = 200
TABLES: list[tuple[str, type[models.Model]]] = [
    ("sessions", Session),
    ("checkpoints", Checkpoint),
    ("events", CheckpointEvent),
    ("ledger", PassToken),
]


def _counts() -> dict[str, tuple[int, int]]:
    """Rows and bytes of each table."""
    counts = {}
    for name, model in TABLES:
        rows, size = model.objects.count(), 0
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                table = model._meta.db_table
                cursor.execute(f"SELECT coalesce(sum(pg_column_size(t.*)), 0) FROM {table} t")
                size = int(cursor.fetchone()[0])
        counts[name] = (rows, size)
    return counts


def _added(before: dict[str, tuple[int, int]], n: int) -> tuple[dict[str, float], float]:
    after = _counts()
    rows = {name: (after[name][0] - before[name][0]) / n for name, _ in TABLES}
    size = sum(after[name][1] - before[name][1] for name, _ in TABLES) / n
    return rows, size


def _line(name: str, rows: dict[str, float], size: float, unit: str) -> str:
    cells = ", ".join(f"{table} {rows[table]:.2f}" for table, _ in TABLES)
    ours = sum(rows[table] for table in ("checkpoints", "events", "ledger"))
    sized = f", {size:.0f} bytes" if connection.vendor == "postgresql" else ""
    return f"rows: {name:30s} per {unit}: {cells} (ours {ours:.2f}{sized})"


def _flood(url: str, token_for: Callable[[int], str | None]) -> tuple[dict[str, float], float]:
    before = _counts()
    for i in range(POSTS):
        data = {"username": "bot", "password": "x"}
        token = token_for(i)
        if token is not None:
            data["captchala_token"] = token
        status = Client().post(url, data, HTTP_ACCEPT="application/json").status_code
        # 200: the login form re-rendered with its error; 429: past the validate budget.
        assert status in (200, 403, 429), status
    return _added(before, POSTS)


def run() -> list[str]:
    prepare()
    lines = []
    with (
        LiveSandbox() as live,
        override_settings(**sandbox_settings(live), CAPTCHALA_VALIDATE_BUDGET=0),
    ):
        before = _counts()
        for i in range(CHECKS):
            outcome = verify_and_record(make_request(), live.mint_pass_token(), scope(f"r{i}"))
            assert outcome.allowed and outcome.persisted
        lines.append(_line("a passing check", *_added(before, CHECKS), "check"))
        stolen = live.mint_pass_token()
        owner = Client()
        assert owner.post("/transfer/", {"captchala_token": stolen}).status_code == 200
        floods = [
            ("decorator, made-up tokens", "/transfer/", lambda i: f"pt_made-up-{i:06d}-bot"),
            ("decorator, a replayed token", "/transfer/", lambda i: stolen),
            ("decorator, no token", "/transfer/", lambda i: None),
            ("login form, made-up tokens", "/login/", lambda i: f"pt_guess-{i:06d}-bot"),
        ]
        for name, url, token_for in floods:
            lines.append(_line(name, *_flood(url, token_for), "POST"))
        calls = live.count("validate")
    lines.append(
        f"rows: {POSTS} cookieless POSTs per line, {CHECKS} checks; {calls} provider validate "
        "calls in all (one per distinct well-formed token, none for replays or missing "
        "tokens); targets: ours at most 3 per check and 2 per bot POST"
    )
    return lines
