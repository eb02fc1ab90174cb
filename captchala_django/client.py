"""HTTP client for the CaptchaLa server API.

This module is the only one that imports ``requests``. It owns the pooled
session, the timeouts, the envelope parsing and the mapping of every
transport or protocol problem onto :mod:`captchala_django.exceptions`.
A *verdict* (valid, invalid, degraded) is returned as a
:class:`ValidationResult`; everything else is raised.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, TypedDict, overload

import requests
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpRequest
from urllib3.util import Timeout

from ._transport import USER_AGENT, create_session, environment_for, pooled, reset_session
from .actions import KNOWN_ACTIONS, provider_action
from .codes import Code
from .conf import app_settings, factory_setting
from .exceptions import (
    CaptchaLaError,
    ConfigurationError,
    ProviderRateLimited,
    ProviderRejected,
    ProviderResponseError,
    ProviderTimeout,
    ProviderUnavailable,
)
from .keys import keys_for
from .tokens import printable, token_format_error

logger = logging.getLogger("captchala_django.client")

#: Largest provider reply read; a longer body is a malformed reply.
REPLY_MAX_BYTES = 64 * 1024
#: Provider error codes that mean our configuration is wrong, not the user.
CONFIGURATION_CODES = frozenset({Code.INVALID_APP_KEY, Code.INVALID_APP_SECRET, Code.APP_DISABLED})
#: The provider's own rate limit: no verdict on the token, so "try again later".
RATE_LIMIT_CODE = Code.RATE_LIMIT_EXCEEDED


@dataclass(frozen=True)
class ValidationResult:
    """The provider's verdict on one pass token."""

    valid: bool
    code: str
    message: str = ""
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)
    latency_ms: float = 0.0
    action: str | None = None
    risk_score: int | None = None
    degraded: bool = False
    challenge_id: str | None = None
    captcha_args: Mapping[str, Any] = field(default_factory=dict, repr=False)
    #: False when the verdict was reached locally, without a provider call.
    called: bool = True


@dataclass(frozen=True)
class ServerToken:
    """A server token (``sct_...``) to hand to the browser widget."""

    token: str = field(repr=False)
    expires_in: int
    issued_at: int
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)


# --------------------------------------------------------------------------- session


def get_session() -> requests.Session:
    """The process-wide session of the default client (a new one after ``fork``)."""
    return pooled(CaptchaLaClient, create_session)


# --------------------------------------------------------------------------- client


