"""System checks. Ids are stable and listed in the README."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register
from django.utils.module_loading import import_string

from .conf import (
    POLICIES,
    SCOPE_KINDS,
    WIDGET_OPTIONS,
    WIDGET_PRODUCTS,
    get_setting,
    is_sandbox,
)
from .exceptions import ConfigurationError
from .middleware import REQUEST_CONTEXT_CHECK_ID, check_request_context

MAX_TIMEOUT = 30.0
MAX_TTL = 7 * 24 * 3600


class Codes:
    KEY_MISSING = "captchala_django.E001"
    SECRET_MISSING = "captchala_django.E002"
    KEY_MISSING_WARNING = "captchala_django.W005"
    SECRET_MISSING_WARNING = "captchala_django.W006"
    SANDBOX_WITHOUT_DEBUG = "captchala_django.E003"
    TIMEOUT_RANGE = "captchala_django.E004"
    TTL_RANGE = "captchala_django.E005"
    PROVIDER_POLICY = "captchala_django.E006"
    PERSISTENCE_POLICY = "captchala_django.E007"
    SCOPE = "captchala_django.E008"
    UNPARSABLE = "captchala_django.E009"
    WIDGET = "captchala_django.E010"
    PROXIES = "captchala_django.E011"
    MAX_RISK = "captchala_django.E012"
    SERVER_TOKEN_ACTIONS = "captchala_django.E013"
    UNMAPPED_ACTION = "captchala_django.W007"
    TTL_OUTLIVES_SESSION = "captchala_django.W008"
    RETRY_WINDOW_SHORT = "captchala_django.W009"
    NO_REFRESH_ENDPOINT = "captchala_django.W010"
    SANDBOX_FORCED = "captchala_django.W003"
    PLAIN_HTTP_API = "captchala_django.W004"
    SQLITE_NOT_IMMEDIATE = "captchala_django.W001"
    SESSION_SCOPE_WITHOUT_SESSIONS = "captchala_django.W011"
    BUDGET_CACHE_PER_PROCESS = "captchala_django.W012"
    NO_REQUEST_CONTEXT = REQUEST_CONTEXT_CHECK_ID


def _read(name: str, errors: list[CheckMessage]) -> tuple[bool, Any]:
    """Read a setting, turning a parse error into check ``E009``."""
    try:
        return True, get_setting(name)
    except ConfigurationError as exc:
        errors.append(Error(str(exc), id=Codes.UNPARSABLE, obj=name))
        return False, None


def check_keys(app_configs=None, *, deploy: bool = False, **kwargs) -> list[CheckMessage]:
    """Keys missing: a warning for ``migrate``, ``collectstatic`` and builds that run
    without secrets (W005/W006); an error under ``check --deploy`` (E001/E002). At
    runtime a check without keys is class ``configuration``, logged at ERROR."""
    messages: list[CheckMessage] = []
    for name, error_id, warning_id in (
        ("CAPTCHALA_APP_KEY", Codes.KEY_MISSING, Codes.KEY_MISSING_WARNING),
        ("CAPTCHALA_APP_SECRET", Codes.SECRET_MISSING, Codes.SECRET_MISSING_WARNING),
    ):
        ok, value = _read(name, messages)
        if ok and not value and not is_sandbox():
            level = Error if deploy else Warning
            messages.append(
                level(
                    f"{name} is not set.",
                    hint=f"Set {name} in your settings or environment "
                    "(or CAPTCHALA_SANDBOX = True for local development).",
                    id=error_id if deploy else warning_id,
                )
            )
    return messages


def check_keys_for_deploy(app_configs=None, **kwargs) -> list[CheckMessage]:
    return check_keys(app_configs, deploy=True, **kwargs)


def check_sandbox_in_production(app_configs=None, **kwargs) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    ok, sandbox = _read("CAPTCHALA_SANDBOX", errors)
    if not ok or not sandbox or settings.DEBUG:
        return errors
    ok, forced = _read("CAPTCHALA_SANDBOX_FORCE", errors)
    if ok and forced:
        errors.append(
            Warning(
                "The CaptchaLa sandbox is forced on with DEBUG off.",
                hint="Every visitor can mint pass tokens. Use this only on test servers.",
                id=Codes.SANDBOX_FORCED,
            )
        )
    elif ok:
        errors.append(
            Error(
                "CAPTCHALA_SANDBOX is on while DEBUG is off.",
                hint="Turn the sandbox off in production, or set CAPTCHALA_SANDBOX_FORCE "
                "for a test server.",
                id=Codes.SANDBOX_WITHOUT_DEBUG,
            )
        )
    return errors


def _is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host.rstrip(".") == "localhost":  # urlsplit has lower-cased it
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_api_urls(app_configs=None, **kwargs) -> list[CheckMessage]:
    """Plain http to a remote host would send the app secret (a header) in clear text."""
    errors: list[CheckMessage] = []
    try:
        if is_sandbox():
            return errors
    except ConfigurationError:
        return errors  # reported as E009 by check_sandbox_in_production
    for name in ("CAPTCHALA_API_URL", "CAPTCHALA_OFFLINE_API_URL"):
        ok, value = _read(name, errors)
        if not ok or not isinstance(value, str):
            continue
        url = value.strip()
        if url.partition(":")[0].lower() != "http":
            continue
        try:
            host = urlsplit(url).hostname
        except ValueError:  # e.g. an unclosed IPv6 bracket: not provably loopback
            host = None
        if not _is_loopback(host):
            # The value itself stays out of the message: it may carry user:password@.
            errors.append(
                Warning(
                    f"{name} is a plain http:// URL to a host that is not loopback.",
                    hint="Use an https:// URL: the app secret is sent in a header on every "
                    "call to the CaptchaLa API.",
                    id=Codes.PLAIN_HTTP_API,
                )
            )
    return errors


def _range_check(name: str, low: float, high: float, code: str, errors: list[CheckMessage]) -> None:
    ok, value = _read(name, errors)
    if not ok:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low < value <= high:
        errors.append(
            Error(
                f"{name} must be a number above {low:g} and at most {high:g}; got {value!r}.",
                id=code,
            )
        )


def check_numbers(app_configs=None, **kwargs) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    _range_check("CAPTCHALA_TIMEOUT", 0, MAX_TIMEOUT, Codes.TIMEOUT_RANGE, errors)
    _range_check("CAPTCHALA_CHECKPOINT_TTL", 0, MAX_TTL, Codes.TTL_RANGE, errors)
    return errors


def check_policies(app_configs=None, **kwargs) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    for name, code in (
        ("CAPTCHALA_ON_PROVIDER_ERROR", Codes.PROVIDER_POLICY),
        ("CAPTCHALA_ON_PERSISTENCE_ERROR", Codes.PERSISTENCE_POLICY),
    ):
        ok, value = _read(name, errors)
        if ok and value not in POLICIES:
            errors.append(Error(f"{name} must be one of {POLICIES}; got {value!r}.", id=code))
    return errors


def check_scope(app_configs=None, **kwargs) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    ok, value = _read("CAPTCHALA_DEFAULT_SCOPE", errors)
    if not ok or value in SCOPE_KINDS or callable(value):
        return errors
    try:
        if not isinstance(value, str) or "." not in value:
            raise ImportError(value)
        import_string(value)
    except ImportError:
        errors.append(
            Error(
                f"CAPTCHALA_DEFAULT_SCOPE must be one of {SCOPE_KINDS} or the dotted path "
                f"of a callable; {value!r} is neither.",
                id=Codes.SCOPE,
            )
        )
    return errors


def check_widget(app_configs=None, **kwargs) -> list[CheckMessage]:
    """``CAPTCHALA_WIDGET``: the loader's options only (an unknown key would be dropped)."""
    errors: list[CheckMessage] = []
    ok, value = _read("CAPTCHALA_WIDGET", errors)
    if not ok:
        return errors
    unknown = sorted(set(value) - set(WIDGET_OPTIONS)) if isinstance(value, dict) else []
    if not isinstance(value, dict) or value.get("product", "bind") not in WIDGET_PRODUCTS:
        problem = f"a dict whose 'product' is one of {WIDGET_PRODUCTS}"
    elif unknown:
        problem = f"a dict of the loader's options {WIDGET_OPTIONS}; unknown: {unknown}"
    elif not isinstance(value.get("theme", ""), (str, dict)):
        problem = "a dict whose 'theme' is a name or a dict"
    else:
        return errors
    errors.append(Error(f"CAPTCHALA_WIDGET must be {problem}; got {value!r}.", id=Codes.WIDGET))
    return errors


