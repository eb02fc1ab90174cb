"""Typed settings.

Precedence, fixed and documented: the Django setting of the name, else the
environment variable of the same name (parsed with django-environ), else the
default below. Values are read on every access, so ``override_settings`` and
pytest-django's ``settings`` fixture work; nothing is written back onto
``django.conf.settings``.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass
from typing import Any

import environ
from django.conf import settings as django_settings

from .exceptions import ConfigurationError

#: Keys the local sandbox knows; used when the sandbox is on and no keys are set.
SANDBOX_APP_KEY = "sandbox-app-key"
SANDBOX_APP_SECRET = "sandbox-app-secret"

POLICIES = ("deny", "allow")
_UNSET = object()
SCOPE_KINDS = ("session", "user", "ip")
WIDGET_PRODUCTS = ("bind", "popup", "float", "embed")
#: The options ``Captchala.init`` takes besides the app key, server token and action.
WIDGET_OPTIONS = ("product", "lang", "theme")


@dataclass(frozen=True)
class Setting:
    name: str
    cast: str  # one of: str, float, int, bool, list, json
    default: Any
    doc: str = ""


_SPECS = [
    Setting("CAPTCHALA_APP_KEY", "str", None, doc="app key; also rendered into the widget"),
    Setting("CAPTCHALA_APP_SECRET", "str", None, doc="server secret; never rendered or logged"),
    Setting("CAPTCHALA_API_URL", "str", "https://apiv1.captcha.la"),
    Setting("CAPTCHALA_LOADER_URL", "str", "https://cdn.captcha-cdn.net/captchala-loader.js"),
    Setting("CAPTCHALA_TIMEOUT", "float", 3.0),
    Setting("CAPTCHALA_CHECKPOINT_TTL", "int", 1800),
    Setting("CAPTCHALA_ON_PROVIDER_ERROR", "str", "deny", doc="deny or allow"),
    Setting("CAPTCHALA_ON_PERSISTENCE_ERROR", "str", "allow", doc="deny or allow"),
    Setting("CAPTCHALA_TRUSTED_PROXIES", "list", []),
    Setting("CAPTCHALA_DEFAULT_SCOPE", "str", "session"),
    Setting("CAPTCHALA_SANDBOX", "bool", False),
    Setting("CAPTCHALA_SANDBOX_FORCE", "bool", False, doc="allow the sandbox with DEBUG off"),
    Setting("CAPTCHALA_TOKEN_FIELD", "str", "captchala_token"),
    Setting("CAPTCHALA_SEND_CLIENT_IP", "bool", True),
    Setting("CAPTCHALA_ACCEPT_DEGRADED", "bool", False),
    Setting("CAPTCHALA_ACCEPT_CLIENT_ONLY", "bool", False),
    Setting("CAPTCHALA_OFFLINE_API_URL", "str", "https://fallbackapiv1.captchala.com/api/validate"),
    Setting("CAPTCHALA_SERVER_TOKENS", "bool", True),
    Setting("CAPTCHALA_WIDGET", "json", {"product": "bind", "lang": "auto"}),
    Setting(
        "CAPTCHALA_SERVER_TOKEN_ACTIONS",
        "json",
        {},
        doc="your action names -> the provider's server-token actions (default generic_form)",
    ),
    Setting("CAPTCHALA_SKIP_FOR_STAFF", "bool", False),
    # Not in the original design table; documented in the README.
    Setting("CAPTCHALA_IP_RESOLVER", "str", None, doc="dotted path of a callable(request)"),
    Setting("CAPTCHALA_LEDGER_TTL", "int", 86400, doc="seconds a pass token is remembered"),
    Setting(
        "CAPTCHALA_RETRY_WINDOW",
        "float",
        None,
        doc="seconds a resubmitted token is answered as a retry (default: timeout + 5)",
    ),
    Setting("CAPTCHALA_REQUIRE_ACTION", "bool", False, doc="deny replies that name no action"),
    Setting(
        "CAPTCHALA_DENY_IP_MISMATCH",
        "bool",
        False,
        doc="deny a valid verdict when the provider saw another client address",
    ),
    Setting(
        "CAPTCHALA_MAX_RISK",
        "int",
        None,
        doc="deny a valid verdict whose risk_score (0-100) is above this (default: none)",
    ),
    Setting(
        "CAPTCHALA_SERVER_TOKEN_BUDGET",
        "int",
        10,
        doc="server tokens one client may cause to be issued a minute",
    ),
    Setting(
        "CAPTCHALA_VALIDATE_BUDGET",
        "int",
        20,
        doc="failed checks (with a provider call) one client may cause a minute; 0: off",
    ),
    Setting("CAPTCHALA_CACHE", "str", "default", doc="cache alias that counts the budgets"),
    Setting(
        "CAPTCHALA_CLAIM_MARGIN",
        "float",
        2.0,
        doc="seconds beyond the timeout a duplicate waits for the claim in flight",
    ),
    Setting(
        "CAPTCHALA_CLAIM_ABANDONED_AFTER",
        "float",
        60.0,
        doc="seconds after which a claim in flight belongs to a worker that died",
    ),
    Setting(
        "CAPTCHALA_WRITE_STRATEGY",
        "str",
        None,
        doc='None: the best write for the database; "portable": the ORM compare-and-set',
    ),
]
SETTINGS: dict[str, Setting] = {s.name: s for s in _SPECS}

_env = environ.Env()


def _from_environment(spec: Setting) -> Any:
    parse = getattr(_env, spec.cast)
    try:
        return parse(spec.name)
    except (ValueError, TypeError) as exc:
        raise ConfigurationError(
            f"The environment variable {spec.name} is not a valid {spec.cast}: {exc}"
        ) from exc


def get_setting(name: str) -> Any:
    """Return the value of one ``CAPTCHALA_*`` setting (see module docstring)."""
    try:
        spec = SETTINGS[name]
    except KeyError:
        raise ConfigurationError(f"Unknown captchala-django setting {name!r}") from None
    value = getattr(django_settings, name, _UNSET)
    if value is not _UNSET:
        return value
    if name in os.environ:
        return _from_environment(spec)
    if isinstance(spec.default, (list, dict)):
        return copy.deepcopy(spec.default)  # never hand out the shared default to mutate
    return spec.default


def is_sandbox() -> bool:
    return bool(get_setting("CAPTCHALA_SANDBOX"))


def _required(name: str, sandbox_value: str) -> str:
    value = get_setting(name)
    if value:
        return str(value)
    if is_sandbox():
        return sandbox_value
    raise ConfigurationError(
        f"{name} is not set. Define it in your Django settings or in the environment."
    )


class AppSettings:
    """Attribute access to the settings without the ``CAPTCHALA_`` prefix.

    ``app_settings.TIMEOUT`` reads ``CAPTCHALA_TIMEOUT`` at the moment of access.
    """

    @property
    def APP_KEY(self) -> str:  # noqa: N802 - settings are upper case
        return _required("CAPTCHALA_APP_KEY", SANDBOX_APP_KEY)

    @property
    def APP_SECRET(self) -> str:  # noqa: N802
        return _required("CAPTCHALA_APP_SECRET", SANDBOX_APP_SECRET)

    def __getattr__(self, attr: str) -> Any:
        name = "CAPTCHALA_" + attr
        if name not in SETTINGS:
            raise AttributeError(attr)
        return get_setting(name)


app_settings = AppSettings()
