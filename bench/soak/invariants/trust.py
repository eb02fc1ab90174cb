"""Invariants on who got through: no bot, every allowed request on a minted token's scope,
one validate call per token, and the policy inside and outside the fault windows."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from ..faults import INFRA_FAULTS, PROVIDER_FAULTS
from ..load import BOT_ROLES
from .common import USER_ROLES, CheckerBase, cap, in_windows, short


class Trust(CheckerBase):
    def bots(self) -> None:
        through = [
            f"{x['scenario']} {x['path']} token {short(x['token'])} -> {x['status']}"
            + (f" (the token's requests: {self.history(x['token'])})" if x["token"] else "")
            for x in self.guarded
            if x["role"] in BOT_ROLES and x["allowed"]
        ]
        bot_posts = [x for x in self.guarded if x["role"] in BOT_ROLES]
        self.report.figure(f"bots: {len(bot_posts)} guarded requests, {len(through)} allowed")
        cap(self.report, "bots got through", through)

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
                strangers.append(f"{x['path']} token {short(x['token'])}")
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
        shared = [f"{short(t)} in {len(s)} scopes" for t, s in token_scopes.items() if len(s) > 1]
        twice = [f"{short(t)} allowed {n} times" for t, n in comments.items() if n > 1]
        r.figure(
            f"scopes: {len(opened)} opened by {len(token_scopes)} minted tokens; "
            f"{sum(comments.values())} comments, one token each"
        )
        cap(r, "allowed with a token the sandbox never minted", strangers)
        cap(r, "allowed without a token on a scope no minted token opened", riders)
        cap(r, "a token allowed for more than one scope", shared)
        cap(r, "a one-submission (field) token allowed more than once", twice)

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
            f"{short(t)}: {n} calls, {allowed[t]} released/cut/unledgered requests"
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
        cap(r, "tokens sent to the provider more than once without a released claim", stray)
        cap(r, "validate calls for tokens no client sent", [short(t) for t in unknown])

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
                        fail_open.append(f"{x['path']} {short(token)}")
                continue
            clean += 1
            if any(x["allowed"] for x in reqs) and not any(x["status"] == 503 for x in reqs):
                clean_ok += 1
            else:
                statuses = ",".join(str(x["status"] or x["error"]) for x in reqs)
                refused.append(
                    f"{reqs[0]['scenario']} {reqs[0]['path']} {short(token)}: {statuses}"
                )
        r.figure(
            f"real users' tokens: {clean} outside fault windows ({clean_ok} allowed), "
            f"{inside} met a fault (" + ", ".join(f"{k} {n}" for k, n in sorted(mix.items())) + ")"
        )
        cap(r, "valid tokens refused outside the fault windows", refused)
        cap(r, "fail-open answers under the deny policy", fail_open)
        cap(r, "statuses the policy does not document inside fault windows", odd)
