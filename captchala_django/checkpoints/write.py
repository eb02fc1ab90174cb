"""Writing an outcome: the checkpoint's desired state, one retry of a database error,
and the choice of dialect.

Dialects, one module each: ``write_postgresql`` (one statement), ``write_sqlite``
(an upsert with ``RETURNING``), ``write_portable`` (an ORM compare-and-set on
``version`` with one re-read, for every other backend). Each writes the rows of
:mod:`.rows`: the checkpoint, the claim's settlement, one record.
"""

from __future__ import annotations

import sqlite3
from contextlib import nullcontext
from typing import Any

from django.db import DatabaseError, connections, transaction

from ..conf import app_settings
from ..exceptions import PersistenceError
from ..models import Checkpoint
from . import rows, write_portable, write_postgresql, write_sqlite
from .attempt import Attempt, aware
from .ledger import Claim
from .outcome import Outcome
from .telemetry import logger

_DIALECTS = {
    "portable": write_portable.compare_and_set,
    "sqlite": write_sqlite.three_statements,
    "postgresql": write_postgresql.one_statement,
}


def strategy(db: str) -> str:
    """The dialect for ``db``: ``CAPTCHALA_WRITE_STRATEGY`` when set, else the best one."""
    forced: str | None = app_settings.WRITE_STRATEGY
    if forced:
        return forced
    vendor = connections[db].vendor
    if vendor == "postgresql":
        return "postgresql"
    if vendor == "sqlite" and sqlite3.sqlite_version_info >= (3, 35):
        return "sqlite"
    return "portable"


def persist(att: Attempt, claim: Claim, outcome: Outcome) -> Checkpoint:
    """Write the outcome: the checkpoint, the claim's settlement, the record; one retry
    of a database error, then ``PersistenceError``."""
    state = rows.checkpoint_state(att, outcome)
    dialect = strategy(att.db)
    # On PostgreSQL the whole write is one statement, atomic on its own: outside a
    # caller's transaction it needs no BEGIN/COMMIT round trips.
    single = dialect == "postgresql" and not connections[att.db].in_atomic_block
    for attempt in (1, 2):
        try:
            with nullcontext() if single else transaction.atomic(using=att.db):
                row = _DIALECTS[dialect](att, claim, state, outcome)
            return checkpoint_from_row(att, state, row)
        except (DatabaseError, PersistenceError) as exc:
            if attempt == 2:
                raise PersistenceError(f"{type(exc).__name__}: {str(exc)[:200]}") from exc
            logger.warning(
                "checkpoint write failed (%s), retrying once request_id=%s",
                type(exc).__name__,
                att.request_id,
            )
    raise AssertionError("unreachable")  # pragma: no cover


def checkpoint_from_row(att: Attempt, state: dict[str, Any], row: dict[str, Any]) -> Checkpoint:
    values = {**state, **row}
    for name in ("created_at", "passed_at", "expires_at"):
        values[name] = aware(values[name], att.db)
    checkpoint = Checkpoint(**{k: v for k, v in values.items() if k != "id"})
    checkpoint.pk = row["id"]
    checkpoint._state.adding = False
    checkpoint._state.db = att.db
    return checkpoint
