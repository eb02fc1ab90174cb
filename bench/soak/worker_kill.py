"""The worker kill: a user's POST in flight at a slow provider, the gunicorn worker that
holds its connection (found by socket inode in ``/proc``) killed with SIGKILL, and the
user's retry of its token once the claim counts as abandoned.

The kill waits for the victim's claim to be pending in the ledger (read directly from
PostgreSQL), not for a fixed time: on a busy machine the request may sit in gunicorn's
backlog behind the slow provider calls of the load for longer than any fixed wait."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import signal
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any

import psycopg
import requests

from .services import APP_SECRET, Services
from .transport import Http, Result, new_session

#: The victim of the worker kill sends from its own address, so its connection is found.
VICTIM_ADDRESS = "127.0.0.250"
#: How long one attempt waits for the victim's claim: the request may first wait for a
#: worker that is busy with the load's slow provider calls.
CLAIM_WAIT = 6.0


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
    # Claimed and not answered: the worker is in its provider call (1.2 s or more).
    if wait_for_claim(services, token, sender, CLAIM_WAIT):
        pid = find_worker(services, VICTIM_ADDRESS, timeout=1.0)
        if pid is not None and sender.is_alive():
            os.kill(pid, signal.SIGKILL)
            killed_at = time.time()
            sender.join(timeout=10)
            return Victim(session, url, user, common, data, token, sent, pid, killed_at)
    sender.join(timeout=10)
    session.close()
    return None


def wait_for_claim(
    services: Services, token: str, sender: threading.Thread, timeout: float
) -> bool:
    """Whether the token's claim is pending while its request is still in flight, polled
    until ``timeout`` or until the request ends."""
    digest = hmac.new(APP_SECRET.encode(), token.encode(), hashlib.sha256).hexdigest()
    query = "SELECT 1 FROM captchala_django_passtoken WHERE token_digest = %s AND state = %s"
    deadline = time.time() + timeout
    with psycopg.connect(services.direct_url, autocommit=True) as conn:
        while time.time() < deadline and sender.is_alive():
            if conn.execute(query, (digest, "pending")).fetchone():
                return sender.is_alive()
            time.sleep(0.02)
    return False


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
