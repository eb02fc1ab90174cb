"""System checks. Ids are stable and listed in :mod:`captchala_django.check_catalogue`.

What a setting's value may be is in its spec (:mod:`captchala_django.conf`): ranges, lists
of values and environment values that do not parse are checked from there
(:func:`check_settings`). The functions below check the rest, by hand; a check of how the
site is wired around one module lives in that module (middleware, actions, budgets).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register
from django.utils.module_loading import import_string

from .actions import UNMAPPED_ACTION_CHECK_ID, check_server_token_actions
from .budgets import BUDGET_CACHE_CHECK_ID, check_budget_cache
from .checks_keys import (
    check_keys,
    check_keys_for_deploy,
    check_sandbox_in_production,
    check_sandbox_urls,
    in_a_test_run,
)
from .client import CaptchaLaClient
from .conf import (
    SCOPE_KINDS,
    SETTINGS,
    WIDGET_OPTIONS,
    WIDGET_PRODUCTS,
    Fields,
    OneOf,
    Range,
    check_id,
    factory_setting,
    get_setting,
)
from .exceptions import ConfigurationError
from .middleware import REQUEST_CONTEXT_CHECK_ID, check_request_context


class Codes:
    KEY_MISSING = check_id("CAPTCHALA_APP_KEY")
    SECRET_MISSING = check_id("CAPTCHALA_APP_SECRET")
    KEY_MISSING_WARNING = "captchala_django.W005"
    SECRET_MISSING_WARNING = "captchala_django.W006"
    SANDBOX_WITHOUT_DEBUG = check_id("CAPTCHALA_SANDBOX")
    TIMEOUT_RANGE = check_id("CAPTCHALA_TIMEOUT")
    TTL_RANGE = check_id("CAPTCHALA_CHECKPOINT_TTL")
    PROVIDER_POLICY = check_id("CAPTCHALA_ON_PROVIDER_ERROR")
    PERSISTENCE_POLICY = check_id("CAPTCHALA_ON_PERSISTENCE_ERROR")
    SCOPE = check_id("CAPTCHALA_DEFAULT_SCOPE")
    UNPARSABLE = "captchala_django.E009"
    WIDGET = check_id("CAPTCHALA_WIDGET")
    PROXIES = check_id("CAPTCHALA_TRUSTED_PROXIES")
    MAX_RISK = check_id("CAPTCHALA_MAX_RISK")
    SERVER_TOKEN_ACTIONS = check_id("CAPTCHALA_SERVER_TOKEN_ACTIONS")
    CLIENT = check_id("CAPTCHALA_CLIENT")
    STEP_UP = check_id("CAPTCHALA_STEP_UP")
    UNDER_ATTACK = check_id("CAPTCHALA_UNDER_ATTACK")
    ADDRESS_STORAGE = check_id("CAPTCHALA_ADDRESS_STORAGE")
    RETENTION = check_id("CAPTCHALA_RETENTION")
    KEYS_RESOLVER = check_id("CAPTCHALA_KEYS_RESOLVER")
    UNMAPPED_ACTION = UNMAPPED_ACTION_CHECK_ID
    TTL_OUTLIVES_SESSION = "captchala_django.W008"
    RETRY_WINDOW_SHORT = "captchala_django.W009"
    NO_REFRESH_ENDPOINT = "captchala_django.W010"
    SANDBOX_FORCED = "captchala_django.W003"
    PLAIN_HTTP_API = check_id("CAPTCHALA_API_URL")
    SQLITE_NOT_IMMEDIATE = "captchala_django.W001"
    SESSION_SCOPE_WITHOUT_SESSIONS = "captchala_django.W011"
    BUDGET_CACHE_PER_PROCESS = BUDGET_CACHE_CHECK_ID
    NO_REQUEST_CONTEXT = REQUEST_CONTEXT_CHECK_ID


#: What :func:`_get` answers for a value that does not parse.
UNPARSABLE = object()


def _get(name: str) -> Any:
    """A setting's value, or ``UNPARSABLE`` (error E009, said by :func:`check_settings`)."""
    try:
        return get_setting(name)
    except ConfigurationError:
        return UNPARSABLE


# ------------------------------------------------------------------ from the specs


