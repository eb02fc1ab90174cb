"""Counts of decisions over a window, and the verdict: what ``captchala_report`` prints.

Every figure is asked of :mod:`~captchala_django.insights.queries` (one aggregate
query each), so the cost depends on the window's rows, never on Python loops over
them. Decisions by client address count a shared (cookieless) checkpoint's under
``None``: see that module.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from ..checkpoints import db_alias
from . import queries
from .verdict import gather, judge


def breakdown(
    by: str, since: timedelta, *, now: datetime | None = None, limit: int | None = 20
) -> list[dict[str, Any]]:
    """Decisions of the window by ``route``, failure ``class`` or client ``ip`` (each row:
    the key, ``count``, ``allow``/``deny``/``degrade``, ``failures``), busiest first;
    or provider replies by ``platform`` (see :func:`~.queries.platforms`)."""
    if by not in queries.BREAKDOWNS:
        raise ValueError(f"unknown breakdown {by!r}; choose from {queries.BREAKDOWNS}")
    db = db_alias()
    start = (now or timezone.now()) - since
    if by == "platform":
        return queries.platforms(db, start, limit)
    return queries.decisions_by(db, by, start, limit)


def report(since: timedelta, *, by: str | None = None, limit: int | None = 20) -> dict[str, Any]:
    """Decisions recorded in the last ``since``, by decision, class and route, and the
    verdict (:func:`~captchala_django.insights.verdict.judge`); with ``by``, that
    breakdown too.

    A decision whose write failed (class ``persistence``) left no row: it is only in
    the logs, and so not counted here.
    """
    db = db_alias()
    now = timezone.now()
    cutoff = now - since
    data: dict[str, Any] = {
        "since": cutoff.isoformat(),
        "decisions": queries.decision_count(db, cutoff),
        "by_decision": queries.counts_by(db, cutoff, "decision"),
        "by_failure_class": queries.counts_by(db, cutoff, "failure_class"),
        "by_route": queries.counts_by(db, cutoff, "route", "decision"),
        "degraded": queries.decision_count(db, cutoff, decision="degrade"),
        # Checks solved from another address than the request's.
        "ip_mismatches": queries.ip_mismatches(db, cutoff),
        "checkpoints_by_status": queries.checkpoints_by_status(db, cutoff),
    }
    if by is not None:
        data["by"] = by
        data["breakdown"] = breakdown(by, since, now=now, limit=limit)
    data["verdict"] = judge(gather(since, now=now)).as_dict()
    data["under_attack"] = queries.under_attack(db, now)
    return data
