"""Every backend: an ORM compare-and-set on ``version``, one re-read after a lost race."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F

from ..exceptions import PersistenceError
from ..models import Checkpoint
from . import ledger, rows
from .attempt import Attempt
from .ledger import Claim
from .outcome import Outcome
from .rules import merge


def compare_and_set(
    att: Attempt, claim: Claim, state: dict[str, Any], outcome: Outcome
) -> dict[str, Any]:
    row = _compare_and_set(att, state)
    ledger.finish_orm(att, claim, outcome)
    rows.insert_records(att.db, row["id"], row["version"], [rows.record(att, outcome)])
    return row


def _compare_and_set(att: Attempt, state: dict[str, Any]) -> dict[str, Any]:
    manager = Checkpoint.objects.using(att.db)
    for _ in range(2):
        row = manager.filter(scope_key=state["scope_key"]).values(*rows.CHECKPOINT_RETURNED).first()
        if row is None:
            try:
                with transaction.atomic(using=att.db):
                    created = manager.create(**state)
            except IntegrityError:
                continue  # lost the insert race: re-read
            return {name: getattr(created, name) for name in rows.CHECKPOINT_RETURNED}
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