def check_max_risk(app_configs=None, **kwargs) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    ok, value = _read("CAPTCHALA_MAX_RISK", errors)
    if ok and value is not None and (type(value) is not int or not 0 <= value <= 100):
        errors.append(
            Error(
                f"CAPTCHALA_MAX_RISK must be None or a whole number from 0 to 100; got {value!r}.",
                id=Codes.MAX_RISK,
            )
        )
    return errors


def check_server_token_actions(app_configs=None, **kwargs) -> list[CheckMessage]:
    """The mapping's targets are the provider's actions; names the site uses that are
    neither the provider's nor mapped share ``generic_form`` (a warning)."""
    from .actions import KNOWN_ACTIONS, used_actions

    errors: list[CheckMessage] = []
    ok, mapping = _read("CAPTCHALA_SERVER_TOKEN_ACTIONS", errors)
    if not ok:
        return errors
    if not isinstance(mapping, dict) or any(v not in KNOWN_ACTIONS for v in mapping.values()):
        errors.append(
            Error(
                "CAPTCHALA_SERVER_TOKEN_ACTIONS must map your action names to the provider's "
                f"{KNOWN_ACTIONS}; got {mapping!r}.",
                id=Codes.SERVER_TOKEN_ACTIONS,
            )
        )
        return errors
    unmapped = sorted(used_actions() - set(KNOWN_ACTIONS) - set(mapping))
    if unmapped:
        errors.append(
            Warning(
                f"The actions {unmapped} are not the provider's: their widgets run as "
                "'generic_form', and a pass solved on any generic_form widget is accepted "
                "for them.",
                hint="Name a provider action, or map each one in "
                'CAPTCHALA_SERVER_TOKEN_ACTIONS (for example {"transfer": "checkout"}).',
                id=Codes.UNMAPPED_ACTION,
            )
        )
    return errors


