"""The fault schedule: what goes wrong, when, scaled to the run's duration.

Every fault records its window (wall-clock start and end, comparable with the
clients' ``time.time()``): a provider latency spike below the provider timeout
and one above it, provider 5xx, the provider dropping connections, PgBouncer
killed and started again, ``pg_terminate_backend`` on every server connection of
the app, and one gunicorn worker killed with SIGKILL in the middle of a request
(its claim in the replay ledger left behind; the user retries the token once the
claim counts as abandoned, and the claim is taken over: ``worker_kill.py``).
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from dataclasses import asdict, dataclass
from typing import Any

import requests

from . import worker_kill
from .services import Services
from .transport import Http, JsonlLog

#: Provider faults: the policy decides inside them.
PROVIDER_FAULTS = frozenset({"latency", "latency-timeout", "error", "drop"})
#: Faults that may cut a connection or the database.
INFRA_FAULTS = frozenset({"worker-kill", "pgbouncer-restart", "pg-terminate"})


@dataclass
class Window:
    name: str
    start: float
    end: float
    detail: str = ""


@dataclass
class Step:
    name: str
    at: float  # seconds after the load starts
    length: float
    options: dict[str, Any]


def plan(duration: float, claim_abandoned_after: float) -> list[Step]:
    """The schedule: each fault once, in sequence, after a clean warm-up and before a clean
    tail. At 180 s the provider's 5xx lasts 10 s; at 30 s every fault is brief."""
    u = duration / 180.0
    gap = max(2.0, 8 * u)
    t = max(3.0, 0.1 * duration)
    steps = []
    first = max(3.0, 12 * u)
    steps.append(Step("latency", t, first, {"latency_ms": 1200}))
    # The worker kill starts inside the slow provider (the victim's request is then in
    # flight long enough to be killed mid-request) and lasts past its claim's abandonment.
    steps.append(Step("worker-kill", t + 0.5, claim_abandoned_after + 2.5, {}))
    t += first
    second = max(2.0, 6 * u)
    steps.append(Step("latency-timeout", t, second, {"latency_ms": 2500}))
    t += second + gap
    error = max(3.0, 10 * min(1.0, u))
    steps.append(Step("error", t, error, {"mode": "error"}))
    t += error + gap
    drop = max(2.0, 8 * u)
    steps.append(Step("drop", t, drop, {"mode": "drop"}))
    t += drop + gap
    down = max(0.5, 2 * u)
    steps.append(Step("pgbouncer-restart", t, down, {}))
    t += down + gap
    steps.append(Step("pg-terminate", t, 0.5, {}))
    return steps


class FaultSchedule(threading.Thread):
    """Runs :func:`plan` against the services while the load runs."""

    def __init__(
        self,
        services: Services,
        *,
        start_at: float,
        duration: float,
        claim_abandoned_after: float,
        log_path: str,
        victim_log_path: str,
    ) -> None:
        super().__init__(name="faults", daemon=True)
        self.services = services
        self.start_at = start_at
        self.steps = plan(duration, claim_abandoned_after)
        self.claim_abandoned_after = claim_abandoned_after
        self.log_path = log_path
        self.victim_log = JsonlLog(victim_log_path, "faults-victim", "victim")
        self.windows: list[Window] = []
        self.errors: list[str] = []
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self.sandbox = services.url("sandbox")

    # ------------------------------------------------------------------ bookkeeping

    def record(self, window: Window) -> None:
        with self._lock:
            self.windows.append(window)
            with open(self.log_path, "a") as log:
                log.write(json.dumps(asdict(window)) + "\n")

    def set_fault(self, **payload: Any) -> None:
        reply = requests.post(self.sandbox + "/sandbox/faults", json=payload, timeout=5)
        reply.raise_for_status()

    def clear(self) -> None:
        with contextlib.suppress(requests.RequestException):
            self.set_fault(mode="none")

    def run(self) -> None:
        for step in sorted(self.steps, key=lambda s: s.at):
            delay = self.start_at + step.at - time.time()
            if delay > 0:
                time.sleep(delay)
            # Each step in a thread of its own: the worker kill overlaps the latency spike.
            runner = getattr(self, "_" + step.name.replace("-", "_"))
            thread = threading.Thread(target=self._guarded, args=(runner, step), daemon=True)
            thread.start()
            self._threads.append(thread)
        for thread in self._threads:
            thread.join()

    def _guarded(self, runner: Any, step: Step) -> None:
        try:
            runner(step)
        except Exception as exc:
            self.errors.append(f"fault {step.name} failed: {type(exc).__name__}: {exc}")

    # ------------------------------------------------------------------ provider faults

    def _provider(self, step: Step, payload: dict[str, Any], detail: str) -> None:
        start = time.time()
        self.set_fault(**payload)
        time.sleep(step.length)
        self.clear()
        self.record(Window(step.name, start, time.time(), detail))

    def _latency(self, step: Step) -> None:
        ms = step.options["latency_ms"]
        self._provider(step, {"mode": "none", "latency_ms": ms}, f"{ms} ms (under the timeout)")

    def _latency_timeout(self, step: Step) -> None:
        ms = step.options["latency_ms"]
        self._provider(step, {"mode": "none", "latency_ms": ms}, f"{ms} ms (over the timeout)")

    def _error(self, step: Step) -> None:
        self._provider(step, {"mode": "error"}, "HTTP 503 from every endpoint")

    def _drop(self, step: Step) -> None:
        self._provider(step, {"mode": "drop"}, "connections closed unanswered")

    # ------------------------------------------------------------------ the database

    def _pgbouncer_restart(self, step: Step) -> None:
        start = time.time()
        try:
            self.services.restart_pgbouncer(down=step.length)
        finally:
            # The window is the outage, whether or not the restart went well.
            self.record(Window(step.name, start, time.time(), f"down {step.length:.1f} s"))

    def _pg_terminate(self, step: Step) -> None:
        start = time.time()
        killed = self.services.terminate_app_backends()
        time.sleep(step.length)
        self.record(Window(step.name, start, time.time(), f"{killed} server connections"))

    # ------------------------------------------------------------------ the worker kill

    def _worker_kill(self, step: Step) -> None:
        """A user's POST is in flight (the provider is slow); its worker gets SIGKILL. The
        user's connection breaks; once the claim counts as abandoned, it retries its token."""
        start = time.time()
        http = Http(self.victim_log, self.sandbox)
        victim = worker_kill.catch_in_flight(http, self.services)
        if victim is None:
            self.errors.append("worker-kill: no request of the victim was caught in flight")
            self.record(Window(step.name, start, time.time(), "missed"))
            return
        statuses = worker_kill.retry_after_abandonment(http, victim, self.claim_abandoned_after)
        detail = f"worker {victim.pid} killed at +{victim.killed_at - start:.2f} s; then {statuses}"
        self.record(Window(step.name, start, time.time(), detail))
        victim.session.close()

    def stop(self) -> None:
        self.clear()
        self.victim_log.close()
