"""State changes made by hand (the admin's actions, your code): reset and expire.

Each is one versioned update plus a record of its own kind, in one transaction;
neither can create a pass.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import F
from django.http import HttpRequest
from django.utils import timezone

from ..models import Checkpoint, EventKind, Status
from . import rows
from .attempt import db_alias, request_id_of
from .telemetry import logger


def reset(scope_key: str, *, request: HttpRequest | None = None, reason: str = "") -> bool:
    """Set a checkpoint back to ``pending`` (the next request is checked again)."""
    return _set_state(
        scope_key, EventKind.RESET, request, reason, status=Status.PENDING, expires_at=None
    )


def expire(scope_key: str, *, request: HttpRequest | None = None, reason: str = "") -> bool:
    """End a checkpoint's trust now, keeping its status for the record."""
    return _set_state(scope_key, EventKind.EXPIRED, request, reason, expires_at=timezone.now())


def _set_state(
    scope_key: str, kind: str, request: HttpRequest | None, reason: str, **changes: Any
) -> bool:
    db = db_alias()
    request_id = request_id_of(request)
    record = rows.change_record(kind, reason, request_id)
    with transaction.atomic(using=db):
        manager = Checkpoint.objects.using(db)
        updated = manager.filter(scope_key=scope_key).update(
            **changes,
            version=F("version") + 1,
            updated_at=record["created_at"],
            request_id=request_id,
        )
        if not updated:
            return False
        checkpoint = manager.only("id", "version").get(scope_key=scope_key)
        rows.insert_records(db, checkpoint.pk, checkpoint.version, [record])
    logger.info("checkpoint %s version=%s request_id=%s", kind, checkpoint.version, request_id)
    return True