def check_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Every setting: an environment value that does not parse (E009), and a value out of
    the range or the list of values its spec allows (E004-E007, E012). Derived from the
    specs: a setting added there is checked here with no code of its own."""
    errors: list[CheckMessage] = []
    for spec in SETTINGS.values():
        try:
            value = get_setting(spec.name)
        except ConfigurationError as exc:
            errors.append(Error(str(exc), id=Codes.UNPARSABLE, obj=spec.name))
            continue
        rule = spec.check
        if isinstance(rule, (Range, OneOf, Fields)) and not rule.accepts(value):
            message = f"{spec.name} must be {rule.describe()}; got {value!r}."
            errors.append(Error(message, id=rule.id))
    return errors


# ------------------------------------------------------------------ by hand


def check_keys_resolver(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E020: ``CAPTCHALA_KEYS_RESOLVER`` names no callable (keys per site)."""
    from .keys import resolver

    try:
        resolver()
    except ConfigurationError as exc:
        return [
            Error(
                f"{exc}.",
                hint="Name a callable(request) returning AppKeys, (app_key, app_secret) or None.",
                id=Codes.KEYS_RESOLVER,
                obj="CAPTCHALA_KEYS_RESOLVER",
            )
        ]
    return []


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
    if _get("CAPTCHALA_SANDBOX") is UNPARSABLE or _get("CAPTCHALA_SANDBOX"):
        return []
    errors: list[CheckMessage] = []
    for name in ("CAPTCHALA_API_URL", "CAPTCHALA_OFFLINE_API_URL"):
        value = _get(name)
        url = value.strip() if isinstance(value, str) else ""
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


