"""Every query of the read side, and the one module that knows where decisions are stored.

The report, the verdict and the dashboard ask this module for decisions, failures,
counts and splits; none of them names a table, an event kind or a column. A check
is one ``CheckpointEvent`` of kind ``check`` (its decision, code, reply time,
platform and the address the provider saw), a staff skip one of kind ``staff_skip``;
trails written before one record per check are read too (their ``decision``,
``validate_response`` and ``ip_mismatch`` events). A decision's route and client are
those of its checkpoint.

Every count here is one aggregate query (``GROUP BY`` in the database), so the cost
depends on the window's rows, never on Python loops over them.

A client's address is the ``client_ip`` of the checkpoint its decision was written to.
Clients without a session share one *anonymous* checkpoint per route (see
:mod:`captchala_django.scopes`), whose address is only the last one seen: those
decisions are counted under ``None`` ("no session or unknown"), never under that last
address.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from django.db import connections
from django.db.models import (
    Aggregate,
    Case,
    CharField,
    Count,
    F,
    FloatField,
    GenericIPAddressField,
    Q,
    QuerySet,
    Value,
    When,
    Window,
)
from django.db.models.expressions import Combinable
from django.db.models.functions import Cast, RowNumber, TruncDate, TruncHour

from ..checkpoints.rows import MISMATCH_DETAIL
from ..codes import Code
from ..models import (
    DECISION_KINDS,
    AttemptCount,
    Checkpoint,
    CheckpointEvent,
    EventKind,
    Status,
    UnderAttack,
)
from ..scopes import Scope

#: What ``captchala_report --by`` accepts.
BREAKDOWNS = ("route", "class", "ip", "platform")
#: At most this many routes' anonymous checkpoints are told apart (one HMAC each).
MAX_SHARED_ROUTES = 200
#: The decisions a check ends with.
DECISIONS = ("allow", "deny", "degrade")

#: The columns of a decision row, by the names the read side gives them.
_COLUMNS = {"decision": "decision", "failure_class": "failure_class", "route": "checkpoint__route"}
#: The time buckets of :func:`per_period`.
_PERIODS: dict[str, Callable[[str], Any]] = {"hour": TruncHour, "day": TruncDate}


# ------------------------------------------------------------------------ what is read


#: A check solved from another address than the request's (an old trail's own event).
_IP_MISMATCH = (
    Q(kind=EventKind.CHECK, provider_ip__isnull=False)
    | Q(kind=EventKind.CHECK, detail__startswith=MISMATCH_DETAIL)
    | Q(kind=EventKind.IP_MISMATCH)
)
#: Rows holding a provider's reply: checks that asked it (an old trail's reply events).
_REPLIES = Q(kind=EventKind.CHECK, sent_at__isnull=False) | Q(kind=EventKind.VALIDATE_RESPONSE)
#: A reply that said valid (a check denied after it by a rule of ours included).
_VALID_REPLY = Q(
    kind=EventKind.CHECK, code__in=(Code.OK, Code.IP_MISMATCH, Code.RISK_TOO_HIGH)
) | Q(kind=EventKind.VALIDATE_RESPONSE, detail=Code.OK)


def decisions(db: str, start: datetime, end: datetime | None = None) -> QuerySet[CheckpointEvent]:
    """The decisions recorded from ``start`` (to ``end``, excluded)."""
    rows = CheckpointEvent.objects.using(db).filter(kind__in=DECISION_KINDS, created_at__gte=start)
    return rows.filter(created_at__lt=end) if end is not None else rows


def failures(db: str, start: datetime, end: datetime | None = None) -> QuerySet[CheckpointEvent]:
    """The decisions that carry a failure class (denied or degraded)."""
    return decisions(db, start, end).exclude(failure_class="")


def failed_as(classes: Sequence[str], *, but_not: Code | None = None) -> Q:
    """A filter of decisions: failed with one of ``classes``, unless their code is ``but_not``."""
    matching = Q(failure_class__in=classes)
    return matching & ~Q(code=but_not) if but_not is not None else matching


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
    """A decision's client address: its checkpoint's, or ``None`` for a shared checkpoint."""
    if not shared_keys:
        return F("checkpoint__client_ip")
    return Case(
        When(checkpoint__scope_key__in=shared_keys, then=Value(None)),
        default=F("checkpoint__client_ip"),
        output_field=GenericIPAddressField(),
    )


def _by_decision() -> dict[str, Count]:
    return {name: Count("id", filter=Q(decision=name)) for name in DECISIONS}


def split(**extra: Q) -> dict[str, Count]:
    """``count`` and one filtered count per decision (plus ``extra``), for ``annotate``."""
    return {
        "count": Count("id"),
        **_by_decision(),
        **{n: Count("id", filter=q) for n, q in extra.items()},
    }


def _key(by: str, shared_keys: list[str]) -> Combinable:
    """What a breakdown ``by`` route, failure class or client ``ip`` groups on."""
    if by in ("route", "class"):
        return F(_COLUMNS["route" if by == "route" else "failure_class"])
    if by == "ip":
        return client_address(shared_keys)
    raise ValueError(f"unknown breakdown {by!r}; choose from {BREAKDOWNS}")


# ------------------------------------------------------------------------- the report


def decision_count(db: str, start: datetime, *, decision: str | None = None) -> int:
    """How many decisions (``decision`` ones only, when given) since ``start``."""
    rows = decisions(db, start)
    return (rows.filter(decision=decision) if decision else rows).count()


def counts_by(db: str, start: datetime, *names: str) -> list[dict[str, Any]]:
    """Decisions since ``start`` by ``names`` (of ``decision``, ``failure_class`` and
    ``route``): each row those names and ``count``, most first."""
    fields = [_COLUMNS[name] for name in names]
    rows = (
        decisions(db, start).values(*fields).annotate(count=Count("id")).order_by("-count", *fields)
    )
    return [
        {**{name: row[f] for name, f in zip(names, fields, strict=True)}, "count": row["count"]}
        for row in rows
    ]


def ip_mismatches(db: str, start: datetime) -> int:
    """Checks solved from another address than the request's, since ``start`` (recorded,
    not denied unless ``CAPTCHALA_DENY_IP_MISMATCH``)."""
    return CheckpointEvent.objects.using(db).filter(_IP_MISMATCH, created_at__gte=start).count()


def checkpoints_by_status(db: str, start: datetime) -> list[dict[str, Any]]:
    """The checkpoints updated since ``start``: ``{"status", "count"}`` by status."""
    rows = (
        Checkpoint.objects.using(db)
        .filter(updated_at__gte=start)
        .values("status")
        .annotate(count=Count("id"))
        .order_by("status")
    )
    return [dict(row) for row in rows]


def decisions_by(db: str, by: str, start: datetime, limit: int | None) -> list[dict[str, Any]]:
    """Decisions since ``start`` by ``route``, failure ``class`` or client ``ip`` (each row:
    the key, ``count``, ``allow``/``deny``/``degrade``, ``failures``), busiest first."""
    key = _key(by, shared_scope_keys(db, start) if by == "ip" else [])
    rows = (
        decisions(db, start)
        .annotate(key=key)
        .values("key")
        .annotate(**split(failures=~Q(failure_class="")))
        .order_by("-count", "key")
    )
    return [{by: row.pop("key"), **row} for row in (rows[:limit] if limit else rows)]


def platforms(db: str, start: datetime, limit: int | None) -> list[dict[str, Any]]:
    """Provider replies by the platform the check was solved on: ``count``, ``valid``
    (code ``ok``) and ``refused``.

    Only a valid reply names a platform: made-up tokens and provider errors count
    under ``""``. The platform is stored on the reply, not on the decision.
    """
    rows = (
        CheckpointEvent.objects.using(db)
        .filter(_REPLIES, created_at__gte=start)
        .values("platform")
        .annotate(count=Count("id"), valid=Count("id", filter=_VALID_REPLY))
        .order_by("-count", "platform")
    )
    return [{**row, "refused": row["count"] - row["valid"]} for row in rows[: limit or None]]


# ------------------------------------------------------------------------ the verdict


def failure_counts(db: str, start: datetime, **extra: Q) -> list[dict[str, Any]]:
    """Failures since ``start`` by class: ``failure_class``, ``count`` and one count per
    filter of ``extra`` (one query)."""
    rows = (
        failures(db, start)
        .values("failure_class")
        .annotate(count=Count("id"), **{n: Count("id", filter=q) for n, q in extra.items()})
        .order_by()
    )
    return [dict(row) for row in rows]


def top_addresses(
    db: str, start: datetime, matching: Q, shared_keys: list[str], limit: int
) -> list[tuple[str, int]]:
    """The client addresses with the most failures ``matching``, most first: known
    addresses only (no shared checkpoint's)."""
    rows = (
        failures(db, start)
        .filter(matching, checkpoint__client_ip__isnull=False)
        .exclude(checkpoint__scope_key__in=shared_keys)
        .values("checkpoint__client_ip")
        .annotate(n=Count("id"))
        .order_by("-n", "checkpoint__client_ip")[:limit]
    )
    return [(str(row["checkpoint__client_ip"]), row["n"]) for row in rows]


def routes_matching(
    db: str, start: datetime, matching: Q, limit: int
) -> list[tuple[str, int, int]]:
    """``(route, decisions matching, decisions)`` of the routes with the most decisions
    ``matching`` since ``start``, most first."""
    rows = (
        decisions(db, start)
        .values("checkpoint__route")
        .annotate(total=Count("id"), matching=Count("id", filter=matching))
        .order_by("-matching", "checkpoint__route")[:limit]
    )
    return [(row["checkpoint__route"], row["matching"], row["total"]) for row in rows]


def mismatches(db: str, start: datetime, shared_keys: list[str], code: Code) -> dict[str, int]:
    """Decisions refused with ``code`` plus IP mismatches since ``start`` (``n``), and
    from how many distinct addresses (``addresses``; for an IP mismatch, the one the
    provider saw; a shared checkpoint's decisions have none): one query."""
    address = Case(
        When(provider_ip__isnull=False, then=Cast("provider_ip", CharField())),
        When(~Q(kind__in=DECISION_KINDS), then=F("detail")),  # "provider saw <address>"
        When(detail__startswith=MISMATCH_DETAIL, then=F("detail")),
        When(checkpoint__scope_key__in=shared_keys, then=Value(None)),
        default=Cast("checkpoint__client_ip", CharField()),
        output_field=CharField(),
    )
    counts: dict[str, int] = (
        CheckpointEvent.objects.using(db)
        .filter(created_at__gte=start)
        .filter(_IP_MISMATCH | Q(kind__in=DECISION_KINDS, code=code))
        .aggregate(n=Count("id"), addresses=Count(address, distinct=True))
    )
    return counts


def totals(db: str, start: datetime, end: datetime) -> dict[str, int]:
    """Decisions (``n``) and failures (``failed``) from ``start`` to ``end``: one query."""
    counts: dict[str, int] = decisions(db, start, end).aggregate(
        n=Count("id"), failed=Count("id", filter=~Q(failure_class=""))
    )
    return counts


# ---------------------------------------------------------------------- the dashboard


def failures_by(
    db: str, start: datetime, by: str, limit: int, shared_keys: list[str] | None = None
) -> list[tuple[Any, int]]:
    """``(key, failures)`` by ``route``, failure ``class`` or client ``ip`` (``None``: a
    shared checkpoint's, or unknown) since ``start``, most first."""
    rows = (
        failures(db, start)
        .annotate(key=_key(by, shared_keys or []))
        .values("key")
        .annotate(count=Count("id"))
        .order_by("-count", "key")[:limit]
    )
    return [(row["key"], row["count"]) for row in rows]


def per_period(db: str, start: datetime, period: str) -> list[dict[str, Any]]:
    """Decisions since ``start`` by ``hour`` or ``day`` (local time): ``bucket`` (the
    hour's start, or the date) and one count per decision, oldest first."""
    rows = (
        decisions(db, start)
        .annotate(bucket=_PERIODS[period]("created_at"))
        .values("bucket")
        .annotate(**_by_decision())
        .order_by("bucket")
    )
    return [dict(row) for row in rows]


class _PercentileCont(Aggregate):
    """PostgreSQL's ``percentile_cont(fraction) WITHIN GROUP (ORDER BY expression)``."""

    function = "PERCENTILE_CONT"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression: str, fraction: float) -> None:
        super().__init__(expression, fraction=float(fraction))


