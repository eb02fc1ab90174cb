"""SQLite (3.35+): three statements in one transaction: the checkpoint upsert with
``RETURNING``, the ledger finish (or release), the events."""

from __future__ import annotations

from typing import Any

from django.db import connections

from ..models import CheckpointEvent
from . import ledger, sql
from .attempt import Attempt
from .outcome import Outcome

_EVENT_COLUMNS = ("checkpoint_id", "version", "request_id", *sql.EVENT_COLUMNS)
_EVENT_ROW = "(" + ", ".join(["%s"] * len(_EVENT_COLUMNS)) + ")"


def write(att: Attempt, state: dict[str, Any], outcome: Outcome) -> dict[str, Any]:
    with connections[att.db].cursor() as cursor:
        cursor.execute(sql.CHECKPOINT_UPSERT, sql.upsert_params(att, state))
        row = sql.returned_row(cursor)
        if att.digest and att.owns_claim:
            cursor.execute(*ledger.finish_sql(att, outcome))
        params: list[Any] = []
        for event in att.events:
            params += [row["id"], row["version"], att.request_id, *sql.event_values(att, event)]
        cursor.execute(
            f"INSERT INTO {CheckpointEvent._meta.db_table} ({', '.join(_EVENT_COLUMNS)}) VALUES "
            + ", ".join([_EVENT_ROW] * len(att.events)),
            params,
        )
    return row
