"""HTTP plumbing of the soak's clients: sessions from one address, the request log,
one measured and logged request.

HTTP goes through ``requests``, already a runtime dependency of the package: no other
client library. One ``requests.Session`` per simulated user is that user's cookie jar
(session and CSRF cookies, as a browser keeps them). Every user and bot sends from its
own loopback address (``127.x.y.z``), so the ``ip`` scope of the API and the
per-address server-token budget see distinct clients.

Each process writes one JSONL line per request: scenario, kind, status, latency,
the token it carried (or none), its session (a short hash of the cookie, never the
cookie), whether it was allowed, and when (``time.time()``, comparable with the fault
windows). Sandbox calls (minting tokens) are logged with ``kind = "mint"``.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import string
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from .replies import read_reply

#: How long a client waits for an answer (far above the latency invariant's bound).
REQUEST_TIMEOUT = 15.0


def short_hash(value: str | None) -> str | None:
    return hashlib.sha256(value.encode()).hexdigest()[:16] if value else None


class _BoundAdapter(HTTPAdapter):
    """Connections from one loopback source address."""

    def __init__(self, address: str) -> None:
        self._address = address
        super().__init__(pool_connections=2, pool_maxsize=16)

    def init_poolmanager(self, connections, maxsize, block=False, **kwargs):
        kwargs["source_address"] = (self._address, 0)
        super().init_poolmanager(connections, maxsize, block, **kwargs)


def new_session(address: str) -> requests.Session:
    """A simulated user's browser: one cookie jar, from one address, no proxies."""
    session = requests.Session()
    session.trust_env = False
    session.mount("http://", _BoundAdapter(address))
    return session


def forged_csrf() -> str:
    """A CSRF secret a bot makes up: sent as both the cookie and the form field."""
    return "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(32))


def made_up_token() -> str:
    return "pt_" + secrets.token_urlsafe(24)


class Stopped(Exception):
    """The load is over: the scenario ends here instead of sending another request."""


@dataclass
class Result:
    status: int | None
    text: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    allowed: bool | None = None
    record: dict[str, Any] = field(default_factory=dict)


class JsonlLog:
    """One process's request log, one JSON object a line (thread-safe, line-buffered)."""

    def __init__(self, path: str, process: str, role: str) -> None:
        self._file = open(path, "a", buffering=1)  # noqa: SIM115 - closed by close()
        self._lock = threading.Lock()
        self.process = process
        self.role = role

    def write(self, record: dict[str, Any]) -> None:
        record = {"proc": self.process, "role": self.role, **record}
        line = json.dumps(record, separators=(",", ":"))
        with self._lock:
            self._file.write(line + "\n")

    def close(self) -> None:
        with self._lock:
            self._file.close()


def _sent_session(session: requests.Session, kwargs: dict[str, Any]) -> str | None:
    """The session cookie the request carries: the jar's, or a bot's own Cookie header."""
    sent_session = session.cookies.get("sessionid")
    cookie_header = kwargs.get("headers", {}).get("Cookie", "")
    if "sessionid=" in cookie_header:
        sent_session = cookie_header.split("sessionid=", 1)[1].split(";", 1)[0]
    return sent_session


def _send(
    session: requests.Session, method: str, url: str, kwargs: dict[str, Any]
) -> tuple[Result, float]:
    """The reply (or the connection error) and how long it took, in ms."""
    clock = time.perf_counter()
    try:
        reply = session.request(method, url, timeout=REQUEST_TIMEOUT, **kwargs)
    except requests.RequestException as exc:
        ms = (time.perf_counter() - clock) * 1000
        return Result(status=None, error=type(exc).__name__), ms
    ms = (time.perf_counter() - clock) * 1000
    return Result(status=reply.status_code, text=reply.text, headers=dict(reply.headers)), ms


class Http:
    """Sends one request, measures it, parses what the invariants need, logs it."""

    def __init__(self, log: JsonlLog, sandbox: str, stop_at: float = float("inf")) -> None:
        self.log = log
        self.sandbox = sandbox
        self.stop_at = stop_at
        self._mint = requests.Session()
        self._mint.trust_env = False
        self._mint_lock = threading.Lock()

    def _may_start(self) -> None:
        # A scenario begun just before the stop time ends at its next step: its chain of
        # requests (page, mint, submit, burst ...) must not run on past the stop.
        if time.time() >= self.stop_at:
            raise Stopped

    def mint(self, scenario: str, user: str, action: str = "transfer") -> str:
        """A pass token from the sandbox, as a browser's solved check would give."""
        self._may_start()
        started = time.time()
        with self._mint_lock:
            reply = self._mint.post(
                self.sandbox + "/sandbox/mint", json={"action": action}, timeout=REQUEST_TIMEOUT
            )
        token = reply.json()["data"]["token"]
        self.log.write(
            {
                "kind": "mint",
                "scenario": scenario,
                "user": user,
                "server": "sandbox",
                "token": token,
                "t0": started,
                "t1": time.time(),
            }
        )
        return token

    def fault_active(self) -> bool:
        """Whether the sandbox is misbehaving now (what a user would learn from a status page)."""
        try:
            with self._mint_lock:
                data = self._mint.get(self.sandbox + "/sandbox/stats", timeout=5).json()["data"]
        except (requests.RequestException, ValueError, KeyError):
            return True
        faults = data["faults"]
        return faults["mode"] != "none" or bool(faults["latency_ms"])

    def request(
        self,
        session: requests.Session,
        method: str,
        url: str,
        *,
        scenario: str,
        kind: str,
        user: str,
        server: str,
        address: str,
        token: str | None = None,
        guarded: bool = True,
        forged_session: bool = False,
        **kwargs: Any,
    ) -> Result:
        self._may_start()
        sent_session = _sent_session(session, kwargs)
        started = time.time()
        result, ms = _send(session, method, url, kwargs)
        ended = time.time()
        reading = read_reply(result.status, result.text, result.headers, kind, guarded)
        result.allowed = reading["allowed"]
        path = url.split("://", 1)[-1].split("/", 1)[-1]
        record = {
            "kind": kind,
            "scenario": scenario,
            "user": user,
            "server": server,
            "method": method,
            "path": "/" + path.split("?", 1)[0],
            "addr": address,
            "status": result.status,
            "error": result.error,
            "retry_after": result.headers.get("Retry-After"),
            "token": token,
            "session": short_hash(sent_session),
            "forged_session": forged_session,
            "session_after": short_hash(session.cookies.get("sessionid")),
            "guarded": guarded,
            **reading,
            "t0": started,
            "t1": ended,
            "ms": round(ms, 2),
        }
        self.log.write(record)
        result.record = record
        return result
