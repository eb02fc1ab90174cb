"""The checks made after the load: from the clients' logs, the sandbox and the database.

Each check adds figures (printed whatever happens) and violations (each printed,
and the run exits non-zero). One module per family: ``traffic`` (statuses, connection
errors, latency), ``trust`` (bots, scopes, provider calls, the policy), ``database``
(the rows), ``budget`` (server-token issue calls); ``common`` holds what they share.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..faults import Window
from .budget import Budget
from .common import CP, EV, PT, SESSIONS, Limits, Report
from .database import Database
from .logs import read_logs, server_tracebacks
from .traffic import Traffic
from .trust import Trust

__all__ = ["CP", "EV", "PT", "SESSIONS", "Checker", "Limits", "Report", "check"]


class Checker(Traffic, Trust, Database, Budget):
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
