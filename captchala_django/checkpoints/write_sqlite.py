"""SQLite (3.35+): three statements in one transaction: the checkpoint upsert with
``RETURNING``, the ledger's finish (or release), the record."""

from __future__ import annotations

from typing import Any

from django.db import connections

from . import ledger, rows, sql
from .attempt import Attempt
from .ledger import Claim
from .outcome import Outcome

_RECORD = (
    f"INSERT INTO {rows.RECORD_TABLE} ({', '.join(sql.RECORD_INSERT_COLUMNS)}) "
    f"VALUES ({', '.join(['%s'] * len(sql.RECORD_INSERT_COLUMNS))})"
)


def three_statements(
    att: Attempt, claim: Claim, state: dict[str, Any], outcome: Outcome
) -> dict[str, Any]:
    with connections[att.db].cursor() as cursor:
        cursor.execute(sql.CHECKPOINT_UPSERT, sql.upsert_params(att, state))
        row = sql.returned_row(cursor)
        settle = ledger.finish_sql(att, claim, outcome)
        if settle is not None:
            cursor.execute(*settle)
        cursor.execute(_RECORD, [row["id"], row["version"], *sql.record_params(att, outcome)])
    return row
