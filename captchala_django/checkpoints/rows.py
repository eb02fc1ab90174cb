"""The rows one check writes, spelled once: their columns, their values, their SQL types.

A check writes three rows at most: the checkpoint (an upsert), the ledger row
(a claim, finished or released), and one record (:class:`CheckpointEvent` of
kind ``check``). State changes (reset, expiry, a staff skip) are records of
their own kind. Every writer (each SQL dialect, the ORM writer, the state
changes, the answers recorded without a write) takes its columns and values
from here; SQL types and value adaptation come from the model fields, so a
column changed in the model changes every writer.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any

from django.db import connections, models
from django.utils import timezone

from ..conf import app_settings
from ..ip import stored_address
from ..models import Checkpoint, CheckpointEvent, ClaimState, EventKind, PassToken, Status
from .attempt import STEP_UP_NOTE, Attempt
from .outcome import Outcome

#: The checkpoint columns a write inserts (an update sets them by the rules in ``rules``).
CHECKPOINT_COLUMNS = (
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
#: What a write reads back to build the checkpoint it returns.
CHECKPOINT_RETURNED = (
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
#: A record's own columns (the checkpoint's id and version are added by the writer).
RECORD_COLUMNS = (
    "kind",
    "created_at",
    "decision",
    "failure_class",
    "code",
    "detail",
    "sent_at",
    "status_code",
    "latency_ms",
    "risk_score",
    "platform",
    "provider_ip",
    "request_id",
    "app_key",
)
#: A check's ``detail`` when the provider saw it solved from something that is not an
#: address (its ``provider_ip`` then stays empty): still an IP mismatch.
MISMATCH_DETAIL = "provider saw "

#: The ledger row's columns, and those finishing a claim sets.
LEDGER_COLUMNS = (
    "token_digest",
    "scope_key",
    "state",
    "allowed",
    "degraded",
    "failure_class",
    "code",
    "created_at",
    "expires_at",
)
LEDGER_FINISH = ("scope_key", "state", "allowed", "degraded", "failure_class", "code")


def _field(model: type[models.Model], column: str) -> models.Field[Any, Any]:
    """The model field whose column (attname) is ``column``."""
    for field in model._meta.concrete_fields:
        if field.attname == column:
            return field
    raise LookupError(f"{model.__name__} has no column {column}")


@functools.cache
def _fields(model: type[models.Model], columns: tuple[str, ...]) -> tuple[Any, ...]:
    """Each column's field, or None for a foreign key (its value is the id, as it is)."""
    found = (_field(model, column) for column in columns)
    return tuple(None if isinstance(f, models.ForeignKey) else f for f in found)


def params(
    model: type[models.Model], columns: tuple[str, ...], values: Mapping[str, Any], db: str
) -> list[Any]:
    """``values`` of ``columns`` as ``db`` takes them, adapted by the model's own fields."""
    connection = connections[db]
    out = []
    for column, field in zip(columns, _fields(model, columns), strict=True):
        value = values[column]
        if isinstance(value, enum.Enum):
            value = value.value  # a driver may dump an enum by its name
        if value is not None and field is not None:
            value = field.get_db_prep_value(value, connection, prepared=False)
        out.append(value)
    return out


@functools.cache
def sql_types(model: type[models.Model], columns: tuple[str, ...], db: str) -> tuple[str, ...]:
    """The columns' SQL types on ``db``, from the model's fields (for typed parameters)."""
    connection = connections[db]
    types = []
    for column in columns:
        field = _field(model, column)
        if isinstance(field, models.ForeignKey):
            types.append(str(field.target_field.rel_db_type(connection)))  # type: ignore[attr-defined]
        else:
            types.append(str(field.db_type(connection)))
    return tuple(types)


# --------------------------------------------------------------------------- checkpoint


