"""What every family of invariants shares: the tables, the limits, the report, and
the helpers that place a request in the fault windows."""

from __future__ import annotations

import hashlib
import hmac
import math
from dataclasses import dataclass, field
from typing import Any

from ..faults import Window

CP = "captchala_django_checkpoint"
EV = "captchala_django_checkpointevent"
PT = "captchala_django_passtoken"
SESSIONS = "django_session"

#: The statuses the package documents for a refusal (and CSRF's own 403).
DOCUMENTED = {200, 201, 400, 403, 429, 503}
USER_ROLES = frozenset({"wsgi_users", "asgi_users", "api_users", "victim"})


@dataclass
class Limits:
    timeout: float  # CAPTCHALA_TIMEOUT
    claim_margin: float  # CAPTCHALA_CLAIM_MARGIN
    budget: int  # CAPTCHALA_SERVER_TOKEN_BUDGET
    app_secret: str
    budget_window: int = 60

    @property
    def slowest(self) -> float:
        """The longest a request may take, in ms: timeout + claim margin + 1 s."""
        return (self.timeout + self.claim_margin + 1.0) * 1000


@dataclass
class Report:
    figures: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    requests: int = 0
    rate: float = 0.0
    fast: tuple[float, float] = (0.0, 0.0)
    full: tuple[float, float] = (0.0, 0.0)
    server_errors: int = 0

    def figure(self, text: str) -> None:
        self.figures.append(text)

    def violate(self, text: str) -> None:
        self.violations.append(text)


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def overlaps(record: dict[str, Any], window: Window, before: float = 0.3, after: float = 0.3):
    return record["t0"] <= window.end + after and record["t1"] >= window.start - before


def grace_after(window: Window) -> float:
    # The database comes back a moment after PgBouncer does: connections already refused.
    return 1.0 if window.name in ("pgbouncer-restart", "pg-terminate") else 0.3


def in_windows(record: dict[str, Any], windows: list[Window], names=None) -> list[Window]:
    return [
        w
        for w in windows
        if (names is None or w.name in names) and overlaps(record, w, after=grace_after(w))
    ]


def digest(secret: str, token: str) -> str:
    return hmac.new(secret.encode(), token.encode(), hashlib.sha256).hexdigest()


def short(token: str | None) -> str:
    return (token or "-")[:10] + "…"


def cap(report: Report, title: str, items: list[str], limit: int = 5) -> None:
    """One violation per problem kind, with its first few cases."""
    if items:
        shown = "; ".join(items[:limit])
        more = f" (+{len(items) - limit} more)" if len(items) > limit else ""
        report.violate(f"{title}: {len(items)}: {shown}{more}")


class CheckerBase:
    """The run's records, windows and sandbox figures, and the report the checks fill."""

    def __init__(
        self,
        records: list[dict[str, Any]],
        windows: list[Window],
        calls: dict[str, int],
        stats: dict[str, Any],
        db_url: str,
        limits: Limits,
        load: tuple[float, float],
        tracebacks: list[dict[str, Any]] | None = None,
    ) -> None:
        self.tracebacks = tracebacks or []
        self.all = records
        self.windows = windows
        self.calls = calls
        self.stats = stats
        self.db_url = db_url
        self.limits = limits
        self.load = load
        self.report = Report()
        self.app = [r for r in records if r["kind"] not in ("mint", "client_error")]
        self.guarded = [r for r in self.app if r.get("guarded")]
        self.minted = {r["token"] for r in records if r["kind"] == "mint"}

    def history(self, token: str) -> str:
        """The requests that carried ``token``: who, where, when, what came back, and the
        fault windows they overlapped (so that a violation in CI can be read from its line)."""
        reqs = sorted((x for x in self.guarded if x["token"] == token), key=lambda x: x["t0"])
        lines = []
        for x in reqs:
            start, end = x["t0"] - self.load[0], x["t1"] - self.load[0]
            faults = ",".join(w.name for w in in_windows(x, self.windows)) or "no fault"
            lines.append(
                f"{x['role']} {x['kind']} {x['path']} +{start:.1f}..+{end:.1f} s "
                f"-> {x['status'] or x['error']} ({faults})"
            )
        return "; ".join(lines) or "no request logged"
