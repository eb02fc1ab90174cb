"""What the client processes do (``clients.py`` starts them): simulated users and bots
over real HTTP.

HTTP goes through ``requests``, already a runtime dependency of the package: no other
client library. One ``requests.Session`` per simulated user is that user's cookie jar
(session and CSRF cookies, as a browser keeps them); threads give the parallel bursts
(a double submit, eight requests at once), sharing that user's session. Every user and
bot sends from its own loopback address (``127.x.y.z``), so the ``ip`` scope of the API
and the per-address server-token budget see distinct clients.

Each process writes one JSONL line per request: scenario, kind, status, latency,
the token it carried (or none), its session (a short hash of the cookie, never the
cookie), whether it was allowed, and when (``time.time()``, comparable with the fault
windows). Sandbox calls (minting tokens) are logged with ``kind = "mint"``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import queue as queue_module
import random
import re
import secrets
import string
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import requests
from requests.adapters import HTTPAdapter

#: How long a client waits for an answer (far above the latency invariant's bound).
REQUEST_TIMEOUT = 15.0
#: A user retries a token answered 503 at most this many times, after the fault.
MAX_RETRIES = 3
#: ... and solves a fresh check at most this many times after a 403 for a valid token.
MAX_RESOLVES = 1

ROLES = ("wsgi_users", "asgi_users", "api_users", "bots_tokens", "bots_replay", "bots_flood")
BOT_ROLES = frozenset({"bots_tokens", "bots_replay", "bots_flood", "probe"})

_SERVER_TOKEN = re.compile(r'data-server-token="([^"]*)"')
_WIDGET_ERROR = re.compile(r'data-captchala-error="([^"]*)"')
_DEGRADED = re.compile(r"let through degraded")


@dataclass
class ClientConfig:
    name: str
    role: str
    index: int
    threads: int
    gunicorn: str
    uvicorn: str
    sandbox: str
    start_at: float
    stop_at: float
    log_path: str
    seed: int


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
        sent_session = session.cookies.get("sessionid")
        cookie_header = kwargs.get("headers", {}).get("Cookie", "")
        if "sessionid=" in cookie_header:
            sent_session = cookie_header.split("sessionid=", 1)[1].split(";", 1)[0]
        started = time.time()
        clock = time.perf_counter()
        try:
            reply = session.request(method, url, timeout=REQUEST_TIMEOUT, **kwargs)
        except requests.RequestException as exc:
            ms = (time.perf_counter() - clock) * 1000
            result = Result(status=None, error=type(exc).__name__)
        else:
            ms = (time.perf_counter() - clock) * 1000
            result = Result(status=reply.status_code, text=reply.text, headers=dict(reply.headers))
        ended = time.time()
        status = result.status
        allowed = None
        if guarded and status is not None:
            allowed = status in (200, 201)
        result.allowed = allowed
        issue = None
        if status == 403 and "data-captchala" in result.text:
            server_token = _SERVER_TOKEN.search(result.text)
            if server_token and server_token.group(1):
                issue = "token"
            elif _WIDGET_ERROR.search(result.text):
                issue = "error"
            else:
                issue = "none"
        elif kind == "refresh" and status in (200, 503):
            issue = "token" if status == 200 else "error"
        elif kind == "refresh" and status == 429:
            issue = "none"
        code = None
        if result.headers.get("Content-Type", "").startswith("application/json"):
            with contextlib.suppress(ValueError, AttributeError):
                body = json.loads(result.text)
                code = body.get("error") or body.get("code")
                if isinstance(body.get("detail"), dict):
                    code = body["detail"].get("code")
                if code is None and "captchala_token" in body:
                    code = "field_error"
        degraded = None
        if allowed:
            degraded = bool(_DEGRADED.search(result.text)) or '"degraded": true' in result.text
        path = url.split("://", 1)[-1].split("/", 1)[-1]
        record = {
            "kind": kind,
            "scenario": scenario,
            "user": user,
            "server": server,
            "method": method,
            "path": "/" + path.split("?", 1)[0],
            "addr": address,
            "status": status,
            "error": result.error,
            "retry_after": result.headers.get("Retry-After"),
            "token": token,
            "session": short_hash(sent_session),
            "forged_session": forged_session,
            "session_after": short_hash(session.cookies.get("sessionid")),
            "guarded": guarded,
            "allowed": allowed,
            "degraded": degraded,
            "issue": issue,
            "code": code,
            "t0": started,
            "t1": ended,
            "ms": round(ms, 2),
        }
        self.log.write(record)
        result.record = record
        return result


class Client:
    """One client process: ``threads`` simulated users (or bots) of one role."""

    def __init__(self, cfg: ClientConfig, used_tokens: Any) -> None:
        self.cfg = cfg
        self.used_tokens = used_tokens
        self.log = JsonlLog(cfg.log_path, cfg.name, cfg.role)
        self.http = Http(self.log, cfg.sandbox, cfg.stop_at)
        self.pool = ThreadPoolExecutor(max_workers=8 * max(cfg.threads, 1))
        self._counter = 0
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ helpers

    def running(self) -> bool:
        return time.time() < self.cfg.stop_at

    def next_address(self, thread: int) -> str:
        """A fresh loopback address for a new user of this thread."""
        with self._lock:
            self._counter += 1
            n = self._counter
        return f"127.{10 + self.cfg.index}.{thread + 1}.{2 + n % 250}"

    def bot_address(self, thread: int) -> str:
        return f"127.{10 + self.cfg.index}.{100 + thread}.1"

    @staticmethod
    def pause(low: float = 0.1, high: float = 0.35) -> None:
        time.sleep(random.uniform(low, high))

    def parallel(self, n: int, fn: Callable[[int], Result]) -> list[Result]:
        """``fn(i)`` for i < n, released together (a double submit, a burst)."""
        barrier = threading.Barrier(n)

        def run(i: int) -> Result:
            with contextlib.suppress(threading.BrokenBarrierError):
                barrier.wait(timeout=5)
            return fn(i)

        return list(self.pool.map(run, range(n)))

    def share(self, token: str) -> None:
        """Hand a used token to the replay bot (a token seen on the wire)."""
        with contextlib.suppress(queue_module.Full, OSError, ValueError):
            self.used_tokens.put_nowait(token)

    def wait_out_fault(self) -> None:
        """After a 503 with Retry-After: wait until the outage is over (bounded), then retry."""
        deadline = time.time() + 20
        while time.time() < deadline and self.running() and self.http.fault_active():
            time.sleep(0.5)
        time.sleep(random.uniform(0.2, 0.6))

    # ------------------------------------------------------------------ the run

    def run(self) -> None:
        random.seed(self.cfg.seed)
        delay = self.cfg.start_at - time.time()
        if delay > 0:
            time.sleep(delay)
        target = getattr(self, self.cfg.role)
        threads = [
            threading.Thread(target=self._loop, args=(target, i), daemon=True)
            for i in range(self.cfg.threads)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.pool.shutdown(wait=True)
        self.log.close()

    def _loop(self, target: Callable[[int, int], None], thread: int) -> None:
        n = 0
        while self.running():
            n += 1
            try:
                target(thread, n)
            except Stopped:
                return
            except Exception as exc:
                self.log.write(
                    {
                        "kind": "client_error",
                        "scenario": self.cfg.role,
                        "error": f"{type(exc).__name__}: {exc}"[:300],
                        "t0": time.time(),
                        "t1": time.time(),
                    }
                )
                time.sleep(0.5)

    # ------------------------------------------------------------------ real users

    def double_submit(
        self,
        session: requests.Session,
        url: str,
        scenario: str,
        token: str,
        body: dict[str, Any],
        common: dict[str, Any],
    ) -> bool:
        """Two POSTs of one token at once (a double click); a used token is shared with the
        replaying bots. Whether either was allowed."""
        results = self.parallel(
            2,
            lambda i: self.http.request(
                session,
                "POST",
                url,
                scenario=scenario,
                kind="double",
                token=token,
                **common,
                **body,
            ),
        )
        allowed = any(r.allowed for r in results)
        if allowed:
            self.share(token)
        return allowed

    def submit(
        self,
        session: requests.Session,
        url: str,
        *,
        scenario: str,
        user: str,
        server: str,
        address: str,
        token: str,
        send: Callable[[str], dict[str, Any]],
        kind: str = "submit",
    ) -> tuple[Result, str]:
        """POST with ``token``; on 503 with Retry-After, retry the same token after the
        fault (bounded); on a 403, solve a fresh check once. Returns the last result and
        the token it carried."""
        retries = resolves = 0
        while True:
            result = self.http.request(
                session,
                "POST",
                url,
                scenario=scenario,
                kind=kind,
                user=user,
                server=server,
                address=address,
                token=token,
                **send(token),
            )
            if result.allowed:
                self.share(token)
                return result, token
            if not self.running():
                return result, token
            if result.status == 503 and result.headers.get("Retry-After"):
                if retries >= MAX_RETRIES:
                    return result, token
                retries += 1
                kind = "retry"
                self.wait_out_fault()
            elif result.status is None:  # the connection broke: try the same token again
                if retries >= MAX_RETRIES:
                    return result, token
                retries += 1
                kind = "retry"
                time.sleep(1.0)
            elif result.status == 403 and resolves < MAX_RESOLVES:
                resolves += 1
                kind = "resolve"
                self.pause()
                token = self.http.mint(scenario, user)
            else:
                return result, token

    def ride(
        self,
        session: requests.Session,
        url: str,
        times: int,
        *,
        scenario: str,
        user: str,
        server: str,
        address: str,
        send: dict[str, Any],
    ) -> None:
        for _ in range(times):
            if not self.running():
                return
            self.pause()
            self.http.request(
                session,
                "POST",
                url,
                scenario=scenario,
                kind="ride",
                user=user,
                server=server,
                address=address,
                **send,
            )

    def burst(
        self,
        session: requests.Session,
        url: str,
        *,
        scenario: str,
        user: str,
        server: str,
        address: str,
        send: Callable[[int], dict[str, Any]],
        token: str | None = None,
        n: int = 8,
    ) -> list[Result]:
        def one(i: int) -> Result:
            return self.http.request(
                session,
                "POST",
                url,
                scenario=scenario,
                kind="burst",
                user=user,
                server=server,
                address=address,
                token=token,
                **send(i),
            )

        results = self.parallel(n, one)
        if token and any(r.allowed for r in results):
            self.share(token)
        return results

    def _form(self, session: requests.Session, token: str | None = None) -> dict[str, Any]:
        data = {
            "to": "DE89 3704 0044 0532 0130 00",
            "amount": str(random.randint(1, 500)),
            "csrfmiddlewaretoken": session.cookies.get("csrftoken", ""),
        }
        if token is not None:
            data["captchala_token"] = token
        return {"data": data}

    def _json_form(self, session: requests.Session, token: str | None = None) -> dict[str, Any]:
        """The async view: form data with the CSRF field, the token in the header, JSON back."""
        headers = {"Accept": "application/json"}
        if token is not None:
            headers["X-CaptchaLa-Token"] = token
        data = {
            "amount": str(random.randint(1, 500)),
            "csrfmiddlewaretoken": session.cookies.get("csrftoken", ""),
        }
        return {"data": data, "headers": headers}

    def _pass_transfer(
        self, session: requests.Session, scenario: str, user: str, address: str
    ) -> Result:
        """GET the transfer page, solve the check, POST: the usual first transfer."""
        base = self.cfg.gunicorn
        self.http.request(
            session,
            "GET",
            base + "/transfer/",
            scenario=scenario,
            kind="page",
            user=user,
            server="wsgi",
            address=address,
            guarded=False,
        )
        self.pause()
        token = self.http.mint(scenario, user)
        result, _ = self.submit(
            session,
            base + "/transfer/",
            scenario=scenario,
            user=user,
            server="wsgi",
            address=address,
            token=token,
            send=lambda t: self._form(session, t),
        )
        return result

    def wsgi_users(self, thread: int, n: int) -> None:
        """The HTML form under gunicorn: plain flows, double submits, bursts."""
        address = self.next_address(thread)
        user = f"{self.cfg.name}-{thread}-{n}"
        session = new_session(address)
        base = self.cfg.gunicorn + "/transfer/"
        scenario = random.choices(["form", "double", "burst"], weights=[5, 2, 2])[0]
        common = {"user": user, "server": "wsgi", "address": address}
        if scenario == "double":
            self.http.request(
                session, "GET", base, scenario=scenario, kind="page", guarded=False, **common
            )
            token = self.http.mint(scenario, user)
            # A double click on the first submit: both POSTs without a session yet.
            if (
                not self.double_submit(
                    session, base, scenario, token, self._form(session, token), common
                )
                and self.running()
            ):
                self.pause()
                self.submit(
                    session,
                    base,
                    scenario=scenario,
                    token=token,
                    send=lambda t: self._form(session, t),
                    kind="retry",
                    **common,
                )
        else:
            self._pass_transfer(session, scenario, user, address)
        send = self._form(session)
        if scenario == "burst":
            self.pause()
            self.burst(session, base, scenario=scenario, send=lambda i: send, **common)
        self.ride(session, base, random.randint(2, 5), scenario=scenario, send=send, **common)
        session.close()
        self.pause(0.2, 0.5)

    def asgi_users(self, thread: int, n: int) -> None:
        """The async view under uvicorn: plain flows, bursts, and a session that passed the
        sync view double-submitting (or bursting) one token at the async one."""
        address = self.next_address(thread)
        user = f"{self.cfg.name}-{thread}-{n}"
        session = new_session(address)
        url = self.cfg.uvicorn + "/async-transfer/"
        common = {"user": user, "server": "asgi", "address": address}
        scenario = random.choices(
            ["async", "async-burst", "cross-double", "cross-burst"], weights=[4, 2, 2, 2]
        )[0]
        if scenario.startswith("cross-"):
            self._pass_transfer(session, scenario, user, address)
            self.pause()
        self.http.request(
            session, "GET", url, scenario=scenario, kind="page", guarded=False, **common
        )
        token = self.http.mint(scenario, user)
        if scenario == "cross-double":
            self.double_submit(
                session, url, scenario, token, self._json_form(session, token), common
            )
        elif scenario == "cross-burst":
            self.burst(
                session,
                url,
                scenario=scenario,
                token=token,
                send=lambda i: self._json_form(session, token),
                **common,
            )
        else:
            self.submit(
                session,
                url,
                scenario=scenario,
                token=token,
                send=lambda t: self._json_form(session, t),
                **common,
            )
        send = self._json_form(session)
        if scenario == "async-burst":
            self.pause()
            self.burst(session, url, scenario=scenario, send=lambda i: send, **common)
        self.ride(session, url, random.randint(2, 5), scenario=scenario, send=send, **common)
        session.close()
        self.pause(0.2, 0.5)

    def api_users(self, thread: int, n: int) -> None:
        """The DRF API under gunicorn: the ``ip``-scoped transfer (a token, then calls riding
        the address's checkpoint; sometimes a double submit) and a comment (a token a post)."""
        address = self.next_address(thread)
        user = f"{self.cfg.name}-{thread}-{n}"
        session = new_session(address)
        url = self.cfg.gunicorn + "/api/transfer/"
        common = {"user": user, "server": "wsgi", "address": address}
        scenario = random.choices(["api", "api-double"], weights=[3, 1])[0]
        token = self.http.mint(scenario, user)

        def send(t: str | None) -> dict[str, Any]:
            headers = {"X-CaptchaLa-Token": t} if t else {}
            return {"json": {"amount": random.randint(1, 500)}, "headers": headers}

        if scenario == "api-double":
            self.double_submit(session, url, scenario, token, send(token), common)
        else:
            self.submit(session, url, scenario=scenario, token=token, send=send, **common)
        self.ride(session, url, random.randint(2, 5), scenario=scenario, send=send(None), **common)
        if random.random() < 0.5 and self.running():
            self.pause()
            comment = self.http.mint("comment", user, action="comment")
            self.submit(
                session,
                self.cfg.gunicorn + "/api/comments/",
                scenario="comment",
                token=comment,
                send=lambda t: {"json": {"text": "hello", "captchala_token": t}},
                **common,
            )
        session.close()
        self.pause(0.2, 0.5)

    # ------------------------------------------------------------------ bots

    def _bot_post(
        self,
        thread: int,
        scenario: str,
        token: str | None,
        *,
        target: str,
        cookies: bool = True,
        forged_session: bool = False,
    ) -> Result:
        """One bot POST, each a new client: no cookie jar kept, a forged CSRF pair when
        ``cookies``, and sometimes a made-up session cookie."""
        address = self.bot_address(thread)
        session = new_session(address)
        user = f"{self.cfg.name}-{thread}"
        csrf = forged_csrf()
        cookie = f"csrftoken={csrf}" if cookies else ""
        if forged_session:
            cookie += f"; sessionid={secrets.token_hex(16)}"
        headers: dict[str, str] = {"Cookie": cookie} if cookie else {}
        common = {
            "scenario": scenario,
            "user": user,
            "address": address,
            "token": token,
            "forged_session": forged_session,
        }
        try:
            if target == "wsgi-html":
                data = {"to": "x", "amount": "5", "csrfmiddlewaretoken": csrf}
                if token:
                    data["captchala_token"] = token
                url = self.cfg.gunicorn + "/transfer/"
                return self.http.request(
                    session,
                    "POST",
                    url,
                    kind="bot",
                    server="wsgi",
                    data=data,
                    headers=headers,
                    **common,
                )
            if target == "asgi-json":
                headers["Accept"] = "application/json"
                if token:
                    headers["X-CaptchaLa-Token"] = token
                url = self.cfg.uvicorn + "/async-transfer/"
                data = {"amount": "5", "csrfmiddlewaretoken": csrf}
                return self.http.request(
                    session,
                    "POST",
                    url,
                    kind="bot",
                    server="asgi",
                    data=data,
                    headers=headers,
                    **common,
                )
            if target == "api":
                if token:
                    headers["X-CaptchaLa-Token"] = token
                url = self.cfg.gunicorn + "/api/transfer/"
                return self.http.request(
                    session,
                    "POST",
                    url,
                    kind="bot",
                    server="wsgi",
                    json={"amount": 5},
                    headers=headers,
                    **common,
                )
            if target == "comment":
                url = self.cfg.gunicorn + "/api/comments/"
                body = {"text": "spam", "captchala_token": token or ""}
                return self.http.request(
                    session,
                    "POST",
                    url,
                    kind="bot",
                    server="wsgi",
                    json=body,
                    headers=headers,
                    **common,
                )
            raise ValueError(target)
        finally:
            session.close()

    def bots_tokens(self, thread: int, n: int) -> None:
        """Made-up tokens at every front door."""
        target = random.choice(["wsgi-html", "wsgi-html", "asgi-json", "api", "comment"])
        forged = random.random() < 0.2
        self._bot_post(thread, "made-up", made_up_token(), target=target, forged_session=forged)
        self.pause(0.1, 0.3)

    def bots_replay(self, thread: int, n: int) -> None:
        """Replays of other users' tokens, already used, at every front door."""
        try:
            token = self.used_tokens.get(timeout=1.0)
        except queue_module.Empty:
            return
        for target in random.sample(["wsgi-html", "asgi-json", "api", "comment"], k=2):
            if not self.running():
                return
            self._bot_post(thread, "replay", token, target=target)
            self.pause(0.05, 0.2)

    def bots_flood(self, thread: int, n: int) -> None:
        """Cookieless floods: no cookie at all (CSRF refuses the form), the API without a
        token, and the server-token refresh endpoint (the budget, then 429)."""
        address = self.bot_address(thread)
        user = f"{self.cfg.name}-{thread}"
        choice = random.choice(["form", "api", "refresh", "refresh", "async"])
        if choice == "form":
            self._bot_post(thread, "cookieless", None, target="wsgi-html", cookies=False)
        elif choice == "async":
            self._bot_post(thread, "cookieless", None, target="asgi-json", cookies=False)
        elif choice == "api":
            self._bot_post(thread, "cookieless", None, target="api", cookies=False)
        else:
            session = new_session(address)
            csrf = forged_csrf()
            self.http.request(
                session,
                "POST",
                self.cfg.gunicorn + "/captchala/server-token/",
                scenario="cookieless",
                kind="refresh",
                user=user,
                server="wsgi",
                address=address,
                guarded=False,
                data={"action": "checkout", "csrfmiddlewaretoken": csrf},
                headers={"Cookie": f"csrftoken={csrf}"},
            )
            session.close()
        self.pause(0.05, 0.15)


def flood_probe(
    *, gunicorn: str, uvicorn: str, sandbox: str, log_path: str, target: str, posts: int
) -> None:
    """``posts`` cookieless bot POSTs with made-up tokens at one front door, one by one
    (the rows they add are counted around this call)."""
    cfg = ClientConfig(
        name="probe",
        role="probe",
        index=9,
        threads=1,
        gunicorn=gunicorn,
        uvicorn=uvicorn,
        sandbox=sandbox,
        start_at=0.0,
        stop_at=time.time() + 3600,
        log_path=log_path,
        seed=0,
    )
    client = Client(cfg, used_tokens=None)
    try:
        for _ in range(posts):
            client._bot_post(0, "probe", made_up_token(), target=target)
    finally:
        client.pool.shutdown()
        client.log.close()
