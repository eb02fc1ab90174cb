"""``captchala_cleanup``'s work: delete what has outlived its use, in short batches.

Expired checkpoints (with their events), events older than a horizon, expired
ledger rows and attempt counts whose window ended. Works while traffic writes:
primary-key batches in a stable order, one short transaction each, and each
``DELETE`` re-checks its condition.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.db import connections, transaction
from django.utils import timezone

from .checkpoints import db_alias
from .conf import app_settings
from .models import AttemptCount, Checkpoint, CheckpointEvent, PassToken


@dataclass
class CleanupResult:
    """What a run deleted (or, with ``dry_run``, would delete)."""

    checkpoints: int = 0
    events: int = 0
    tokens: int = 0
    #: Attempt counts of the step-up whose window ended.
    attempt_counts: int = 0
    batches: int = 0
    #: The longest single statement, in seconds.
    longest_statement: float = 0.0
    dry_run: bool = False


def cleanup(
    *,
    batch_size: int = 1000,
    older_than: timedelta | None = None,
    dry_run: bool = False,
    progress: Callable[[CleanupResult], None] | None = None,
) -> CleanupResult:
    """Delete expired checkpoints (with their events), old events and expired ledger rows.

    ``older_than`` (default ``CAPTCHALA_RETENTION["records"]``, 30 days) is the age of the
    records deleted; attempt counts go ``CAPTCHALA_RETENTION["counters"]`` seconds after
    their window ended, ledger rows when they expire (``CAPTCHALA_LEDGER_TTL``).

    Works in primary-key batches in a stable order, one short transaction each,
    so it is safe while traffic writes: each ``DELETE`` re-checks its condition,
    so a checkpoint passed again since the batch was chosen is kept. ``progress``
    is called with the running :class:`CleanupResult` after every batch.
    """
    retention = {"records": 2592000, "counters": 0, **(app_settings.RETENTION or {})}
    if older_than is None:
        older_than = timedelta(seconds=retention["records"])
    counters_after = timedelta(seconds=retention["counters"])
    cleaner = _Cleaner(batch_size, older_than, dry_run, progress, counters_after)
    if dry_run:
        cleaner.count()
    else:
        cleaner.delete()
    return cleaner.result


class _Cleaner:
    """One run: the conditions, the running result, and the timed statements."""

    def __init__(self, batch_size, older_than, dry_run, progress, counters_after):
        self.db = db_alias()
        self.batch_size = batch_size
        self.progress = progress
        self.result = CleanupResult(dry_run=dry_run)
        now = timezone.now()
        adapt = connections[self.db].ops.adapt_datetimefield_value
        self.cp = Checkpoint._meta.db_table
        self.ev = CheckpointEvent._meta.db_table
        self.pt = PassToken._meta.db_table
        # Expired, or never passed/reset (no expiry) and untouched for ``older_than``.
        self.cp_cond = "(expires_at < %s OR (expires_at IS NULL AND updated_at < %s))"
        self.cp_params = [adapt(now), adapt(now - older_than)]
        self.ev_cond, self.ev_params = "created_at < %s", [adapt(now - older_than)]
        self.pt_cond, self.pt_params = "expires_at < %s", [adapt(now)]
        self.ac = AttemptCount._meta.db_table
        self.ac_cond, self.ac_params = "window_ends < %s", [adapt(now - counters_after)]

    def timed(self, cursor, sql: str, params: list) -> None:
        started = time.monotonic()
        cursor.execute(sql, params)
        elapsed = time.monotonic() - started
        self.result.longest_statement = max(self.result.longest_statement, elapsed)

    def count(self) -> None:
        """``--dry-run``: what a run would delete, counted."""
        expired = f"SELECT id FROM {self.cp} WHERE {self.cp_cond}"
        ev_all = f"({self.ev_cond} OR checkpoint_id IN ({expired}))"
        with connections[self.db].cursor() as cursor:
            for table, cond, params, attr in (
                (self.cp, self.cp_cond, self.cp_params, "checkpoints"),
                (self.ev, ev_all, [*self.ev_params, *self.cp_params], "events"),
                (self.pt, self.pt_cond, self.pt_params, "tokens"),
                (self.ac, self.ac_cond, self.ac_params, "attempt_counts"),
            ):
                self.timed(cursor, f"SELECT COUNT(*) FROM {table} WHERE {cond}", params)
                setattr(self.result, attr, cursor.fetchone()[0])

    def delete(self) -> None:
        self.batches(self.cp, self.cp_cond, self.cp_params, "checkpoints", then=self.drop_events)
        self.batches(self.ev, self.ev_cond, self.ev_params, "events")
        self.batches(self.pt, self.pt_cond, self.pt_params, "tokens")
        self.batches(self.ac, self.ac_cond, self.ac_params, "attempt_counts")

    def batches(self, table: str, cond: str, params: list, attr: str, then=None) -> None:
        while True:
            with transaction.atomic(using=self.db), connections[self.db].cursor() as cursor:
                self.timed(
                    cursor,
                    f"DELETE FROM {table} WHERE id IN (SELECT id FROM {table} WHERE {cond} "
                    f"ORDER BY id LIMIT %s) AND {cond} RETURNING id",
                    [*params, self.batch_size, *params],
                )
                ids = [row[0] for row in cursor.fetchall()]
                if ids and then is not None:
                    then(cursor, ids)
            setattr(self.result, attr, getattr(self.result, attr) + len(ids))
            self.result.batches += 1
            if self.progress is not None:
                self.progress(self.result)
            if len(ids) < self.batch_size:
                return

    def drop_events(self, cursor, ids: list[int]) -> None:
        for start in range(0, len(ids), 500):  # stay under every backend's parameter limit
            chunk = ids[start : start + 500]
            placeholders = ", ".join(["%s"] * len(chunk))
            self.timed(
                cursor, f"DELETE FROM {self.ev} WHERE checkpoint_id IN ({placeholders})", chunk
            )
            self.result.events += cursor.rowcount