def check_client(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """``CAPTCHALA_CLIENT`` names a client: said at start-up, not found out by a check."""
    if _get("CAPTCHALA_CLIENT") is UNPARSABLE:
        return []
    try:
        factory_setting("CAPTCHALA_CLIENT", CaptchaLaClient)
    except ConfigurationError as exc:
        hint = (
            "Set CAPTCHALA_CLIENT to None (CaptchaLaClient itself), or to the dotted path of "
            "a CaptchaLaClient subclass or of a function that takes no argument and returns "
            "a CaptchaLaClient."
        )
        return [Error(f"{exc}.", hint=hint, id=Codes.CLIENT, obj="CAPTCHALA_CLIENT")]
    return []


def check_scope(app_configs=None, **kwargs) -> list[CheckMessage]:
    value = _get("CAPTCHALA_DEFAULT_SCOPE")
    if value is UNPARSABLE or value in SCOPE_KINDS or callable(value):
        return []
    try:
        if not isinstance(value, str) or "." not in value:
            raise ImportError(value)
        import_string(value)
    except ImportError:
        message = (
            f"CAPTCHALA_DEFAULT_SCOPE must be one of {SCOPE_KINDS} or the dotted path "
            f"of a callable; {value!r} is neither."
        )
        return [Error(message, id=Codes.SCOPE)]
    return []


def check_widget(app_configs=None, **kwargs) -> list[CheckMessage]:
    """``CAPTCHALA_WIDGET``: the loader's options only (an unknown key would be dropped)."""
    value = _get("CAPTCHALA_WIDGET")
    if value is UNPARSABLE:
        return []
    unknown = sorted(set(value) - set(WIDGET_OPTIONS)) if isinstance(value, dict) else []
    if not isinstance(value, dict) or value.get("product", "bind") not in WIDGET_PRODUCTS:
        problem = f"a dict whose 'product' is one of {WIDGET_PRODUCTS}"
    elif unknown:
        problem = f"a dict of the loader's options {WIDGET_OPTIONS}; unknown: {unknown}"
    elif not isinstance(value.get("theme", ""), (str, dict)):
        problem = "a dict whose 'theme' is a name or a dict"
    else:
        return []
    return [Error(f"CAPTCHALA_WIDGET must be {problem}; got {value!r}.", id=Codes.WIDGET)]


def check_proxies(app_configs=None, **kwargs) -> list[CheckMessage]:
    value = _get("CAPTCHALA_TRUSTED_PROXIES")
    if value is UNPARSABLE:
        return []
    errors: list[CheckMessage] = []
    for cidr in ([value] if isinstance(value, str) else value) or []:
        try:
            ipaddress.ip_network(str(cidr), strict=False)
        except ValueError:
            message = f"CAPTCHALA_TRUSTED_PROXIES holds {cidr!r}, not an IP network."
            errors.append(Error(message, id=Codes.PROXIES))
    return errors


# ------------------------------------------------------------------ the site around them


def check_sqlite_concurrency(app_configs=None, **kwargs) -> list[CheckMessage]:
    """SQLite serves concurrent writers only with IMMEDIATE transactions (Django 5.1+). Said
    with ``DEBUG`` off: a development server rarely has concurrent writers, and a new
    project's SQLite is what a newcomer starts with."""
    from django.db import connections, router

    from .models import Checkpoint

    if settings.DEBUG or in_a_test_run():
        return []
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
    return [*_pass_outlives_session(), *_retry_window_short(), *_no_refresh_endpoint()]


def _pass_outlives_session() -> list[CheckMessage]:
    ttl, scope = _get("CAPTCHALA_CHECKPOINT_TTL"), _get("CAPTCHALA_DEFAULT_SCOPE")
    age = getattr(settings, "SESSION_COOKIE_AGE", 1209600)
    in_range = _accepted("CAPTCHALA_CHECKPOINT_TTL", ttl)  # else E005 says it
    if scope != "session" or not in_range or ttl <= age:
        return []
    browser = (
        " (browser-length sessions end sooner still)"
        if getattr(settings, "SESSION_EXPIRE_AT_BROWSER_CLOSE", False)
        else ""
    )
    return [
        Warning(
            f"CAPTCHALA_CHECKPOINT_TTL ({ttl} s) outlives the session it is bound to "
            f"(SESSION_COOKIE_AGE, {age} s){browser}: the pass is lost with the session "
            "and its row waits for captchala_cleanup.",
            hint="Make CAPTCHALA_CHECKPOINT_TTL at most SESSION_COOKIE_AGE.",
            id=Codes.TTL_OUTLIVES_SESSION,
        )
    ]


def _retry_window_short() -> list[CheckMessage]:
    window, timeout = _get("CAPTCHALA_RETRY_WINDOW"), _get("CAPTCHALA_TIMEOUT")
    margin = _get("CAPTCHALA_CLAIM_MARGIN")
    slowest = _number(timeout) and _number(margin) and timeout + margin
    if not (_number(window) and slowest and window < slowest):
        return []
    return [
        Warning(
            f"CAPTCHALA_RETRY_WINDOW ({window} s) is shorter than a slow check "
            f"(CAPTCHALA_TIMEOUT + CAPTCHALA_CLAIM_MARGIN = {slowest:g} s): a user "
            "who resubmits while the first try is still slow is refused as a replay.",
            hint="Leave CAPTCHALA_RETRY_WINDOW unset (timeout + 5 s) or raise it.",
            id=Codes.RETRY_WINDOW_SHORT,
        )
    ]


def _no_refresh_endpoint() -> list[CheckMessage]:
    from django.urls import NoReverseMatch, reverse

    from .server_tokens import TOKEN_TTL

    server_tokens = _get("CAPTCHALA_SERVER_TOKENS")
    if server_tokens is UNPARSABLE or not server_tokens:
        return []
    try:
        reverse("captchala:server-token")
        return []
    except NoReverseMatch:
        pass
    except Exception:  # noqa: BLE001 - a broken URLconf is Django's own check to report
        return []
    return [
        Warning(
            f"Server tokens live {TOKEN_TTL} s, and the URLconf has no refresh endpoint: "
            "a page left open longer cannot get a new one, and its widget fails.",
            hint='Add path("captchala/", include("captchala_django.urls")) to your URLconf.',
            id=Codes.NO_REFRESH_ENDPOINT,
        )
    ]


def check_session_store(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """The default ``session`` scope needs a session store: without one a pass keeps
    nothing (and never falls back to the address, which would make it everyone's)."""
    if _get("CAPTCHALA_DEFAULT_SCOPE") != "session" or _installed(_SESSION_MIDDLEWARE):
        return []
    return [
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
    ]


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


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _accepted(name: str, value: Any) -> bool:
    """Whether ``value`` is one the spec of ``name`` allows."""
    rule = SETTINGS[name].check
    return isinstance(rule, (Range, OneOf, Fields)) and rule.accepts(value)


ALL_CHECKS: list[Callable[..., list[CheckMessage]]] = [
    check_keys,
    check_sandbox_urls,
    check_settings,
    check_scope,
    check_widget,
    check_server_token_actions,
    check_client,
    check_keys_resolver,
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
