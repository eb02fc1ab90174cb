"""The keep-a-live-pass rules in Python, for the portable dialect.

The SQL dialects carry the same rules in their upsert (``sql.KEEP`` and the
``expires_at`` clause); ``tests/test_write_dialects.py`` pins the two together.
"""

from __future__ import annotations

from typing import Any

from ..models import Status


def keeps_pass(row: dict[str, Any], state: dict[str, Any]) -> bool:
    """A failure never overwrites a pass that is still valid (``sql.KEEP`` in SQL)."""
    return (
        state["status"] != Status.PASSED
        and row["status"] == Status.PASSED
        and row["expires_at"] is not None
        and row["expires_at"] > state["updated_at"]
    )


def merge(row: dict[str, Any], state: dict[str, Any]) -> dict[str, Any]:
    """The columns an update of ``row`` to ``state`` sets (the SQL upsert's rules)."""
    changes = {name: state[name] for name in ("scope_kind", "route", "updated_at")}
    if not keeps_pass(row, state):
        # A live pass keeps what it says and whom it names (address, request id, user).
        kept = (
            "status",
            "token_digest",
            "failure_class",
            "failure_detail",
            "client_ip",
            "request_id",
        )
        changes.update({name: state[name] for name in kept})
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