def reply_times(db: str, start: datetime, percentiles: Mapping[str, float]) -> dict[str, Any]:
    """``count`` of the provider's replies since ``start`` with a reply time, and each of
    ``percentiles`` (name: fraction) of those times in ms, interpolated as
    ``percentile_cont``: one query on every backend."""
    replies = CheckpointEvent.objects.using(db).filter(
        _REPLIES, created_at__gte=start, latency_ms__isnull=False
    )
    if connections[db].vendor == "postgresql":
        return replies.aggregate(
            count=Count("id"),
            **{name: _PercentileCont("latency_ms", f) for name, f in percentiles.items()},
        )
    return _ranked_percentiles(db, replies, percentiles)


def _ranked_percentiles(
    db: str, replies: QuerySet[CheckpointEvent], percentiles: Mapping[str, float]
) -> dict[str, Any]:
    """Elsewhere: number the rows in order (a window function) and read back only the
    two neighbours of each percentile's position, in one query."""
    ranked = replies.annotate(
        rn=Window(RowNumber(), order_by=F("latency_ms").asc()), cnt=Window(Count("id"))
    ).values("latency_ms", "rn", "cnt")
    inner, params = ranked.query.sql_with_params()
    wanted = []
    for fraction in percentiles.values():
        floor = f"CAST(1 + {float(fraction)!r} * (cnt - 1) AS INTEGER)"
        wanted += [floor, f"{floor} + 1"]
    sql = (
        f"SELECT rn, cnt, latency_ms FROM ({inner}) ranked "  # noqa: S608 - no user input
        f"WHERE rn IN ({', '.join(wanted)})"
    )
    with connections[db].cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    if not rows:
        return {"count": 0, **dict.fromkeys(percentiles)}
    count = rows[0][1]
    values = {rn: value for rn, _cnt, value in rows}
    result: dict[str, Any] = {"count": count}
    for name, fraction in percentiles.items():
        position = 1 + fraction * (count - 1)
        lower = int(position)
        low = values[lower]
        high = values.get(lower + 1, low)
        result[name] = low + (position - lower) * (high - low)
    return result


