"""The fault schedule: what goes wrong, when, scaled to the run's duration.

Every fault records its window (wall-clock start and end, comparable with the
clients' ``time.time()``): a provider latency spike below the provider timeout
and one above it, provider 5xx, the provider dropping connections, PgBouncer
killed and started again, ``pg_terminate_backend`` on every server connection of
the app, and one gunicorn worker killed with SIGKILL in the middle of a request
(its claim in the replay ledger left behind; the user retries the token once the
claim counts as abandoned, and the claim is taken over).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import threading
import time
from dataclasses import asdict, dataclass
from typing import Any

import requests

from .load import Http, JsonlLog, new_session
from .services import Services

#: Provider faults: the policy decides inside them.
PROVIDER_FAULTS = frozenset({"latency", "latency-timeout", "error", "drop"})
#: Faults that may cut a connection or the database.
INFRA_FAULTS = frozenset({"worker-kill", "pgbouncer-restart", "pg-terminate"})

#: The victim of the worker kill sends from its own address, so its connection is found.
VICTIM_ADDRESS = "127.0.0.250"


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
        url = self.services.url("gunicorn") + "/transfer/"
        for attempt in range(3):
            session = new_session(VICTIM_ADDRESS)
            user = f"victim-{attempt}"
            common = {"scenario": "victim", "user": user, "server": "wsgi"}
            common["address"] = VICTIM_ADDRESS
            http.request(session, "GET", url, kind="page", guarded=False, **common)
            token = http.mint("victim", user)
            data = {
                "to": "victim",
                "amount": "7",
                "csrfmiddlewaretoken": session.cookies.get("csrftoken", ""),
                "captchala_token": token,
            }
            outcome: dict[str, Any] = {}

            def post(
                session=session, data=data, token=token, common=common, outcome=outcome
            ) -> None:
                outcome["result"] = http.request(
                    session, "POST", url, kind="killed", token=token, data=data, **common
                )

            sender = threading.Thread(target=post, daemon=True)
            sent = time.time()
            sender.start()
            victim = self._find_worker(VICTIM_ADDRESS, timeout=1.5)
            if victim is not None:
                # In its provider call by now: the claim is in the ledger, the verdict is not.
                time.sleep(max(0.0, sent + 0.6 - time.time()))
                if sender.is_alive():
                    os.kill(victim, signal.SIGKILL)
                    killed_at = time.time()
                    sender.join(timeout=10)
                    break
            sender.join(timeout=10)
            session.close()
        else:
            self.errors.append("worker-kill: no request of the victim was caught in flight")
            self.record(Window(step.name, start, time.time(), "missed"))
            return
        # The user waits until its claim counts as abandoned, then sends the token again
        # (after any provider outage in the way, as every user does on a 503).
        time.sleep(max(0.0, sent + self.claim_abandoned_after + 1.0 - time.time()))
        statuses: list[int | None] = []
        kind = "retry"
        for _ in range(5):
            reply = http.request(session, "POST", url, kind=kind, token=token, data=data, **common)
            statuses.append(reply.status)
            if reply.status == 403 and kind == "retry":  # consumed: the user solves again
                data["captchala_token"] = token = http.mint("victim", user)
                kind = "resolve"
                continue
            if reply.status not in (503, None):
                break
            deadline = time.time() + 20
            while time.time() < deadline and http.fault_active():
                time.sleep(0.5)
        detail = f"worker {victim} killed at +{killed_at - start:.2f} s; then {statuses}"
        self.record(Window(step.name, start, time.time(), detail))
        session.close()

    def _find_worker(self, address: str, timeout: float) -> int | None:
        """The gunicorn worker holding a connection from ``address`` (by its socket inode)."""
        port = self.services.ports["gunicorn"]
        deadline = time.time() + timeout
        while time.time() < deadline:
            inodes = set(_connections_from(address, port))
            if inodes:
                for pid in self.services.gunicorn_workers():
                    with contextlib.suppress(OSError):
                        for fd in os.listdir(f"/proc/{pid}/fd"):
                            with contextlib.suppress(OSError):
                                link = os.readlink(f"/proc/{pid}/fd/{fd}")
                                if link.startswith("socket:[") and int(link[8:-1]) in inodes:
                                    return pid
            time.sleep(0.02)
        return None

    def stop(self) -> None:
        self.clear()
        self.victim_log.close()


def _connections_from(address: str, port: int) -> list[int]:
    """Socket inodes of established connections to ``port`` from ``address`` (IPv4)."""
    wanted = socket.inet_aton(address)[::-1].hex().upper()
    inodes = []
    with open("/proc/net/tcp") as table:
        next(table)
        for line in table:
            fields = line.split()
            local, remote, state, inode = fields[1], fields[2], fields[3], int(fields[9])
            local_port = int(local.split(":")[1], 16)
            if state == "01" and local_port == port and remote.split(":")[0] == wanted:
                inodes.append(inode)
    return inodes
