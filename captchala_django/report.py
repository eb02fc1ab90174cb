"""Counts of decisions over a window: what ``captchala_report`` prints."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models import Count
from django.utils import timezone

from .checkpoints import db_alias
from .models import Checkpoint, CheckpointEvent, EventKind


def report(since: timedelta) -> dict[str, Any]:
    """Decisions recorded in the last ``since``, by decision, class and route.

    A decision whose write failed (class ``persistence``) left no event: it is
    only in the logs, and so not counted here.
    """
    db = db_alias()
    cutoff = timezone.now() - since
    decisions = CheckpointEvent.objects.using(db).filter(
        kind=EventKind.DECISION, created_at__gte=cutoff
    )

    def counts(*fields: str) -> list[dict[str, Any]]:
        rows = decisions.values(*fields).annotate(count=Count("id")).order_by("-count", *fields)
        return [dict(row) for row in rows]

    statuses = (
        Checkpoint.objects.using(db)
        .filter(updated_at__gte=cutoff)
        .values("status")
        .annotate(count=Count("id"))
        .order_by("status")
    )
    return {
        "since": cutoff.isoformat(),
        "decisions": decisions.count(),
        "by_decision": counts("decision"),
        "by_failure_class": counts("failure_class"),
        "by_route": [
            {"route": r["checkpoint__route"], "decision": r["decision"], "count": r["count"]}
            for r in counts("checkpoint__route", "decision")
        ],
        "degraded": decisions.filter(decision="degrade").count(),
        "checkpoints_by_status": [dict(row) for row in statuses],
    }