def check_proxies(app_configs=None, **kwargs) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    ok, value = _read("CAPTCHALA_TRUSTED_PROXIES", errors)
    if not ok:
        return errors
    values = [value] if isinstance(value, str) else value
    for cidr in values or []:
        try:
            ipaddress.ip_network(str(cidr), strict=False)
        except ValueError:
            errors.append(
                Error(
                    f"CAPTCHALA_TRUSTED_PROXIES holds {cidr!r}, not an IP network.",
                    id=Codes.PROXIES,
                )
            )
    return errors


def check_sqlite_concurrency(app_configs=None, **kwargs) -> list[CheckMessage]:
    """SQLite serves concurrent writers only with IMMEDIATE transactions (Django 5.1+)."""
    from django.db import connections, router

    from .models import Checkpoint

    alias = router.db_for_write(Checkpoint)
    connection = connections[alias]
    if connection.vendor != "sqlite":
        return []
    options = connection.settings_dict.get("OPTIONS") or {}
    if options.get("transaction_mode") == "IMMEDIATE":
        return []
    return [
        Warning(
            f"The checkpoint database {alias!r} is SQLite without IMMEDIATE transactions: "
            "concurrent requests can fail at once with 'database is locked'.",
            hint=f'Set DATABASES[{alias!r}]["OPTIONS"] = '
            '{"transaction_mode": "IMMEDIATE", "timeout": 20}.',
            id=Codes.SQLITE_NOT_IMMEDIATE,
        )
    ]


