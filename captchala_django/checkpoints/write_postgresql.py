"""PostgreSQL: the whole write is one statement of data-modifying CTEs (checkpoint
upsert, ledger finish or release, events), atomic on its own.

The events travel as one array per column (``unnest``), so the statement's text
is the same whatever their number: psycopg parses it once per connection and
the server can prepare it.
"""

from __future__ import annotations

from typing import Any

from django.db import connections

from ..models import CheckpointEvent
from . import ledger, sql
from .attempt import Attempt
from .outcome import Outcome

_ARRAYS = ("text", "timestamptz", "text", "text", "text", "integer", "integer")
_EVENTS = (
    f"ev AS (INSERT INTO {CheckpointEvent._meta.db_table} (checkpoint_id, version, request_id, "
    f"{', '.join(sql.EVENT_COLUMNS)}) SELECT cp.id, cp.version, %s::text, v.* FROM cp "
    f"CROSS JOIN unnest({', '.join(f'%s::{t}[]' for t in _ARRAYS)}) "
    f"AS v({', '.join(sql.EVENT_COLUMNS)}))"
)
_SELECT = f" SELECT {', '.join(sql.RETURNED)} FROM cp"


def write(att: Attempt, state: dict[str, Any], outcome: Outcome) -> dict[str, Any]:
    parts = [f"cp AS ({sql.CHECKPOINT_UPSERT})"]
    params = sql.upsert_params(att, state)
    if att.digest and att.owns_claim:
        statement, ledger_params = ledger.finish_sql(att, outcome)
        parts.append(f"pt AS ({statement})")
        params += ledger_params
    parts.append(_EVENTS)
    columns = zip(*(sql.event_values(att, event) for event in att.events), strict=True)
    params += [att.request_id, *(list(column) for column in columns)]
    with connections[att.db].cursor() as cursor:
        # (3) the whole write.
        cursor.execute("WITH " + ", ".join(parts) + _SELECT, params)
        return sql.returned_row(cursor)