class CaptchaLaClient:
    """Talks to ``{api}/v1/validate`` and ``{api}/v1/server/challenge/issue``.

    Arguments default to the ``CAPTCHALA_*`` settings, read when the client is
    made. Clients are cheap: the pooled HTTP session is shared by the process.
    ``CAPTCHALA_CLIENT`` names a subclass for every check (:func:`get_client`).
    """

    def __init__(
        self,
        app_key: str | None = None,
        app_secret: str | None = None,
        api_url: str | None = None,
        *,
        offline_api_url: str | None = None,
        timeout: float | None = None,
        connect_timeout: float | None = None,
        send_client_ip: bool | None = None,
        accept_client_only: bool | None = None,
        require_action: bool | None = None,
        session: requests.Session | None = None,
    ):
        self.app_key = app_key or app_settings.APP_KEY
        self._secret = app_secret or app_settings.APP_SECRET
        self.api_url = (api_url or app_settings.API_URL).rstrip("/")
        self.offline_api_url = offline_api_url or app_settings.OFFLINE_API_URL
        self.timeout = float(timeout if timeout is not None else app_settings.TIMEOUT)
        self.connect_timeout = float(
            connect_timeout if connect_timeout is not None else min(self.timeout, 3.0)
        )
        self.send_client_ip = (
            app_settings.SEND_CLIENT_IP if send_client_ip is None else send_client_ip
        )
        self.accept_client_only = (
            app_settings.ACCEPT_CLIENT_ONLY if accept_client_only is None else accept_client_only
        )
        self.require_action = (
            app_settings.REQUIRE_ACTION if require_action is None else require_action
        )
        self._session = session

    def __repr__(self) -> str:
        return f"<{type(self).__name__} api_url={self.api_url!r} app_key={self.app_key!r}>"

    def for_app(self, app_key: str, app_secret: str) -> CaptchaLaClient:
        """This client (its URLs, timeouts, session) for another CaptchaLa app."""
        other = copy.copy(self)
        other.app_key, other._secret = app_key, app_secret
        return other

    def create_session(self) -> requests.Session:
        """The HTTP session of this class's calls, made once per process and pooled.

        Override it to add a proxy, a CA bundle, retries or instrumentation: change the
        session ``super().create_session()`` returns (its ``proxies`` and ``verify`` win
        over the environment's). Retry connects only: a retried read may send the
        provider a token it has already consumed.
        """
        return create_session()  # the module's function

    @property
    def session(self) -> requests.Session:
        """The session given to the constructor, else the process's one for this class."""
        if self._session is not None:
            return self._session
        owner = next(k for k in type(self).__mro__ if "create_session" in vars(k))
        return pooled(owner, self.create_session)

    # ------------------------------------------------------------------ public calls

    def validate(
        self, pass_token: str, client_ip: str | None = None, *, action: str | None = None
    ) -> ValidationResult:
        """Ask the provider whether ``pass_token`` is a valid, unused pass.

        Returns a verdict, or raises ``ProviderUnavailable`` / ``ProviderTimeout``
        / ``ProviderResponseError`` / ``ConfigurationError``. When ``action`` is
        given, a valid or degraded reply for another action is an invalid verdict
        (``token_action_mismatch``); so is one that names no action when
        ``require_action`` (``CAPTCHALA_REQUIRE_ACTION``) is on.
        """
        reason = token_format_error(pass_token)
        if reason:
            return ValidationResult(valid=False, code=reason, called=False)
        if pass_token.startswith("client_"):
            if self.accept_client_only:
                return ValidationResult(valid=True, code=Code.CLIENT_ONLY, called=False)
            return ValidationResult(valid=False, code=Code.CLIENT_TOKEN_REFUSED, called=False)

        if pass_token.startswith("offline_"):
            url = self.offline_api_url
        else:
            url = self.api_url + "/v1/validate"
        payload: dict[str, Any] = {"pass_token": pass_token, "keep_token": False}
        if client_ip and self.send_client_ip:
            payload["client_ip"] = client_ip

        status, body, latency_ms = self._post(url, payload)
        result = self._parse_validate(status, body, latency_ms)
        mismatch = (
            action
            and result.action not in (action, provider_action(action))
            and (result.action or self.require_action)
        )
        # A degraded verdict is one a site may accept: it obeys the same action rule.
        if (result.valid or result.degraded) and mismatch:
            message = f"token was solved for action {result.action!r}, expected {action!r}"
            return replace(
                result,
                valid=False,
                degraded=False,
                code=Code.TOKEN_ACTION_MISMATCH,
                message=message,
            )
        return result

    def issue_server_token(
        self,
        action: str,
        *,
        binding_ip: str | None = None,
        ttl: int | None = None,
        max_uses: int | None = None,
        bind_uid: str | None = None,
    ) -> ServerToken:
        """Issue a server token for one widget render of ``action``."""
        payload: dict[str, Any] = {"action": action}
        if binding_ip and self.send_client_ip:  # CAPTCHALA_SEND_CLIENT_IP covers both calls
            payload["binding_ip"] = binding_ip
        if ttl is not None:
            payload["ttl"] = int(ttl)
        if max_uses is not None:
            payload["max_uses"] = int(max_uses)
        if bind_uid:
            payload["bind_uid"] = str(bind_uid)
        status, body, _latency = self._post(self.api_url + "/v1/server/challenge/issue", payload)
        code, data, msg = self._envelope(status, body)
        token = data.get("server_token")
        if code == 0 and isinstance(token, str) and token:
            return ServerToken(
                token=token,
                expires_in=_as_int(data.get("expires_in"), 300),
                issued_at=_as_int(data.get("issued_at"), int(time.time())),
                raw=body,
            )
        error = printable(body.get("error") or data.get("error") or msg or "unknown_error")
        self._raise_for_configuration(status, error)
        self._raise_for_rate_limit(status, error)
        if status >= 500:
            raise ProviderUnavailable("CaptchaLa could not issue a server token", status=status)
        if code == 0:
            raise ProviderResponseError("Issue reply has no server_token", status=status)
        raise ProviderRejected(
            "CaptchaLa refused to issue a server token", code=error, status=status
        )

    # ------------------------------------------------------------------ HTTP

    def _headers(self) -> dict[str, str]:
        return {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "X-App-Key": self.app_key,
            "X-App-Secret": self._secret,
        }

    def _post(self, url: str, payload: dict[str, Any]) -> tuple[int, Any, float]:
        timeout = Timeout(connect=self.connect_timeout, read=self.timeout, total=self.timeout)
        session = self.session
        proxies, verify = environment_for(url)
        # What create_session() set in code wins over what the environment says.
        proxies = {**proxies, **session.proxies}
        if session.verify is not True and session.verify is not None:
            verify = session.verify
        start = time.perf_counter()
        try:
            # Never follow a redirect: it would carry the secret (and, for 307/308, the
            # token) to another host, and that host's verdict would be trusted.
            response = session.post(
                url,
                json=payload,
                headers=self._headers(),
                # requests takes a urllib3 Timeout as it is (HTTPAdapter.send); its stubs
                # know only a number or a (connect, read) pair, and neither has ``total``.
                timeout=timeout,  # type: ignore[arg-type]
                allow_redirects=False,
                proxies=proxies,
                verify=verify,
            )
            content = response.content
        except requests.Timeout as exc:
            raise ProviderTimeout(
                f"CaptchaLa did not answer within {self.timeout:g}s ({type(exc).__name__})"
            ) from exc
        except requests.RequestException as exc:
            raise ProviderUnavailable(f"Could not reach CaptchaLa ({type(exc).__name__})") from exc
        latency_ms = (time.perf_counter() - start) * 1000
        status = response.status_code
        logger.debug("POST %s -> HTTP %s in %.1f ms", url, status, latency_ms)
        if 300 <= status < 400:
            raise ProviderResponseError(
                f"CaptchaLa answered with a redirect (HTTP {status}); redirects are not followed",
                status=status,
            )
        if len(content) > REPLY_MAX_BYTES:
            raise ProviderResponseError("CaptchaLa reply is too large", status=status)
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            if status >= 500:
                raise ProviderUnavailable(f"CaptchaLa answered HTTP {status}", status=status)
            raise ProviderResponseError("CaptchaLa reply is not a JSON object", status=status)
        return status, body, latency_ms

    @staticmethod
    def _envelope(status: int, body: dict[str, Any]) -> tuple[int, dict[str, Any], str]:
        code = body.get("code")
        data = body.get("data")
        if data is None:
            data = {}
        if isinstance(code, bool) or not isinstance(code, int) or not isinstance(data, dict):
            if status >= 500:
                raise ProviderUnavailable(f"CaptchaLa answered HTTP {status}", status=status)
            raise ProviderResponseError("CaptchaLa reply is not a valid envelope", status=status)
        msg = body.get("msg")
        return code, data, msg if isinstance(msg, str) else ""

    @staticmethod
    def _raise_for_rate_limit(status: int, error: str) -> None:
        if error == RATE_LIMIT_CODE or status == 429:
            raise ProviderRateLimited(
                "CaptchaLa's rate limit was reached", code=RATE_LIMIT_CODE, status=status
            )

    @staticmethod
    def _raise_for_configuration(status: int, error: str) -> None:
        if error in CONFIGURATION_CODES or status in (401, 403):
            raise ConfigurationError(
                "CaptchaLa rejected the configured keys: check CAPTCHALA_APP_KEY, "
                "CAPTCHALA_APP_SECRET and that the app is enabled",
                code=error,
                status=status,
            )

    def _parse_validate(
        self, status: int, body: dict[str, Any], latency_ms: float
    ) -> ValidationResult:
        code, data, msg = self._envelope(status, body)
        flag = data.get("valid", data.get("ok"))
        captcha_args = data.get("captcha_args")
        if not isinstance(captcha_args, dict):
            captcha_args = {}
        common: _Common = {
            "raw": body,
            "latency_ms": latency_ms,
            "action": _as_str(data.get("action")),
            "risk_score": _score(data.get("risk_score", captcha_args.get("risk_score"))),
            "challenge_id": _as_str(data.get("challenge_id")),
            "captcha_args": captcha_args,
        }
        if code == 0 and flag is True:
            return ValidationResult(valid=True, code=Code.OK, message=msg, **common)

        error = printable(data.get("error") or body.get("error") or msg or Code.INVALID_TOKEN)
        self._raise_for_configuration(status, error)
        self._raise_for_rate_limit(status, error)
        if flag is None:
            if status >= 500:
                raise ProviderUnavailable(f"CaptchaLa answered HTTP {status}", status=status)
            if code == 0:
                raise ProviderResponseError("CaptchaLa reply carries no verdict", status=status)
        if data.get("degraded") is True:
            reason = printable(data.get("reason") or Code.DEGRADED)
            return ValidationResult(valid=False, code=reason, message=msg, degraded=True, **common)
        return ValidationResult(valid=False, code=error, message=msg, **common)


