"""Counts of decisions over a window: what ``captchala_report`` prints.

Every count here is one aggregate query (``GROUP BY`` in the database), so the
cost depends on the window's rows, never on Python loops over them.

A client's address is the ``client_ip`` of the checkpoint its decision was
written to. Clients without a session share one *anonymous* checkpoint per route
(see :mod:`captchala_django.scopes`), whose address is only the last one seen:
those decisions are counted under ``None`` ("no session or unknown"), never
under that last address.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db.models import Case, Count, F, GenericIPAddressField, Q, QuerySet, Value, When
from django.db.models.expressions import Combinable
from django.utils import timezone

from .checkpoints import db_alias
from .models import Checkpoint, CheckpointEvent, EventKind, Status
from .scopes import Scope

#: What ``--by`` accepts.
BREAKDOWNS = ("route", "class", "ip", "platform")
#: At most this many routes' anonymous checkpoints are told apart (one HMAC each).
MAX_SHARED_ROUTES = 200
DECISIONS = ("allow", "deny", "degrade")


def decisions(db: str, start: datetime, end: datetime | None = None) -> QuerySet[CheckpointEvent]:
    """The decision events recorded from ``start`` (to ``end``, excluded)."""
    rows = CheckpointEvent.objects.using(db).filter(kind=EventKind.DECISION, created_at__gte=start)
    return rows.filter(created_at__lt=end) if end is not None else rows


def failures(db: str, start: datetime, end: datetime | None = None) -> QuerySet[CheckpointEvent]:
    """The decisions that carry a failure class (denied or degraded)."""
    return decisions(db, start, end).exclude(failure_class="")


def shared_scope_keys(db: str, start: datetime) -> list[str]:
    """Keys of the anonymous (shared, cookieless) checkpoints written since ``start``.

    One query: the routes of the session checkpoints that failed since ``start``
    (``status``/``updated_at`` is indexed); an anonymous checkpoint never passes.
    """
    routes = (
        Checkpoint.objects.using(db)
        .filter(
            status__in=[Status.FAILED, Status.PENDING],
            updated_at__gte=start,
            scope_kind="session",
        )
        .order_by()
        .values_list("route", flat=True)
        .distinct()[:MAX_SHARED_ROUTES]
    )
    return [Scope("session", "", route).key for route in routes]


def client_address(shared_keys: list[str]) -> Combinable:
    """An event's client address: its checkpoint's, or ``None`` for a shared checkpoint."""
    if not shared_keys:
        return F("checkpoint__client_ip")
    return Case(
        When(checkpoint__scope_key__in=shared_keys, then=Value(None)),
        default=F("checkpoint__client_ip"),
        output_field=GenericIPAddressField(),
    )


def split(**extra: Q) -> dict[str, Count]:
    """``count`` and one filtered count per decision (plus ``extra``), for ``annotate``."""
    counts = {"count": Count("id")}
    counts.update({name: Count("id", filter=Q(decision=name)) for name in DECISIONS})
    counts.update({name: Count("id", filter=q) for name, q in extra.items()})
    return counts


def breakdown(
    by: str, since: timedelta, *, now: datetime | None = None, limit: int | None = 20
) -> list[dict[str, Any]]:
    """Decisions of the window by ``route``, failure ``class`` or client ``ip`` (each row:
    the key, ``count``, ``allow``/``deny``/``degrade``, ``failures``), busiest first;
    or provider replies by ``platform`` (see :func:`platforms`)."""
    if by not in BREAKDOWNS:
        raise ValueError(f"unknown breakdown {by!r}; choose from {BREAKDOWNS}")
    db = db_alias()
    start = (now or timezone.now()) - since
    if by == "platform":
        return platforms(db, start, limit)
    key: Combinable = {
        "route": F("checkpoint__route"),
        "class": F("failure_class"),
        "ip": client_address(shared_scope_keys(db, start) if by == "ip" else []),
    }[by]
    rows = (
        decisions(db, start)
        .annotate(key=key)
        .values("key")
        .annotate(**split(failures=~Q(failure_class="")))
        .order_by("-count", "key")
    )
    return [{by: row.pop("key"), **row} for row in (rows[:limit] if limit else rows)]


def platforms(db: str, start: datetime, limit: int | None) -> list[dict[str, Any]]:
    """Provider replies (``validate_response`` events) by the platform the check was
    solved on: ``count``, ``valid`` (code ``ok``) and ``refused``.

    Only a valid reply names a platform: made-up tokens and provider errors count
    under ``""``. The platform is stored on the reply event, not on the decision.
    """
    rows = (
        CheckpointEvent.objects.using(db)
        .filter(kind=EventKind.VALIDATE_RESPONSE, created_at__gte=start)
        .values("platform")
        .annotate(count=Count("id"), valid=Count("id", filter=Q(detail="ok")))
        .order_by("-count", "platform")
    )
    return [{**row, "refused": row["count"] - row["valid"]} for row in rows[: limit or None]]


def report(since: timedelta, *, by: str | None = None, limit: int | None = 20) -> dict[str, Any]:
    """Decisions recorded in the last ``since``, by decision, class and route, and the
    verdict (:func:`captchala_django.verdict.judge`); with ``by``, that breakdown too.

    A decision whose write failed (class ``persistence``) left no event: it is
    only in the logs, and so not counted here.
    """
    from .verdict import gather, judge

    db = db_alias()
    now = timezone.now()
    cutoff = now - since
    rows = decisions(db, cutoff)

    def counts(*fields: str) -> list[dict[str, Any]]:
        grouped = rows.values(*fields).annotate(count=Count("id")).order_by("-count", *fields)
        return [dict(row) for row in grouped]

    statuses = (
        Checkpoint.objects.using(db)
        .filter(updated_at__gte=cutoff)
        .values("status")
        .annotate(count=Count("id"))
        .order_by("status")
    )
    data: dict[str, Any] = {
        "since": cutoff.isoformat(),
        "decisions": rows.count(),
        "by_decision": counts("decision"),
        "by_failure_class": counts("failure_class"),
        "by_route": [
            {"route": r["checkpoint__route"], "decision": r["decision"], "count": r["count"]}
            for r in counts("checkpoint__route", "decision")
        ],
        "degraded": rows.filter(decision="degrade").count(),
        # Checks solved from another address than the request's (recorded, not denied
        # unless CAPTCHALA_DENY_IP_MISMATCH).
        "ip_mismatches": CheckpointEvent.objects.using(db)
        .filter(kind=EventKind.IP_MISMATCH, created_at__gte=cutoff)
        .count(),
        "checkpoints_by_status": [dict(row) for row in statuses],
    }
    if by is not None:
        data["by"] = by
        data["breakdown"] = breakdown(by, since, now=now, limit=limit)
    data["verdict"] = judge(gather(since, now=now)).as_dict()
    return data
