"""The emulator's state and request handling, independent of any HTTP server.

Both the standalone server (``server.py``) and the Django views (``views.py``)
feed requests to :meth:`Sandbox.handle` and turn the :class:`Reply` back into
HTTP. The envelope, error codes and token rules follow CaptchaLa's public SDKs.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from ..actions import KNOWN_ACTIONS
from ..conf import SANDBOX_APP_KEY, SANDBOX_APP_SECRET

#: ``error``: 5xx with an HTML body; ``malformed``: 200 with a body that is not JSON;
#: ``timeout``: no reply until released; ``drop``: the connection is closed unanswered;
#: ``rate_limit`` / ``disabled``: the provider's own refusals; ``reply``: answer
#: ``status`` with ``body`` verbatim (a str, or anything JSON-encodable);
#: ``degraded``: the browser check mints degraded (``dg_``) tokens, as when the
#: site's quota is used up (the API itself answers normally).
FAULT_MODES = (
    "none",
    "error",
    "malformed",
    "timeout",
    "drop",
    "rate_limit",
    "disabled",
    "reply",
    "degraded",
)
MAX_SERVER_TOKEN_TTL = 3600


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    #: Seconds to wait before answering (``latency_ms`` fault).
    delay: float = 0.0
    #: Close the connection without an answer (after ``hang`` seconds, if any).
    drop: bool = False
    hang: float = 0.0

    @classmethod
    def envelope(cls, code: int, msg: str, data: dict[str, Any] | None = None, status: int = 200):
        payload = {"code": code, "msg": msg, "data": data or {}}
        return cls(status=status, body=json.dumps(payload).encode())


@dataclass
class _Token:
    #: The app it was solved for; ``None`` (minted without one): any app's.
    app_key: str | None
    action: str | None
    expires_at: float
    degraded: bool = False
    consumed: bool = False
    uid: str | None = None
    risk_score: int | None = None
    #: The address the browser check was solved from (default: the validate call's client_ip).
    user_ip: str | None = None
    challenge_id: str = field(default_factory=lambda: "ch_" + secrets.token_hex(6))
    solved_at: int = field(default_factory=lambda: int(time.time()))


@dataclass
class _ServerToken:
    app_key: str
    action: str
    expires_at: float
    uses_left: int


@dataclass
class Faults:
    mode: str = "none"
    latency_ms: int = 0
    #: Status code used by the ``error`` mode.
    status: int = 503
    #: How many more calls the mode applies to (``None``: until cleared).
    count: int | None = None
    #: ``validate``, ``issue`` or ``all``.
    endpoint: str = "all"
    #: How long ``timeout`` holds a request before dropping it.
    hang_seconds: float = 30.0
    #: The body the ``reply`` mode sends.
    body: Any = None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class Sandbox:
    """All state of one emulated CaptchaLa service. Thread-safe."""

    def __init__(self, token_ttl: float = 300.0, risk_score: int = 12):
        self._lock = threading.Lock()
        self.token_ttl = token_ttl
        self.risk_score = risk_score
        #: Set to end every held (``timeout``) request and pending delay at once.
        self.release = threading.Event()
        self.reset()

    # ------------------------------------------------------------------ control

    def reset(self) -> None:
        """Forget tokens, apps, faults and counters (the default app stays)."""
        self.release.set()
        with self._lock:
            self.apps: dict[str, dict[str, Any]] = {
                SANDBOX_APP_KEY: {"secret": SANDBOX_APP_SECRET, "disabled": False}
            }
            self.tokens: dict[str, _Token] = {}
            self.server_tokens: dict[str, _ServerToken] = {}
            self.faults = Faults()
            self.stats: Counter[str] = Counter()
            self.token_calls: Counter[str] = Counter()
            #: The latest API requests as received (path, headers, body), newest last.
            self.last_requests: list[dict[str, Any]] = []
        self.release = threading.Event()

    def register_app(self, app_key: str, app_secret: str, *, disabled: bool = False) -> None:
        with self._lock:
            self.apps[app_key] = {"secret": app_secret, "disabled": disabled}

    def set_fault(self, mode: str = "none", **options: Any) -> Faults:
        """Switch a fault on (``mode`` one of ``FAULT_MODES``; options as ``Faults``)."""
        if mode not in FAULT_MODES:
            raise ValueError(f"unknown fault mode {mode!r}; choose from {FAULT_MODES}")
        unknown = set(options) - set(Faults().__dict__)
        if unknown:
            raise ValueError(f"unknown fault options {sorted(unknown)}")
        with self._lock:
            self.faults = Faults(mode=mode, **options)
            return self.faults

    def clear_faults(self) -> None:
        self.release.set()
        with self._lock:
            self.faults = Faults()
        self.release = threading.Event()

    def count(self, name: str) -> int:
        with self._lock:
            return self.stats[name]

    def calls_for(self, token: str) -> int:
        """How many validate calls carried ``token``."""
        with self._lock:
            return self.token_calls[token]

    def note_connection(self) -> None:
        with self._lock:
            self.stats["connections"] += 1

    def mint_pass_token(
        self,
        action: str | None = None,
        *,
        app_key: str | None = None,
        ttl: float | None = None,
        degraded: bool = False,
        prefix: str | None = None,
        uid: str | None = None,
        risk_score: int | None = None,
        user_ip: str | None = None,
    ) -> str:
        """A fresh single-use pass token, as the browser check would produce
        (scored ``risk_score``, else the sandbox's default score); bound to ``app_key``'s
        app when given (another app's validate call is told ``invalid_token``), else
        accepted by any app the sandbox knows."""
        prefix = prefix or ("dg_" if degraded else "pt_")
        token = prefix + secrets.token_urlsafe(24)
        with self._lock:
            self.tokens[token] = _Token(
                app_key=app_key,
                action=action,
                expires_at=time.time() + (self.token_ttl if ttl is None else ttl),
                degraded=degraded,
                uid=uid,
                risk_score=risk_score,
                user_ip=user_ip,
            )
        return token

    # ------------------------------------------------------------------ dispatch

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        """Answer one HTTP request. ``path`` is relative to the sandbox root."""
        path = "/" + path.lstrip("/")
        headers = {k.lower(): v for k, v in headers.items()}
        if method == "GET" and path in ("/captchala-loader.js", "/loader.js"):
            return Reply(body=_asset("loader.js"), content_type="application/javascript")
        if method == "GET" and path == "/sandbox/stats":
            with self._lock:
                data = {"stats": dict(self.stats), "faults": self.faults.as_dict()}
            return Reply.envelope(0, "ok", data)
        if method == "GET" and path == "/sandbox/calls":
            # Read-only: how many validate calls carried each token.
            with self._lock:
                data = {"calls": dict(self.token_calls)}
            return Reply.envelope(0, "ok", data)
        if method != "POST":
            return Reply.envelope(404, "not_found", status=404)
        endpoint = {
            "/v1/validate": "validate",
            "/api/validate": "validate",
            "/v1/server/challenge/issue": "issue",
        }.get(path)
        if endpoint:
            return self._api_call(endpoint, path, headers, body)
        handler = {
            "/sandbox/solve": self._solve,
            "/sandbox/mint": self._mint,
            "/sandbox/faults": self._faults,
            "/sandbox/reset": self._reset,
        }.get(path)
        if handler is None:
            return Reply.envelope(404, "not_found", status=404)
        return handler(_json_object(body) or {})

    def _api_call(self, endpoint: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        with self._lock:
            self.stats[endpoint] += 1
            self.stats[path] += 1
            self.stats["requests"] += 1
            self.last_requests.append({"path": path, "headers": headers, "body": body})
            del self.last_requests[:-50]
            faults = self.faults
            fault = faults.mode if faults.endpoint in ("all", endpoint) else "none"
            if fault == "degraded":
                fault = "none"  # it shapes the browser check, not the API
            if fault != "none" and faults.count is not None:
                if faults.count <= 0:
                    fault = "none"
                else:
                    faults.count -= 1
            delay = faults.latency_ms / 1000.0
        if fault == "timeout":
            return Reply(drop=True, hang=faults.hang_seconds, delay=delay)
        if fault == "drop":
            return Reply(drop=True, delay=delay)
        if fault == "error":
            return Reply(
                status=faults.status,
                body=b"<html><body>Service unavailable</body></html>",
                content_type="text/html",
                delay=delay,
            )
        if fault == "malformed":
            return Reply(body=b'{"code": 0, "data": {"valid": tr', delay=delay)
        if fault == "reply":
            raw = faults.body if isinstance(faults.body, str) else json.dumps(faults.body)
            return Reply(status=faults.status, body=raw.encode(), delay=delay)

        payload = _json_object(body)
        reply = self._authenticate(headers, fault)
        if reply is None:
            if payload is None:
                reply = Reply.envelope(
                    40000, "invalid_request", {"valid": False, "error": "invalid_request"}, 400
                )
            elif fault == "rate_limit":
                data = {"valid": False, "error": "rate_limit_exceeded"}
                reply = Reply.envelope(42900, "rate_limit_exceeded", data, 429)
            elif endpoint == "validate":
                reply = self._validate(payload, headers.get("x-app-key", ""))
            else:
                reply = self._issue(headers["x-app-key"], payload)
        reply.delay = delay
        return reply

    def _authenticate(self, headers: dict[str, str], fault: str) -> Reply | None:
        app = self.apps.get(headers.get("x-app-key", ""))
        if app is None:
            error, status = "invalid_app_key", 401
        elif not secrets.compare_digest(
            app["secret"].encode(), headers.get("x-app-secret", "").encode()
        ):
            error, status = "invalid_app_secret", 401
        elif app["disabled"] or fault == "disabled":
            error, status = "app_disabled", 403
        else:
            return None
        return Reply.envelope(40100, error, {"valid": False, "error": error}, status)

    # ------------------------------------------------------------------ endpoints

    def _validate(self, payload: dict[str, Any], app_key: str) -> Reply:
        token = payload.get("pass_token")
        if not isinstance(token, str) or not token:
            return _invalid("invalid_request")
        now = time.time()
        with self._lock:
            self.token_calls[token] += 1
            state = self.tokens.get(token)
            # A token solved for another app is not one this app issued (not consumed).
            if state is None or (state.app_key is not None and state.app_key != app_key):
                return _invalid("invalid_token")
            if state.degraded:
                return Reply.envelope(
                    0,
                    "degraded",
                    {"valid": False, "degraded": True, "reason": "quota_exhausted"},
                )
            if state.consumed:
                return _invalid("token_consumed")
            if state.expires_at < now:
                return _invalid("token_expired")
            if not payload.get("keep_token"):
                state.consumed = True
        client_ip = payload.get("client_ip")
        risk = self.risk_score if state.risk_score is None else state.risk_score
        data = {
            "valid": True,
            "challenge_id": state.challenge_id,
            "action": state.action,
            "risk_score": risk,
            "captcha_args": {
                "platform": "web",
                "user_ip": state.user_ip
                if state.user_ip is not None
                else (client_ip if isinstance(client_ip, str) else ""),
                "referer": "",
                "solved_at": state.solved_at,
                "risk_score": risk,
            },
        }
        if state.uid:
            data["uid"] = state.uid
        return Reply.envelope(0, "ok", data)

    def _issue(self, app_key: str, payload: dict[str, Any]) -> Reply:
        action = payload.get("action")
        if action not in KNOWN_ACTIONS:
            return Reply.envelope(40002, "invalid_action", {"error": "invalid_action"}, 400)
        ttl = min(max(_int(payload.get("ttl"), 300), 1), MAX_SERVER_TOKEN_TTL)
        uses = max(_int(payload.get("max_uses"), 5), 1)
        token = "sct_" + secrets.token_urlsafe(18)
        issued_at = int(time.time())
        with self._lock:
            self.server_tokens[token] = _ServerToken(app_key, action, issued_at + ttl, uses)
        return Reply.envelope(
            0, "ok", {"server_token": token, "expires_in": ttl, "issued_at": issued_at}
        )

    def _solve(self, payload: dict[str, Any]) -> Reply:
        """The browser passed the check: mint a pass token for it."""
        app_key = payload.get("appKey")
        action = payload.get("action") or None
        with self._lock:
            known = app_key in self.apps
        if not known:
            return _browser_error("invalid_app_key")
        server_token = payload.get("serverToken")
        if server_token:
            with self._lock:
                state = self.server_tokens.get(server_token)
                if state is None or state.app_key != app_key:
                    return _browser_error("server_token_invalid")
                if state.expires_at < time.time():
                    return _browser_error("server_token_expired")
                if state.uses_left <= 0:
                    return _browser_error("server_token_exhausted")
                if action and action != state.action:
                    return _browser_error("server_token_invalid")
                state.uses_left -= 1
                action = state.action
        with self._lock:
            degraded = self.faults.mode == "degraded"
        token = self.mint_pass_token(action, app_key=str(app_key), degraded=degraded)
        return Reply.envelope(0, "ok", {"token": token, "action": action})

    def _mint(self, payload: dict[str, Any]) -> Reply:
        token = self.mint_pass_token(
            payload.get("action") or None,
            app_key=str(payload["app_key"]) if payload.get("app_key") else None,
            ttl=_float_or_none(payload.get("ttl")),
            degraded=bool(payload.get("degraded")),
            prefix=payload.get("prefix") or None,
            risk_score=_score(payload.get("risk_score")),
            user_ip=payload.get("user_ip") if isinstance(payload.get("user_ip"), str) else None,
        )
        return Reply.envelope(0, "ok", {"token": token})

    def _faults(self, payload: dict[str, Any]) -> Reply:
        try:
            faults = self.set_fault(**payload)
        except (TypeError, ValueError) as exc:
            return Reply.envelope(40000, str(exc), status=400)
        return Reply.envelope(0, "ok", faults.as_dict())

    def _reset(self, payload: dict[str, Any]) -> Reply:
        self.reset()
        return Reply.envelope(0, "ok")


def _invalid(error: str) -> Reply:
    return Reply.envelope(40001, error, {"valid": False, "error": error})


def _browser_error(error: str) -> Reply:
    return Reply.envelope(40003, error, {"error": error}, 400)


def _json_object(body: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(body or b"null")
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _score(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _float_or_none(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _asset(name: str) -> bytes:
    return (resources.files(__package__) / "assets" / name).read_bytes()
