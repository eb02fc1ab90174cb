"""The hot path: is there a passed, unexpired checkpoint for this scope? One query."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connections
from django.http import HttpRequest
from django.utils import timezone

from ..models import Checkpoint, Status
from ..scopes import ScopeArg, resolve_scope
from .attempt import aware, db_alias

_FIELDS = Checkpoint._meta.concrete_fields
_ATTNAMES = [f.attname for f in _FIELDS]
_DATETIMES = [i for i, f in enumerate(_FIELDS) if f.get_internal_type() == "DateTimeField"]
#: The passed, unexpired checkpoint of a scope (also part of ledger.claim's statement).
PASSED_SQL = (
    f"SELECT {', '.join(f.column for f in _FIELDS)} FROM {Checkpoint._meta.db_table} "
    "WHERE scope_key = %s AND status = %s AND expires_at > %s"
)


def passed_params(db: str, scope_key: str) -> list[Any]:
    now = connections[db].ops.adapt_datetimefield_value(timezone.now())
    return [scope_key, Status.PASSED.value, now]


def from_values(db: str, row: Sequence[Any]) -> Checkpoint:
    """The checkpoint of a ``PASSED_SQL`` row."""
    values = list(row)
    for i in _DATETIMES:
        values[i] = aware(values[i], db)
    return Checkpoint.from_db(db, _ATTNAMES, values)


def fetch_passed(db: str, scope_key: str) -> Checkpoint | None:
    """One indexed lookup in plain SQL (no queryset machinery on every guarded request)."""
    with connections[db].cursor() as cursor:
        # (1) the only query of a guarded request whose scope has passed.
        cursor.execute(PASSED_SQL, passed_params(db, scope_key))
        row = cursor.fetchone()
    return None if row is None else from_values(db, row)


def get_passed(
    request: HttpRequest, scope: ScopeArg = None, *, route: str | None = None
) -> Checkpoint | None:
    """The passed, unexpired checkpoint of the request's scope, or ``None`` (one query;
    none for a client without a session, which cannot hold a pass)."""
    resolved = resolve_scope(request, scope, route)
    if resolved.anonymous:
        return None
    return fetch_passed(db_alias(), resolved.key)
