"""What the admin dashboard shows, and the geometry of its charts.

:func:`dashboard_data` makes a fixed number of queries (:data:`QUERIES`),
whatever the number of rows, all asked of :mod:`~captchala_django.insights.queries`:
every figure is aggregated in the database, and every list it returns is bounded.
:func:`charts` turns the figures into the coordinates the template draws as inline
SVG (no JavaScript).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _

from ..checkpoints import db_alias
from ..models import FailureClass
from ..stepup import StepUp
from . import queries
from .queries import DECISIONS
from .verdict import Verdict, gather, judge

#: The window of the failure, address, route, latency and verdict figures.
WINDOW = timedelta(hours=24)
HOURS = 24
DAYS = 14
#: Rows of the top routes and top addresses.
TOP = 8
#: The provider reply-time percentiles shown.
PERCENTILES = {"p50": 0.5, "p95": 0.95}
#: The queries :func:`dashboard_data` makes (whatever the row count).
QUERIES = 14


@dataclass
class Dashboard:
    now: datetime
    #: ``{"start", "allow", "deny", "degrade", "total"}`` per hour, oldest first.
    hourly: list[dict[str, Any]]
    #: ``{"day", "allow", "deny", "degrade", "total"}`` per day, oldest first.
    daily: list[dict[str, Any]]
    #: ``{"failure_class", "label", "count"}``, most first.
    by_class: list[dict[str, Any]]
    #: ``{"route", "count"}`` and ``{"address", "count"}`` (``None``: no session or unknown).
    routes: list[dict[str, Any]]
    addresses: list[dict[str, Any]]
    #: ``{"count", "p50", "p95"}`` of the provider's reply times (ms).
    latency: dict[str, Any]
    verdict: Verdict
    #: The step-up: ``{"needing": {kind: n}, "fired": n}`` (usernames, addresses and
    #: sessions that need the check now; checks it asked for in the window).
    step_up: dict[str, Any] = field(default_factory=dict)
    charts: dict[str, Any] = field(default_factory=dict)


def dashboard_data(now: datetime | None = None) -> Dashboard:
    """Every figure of the dashboard, in :data:`QUERIES` queries."""
    db = db_alias()
    now = now or timezone.now()
    start = now - WINDOW
    keys = queries.shared_scope_keys(db, start)
    evidence = gather(WINDOW, now=now, db=db, shared_keys=keys)
    labels = dict(FailureClass.choices)
    by_class = [
        {"failure_class": name, "label": labels.get(name, name), "count": count}
        for name, count in sorted(evidence.by_class.items(), key=lambda item: (-item[1], item[0]))
    ]
    routes = queries.failures_by(db, start, "route", TOP)
    addresses = queries.failures_by(db, start, "ip", TOP, shared_keys=keys)
    board = Dashboard(
        now=now,
        hourly=hourly(db, now),
        daily=daily(db, now),
        by_class=by_class,
        routes=[{"route": route, "count": n} for route, n in routes],
        addresses=[
            {"address": str(address) if address else None, "count": n} for address, n in addresses
        ],
        latency=latency(db, start),
        verdict=judge(evidence),
        step_up=step_up(db, now, start),
    )
    board.charts = charts(board)
    return board


def step_up(db: str, now: datetime, start: datetime) -> dict[str, Any]:
    """Who needs the check now, by the site's thresholds, and how often it was asked for."""
    policy = StepUp.of(True)
    assert policy is not None
    thresholds = {"username": policy.username, "address": policy.address, "session": policy.session}
    return {
        "needing": queries.needing_a_check(db, now, thresholds),
        "fired": queries.stepped_up(db, start),
        "under_attack": queries.under_attack(db, now),
    }


def hourly(db: str, now: datetime) -> list[dict[str, Any]]:
    """Decisions of the current hour and the ``HOURS - 1`` before it, by decision."""
    last = timezone.localtime(now).replace(minute=0, second=0, microsecond=0)
    first = last - timedelta(hours=HOURS - 1)
    buckets = [_bucket(start=first + timedelta(hours=i)) for i in range(HOURS)]
    for row in queries.per_period(db, first, "hour"):
        index = round((row["bucket"] - first).total_seconds() / 3600)
        _add(buckets[min(max(index, 0), HOURS - 1)], row)
    return buckets


def daily(db: str, now: datetime) -> list[dict[str, Any]]:
    """Decisions of today and the ``DAYS - 1`` days before it (local dates), by decision."""
    today = timezone.localdate(now)
    days = [today - timedelta(days=DAYS - 1 - i) for i in range(DAYS)]
    first = timezone.make_aware(datetime.combine(days[0], time.min))
    buckets = {day: _bucket(day=day) for day in days}
    for row in queries.per_period(db, first, "day"):
        day = row["bucket"]
        if isinstance(day, datetime):
            day = day.date()
        if day in buckets:
            _add(buckets[day], row)
    return list(buckets.values())


def _bucket(**key: Any) -> dict[str, Any]:
    return {**key, "allow": 0, "deny": 0, "degrade": 0, "total": 0}


