"""The SQL the upsert dialects share: the checkpoint upsert (with the keep-a-live-pass
rule in SQL) and the event columns.

The rule is also written in Python for the portable dialect
(:mod:`captchala_django.checkpoints.rules`);
``tests/test_write_dialects.py`` pins the two together.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import connections
from django.db.backends.utils import CursorWrapper

from ..models import Checkpoint
from .attempt import Attempt

CHECKPOINT_TABLE = Checkpoint._meta.db_table
#: What a write reads back (RETURNING) to build the checkpoint it returns.
RETURNED = (
    "id",
    "version",
    "status",
    "created_at",
    "passed_at",
    "expires_at",
    "token_digest",
    "failure_class",
    "failure_detail",
    "attempts",
    "user_id",
)
INSERT_COLUMNS = (
    "scope_key",
    "scope_kind",
    "route",
    "user_id",
    "status",
    "version",
    "token_digest",
    "failure_class",
    "failure_detail",
    "client_ip",
    "attempts",
    "created_at",
    "updated_at",
    "passed_at",
    "expires_at",
    "request_id",
)
EVENT_COLUMNS = (
    "kind",
    "created_at",
    "decision",
    "failure_class",
    "detail",
    "status_code",
    "latency_ms",
    "risk_score",
    "platform",
)
#: A failure never overwrites a pass that is still valid (mirrors rules.keeps_pass).
KEEP = (
    "(excluded.status <> 'passed' AND c.status = 'passed' "
    "AND c.expires_at IS NOT NULL AND c.expires_at > excluded.updated_at)"
)


def _upsert_sql() -> str:
    # A live pass keeps what it says and whom it names (address, request id, user).
    kept = ("status", "token_digest", "failure_class", "failure_detail", "client_ip", "request_id")
    sets = [
        "version = c.version + 1",
        "attempts = c.attempts + 1",
        "scope_kind = excluded.scope_kind",
        "route = excluded.route",
        "updated_at = excluded.updated_at",
        f"user_id = CASE WHEN {KEEP} THEN c.user_id ELSE COALESCE(excluded.user_id, c.user_id) END",
        "passed_at = CASE WHEN excluded.status = 'passed' THEN excluded.passed_at "
        "ELSE c.passed_at END",
        # Mirrors rules.merge(): a failure never pushes an expiry forward.
        "expires_at = CASE WHEN excluded.status = 'passed' THEN excluded.expires_at "
        "ELSE COALESCE(c.expires_at, excluded.expires_at) END",
    ] + [f"{name} = CASE WHEN {KEEP} THEN c.{name} ELSE excluded.{name} END" for name in kept]
    return (
        f"INSERT INTO {CHECKPOINT_TABLE} AS c ({', '.join(INSERT_COLUMNS)}) "
        f"VALUES ({', '.join(['%s'] * len(INSERT_COLUMNS))}) "
        f"ON CONFLICT (scope_key) DO UPDATE SET {', '.join(sets)} "
        f"RETURNING {', '.join(RETURNED)}"
    )


#: The checkpoint upsert: insert version 1, or update with ``version + 1``.
CHECKPOINT_UPSERT = _upsert_sql()


def upsert_params(att: Attempt, state: dict[str, Any]) -> list[Any]:
    adapt = connections[att.db].ops.adapt_datetimefield_value
    values = {**state, "version": 1, "attempts": 1}
    return [
        adapt(values[n]) if isinstance(values[n], datetime) else values[n] for n in INSERT_COLUMNS
    ]


def event_values(att: Attempt, event: dict[str, Any]) -> list[Any]:
    return [
        event["kind"],
        connections[att.db].ops.adapt_datetimefield_value(event["created_at"]),
        event.get("decision", ""),
        event.get("failure_class", ""),
        event.get("detail", ""),
        event.get("status_code"),
        event.get("latency_ms"),
        event.get("risk_score"),
        event.get("platform", ""),
    ]


def returned_row(cursor: CursorWrapper) -> dict[str, Any]:
    return dict(zip(RETURNED, cursor.fetchone(), strict=True))
