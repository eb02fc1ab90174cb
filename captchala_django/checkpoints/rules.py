"""The keep-a-live-pass rule, in SQL for the upsert dialects and in Python for the
portable one, side by side: a failure never overwrites a pass that is still valid,
and never pushes an expiry forward.

``tests/test_write_dialects.py`` pins the two together.
"""

from __future__ import annotations

from typing import Any

from ..models import Status

#: What a live pass keeps when a failure is written over it: what it says and whom it
#: names (address, request id); the user is kept too, or filled in when unknown.
KEPT = ("status", "token_digest", "failure_class", "failure_detail", "client_ip", "request_id")
#: Set by every write.
ALWAYS = ("scope_kind", "route", "updated_at")

# ``c`` is the stored row, ``excluded`` the one the write asks for.
KEEP_SQL = (
    "(excluded.status <> 'passed' AND c.status = 'passed' "
    "AND c.expires_at IS NOT NULL AND c.expires_at > excluded.updated_at)"
)


def keeps_pass(row: dict[str, Any], state: dict[str, Any]) -> bool:
    """``KEEP_SQL`` in Python."""
    return (
        state["status"] != Status.PASSED
        and row["status"] == Status.PASSED
        and row["expires_at"] is not None
        and row["expires_at"] > state["updated_at"]
    )


def update_sql() -> list[str]:
    """The upsert's ``SET`` clauses (:func:`merge` in SQL)."""
    return [
        "version = c.version + 1",
        "attempts = c.attempts + 1",
        *(f"{name} = excluded.{name}" for name in ALWAYS),
        f"user_id = CASE WHEN {KEEP_SQL} THEN c.user_id "
        "ELSE COALESCE(excluded.user_id, c.user_id) END",
        "passed_at = CASE WHEN excluded.status = 'passed' THEN excluded.passed_at "
        "ELSE c.passed_at END",
        "expires_at = CASE WHEN excluded.status = 'passed' THEN excluded.expires_at "
        "ELSE COALESCE(c.expires_at, excluded.expires_at) END",
        *(f"{name} = CASE WHEN {KEEP_SQL} THEN c.{name} ELSE excluded.{name} END" for name in KEPT),
    ]


def merge(row: dict[str, Any], state: dict[str, Any]) -> dict[str, Any]:
    """The columns an update of ``row`` to ``state`` sets (:func:`update_sql` in Python,
    but for ``version`` and ``attempts``, which the caller sets)."""
    changes = {name: state[name] for name in ALWAYS}
    if not keeps_pass(row, state):
        changes.update({name: state[name] for name in KEPT})
        if state["user_id"] is not None:
            changes["user_id"] = state["user_id"]
    if state["status"] == Status.PASSED:
        changes["passed_at"] = state["passed_at"]
        changes["expires_at"] = state["expires_at"]
    elif row["expires_at"] is None:
        # A failure never pushes an expiry forward; it only gives a row without
        # one (new, or reset) a horizon for cleanup.
        changes["expires_at"] = state["expires_at"]
    return changes
