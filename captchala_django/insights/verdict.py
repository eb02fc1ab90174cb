"""Is it our integration or an attack? One verdict over a window of decisions.

:func:`gather` reads the evidence (a fixed number of aggregate queries, all asked of
:mod:`~captchala_django.insights.queries`), :func:`judge` applies the rule; the
dashboard and ``captchala_report`` both end with its line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from ..checkpoints import db_alias
from ..codes import Code
from ..models import FailureClass
from . import queries

#: Fewer failures than this in the window: nothing unusual (the mismatch rule aside).
MIN_FAILURES = 20
#: Failure classes that say "our side or the provider's", not "a bad token".
INTEGRATION_CLASSES = (
    FailureClass.CONFIGURATION,
    FailureClass.PROVIDER,
    FailureClass.TIMEOUT,
    FailureClass.PERSISTENCE,
)
#: Integration when those classes are at least this share of the failures.
INTEGRATION_SHARE = 0.5
#: Action/IP mismatches from at least this many distinct addresses: integration.
MISMATCH_ADDRESSES = 10
#: A valid pass checked for another action: a wrong widget as often as a bot, so it is
#: left out of the attack count (an ``ip_mismatch`` denial stays in: a solver farm).
ACTION_MISMATCH = Code.TOKEN_ACTION_MISMATCH
#: Failure classes a bot produces: a made-up or used-up token.
ATTACK_CLASSES = (FailureClass.VALIDATION, FailureClass.REPLAY)
#: Attack when the busiest ``TOP_ADDRESSES`` addresses hold ``CONCENTRATION`` of them...
TOP_ADDRESSES = 3
CONCENTRATION = 0.6
#: ... or when they are ``ROUTE_SHARE`` of one route's decisions (people mostly pass) ...
ROUTE_SHARE = 0.8
#: ... or when the window's daily failure rate is ``SURGE`` times that of the
#: ``BASELINE_DAYS`` before it.
SURGE = 3.0
BASELINE_DAYS = 7

LABELS = {
    "integration": _("likely an integration problem"),
    "attack": _("likely an attack"),
    "none": _("nothing unusual"),
}


@dataclass(frozen=True)
class Evidence:
    """What the rule looks at, for one window."""

    window: timedelta
    #: Decisions with a failure class, and their count by class.
    failures: int
    by_class: dict[str, int]
    #: Validation and replay failures, action mismatches left out.
    attack_failures: int
    #: The addresses with the most of those (known addresses only), most first.
    top_addresses: list[tuple[str, int]]
    #: ``(route, attack failures, decisions)`` of the routes with the most of them.
    routes: list[tuple[str, int, int]]
    #: ``token_action_mismatch`` decisions plus ``ip_mismatch`` events, and from how
    #: many distinct addresses (for an IP mismatch: the one the provider saw).
    mismatches: int
    mismatch_addresses: int
    #: Decisions and failures in the ``BASELINE_DAYS`` before the window.
    baseline_decisions: int
    baseline_failures: int


@dataclass(frozen=True)
class Verdict:
    #: ``integration``, ``attack`` or ``none``.
    kind: str
    #: One sentence: the numbers behind it.
    evidence: str
    #: The route an attack is on, when the rule that found it names one.
    route: str | None = None

    @property
    def label(self) -> str:
        return str(LABELS[self.kind])

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "verdict": self.label, "evidence": self.evidence}

    def __str__(self) -> str:
        return f"{self.label}: {self.evidence}"


def gather(
    since: timedelta,
    *,
    now: datetime | None = None,
    db: str | None = None,
    shared_keys: list[str] | None = None,
) -> Evidence:
    """The evidence for the window ``since`` before ``now``: six queries (five when
    ``shared_keys``, from :func:`~captchala_django.insights.queries.shared_scope_keys`,
    is given)."""
    db = db or db_alias()
    start = (now or timezone.now()) - since
    if shared_keys is None:
        shared_keys = queries.shared_scope_keys(db, start)
    attack = queries.failed_as(ATTACK_CLASSES, but_not=ACTION_MISMATCH)
    classes = queries.failure_counts(db, start, attack=attack)
    top = queries.top_addresses(db, start, attack, shared_keys, TOP_ADDRESSES)
    routes = queries.routes_matching(db, start, attack, limit=5)
    mismatches = queries.mismatches(db, start, shared_keys, ACTION_MISMATCH)
    before = queries.totals(db, start - timedelta(days=BASELINE_DAYS), start)
    by_class = {row["failure_class"]: row["count"] for row in classes}
    return Evidence(
        window=since,
        failures=sum(by_class.values()),
        by_class=by_class,
        attack_failures=sum(row["attack"] for row in classes),
        top_addresses=top,
        routes=routes,
        mismatches=mismatches["n"],
        mismatch_addresses=mismatches["addresses"],
        baseline_decisions=before["n"],
        baseline_failures=before["failed"],
    )


def judge(e: Evidence) -> Verdict:
    """The verdict for ``e``: the first rule that matches, in this order.

    1. **integration** — at least ``MISMATCH_ADDRESSES`` (10) distinct addresses
       had an action or IP mismatch (a valid pass used for another action, or
       solved from another address than the request's): a widget rendered for the
       wrong action, or a proxy whose address the site takes for the client's.
    2. **nothing unusual** — fewer than ``MIN_FAILURES`` (20) failures.
    3. **integration** — ``configuration``, ``provider``, ``timeout`` and
       ``persistence`` failures are at least ``INTEGRATION_SHARE`` (50%) of them.
    4. **attack** — ``validation`` and ``replay`` failures (action mismatches left out),
       at least ``MIN_FAILURES``, of which the ``TOP_ADDRESSES`` (3) busiest
       addresses hold at least ``CONCENTRATION`` (60%).
    5. **attack** — a route with at least ``MIN_FAILURES`` of them, making up at
       least ``ROUTE_SHARE`` (80%) of its decisions.
    6. **attack** — the window's daily failure rate is at least ``SURGE`` (3x) that
       of the ``BASELINE_DAYS`` (7) days before it (which had decisions).
    7. **nothing unusual** otherwise.

    Addresses are those of the checkpoints; clients without a session share one
    checkpoint per route, so their failures have no address here (they still
    count for rules 2, 3, 5 and 6).
    """
    for rule in _RULES:
        verdict = rule(e)
        if verdict is not None:
            return verdict
    return Verdict(
        "none",
        _(
            "%(n)d failures, none concentrated on a few addresses or routes, and no surge "
            "over the previous days."
        )
        % {"n": e.failures},
    )


def _mismatches(e: Evidence) -> Verdict | None:
    if e.mismatch_addresses < MISMATCH_ADDRESSES:
        return None
    return Verdict(
        "integration",
        _("%(n)d action or IP mismatches came from %(addresses)d different addresses.")
        % {"n": e.mismatches, "addresses": e.mismatch_addresses},
    )


def _too_few(e: Evidence) -> Verdict | None:
    if e.failures >= MIN_FAILURES:
        return None
    return Verdict(
        "none",
        ngettext(
            "%(n)d failure in the window (fewer than %(min)d).",
            "%(n)d failures in the window (fewer than %(min)d).",
            e.failures,
        )
        % {"n": e.failures, "min": MIN_FAILURES},
    )


def _integration(e: Evidence) -> Verdict | None:
    ours = sum(e.by_class.get(name, 0) for name in INTEGRATION_CLASSES)
    if ours < INTEGRATION_SHARE * e.failures:
        return None
    named = ", ".join(
        f"{name} {e.by_class[name]}" for name in INTEGRATION_CLASSES if e.by_class.get(name)
    )
    return Verdict(
        "integration",
        _(
            "%(n)d of %(total)d failures (%(share)d%%) are configuration, provider or "
            "database errors (%(classes)s)."
        )
        % {"n": ours, "total": e.failures, "share": _percent(ours, e.failures), "classes": named},
    )


def _concentrated(e: Evidence) -> Verdict | None:
    top = sum(n for _address, n in e.top_addresses)
    if e.attack_failures < MIN_FAILURES or top < CONCENTRATION * e.attack_failures:
        return None
    return Verdict(
        "attack",
        _(
            "%(share)d%% of %(total)d validation and replay failures came from %(count)d "
            "addresses (%(addresses)s)."
        )
        % {
            "share": _percent(top, e.attack_failures),
            "total": e.attack_failures,
            "count": len(e.top_addresses),
            "addresses": ", ".join(address for address, _n in e.top_addresses),
        },
    )


def _route(e: Evidence) -> Verdict | None:
    for route, attack, total in e.routes:
        if attack >= MIN_FAILURES and attack >= ROUTE_SHARE * total:
            return Verdict(
                "attack",
                _(
                    "%(n)d of %(total)d checks on %(route)s (%(share)d%%) failed as "
                    "validation or replay."
                )
                % {
                    "n": attack,
                    "total": total,
                    "route": route or "-",
                    "share": _percent(attack, total),
                },
                route=route,
            )
    return None


def _surge(e: Evidence) -> Verdict | None:
    days = max(e.window.total_seconds(), 1.0) / 86400
    rate, usual = e.failures / days, e.baseline_failures / BASELINE_DAYS
    if not e.baseline_decisions or rate < SURGE * usual:
        return None
    return Verdict(
        "attack",
        _("%(rate)s failures a day against %(usual)s a day over the previous %(days)d days.")
        % {"rate": _figure(rate), "usual": _figure(usual), "days": BASELINE_DAYS},
    )


#: The rules of :func:`judge`, in order.
_RULES: tuple[Callable[[Evidence], Verdict | None], ...] = (
    _mismatches,
    _too_few,
    _integration,
    _concentrated,
    _route,
    _surge,
)


def _percent(part: float, whole: float) -> int:
    return round(100 * part / whole) if whole else 0


def _figure(value: float) -> str:
    return f"{value:.0f}" if value >= 10 else f"{value:.1f}"
