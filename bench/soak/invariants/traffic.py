"""Invariants on what came back and how fast: the volume figures, statuses, connection
errors, latency."""

from __future__ import annotations

from collections import Counter

from ..faults import INFRA_FAULTS
from .common import DOCUMENTED, CheckerBase, cap, grace_after, in_windows, overlaps, percentile


class Traffic(CheckerBase):
    def volume(self) -> None:
        r = self.report
        errors = [x for x in self.all if x["kind"] == "client_error"]
        cap(r, "client errors (the soak's own clients failed)", [x["error"] for x in errors])
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
            inside = [x for x in self.guarded if overlaps(x, w, after=grace_after(w))]
            mix = Counter(str(x["status"] or x["error"]) for x in inside)
            r.figure(
                f"window {w.name:17} +{w.start - start:6.1f} s .. +{w.end - start:6.1f} s "
                f"({w.detail}): {len(inside)} guarded requests; "
                + ", ".join(f"{k} {n}" for k, n in sorted(mix.items()))
            )

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
        cap(r, "server errors (HTTP 5xx other than 503)", unexplained)
        cap(
            r,
            "HTTP 500 raised inside captchala_django",
            [f"{t['server']} {t['path']} at {t['where']}" for t in ours],
        )
        cap(r, "undocumented statuses", undocumented)
        cap(r, "503/429 without Retry-After", no_retry_after)

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
        cap(self.report, "connection errors outside the worker-kill/PgBouncer windows", stray)

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
        cap(self.report, "requests slower than the bound", slow)
