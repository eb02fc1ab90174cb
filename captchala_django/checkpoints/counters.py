"""Attempt counts, written race-safe: one statement adds an attempt and returns the new
count (an upsert: never read, then write), one statement gives one back, one reads.

A count lives for a fixed window from its first attempt; an attempt after the window
starts a new one. On PostgreSQL and SQLite (3.35+) each write is one ``INSERT ... ON
CONFLICT ... RETURNING``; elsewhere a row lock in a transaction does the same.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db import IntegrityError, connections, transaction
from django.db.models import F

from ..models import AttemptCount
from .attempt import db_alias
from .write import strategy


def add(kind: str, digest: str, now: datetime, window_ends: datetime) -> int:
    """One attempt more for ``(kind, digest)``; the count, this attempt included."""
    db = db_alias()
    # The checkpoint writer's choice: an upsert where the database has one (or the setting
    # forces the portable path), else a row lock.
    if strategy(db) == "portable":
        return _add_portable(db, kind, digest, now, window_ends)
    table = AttemptCount._meta.db_table
    adapt = connections[db].ops.adapt_datetimefield_value
    sql = (
        f"INSERT INTO {table} (kind, key_digest, count, window_ends) VALUES (%s, %s, 1, %s) "
        f"ON CONFLICT (kind, key_digest) DO UPDATE SET "
        f"count = CASE WHEN {table}.window_ends <= %s THEN 1 ELSE {table}.count + 1 END, "
        f"window_ends = CASE WHEN {table}.window_ends <= %s THEN excluded.window_ends "
        f"ELSE {table}.window_ends END "
        f"RETURNING count"
    )
    params = [kind, digest, adapt(window_ends), adapt(now), adapt(now)]
    with transaction.atomic(using=db), connections[db].cursor() as cursor:
        cursor.execute(sql, params)
        return int(cursor.fetchone()[0])


def _add_portable(db: str, kind: str, digest: str, now: datetime, window_ends: datetime) -> int:
    rows = AttemptCount.objects.using(db)
    for _ in range(2):  # a lost race to insert the row: the second pass updates it
        try:
            with transaction.atomic(using=db):
                row = rows.select_for_update().filter(kind=kind, key_digest=digest).first()
                if row is None:
                    rows.create(kind=kind, key_digest=digest, count=1, window_ends=window_ends)
                    return 1
                if row.window_ends <= now:
                    row.count, row.window_ends = 1, window_ends
                else:
                    row.count += 1
                row.save(update_fields=["count", "window_ends"])
                return row.count
        except IntegrityError:
            continue
    raise IntegrityError("attempt count: lost the race to insert twice")


# Each statement in a savepoint of its own: an error the caller catches leaves a request's
# transaction (ATOMIC_REQUESTS) usable.


def add_existing(kind: str, digest: str, now: datetime) -> int:
    """One attempt more for ``(kind, digest)`` only if it has a live count (0 if not):
    a client already stepped up by its address must not create a row per made-up name."""
    db = db_alias()
    live = AttemptCount.objects.using(db).filter(kind=kind, key_digest=digest, window_ends__gt=now)
    with transaction.atomic(using=db):
        # The UPDATE holds the row's lock to the end of the transaction: the read after it
        # sees this attempt and no later one's.
        if not live.update(count=F("count") + 1):
            return 0
        return int(live.values_list("count", flat=True).first() or 0)


def give_back(kind: str, digest: str, now: datetime) -> None:
    """One attempt less (a login that succeeded), never below zero."""
    db = db_alias()
    with transaction.atomic(using=db):
        AttemptCount.objects.using(db).filter(
            kind=kind, key_digest=digest, count__gt=0, window_ends__gt=now
        ).update(count=F("count") - 1)


def current(keys: Iterable[tuple[str, str]], now: datetime) -> dict[tuple[str, str], int]:
    """The live counts of ``keys`` (``(kind, digest)``), from the primary database."""
    keys = list(keys)
    if not keys:
        return {}
    found: dict[tuple[str, str], int] = {}
    db = db_alias()
    rows = AttemptCount.objects.using(db).filter(
        key_digest__in=[digest for _, digest in keys], window_ends__gt=now
    )
    with transaction.atomic(using=db):
        for kind, digest, count in rows.values_list("kind", "key_digest", "count"):
            found[(kind, digest)] = count
    return {key: found.get(key, 0) for key in keys}
