"""The statements the SQL dialects share, built from the row spec (:mod:`.rows`) and
the keep-a-live-pass rule (:mod:`.rules`)."""

from __future__ import annotations

from typing import Any

from django.db.backends.utils import CursorWrapper

from ..models import Checkpoint, CheckpointEvent
from . import rows, rules
from .attempt import Attempt
from .outcome import Outcome

#: The checkpoint upsert: insert version 1, or update with ``version + 1``.
CHECKPOINT_UPSERT = (
    f"INSERT INTO {rows.CHECKPOINT_TABLE} AS c ({', '.join(rows.CHECKPOINT_COLUMNS)}) "
    f"VALUES ({', '.join(['%s'] * len(rows.CHECKPOINT_COLUMNS))}) "
    f"ON CONFLICT (scope_key) DO UPDATE SET {', '.join(rules.update_sql())} "
    f"RETURNING {', '.join(rows.CHECKPOINT_RETURNED)}"
)
#: The record's columns as a writer inserts them.
RECORD_INSERT_COLUMNS = ("checkpoint_id", "version", *rows.RECORD_COLUMNS)


def upsert_params(att: Attempt, state: dict[str, Any]) -> list[Any]:
    return rows.params(Checkpoint, rows.CHECKPOINT_COLUMNS, state, att.db)


def record_params(att: Attempt, outcome: Outcome) -> list[Any]:
    """The record's own values, in ``rows.RECORD_COLUMNS`` order."""
    return rows.params(CheckpointEvent, rows.RECORD_COLUMNS, rows.record(att, outcome), att.db)


def returned_row(cursor: CursorWrapper) -> dict[str, Any]:
    return dict(zip(rows.CHECKPOINT_RETURNED, cursor.fetchone(), strict=True))