# ------------------------------------------------------------------------------ step-up

#: What the step-up writes on the record of a check it asked for (see ``stepup``).
STEP_UP_DETAIL = "step-up: "


def needing_a_check(db: str, now: datetime, thresholds: Mapping[str, int | None]) -> dict[str, int]:
    """How many usernames, addresses and sessions (by kind) need the check now: their live
    count is at their threshold. One query."""
    counts = {
        kind: Count("id", filter=Q(kind=kind, count__gte=threshold))
        for kind, threshold in thresholds.items()
        if threshold
    }
    if not counts:
        return {}
    rows = AttemptCount.objects.using(db).filter(window_ends__gt=now)
    return {kind: int(n or 0) for kind, n in rows.aggregate(**counts).items()}


def stepped_up(db: str, start: datetime) -> int:
    """The checks the step-up asked for since ``start``."""
    return (
        CheckpointEvent.objects.using(db)
        .filter(kind=EventKind.CHECK, created_at__gte=start, detail__contains=STEP_UP_DETAIL)
        .count()
    )


def under_attack(db: str, now: datetime) -> list[dict[str, Any]]:
    """The episodes of "under attack" in force: ``{"route", "ends_at", "by_hand", "reason"}``."""
    rows = UnderAttack.objects.using(db).filter(ends_at__gt=now).order_by("route")
    return [dict(row) for row in rows.values("route", "started_at", "ends_at", "by_hand", "reason")]