def checkpoint_state(att: Attempt, outcome: Outcome) -> dict[str, Any]:
    """The checkpoint row this outcome asks for; the dialect merges it with what is stored."""
    now = timezone.now()
    passed = outcome.failure_class is None
    return {
        "scope_key": att.scope.key,
        "scope_kind": att.scope.kind,
        "route": att.scope.route[:200],
        "user_id": att.user_id,
        "status": Status.PASSED if passed else Status.FAILED,
        "version": 1,
        "token_digest": att.digest,
        "failure_class": outcome.failure_class or "",
        "failure_detail": outcome.code[:200],
        "client_ip": stored_address(att.client_ip),
        "attempts": 1,
        "created_at": now,
        "updated_at": now,
        "passed_at": now if passed else None,
        "expires_at": now + timedelta(seconds=att.ttl),
        "request_id": att.request_id,
    }


def pending_checkpoint(att: Attempt) -> dict[str, Any]:
    """A scope's checkpoint with no pass and no expiry (for a record with no write)."""
    return {
        "scope_kind": att.scope.kind,
        "route": att.scope.route[:200],
        "user_id": att.user_id,
        "status": Status.PENDING,
        "client_ip": stored_address(att.client_ip),
        "request_id": att.request_id,
    }


# --------------------------------------------------------------------------- record


def record(att: Attempt, outcome: Outcome, kind: str = EventKind.CHECK) -> dict[str, Any]:
    """The one record of this check (or of a staff skip): what was received, sent and
    answered, and what was decided."""
    values: dict[str, Any] = {
        "kind": kind,
        "created_at": att.received_at,
        "decision": outcome.decision,
        "failure_class": outcome.failure_class or "",
        "code": str(outcome.code)[:64],
        "detail": "",
        "sent_at": None,
        "status_code": None,
        "latency_ms": None,
        "risk_score": None,
        "platform": "",
        "provider_ip": None,
        "request_id": att.request_id,
        "app_key": "",
    }
    values.update(att.trail)
    why = getattr(att.request, STEP_UP_NOTE, "") if att.request is not None else ""
    if why:  # the step-up asked for this check: said on its record
        values["detail"] = " · ".join(filter(None, [values["detail"], why]))[:200]
    return values


def change_record(kind: str, reason: str, request_id: str) -> dict[str, Any]:
    """The record of a state change made by hand (reset, expiry)."""
    empty = {column: None for column in RECORD_COLUMNS}
    strings = ("decision", "failure_class", "code", "platform", "app_key")
    return {
        **empty,
        **dict.fromkeys(strings, ""),
        "kind": kind,
        "created_at": timezone.now(),
        "detail": reason[:200],
        "request_id": request_id,
    }


def insert_records(
    db: str, checkpoint_id: int, version: int, rows: Iterable[dict[str, Any]]
) -> None:
    """Records through the ORM (every writer that is not one SQL statement)."""
    CheckpointEvent.objects.using(db).bulk_create(
        CheckpointEvent(checkpoint_id=checkpoint_id, version=version, **row) for row in rows
    )


# --------------------------------------------------------------------------- ledger


def ledger_row(att: Attempt, outcome: Outcome | None = None) -> dict[str, Any]:
    """The ledger row of this attempt: a claim, or (with ``outcome``) a finished one."""
    now = timezone.now()
    return {
        "token_digest": att.digest,
        "scope_key": att.scope.key,
        "state": ClaimState.PENDING if outcome is None else ClaimState.DONE,
        "allowed": None if outcome is None else outcome.allowed,
        "degraded": False if outcome is None else outcome.degraded,
        "failure_class": "" if outcome is None else outcome.failure_class or "",
        "code": "" if outcome is None else str(outcome.code)[:64],
        "created_at": now,
        "expires_at": now + timedelta(seconds=app_settings.LEDGER_TTL),
    }


CHECKPOINT_TABLE = Checkpoint._meta.db_table
RECORD_TABLE = CheckpointEvent._meta.db_table
LEDGER_TABLE = PassToken._meta.db_table
