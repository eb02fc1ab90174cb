"""Every backend: an ORM compare-and-set on ``version``, one re-read after a lost race."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F

from ..exceptions import PersistenceError
from ..models import Checkpoint, CheckpointEvent
from . import ledger, sql
from .attempt import Attempt
from .outcome import Outcome
from .rules import merge


def write(att: Attempt, state: dict[str, Any], outcome: Outcome) -> dict[str, Any]:
    row = _compare_and_set(att, state)
    if att.digest and att.owns_claim:
        ledger.finish_orm(att, outcome)
    CheckpointEvent.objects.using(att.db).bulk_create(
        CheckpointEvent(
            checkpoint_id=row["id"], version=row["version"], request_id=att.request_id, **event
        )
        for event in att.events
    )
    return row


def _compare_and_set(att: Attempt, state: dict[str, Any]) -> dict[str, Any]:
    manager = Checkpoint.objects.using(att.db)
    for _ in range(2):
        row = manager.filter(scope_key=state["scope_key"]).values(*sql.RETURNED).first()
        if row is None:
            try:
                with transaction.atomic(using=att.db):
                    created = manager.create(**state, version=1, attempts=1)
            except IntegrityError:
                continue  # lost the insert race: re-read
            return {name: getattr(created, name) for name in sql.RETURNED}
        changes = merge(row, state)
        updated = manager.filter(pk=row["id"], version=row["version"]).update(
            **changes, version=row["version"] + 1, attempts=F("attempts") + 1
        )
        if updated:
            return {
                **row,
                **changes,
                "version": row["version"] + 1,
                "attempts": row["attempts"] + 1,
            }
        # lost the compare-and-set: re-read once
    raise PersistenceError("checkpoint compare-and-set lost twice")
