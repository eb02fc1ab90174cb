"""The checks made after the load: from the clients' logs, the sandbox and the database.

Each check adds figures (printed whatever happens) and violations (each printed,
and the run exits non-zero). The database is read directly (not through PgBouncer).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from .faults import INFRA_FAULTS, PROVIDER_FAULTS, Window
from .load import BOT_ROLES

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


def read_logs(logdir: Path) -> list[dict[str, Any]]:
    records = []
    for path in sorted(logdir.glob("*.jsonl")):
        with open(path) as lines:
            for line in lines:
                line = line.strip()
                if line:
                    records.append(json.loads(line))
    return records


def server_tracebacks(paths: list[Path]) -> list[dict[str, Any]]:
    """The 500s the app servers logged (Django's ``django.request`` errors), each with
    whether its traceback runs through captchala_django and its innermost frames."""
    found = []
    for path in paths:
        text = path.read_text(errors="replace") if path.exists() else ""
        for block in text.split(" django.request Internal Server Error: ")[1:]:
            lines = block.splitlines()
            body = []
            for line in lines[1:]:
                if line[:2] == "20" or line[:3] == "[20":  # the next log line
                    break
                body.append(line)
            final = "\n".join(body).split("the direct cause of the following exception:")[-1]
            frames = re.findall(r'File "([^"]+)", line (\d+), in (\w+)', final)
            ours = [i for i, f in enumerate(frames) if "/captchala_django/" in f[0]]
            below = frames[ours[-1] + 1 :] if ours else frames
            # The project's own use of the session is not the package's, even below a
            # package frame: a template of the project reading ``request.user`` (the
            # challenge page renders the project's template), DRF's authentication.
            if any("rest_framework" in f[0] for f in below):
                package, via = False, "DRF authentication"
            elif any("/django/template/" in f[0] for f in below):
                package, via = False, "request.user in a template"
            elif ours:
                package, via = True, ""
            else:
                middleware = [f for f in frames if "middleware" in f[0]]
                via = f"{middleware[-1][0].split('/')[-2]} middleware" if middleware else "Django"
                package = False
            if package:
                chain = [frames[i] for i in ours[-3:]]
            else:
                auth = [f for f in below if "contrib/auth" in f[0] or "sessions" in f[0]]
                chain = auth[:1] or frames[-1:]
            found.append(
                {
                    "server": path.stem,
                    "path": lines[0].strip() if lines else "?",
                    "package": package,
                    "where": " > ".join(
                        f"{'/'.join(f[0].split('/')[-2:])}:{f[1]} {f[2]}" for f in chain
                    )
                    + (f" ({via})" if via else ""),
                }
            )
    return found


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def overlaps(record: dict[str, Any], window: Window, before: float = 0.3, after: float = 0.3):
    return record["t0"] <= window.end + after and record["t1"] >= window.start - before


def _grace_after(window: Window) -> float:
    # The database comes back a moment after PgBouncer does: connections already refused.
    return 1.0 if window.name in ("pgbouncer-restart", "pg-terminate") else 0.3


def in_windows(record: dict[str, Any], windows: list[Window], names=None) -> list[Window]:
    return [
        w
        for w in windows
        if (names is None or w.name in names) and overlaps(record, w, after=_grace_after(w))
    ]


def digest(secret: str, token: str) -> str:
    return hmac.new(secret.encode(), token.encode(), hashlib.sha256).hexdigest()


def _short(token: str | None) -> str:
    return (token or "-")[:10] + "…"


def _cap(report: Report, title: str, items: list[str], limit: int = 5) -> None:
    """One violation per problem kind, with its first few cases."""
    if items:
        shown = "; ".join(items[:limit])
        more = f" (+{len(items) - limit} more)" if len(items) > limit else ""
        report.violate(f"{title}: {len(items)}: {shown}{more}")


class Checker:
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

    def run(self) -> Report:
        self.volume()
        self.statuses()
        self.connection_errors()
        self.bots()
        self.scopes()
        self.provider_calls()
        self.database()
        self.policy()
        self.latency()
        self.budget()
        return self.report

    # ------------------------------------------------------------------ figures

    def volume(self) -> None:
        r = self.report
        errors = [x for x in self.all if x["kind"] == "client_error"]
        _cap(r, "client errors (the soak's own clients failed)", [x["error"] for x in errors])
        start, stop = self.load
        during = [x for x in self.app if x["role"] != "probe"]
        r.requests = len(during)
        r.rate = len(during) / max(stop - start, 1e-9)
        by_role = Counter(x["role"] for x in during)
        r.figure(
            f"requests: {len(during)} in {stop - start:.0f} s ({r.rate:.1f}/s); "
            + ", ".join(f"{role} {n}" for role, n in sorted(by_role.items()))
        )
        by_kind = Counter(f"{x['scenario']}/{x['kind']}" for x in during)
        r.figure("by scenario/kind: " + ", ".join(f"{k} {n}" for k, n in sorted(by_kind.items())))
        statuses = Counter(str(x["status"] or x["error"]) for x in self.app)
        r.figure("statuses: " + ", ".join(f"{k} {n}" for k, n in sorted(statuses.items())))
        fast = [x["ms"] for x in self.guarded if x["allowed"] and not x["token"]]
        full = [x["ms"] for x in self.guarded if x["token"] and x["status"] is not None]
        r.fast = (percentile(fast, 50), percentile(fast, 99))
        r.full = (percentile(full, 50), percentile(full, 99))
        r.figure(
            f"fast path (allowed, no token): {len(fast)} requests, p50 {r.fast[0]:.1f} ms, "
            f"p99 {r.fast[1]:.1f} ms, max {max(fast, default=0):.0f} ms"
        )
        r.figure(
            f"full check (carried a token): {len(full)} requests, p50 {r.full[0]:.1f} ms, "
            f"p99 {r.full[1]:.1f} ms, max {max(full, default=0):.0f} ms"
        )
        for w in sorted(self.windows, key=lambda w: w.start):
            inside = [x for x in self.guarded if overlaps(x, w, after=_grace_after(w))]
            mix = Counter(str(x["status"] or x["error"]) for x in inside)
            r.figure(
                f"window {w.name:17} +{w.start - start:6.1f} s .. +{w.end - start:6.1f} s "
                f"({w.detail}): {len(inside)} guarded requests; "
                + ", ".join(f"{k} {n}" for k, n in sorted(mix.items()))
            )

    # ------------------------------------------------------------------ HTTP

    def statuses(self) -> None:
        """5xx other than 503 are server errors, wherever they were raised."""
        r = self.report
        errors, outage, undocumented, no_retry_after = [], [], [], []
        db_windows = {"pgbouncer-restart", "pg-terminate"}
        for x in self.app:
            status = x["status"]
            if status is None:
                continue
            where = f"{x['method']} {x['path']} {x['scenario']}/{x['kind']}"
            if status >= 500 and status != 503:
                at = f"{status} {where} at +{x['t0'] - self.load[0]:.1f} s"
                (outage if in_windows(x, self.windows, db_windows) else errors).append(at)
            elif status not in DOCUMENTED:
                undocumented.append(f"{status} {where}")
            elif status in (503, 429) and not x["retry_after"]:
                no_retry_after.append(f"{status} {where}")
        ours = [t for t in self.tracebacks if t["package"]]
        # No excuse: the example project answers a database outage with 503 and
        # Retry-After (demo.middleware), as the README advises every site to.
        unexplained = errors + outage
        r.server_errors = len(unexplained)
        if self.tracebacks:
            places = Counter(
                ("package: " if t["package"] else "outside the package: ") + t["where"]
                for t in self.tracebacks
            )
            r.figure(
                f"HTTP 500 tracebacks in the servers' logs: {len(self.tracebacks)} "
                f"({len(ours)} through captchala_django): "
                + "; ".join(f"{n}x {k}" for k, n in places.most_common())
            )
        _cap(r, "server errors (HTTP 5xx other than 503)", unexplained)
        _cap(
            r,
            "HTTP 500 raised inside captchala_django",
            [f"{t['server']} {t['path']} at {t['where']}" for t in ours],
        )
        _cap(r, "undocumented statuses", undocumented)
        _cap(r, "503/429 without Retry-After", no_retry_after)

    def connection_errors(self) -> None:
        stray = []
        for x in self.app:
            if x["status"] is not None:
                continue
            if x["error"] == "ReadTimeout" or not in_windows(x, self.windows, INFRA_FAULTS):
                stray.append(
                    f"{x['error']} {x['path']} {x['scenario']} +{x['t0'] - self.load[0]:.1f} s"
                )
        cut = sum(1 for x in self.app if x["status"] is None)
        self.report.figure(
            f"connection errors: {cut} (outside worker-kill/PgBouncer windows: {len(stray)})"
        )
        _cap(self.report, "connection errors outside the worker-kill/PgBouncer windows", stray)

    # ------------------------------------------------------------------ trust

    def bots(self) -> None:
        through = [
            f"{x['scenario']} {x['path']} token {_short(x['token'])} -> {x['status']}"
            + (f" (the token's requests: {self.history(x['token'])})" if x["token"] else "")
            for x in self.guarded
            if x["role"] in BOT_ROLES and x["allowed"]
        ]
        bot_posts = [x for x in self.guarded if x["role"] in BOT_ROLES]
        self.report.figure(f"bots: {len(bot_posts)} guarded requests, {len(through)} allowed")
        _cap(self.report, "bots got through", through)

    @staticmethod
    def scope_of(x: dict[str, Any], after: bool) -> tuple[str, ...]:
        if x["path"].startswith("/api/transfer"):
            return ("ip", x["path"], x["addr"])
        session = (x["session_after"] or x["session"]) if after else x["session"]
        return ("session", x["path"], session or "")

    def scopes(self) -> None:
        r = self.report
        token_scopes: dict[str, set] = defaultdict(set)
        opened: dict[tuple, float] = {}
        strangers, comments = [], Counter()
        for x in sorted(self.guarded, key=lambda x: x["t1"]):
            if not x["allowed"] or x["role"] in BOT_ROLES or not x["token"]:
                continue
            if x["token"] not in self.minted:
                strangers.append(f"{x['path']} token {_short(x['token'])}")
            if x["path"].startswith("/api/comments"):
                comments[x["token"]] += 1
                continue
            scope = self.scope_of(x, after=True)
            token_scopes[x["token"]].add(scope)
            opened[scope] = min(opened.get(scope, x["t0"]), x["t0"])
        riders = []
        for x in self.guarded:
            if x["allowed"] and not x["token"] and x["role"] not in BOT_ROLES:
                scope = self.scope_of(x, after=False)
                if scope not in opened or opened[scope] > x["t1"]:
                    riders.append(f"{x['scenario']} {x['path']} at +{x['t0'] - self.load[0]:.1f} s")
        shared = [f"{_short(t)} in {len(s)} scopes" for t, s in token_scopes.items() if len(s) > 1]
        twice = [f"{_short(t)} allowed {n} times" for t, n in comments.items() if n > 1]
        r.figure(
            f"scopes: {len(opened)} opened by {len(token_scopes)} minted tokens; "
            f"{sum(comments.values())} comments, one token each"
        )
        _cap(r, "allowed with a token the sandbox never minted", strangers)
        _cap(r, "allowed without a token on a scope no minted token opened", riders)
        _cap(r, "a token allowed for more than one scope", shared)
        _cap(r, "a one-submission (field) token allowed more than once", twice)

    def provider_calls(self) -> None:
        """One validate call per token. A claim released without a verdict (answered 503),
        a request cut with its worker, or a check while the ledger was unreachable (the
        database windows) each allow the token one more call: the documented retries."""
        r = self.report
        allowed: Counter[str] = Counter()
        db_windows = {"pgbouncer-restart", "pg-terminate"}
        for x in self.guarded:
            if x["token"]:
                allowed[x["token"]] += int(
                    x["status"] in (503, None) or bool(in_windows(x, self.windows, db_windows))
                )
        sent = {x["token"] for x in self.guarded if x["token"]}
        multi = {t: n for t, n in self.calls.items() if n > 1}
        stray = [
            f"{_short(t)}: {n} calls, {allowed[t]} released/cut/unledgered requests"
            for t, n in multi.items()
            if n > 1 + allowed[t]
        ]
        unknown = [t for t in self.calls if t not in sent]
        total = sum(self.calls.values())
        r.figure(
            f"provider: {total} validate calls for {len(self.calls)} tokens; "
            f"{len(multi)} tokens called more than once ({len(multi) - len(stray)} of them "
            f"after a released or abandoned claim); issue calls {self.stats.get('issue', 0)}"
        )
        _cap(r, "tokens sent to the provider more than once without a released claim", stray)
        _cap(r, "validate calls for tokens no client sent", [_short(t) for t in unknown])

    # ------------------------------------------------------------------ the database

    def database(self) -> None:
        r = self.report
        secret = self.limits.app_secret
        minted = {digest(secret, t): t for t in self.minted}
        bot_tokens = {
            digest(secret, x["token"]): x["token"]
            for x in self.guarded
            if x["role"] in BOT_ROLES and x["token"] and x["token"] not in self.minted
        }
        with psycopg.connect(self.db_url, autocommit=True) as conn:
            q = conn.execute
            counts = {
                name: q(f"SELECT count(*) FROM {table}").fetchone()[0]
                for name, table in (
                    ("checkpoints", CP),
                    ("events", EV),
                    ("ledger", PT),
                    ("sessions", SESSIONS),
                )
            }
            by_status = dict(q(f"SELECT status, count(*) FROM {CP} GROUP BY 1").fetchall())
            by_state = dict(q(f"SELECT state, count(*) FROM {PT} GROUP BY 1").fetchall())
            r.figure(
                "rows: "
                + ", ".join(f"{k} {v}" for k, v in counts.items())
                + f"; checkpoints by status {by_status}; ledger by state {by_state}"
            )
            dupes = q(
                f"SELECT scope_key, count(*) FROM {CP} GROUP BY 1 HAVING count(*) > 1"
            ).fetchall()
            _cap(r, "duplicate checkpoint rows for one scope", [f"{k[:12]} x{n}" for k, n in dupes])
            versions = q(
                f"SELECT c.id, c.version, coalesce(array_agg(DISTINCT e.version) "
                f"FILTER (WHERE e.id IS NOT NULL), '{{}}') FROM {CP} c "
                f"LEFT JOIN {EV} e ON e.checkpoint_id = c.id GROUP BY c.id, c.version"
            ).fetchall()
            gaps = [
                f"checkpoint {cid} version {v}, event versions {sorted(ev)[:8]}"
                for cid, v, ev in versions
                if sorted(ev) != list(range(1, v + 1))
            ]
            _cap(r, "checkpoint version is not the number of its committed writes", gaps)
            orphan_events = q(
                f"SELECT count(*) FROM {EV} e LEFT JOIN {CP} c "
                "ON c.id = e.checkpoint_id WHERE c.id IS NULL"
            ).fetchone()[0]
            if orphan_events:
                r.violate(f"orphan events: {orphan_events}")
            orphans = q(
                f"SELECT token_digest, state, failure_class FROM {PT} p WHERE NOT EXISTS "
                f"(SELECT 1 FROM {CP} c WHERE c.scope_key = p.scope_key)"
            ).fetchall()
            bad_orphans = [
                f"{d[:10]} {state} {fc or 'pass'}"
                for d, state, fc in orphans
                if fc != "persistence"
            ]
            _cap(r, "orphan ledger rows (no checkpoint for their scope)", bad_orphans)
            if len(orphans) > len(bad_orphans):
                written = len(orphans) - len(bad_orphans)
                r.figure(f"ledger rows of a failed write (persistence): {written}")
            pending = q(
                f"SELECT token_digest, created_at FROM {PT} WHERE state = 'pending'"
            ).fetchall()
            left, settled_later = [], 0
            for d, created in pending:
                token = minted.get(d, bot_tokens.get(d, d))
                if self.unsettled_by_outage(token):
                    settled_later += 1
                else:
                    history = self.history(token)
                    left.append(f"{_short(token)} claimed {created:%H:%M:%S}: {history}")
            if settled_later:
                r.figure(
                    f"claims left pending by a check that ran while the database was down "
                    f"(taken over if the token comes back): {settled_later}"
                )
            _cap(r, "ledger rows left pending", left)
            passed = q(
                f"SELECT token_digest, count(*) FROM {CP} WHERE status = 'passed' GROUP BY 1"
            ).fetchall()
            _cap(
                r,
                "passed checkpoints whose token the sandbox never minted",
                [d[:12] for d, _ in passed if d not in minted],
            )
            _cap(
                r,
                "one token passing several checkpoints",
                [f"{_short(minted.get(d))} x{n}" for d, n in passed if n > 1],
            )
            allowed_rows = q(
                f"SELECT token_digest FROM {PT} WHERE allowed AND NOT degraded"
            ).fetchall()
            _cap(
                r,
                "ledger passes for tokens the sandbox never minted",
                [d[:12] for (d,) in allowed_rows if d not in minted],
            )

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

    def unsettled_by_outage(self, token: str) -> bool:
        """A claim the documented failure path may leave pending: a check of this token
        ran while the database was unreachable, so neither its write nor the claim's own
        settling could reach the database (a valid verdict allowed as ``persistence``, a
        bad one denied unrecorded). Later requests with the token (a retry, a bot's
        replay) meet the claim and are refused, so it need not be the last one."""
        db_windows = {"pgbouncer-restart", "pg-terminate"}
        return any(
            in_windows(x, self.windows, db_windows) for x in self.guarded if x["token"] == token
        )

    # ------------------------------------------------------------------ policy

    def policy(self) -> None:
        r = self.report
        by_token: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for x in self.guarded:
            if x["token"] in self.minted and x["role"] in USER_ROLES:
                by_token[x["token"]].append(x)
        clean_ok = clean = inside = 0
        refused, fail_open, odd = [], [], []
        mix: Counter[str] = Counter()
        for token, reqs in by_token.items():
            if any(in_windows(x, self.windows) for x in reqs):
                inside += 1
                for x in reqs:
                    mix[str(x["status"] or x["error"])] += 1
                    if x["status"] not in (200, 201, 403, 500, 503, None):  # 500: above
                        odd.append(f"{x['status']} {x['path']}")
                    provider = in_windows(x, self.windows, PROVIDER_FAULTS)
                    infra = in_windows(x, self.windows, INFRA_FAULTS)
                    if x["allowed"] and x["degraded"] and provider and not infra:
                        fail_open.append(f"{x['path']} {_short(token)}")
                continue
            clean += 1
            if any(x["allowed"] for x in reqs) and not any(x["status"] == 503 for x in reqs):
                clean_ok += 1
            else:
                statuses = ",".join(str(x["status"] or x["error"]) for x in reqs)
                refused.append(
                    f"{reqs[0]['scenario']} {reqs[0]['path']} {_short(token)}: {statuses}"
                )
        r.figure(
            f"real users' tokens: {clean} outside fault windows ({clean_ok} allowed), "
            f"{inside} met a fault (" + ", ".join(f"{k} {n}" for k, n in sorted(mix.items())) + ")"
        )
        _cap(r, "valid tokens refused outside the fault windows", refused)
        _cap(r, "fail-open answers under the deny policy", fail_open)
        _cap(r, "statuses the policy does not document inside fault windows", odd)

    def latency(self) -> None:
        slow = [
            f"{x['ms']:.0f} ms {x['method']} {x['path']} {x['scenario']}/{x['kind']} "
            f"+{x['t0'] - self.load[0]:.1f} s"
            for x in sorted(self.app, key=lambda x: -x["ms"])
            if x["status"] is not None and x["kind"] != "killed" and x["ms"] > self.limits.slowest
        ]
        worst = max((x["ms"] for x in self.app if x["kind"] != "killed"), default=0)
        self.report.figure(
            f"slowest request: {worst:.0f} ms (bound {self.limits.slowest:.0f} ms: "
            "provider timeout + claim margin + 1 s)"
        )
        _cap(self.report, "requests slower than the bound", slow)

    def budget(self) -> None:
        """Issue calls per client (its session, else its address) and budget window."""
        w = self.limits.budget_window
        certain: dict[tuple, Counter] = defaultdict(Counter)
        ambiguous: dict[tuple, list[tuple[int, int]]] = defaultdict(list)
        observed = 0
        for x in self.app:
            if x.get("issue") not in ("token", "error"):
                continue
            observed += 1
            if x["session"] and not x["forged_session"]:
                client = ("session", x["session"])
            else:
                client = ("ip", x["addr"])
            first, last = int(x["t0"] // w), int(x["t1"] // w)
            if first == last:
                certain[client][first] += 1
            else:
                ambiguous[client].append((first, last))
        over = []
        most = 0
        for client in set(certain) | set(ambiguous):
            slots = certain[client]
            for first, last in sorted(ambiguous[client]):
                slots[first if slots[first] < self.limits.budget else last] += 1
            for n in slots.values():
                most = max(most, n)
                if n > self.limits.budget:
                    over.append(f"{client[0]} {client[1]}: {n} in one minute")
        unknown = sum(1 for x in self.app if x["status"] is None or x["status"] >= 500)
        issued = int(self.stats.get("issue", 0))
        self.report.figure(
            f"server-token budget: {observed} issue calls seen by {len(certain)} clients, "
            f"at most {most} per client per minute (budget {self.limits.budget}); "
            f"the sandbox counted {issued}"
        )
        _cap(self.report, "server-token budget exceeded", over)
        if issued > observed + unknown:
            self.report.violate(
                f"the sandbox served {issued} issue calls, the clients account for {observed}"
            )


def check(
    logdir: Path,
    windows: list[Window],
    calls: dict[str, int],
    stats: dict[str, Any],
    db_url: str,
    limits: Limits,
    load: tuple[float, float],
    server_logs: list[Path],
) -> Report:
    records = read_logs(logdir)
    tracebacks = server_tracebacks(server_logs)
    return Checker(records, windows, calls, stats, db_url, limits, load, tracebacks).run()
