"""PostgreSQL: the whole write is one statement of data-modifying CTEs (checkpoint
upsert, ledger finish or release, events), atomic on its own.

The events travel as one JSON parameter (``json_to_recordset``), so the
statement's text is the same whatever their number (psycopg converts it once
per process) and the client dumps one string instead of a parameter per value.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django.db import connections

from ..models import CheckpointEvent
from . import ledger, sql
from .attempt import Attempt
from .outcome import Outcome

_TYPES = ("text", "timestamptz", "text", "text", "text", "integer", "integer", "smallint", "text")
_EVENTS = (
    f"ev AS (INSERT INTO {CheckpointEvent._meta.db_table} (checkpoint_id, version, request_id, "
    f"{', '.join(sql.EVENT_COLUMNS)}) SELECT cp.id, cp.version, %s::text, "
    f"{', '.join(f'v.{c}' for c in sql.EVENT_COLUMNS)} FROM cp "
    "CROSS JOIN json_to_recordset(%s::json) AS v("
    + ", ".join(f"{c} {t}" for c, t in zip(sql.EVENT_COLUMNS, _TYPES, strict=True))
    + "))"
)


def _iso(value: datetime) -> str:
    return value.isoformat()  # the events' timestamps: aware datetimes


_SELECT = f" SELECT {', '.join(sql.RETURNED)} FROM cp"


def write(att: Attempt, state: dict[str, Any], outcome: Outcome) -> dict[str, Any]:
    parts = [f"cp AS ({sql.CHECKPOINT_UPSERT})"]
    params = sql.upsert_params(att, state)
    if att.digest and att.owns_claim:
        statement, ledger_params = ledger.finish_sql(att, outcome)
        parts.append(f"pt AS ({statement})")
        params += ledger_params
    parts.append(_EVENTS)
    events = [
        dict(zip(sql.EVENT_COLUMNS, sql.event_values(att, e), strict=True)) for e in att.events
    ]
    params += [att.request_id, json.dumps(events, default=_iso)]
    with connections[att.db].cursor() as cursor:
        # (3) the whole write.
        cursor.execute("WITH " + ", ".join(parts) + _SELECT, params)
        return sql.returned_row(cursor)
