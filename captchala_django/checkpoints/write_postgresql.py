"""PostgreSQL: the whole write is one statement of data-modifying CTEs (the checkpoint
upsert, the ledger's finish or release, the record), atomic on its own."""

from __future__ import annotations

import functools
from typing import Any

from django.db import connections

from ..models import CheckpointEvent
from . import ledger, rows, sql
from .attempt import Attempt
from .ledger import Claim
from .outcome import Outcome


@functools.cache
def _record_sql(db: str) -> str:
    # Typed parameters: a NULL or a text value where the column wants another type.
    casts = ", ".join(
        f"%s::{kind}" for kind in rows.sql_types(CheckpointEvent, rows.RECORD_COLUMNS, db)
    )
    return (
        f"rec AS (INSERT INTO {rows.RECORD_TABLE} ({', '.join(sql.RECORD_INSERT_COLUMNS)}) "
        f"SELECT cp.id, cp.version, {casts} FROM cp)"
    )


_SELECT = f" SELECT {', '.join(rows.CHECKPOINT_RETURNED)} FROM cp"


def one_statement(
    att: Attempt, claim: Claim, state: dict[str, Any], outcome: Outcome
) -> dict[str, Any]:
    parts = [f"cp AS ({sql.CHECKPOINT_UPSERT})"]
    params = sql.upsert_params(att, state)
    settle = ledger.finish_sql(att, claim, outcome)
    if settle is not None:
        parts.append(f"pt AS ({settle[0]})")
        params += settle[1]
    parts.append(_record_sql(att.db))
    params += sql.record_params(att, outcome)
    with connections[att.db].cursor() as cursor:
        # (3) the whole write.
        cursor.execute("WITH " + ", ".join(parts) + _SELECT, params)
        return sql.returned_row(cursor)
