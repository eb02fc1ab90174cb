"""The worker kill: a user's POST in flight at a slow provider, the gunicorn worker that
holds its connection (found by socket inode in ``/proc``) killed with SIGKILL, and the
user's retry of its token once the claim counts as abandoned."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any

import requests

from .services import Services
from .transport import Http, Result, new_session

#: The victim of the worker kill sends from its own address, so its connection is found.
VICTIM_ADDRESS = "127.0.0.250"


@dataclass
class Victim:
    """A user whose request was cut by the kill, and what it needs to send again."""

    session: requests.Session
    url: str
    user: str
    common: dict[str, Any]
    data: dict[str, str]
    token: str
    sent: float  # when the cut POST was sent
    pid: int  # the worker killed
    killed_at: float


def catch_in_flight(http: Http, services: Services) -> Victim | None:
    """Up to three users' POSTs, until one is caught at the provider and its worker
    killed; None when none was."""
    url = services.url("gunicorn") + "/transfer/"
    for attempt in range(3):
        victim = _attempt(http, services, url, f"victim-{attempt}")
        if victim is not None:
            return victim
    return None


def _attempt(http: Http, services: Services, url: str, user: str) -> Victim | None:
    session = new_session(VICTIM_ADDRESS)
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
    outcome: dict[str, Result] = {}

    def post() -> None:
        outcome["result"] = http.request(
            session, "POST", url, kind="killed", token=token, data=data, **common
        )

    sender = threading.Thread(target=post, daemon=True)
    sent = time.time()
    sender.start()
    pid = find_worker(services, VICTIM_ADDRESS, timeout=1.5)
    if pid is not None:
        # In its provider call by now: the claim is in the ledger, the verdict is not.
        time.sleep(max(0.0, sent + 0.6 - time.time()))
        if sender.is_alive():
            os.kill(pid, signal.SIGKILL)
            killed_at = time.time()
            sender.join(timeout=10)
            return Victim(session, url, user, common, data, token, sent, pid, killed_at)
    sender.join(timeout=10)
    session.close()
    return None


def retry_after_abandonment(
    http: Http, victim: Victim, claim_abandoned_after: float
) -> list[int | None]:
    """The user waits until its claim counts as abandoned, then sends the token again
    (after any provider outage in the way, as every user does on a 503); the statuses."""
    time.sleep(max(0.0, victim.sent + claim_abandoned_after + 1.0 - time.time()))
    statuses: list[int | None] = []
    kind = "retry"
    for _ in range(5):
        reply = http.request(
            victim.session,
            "POST",
            victim.url,
            kind=kind,
            token=victim.token,
            data=victim.data,
            **victim.common,
        )
        statuses.append(reply.status)
        if reply.status == 403 and kind == "retry":  # consumed: the user solves again
            victim.data["captchala_token"] = victim.token = http.mint("victim", victim.user)
            kind = "resolve"
            continue
        if reply.status not in (503, None):
            break
        deadline = time.time() + 20
        while time.time() < deadline and http.fault_active():
            time.sleep(0.5)
    return statuses


def find_worker(services: Services, address: str, timeout: float) -> int | None:
    """The gunicorn worker holding a connection from ``address`` (by its socket inode)."""
    port = services.ports["gunicorn"]
    deadline = time.time() + timeout
    while time.time() < deadline:
        inodes = set(_connections_from(address, port))
        if inodes:
            for pid in services.gunicorn_workers():
                with contextlib.suppress(OSError):
                    for fd in os.listdir(f"/proc/{pid}/fd"):
                        with contextlib.suppress(OSError):
                            link = os.readlink(f"/proc/{pid}/fd/{fd}")
                            if link.startswith("socket:[") and int(link[8:-1]) in inodes:
                                return pid
        time.sleep(0.02)
    return None


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