# --------------------------------------------------------------------------- the site's client

_factory: Callable[[], CaptchaLaClient] | None = None


def get_client(request: HttpRequest | None = None) -> CaptchaLaClient:
    """The client every check, server token and ``captchala_ping`` uses: a new one of
    ``CAPTCHALA_CLIENT`` (resolved once; again when the setting changes), else
    :class:`CaptchaLaClient`, with the keys of ``request``'s app when
    ``CAPTCHALA_KEYS_RESOLVER`` names one (:mod:`captchala_django.keys`). Raises
    ``ConfigurationError`` for a setting that names no client (system check E014 says so
    at start-up) or a resolver that fails."""
    global _factory
    if _factory is None:
        _factory = factory_setting("CAPTCHALA_CLIENT", CaptchaLaClient)
    keys = keys_for(request)
    client = _factory()
    if not isinstance(client, CaptchaLaClient):
        raise ConfigurationError(
            f"CAPTCHALA_CLIENT returned a {type(client).__name__}, not a CaptchaLaClient"
        )
    return client if keys is None else client.for_app(keys.app_key, keys.app_secret)


@receiver(setting_changed)
def _forget_client_factory(*, setting: str, **kwargs: Any) -> None:
    global _factory
    if setting == "CAPTCHALA_CLIENT":
        _factory = None


class _Common(TypedDict):
    """What every verdict of one reply carries (``ValidationResult`` keyword arguments)."""

    raw: Mapping[str, Any]
    latency_ms: float
    action: str | None
    risk_score: int | None
    challenge_id: str | None
    captcha_args: Mapping[str, Any]


@overload
def _as_int(value: Any, default: int) -> int: ...
@overload
def _as_int(value: Any, default: None) -> int | None: ...
def _as_int(value: Any, default: int | None) -> int | None:
    if isinstance(value, bool):
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _score(value: Any) -> int | None:
    """The risk score, kept within its documented 0-100: a reply outside it is read as the
    nearest bound (so a threshold still applies), never stored as a value the column refuses."""
    score = _as_int(value, None)
    return None if score is None else min(max(score, 0), 100)


def _as_str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


__all__ = ["KNOWN_ACTIONS", "CaptchaLaClient", "CaptchaLaError", "ServerToken", "provider_action"]
__all__ += ["ValidationResult", "create_session", "get_session", "printable", "token_format_error"]
__all__ += ["USER_AGENT", "environment_for", "get_client", "reset_session"]
