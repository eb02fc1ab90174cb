"""Invariants on the rows, read directly from PostgreSQL (not through PgBouncer): one
checkpoint per scope, event versions 1..version, no orphans, no claim left pending, no
pass for a token the sandbox never minted."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg

from ..load import BOT_ROLES
from .common import CP, EV, PT, SESSIONS, CheckerBase, cap, digest, in_windows, short

#: ``conn.execute`` of the connection the checks share.
Query = Callable[..., Any]


class Database(CheckerBase):
    def database(self) -> None:
        secret = self.limits.app_secret
        minted = {digest(secret, t): t for t in self.minted}
        bot_tokens = {
            digest(secret, x["token"]): x["token"]
            for x in self.guarded
            if x["role"] in BOT_ROLES and x["token"] and x["token"] not in self.minted
        }
        with psycopg.connect(self.db_url, autocommit=True) as conn:
            q = conn.execute
            self._row_counts(q)
            self._checkpoint_versions(q)
            self._orphans(q, {**bot_tokens, **minted})
            self._pending(q, minted, bot_tokens)
            self._passes(q, minted)

    def _row_counts(self, q: Query) -> None:
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
        self.report.figure(
            "rows: "
            + ", ".join(f"{k} {v}" for k, v in counts.items())
            + f"; checkpoints by status {by_status}; ledger by state {by_state}"
        )

    def _checkpoint_versions(self, q: Query) -> None:
        """One checkpoint row per scope; its version is the number of its events."""
        r = self.report
        dupes = q(f"SELECT scope_key, count(*) FROM {CP} GROUP BY 1 HAVING count(*) > 1").fetchall()
        cap(r, "duplicate checkpoint rows for one scope", [f"{k[:12]} x{n}" for k, n in dupes])
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
        cap(r, "checkpoint version is not the number of its committed writes", gaps)

    def _orphans(self, q: Query, tokens: dict[str, str]) -> None:
        """No event without its checkpoint; no ledger row without its scope's checkpoint,
        but a failed write's (class ``persistence``) or a claim a check left pending
        while the database was down (its write could not reach the database either)."""
        r = self.report
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
        bad_orphans, failed_writes = [], 0
        for d, state, fc in orphans:
            outage = state == "pending" and self.unsettled_by_outage(tokens.get(d, d))
            if fc == "persistence" or outage:
                failed_writes += 1
            else:
                bad_orphans.append(f"{d[:10]} {state} {fc or 'pass'}")
        cap(r, "orphan ledger rows (no checkpoint for their scope)", bad_orphans)
        if failed_writes:
            r.figure(f"ledger rows of a write the database did not take: {failed_writes}")

    def _pending(self, q: Query, minted: dict[str, str], bot_tokens: dict[str, str]) -> None:
        """No claim left pending, but one a check left while the database was down."""
        r = self.report
        pending = q(f"SELECT token_digest, created_at FROM {PT} WHERE state = 'pending'").fetchall()
        left, settled_later = [], 0
        for d, created in pending:
            token = minted.get(d, bot_tokens.get(d, d))
            if self.unsettled_by_outage(token):
                settled_later += 1
            else:
                history = self.history(token)
                left.append(f"{short(token)} claimed {created:%H:%M:%S}: {history}")
        if settled_later:
            r.figure(
                f"claims left pending by a check that ran while the database was down "
                f"(taken over if the token comes back): {settled_later}"
            )
        cap(r, "ledger rows left pending", left)

    def _passes(self, q: Query, minted: dict[str, str]) -> None:
        """Every pass (a checkpoint's, a ledger row's) is a minted token's, once."""
        r = self.report
        passed = q(
            f"SELECT token_digest, count(*) FROM {CP} WHERE status = 'passed' GROUP BY 1"
        ).fetchall()
        cap(
            r,
            "passed checkpoints whose token the sandbox never minted",
            [d[:12] for d, _ in passed if d not in minted],
        )
        cap(
            r,
            "one token passing several checkpoints",
            [f"{short(minted.get(d))} x{n}" for d, n in passed if n > 1],
        )
        allowed_rows = q(f"SELECT token_digest FROM {PT} WHERE allowed AND NOT degraded").fetchall()
        cap(
            r,
            "ledger passes for tokens the sandbox never minted",
            [d[:12] for (d,) in allowed_rows if d not in minted],
        )

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