def _add(bucket: dict[str, Any], row: dict[str, Any]) -> None:
    for name in DECISIONS:
        bucket[name] += row[name]
        bucket["total"] += row[name]


def latency(db: str, start: datetime) -> dict[str, Any]:
    """``count``, p50 and p95 of the provider's reply times (ms) since ``start``
    (interpolated, as ``percentile_cont``): one query on every backend."""
    return queries.reply_times(db, start, PERCENTILES)


# ----------------------------------------------------------------------- chart geometry

WIDTH = 640
PLOT_TOP, PLOT_HEIGHT, AXIS = 10, 120, 44
BAR_WIDTH, BAR_LEFT, BAR_RIGHT, BAR_ROW = 300, 118, 44, 22
LABEL_CHARS = 18


def nice_ceiling(value: float) -> int:
    """The smallest 2, 4 or 10 times a power of ten at or above ``value`` (at least 2): its
    half, the middle gridline, is a whole number too."""
    step = 1
    while True:
        for factor in (2, 4, 10):
            if step * factor >= value:
                return step * factor
        step *= 10


def columns(series: list[dict[str, Any]], labels: list[str], every: int) -> dict[str, Any]:
    """Stacked columns (allow at the bottom, then degrade, then deny) for ``series``."""
    top = nice_ceiling(max((b["total"] for b in series), default=0))
    plot_width = WIDTH - AXIS
    slot = plot_width / len(series)
    scale = PLOT_HEIGHT / top
    bottom = PLOT_TOP + PLOT_HEIGHT
    out = []
    for i, (bucket, label) in enumerate(zip(series, labels, strict=True)):
        y = bottom
        parts = []
        for name in ("allow", "degrade", "deny"):
            height = bucket[name] * scale
            if bucket[name]:
                parts.append({"name": name, "y": _r(y - height), "height": _r(max(height, 0.5))})
            y -= height
        out.append(
            {
                "x": _r(AXIS + i * slot + slot * 0.15),
                "width": _r(slot * 0.7),
                "parts": parts,
                "bucket": bucket,
                "label": label,
                "tick": (len(series) - 1 - i) % every == 0,
                "tick_x": _r(AXIS + i * slot + slot / 2),
            }
        )
    return {
        "width": WIDTH,
        "height": bottom + 22,
        "bottom": bottom,
        "plot_top": PLOT_TOP,
        "plot_height": PLOT_HEIGHT,
        "label_y": bottom + 15,
        "grid": [
            {
                "y": _r(bottom - PLOT_HEIGHT * f),
                "value": _r(top * f),
                "text_y": _r(bottom - PLOT_HEIGHT * f + 4),
            }
            for f in (0, 0.5, 1)
        ],
        "axis_x": AXIS - 6,
        "columns": out,
        "totals": {name: sum(b[name] for b in series) for name in DECISIONS},
    }


def bars(
    rows: list[dict[str, Any]], label: str, value: str = "count", full: str | None = None
) -> dict[str, Any]:
    """Horizontal bars, one row each: ``label`` on the left (``full`` in the tooltip and
    the table, when given), the value at the bar's end."""
    top = max((float(r[value] or 0) for r in rows), default=0.0) or 1.0
    left, span = BAR_LEFT, BAR_WIDTH - BAR_LEFT - BAR_RIGHT
    out = []
    for i, row in enumerate(rows):
        amount = float(row[value] or 0)
        text = str(row[label])
        long = str(row[full or label])
        out.append(
            {
                "y": i * BAR_ROW + 4,
                "text_y": i * BAR_ROW + 16,
                "label": text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 1] + "…",
                "full": long,
                "width": _r(max(span * amount / top, 1)),
                "value": row[value],
                "value_x": _r(left + span * amount / top + 6),
            }
        )
    return {
        "width": BAR_WIDTH,
        "height": max(len(rows), 1) * BAR_ROW + 8,
        "x": left,
        "label_x": left - 8,
        "empty_y": 18,
        "bars": out,
    }


def _r(value: float) -> float:
    return round(value, 1)


def charts(board: Dashboard) -> dict[str, Any]:
    """The geometry of every chart of ``board``."""
    hour_labels = [date_format(b["start"], "H:i") for b in board.hourly]
    day_labels = [date_format(b["day"], "M j") for b in board.daily]
    addresses = [
        {**r, "label": r["address"] or str(_("no session or unknown"))} for r in board.addresses
    ]
    latency = [
        {"label": name, "value": board.latency[name]}
        for name in ("p50", "p95")
        if board.latency.get(name) is not None
    ]
    for row in latency:
        row["value"] = round(row["value"])
    return {
        "hourly": columns(board.hourly, hour_labels, every=6),
        "daily": columns(board.daily, day_labels, every=3),
        "classes": bars(board.by_class, "failure_class", full="label"),
        "routes": bars([{**r, "label": r["route"] or "-"} for r in board.routes], "label"),
        "addresses": bars(addresses, "label"),
        "latency": bars(latency, "label", "value"),
    }