def check_lifetimes(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Lifetimes that drift apart in real deployments: a pass that outlives its session, a
    retry window shorter than a slow check, server tokens with no way to be renewed."""
    from .server_tokens import TOKEN_TTL

    messages: list[CheckMessage] = []
    ok_ttl, ttl = _read("CAPTCHALA_CHECKPOINT_TTL", messages)
    ok_scope, scope = _read("CAPTCHALA_DEFAULT_SCOPE", messages)
    age = getattr(settings, "SESSION_COOKIE_AGE", 1209600)
    in_range = _number(ttl) and 0 < ttl <= MAX_TTL  # else E005 says it
    if ok_ttl and ok_scope and scope == "session" and in_range and ttl > age:
        browser = (
            " (browser-length sessions end sooner still)"
            if getattr(settings, "SESSION_EXPIRE_AT_BROWSER_CLOSE", False)
            else ""
        )
        messages.append(
            Warning(
                f"CAPTCHALA_CHECKPOINT_TTL ({ttl} s) outlives the session it is bound to "
                f"(SESSION_COOKIE_AGE, {age} s){browser}: the pass is lost with the session "
                "and its row waits for captchala_cleanup.",
                hint="Make CAPTCHALA_CHECKPOINT_TTL at most SESSION_COOKIE_AGE.",
                id=Codes.TTL_OUTLIVES_SESSION,
            )
        )
    ok_window, window = _read("CAPTCHALA_RETRY_WINDOW", messages)
    ok_timeout, timeout = _read("CAPTCHALA_TIMEOUT", messages)
    ok_margin, margin = _read("CAPTCHALA_CLAIM_MARGIN", messages)
    if ok_window and ok_timeout and ok_margin and window is not None:
        slowest = _number(timeout) and _number(margin) and timeout + margin
        if _number(window) and slowest and window < slowest:
            messages.append(
                Warning(
                    f"CAPTCHALA_RETRY_WINDOW ({window} s) is shorter than a slow check "
                    f"(CAPTCHALA_TIMEOUT + CAPTCHALA_CLAIM_MARGIN = {slowest:g} s): a user "
                    "who resubmits while the first try is still slow is refused as a replay.",
                    hint="Leave CAPTCHALA_RETRY_WINDOW unset (timeout + 5 s) or raise it.",
                    id=Codes.RETRY_WINDOW_SHORT,
                )
            )
    ok_tokens, server_tokens = _read("CAPTCHALA_SERVER_TOKENS", messages)
    if ok_tokens and server_tokens and not _refresh_endpoint_installed():
        messages.append(
            Warning(
                f"Server tokens live {TOKEN_TTL} s, and the URLconf has no refresh endpoint: "
                "a page left open longer cannot get a new one, and its widget fails.",
                hint='Add path("captchala/", include("captchala_django.urls")) to your URLconf.',
                id=Codes.NO_REFRESH_ENDPOINT,
            )
        )
    return messages


def check_session_store(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """The default ``session`` scope needs a session store: without one a pass keeps
    nothing (and never falls back to the address, which would make it everyone's)."""
    messages: list[CheckMessage] = []
    ok, scope = _read("CAPTCHALA_DEFAULT_SCOPE", messages)
    if not ok or scope != "session" or _installed(_SESSION_MIDDLEWARE):
        return messages
    messages.append(
        Warning(
            "CAPTCHALA_DEFAULT_SCOPE is 'session' but no SessionMiddleware is installed: a "
            "passed check lets its one request through and keeps no pass, so every guarded "
            "request needs a fresh token.",
            hint="Add django.contrib.sessions.middleware.SessionMiddleware to MIDDLEWARE, "
            "or set CAPTCHALA_DEFAULT_SCOPE = 'user' (clients that authenticate) or 'ip' "
            "(everyone behind one address then shares a pass; set CAPTCHALA_TRUSTED_PROXIES "
            "behind a proxy).",
            id=Codes.SESSION_SCOPE_WITHOUT_SESSIONS,
        )
    )
    return messages


_SESSION_MIDDLEWARE = "django.contrib.sessions.middleware.SessionMiddleware"


def _installed(middleware: str) -> bool:
    """Whether ``MIDDLEWARE`` holds ``middleware`` or a subclass of it."""
    wanted = import_string(middleware)
    for path in getattr(settings, "MIDDLEWARE", None) or []:
        try:
            found = import_string(path)
        except ImportError:  # Django's own checks report a middleware that does not import
            continue
        if isinstance(found, type) and issubclass(found, wanted):
            return True
    return False


def check_budget_cache(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """The budgets count in ``CAPTCHALA_CACHE``: a cache that lives per process (or counts
    nothing, and is replaced by one that does) gives each process a budget of its own,
    and one whose ``incr`` is not atomic loses counts made at once by several processes.
    Quiet with ``DEBUG`` on (a development server is one process)."""
    from django.core.cache.backends.db import DatabaseCache
    from django.core.cache.backends.dummy import DummyCache
    from django.core.cache.backends.filebased import FileBasedCache
    from django.core.cache.backends.locmem import LocMemCache

    messages: list[CheckMessage] = []
    ok, alias = _read("CAPTCHALA_CACHE", messages)
    config = (getattr(settings, "CACHES", None) or {}).get(alias) if ok else None
    if settings.DEBUG or not isinstance(config, dict):
        return messages
    try:
        backend = import_string(config.get("BACKEND", ""))
    except ImportError:  # Django reports a cache that does not import
        return messages
    if not isinstance(backend, type):
        return messages
    if issubclass(backend, (LocMemCache, DummyCache)):
        problem = (
            "which each process keeps for itself: with several workers, each one spends "
            "its own budget of server tokens and failed checks per client"
        )
    elif issubclass(backend, (DatabaseCache, FileBasedCache)):
        problem = (
            "whose incr() is a read then a write: requests counted at once in several "
            "processes lose each other's counts, and slip under the budget together"
        )
    else:
        return messages
    messages.append(
        Warning(
            f"CAPTCHALA_CACHE ({alias!r}) is {backend.__name__}, {problem}.",
            hint="Point CAPTCHALA_CACHE at a cache all processes share and that counts "
            "atomically, such as django.core.cache.backends.redis.RedisCache or "
            "PyMemcacheCache.",
            id=Codes.BUDGET_CACHE_PER_PROCESS,
        )
    )
    return messages


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _refresh_endpoint_installed() -> bool:
    from django.urls import NoReverseMatch, reverse

    try:
        reverse("captchala:server-token")
    except NoReverseMatch:
        return False
    except Exception:  # noqa: BLE001 - a broken URLconf is Django's own check to report
        return True
    return True


ALL_CHECKS: list[Callable[..., list[CheckMessage]]] = [
    check_keys,
    check_numbers,
    check_policies,
    check_scope,
    check_widget,
    check_max_risk,
    check_server_token_actions,
    check_lifetimes,
    check_proxies,
    check_sqlite_concurrency,
    check_api_urls,
    check_session_store,
    check_budget_cache,
    check_request_context,
]


def register_checks() -> None:
    for check in ALL_CHECKS:
        register(check, "captchala_django")
    # Not deploy-only: runserver, migrate and every ``manage.py check`` report it.
    register(check_sandbox_in_production, "captchala_django", Tags.security)
    register(check_keys_for_deploy, "captchala_django", Tags.security, deploy=True)
