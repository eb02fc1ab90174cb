"""Typed settings.

Precedence, fixed and documented: the Django setting of the name, else the
environment variable of the same name (parsed with django-environ), else the
default below. Values are read on every access, so ``override_settings`` and
pytest-django's ``settings`` fixture work; nothing is written back onto
``django.conf.settings``.

Each setting is defined once, by its spec below: type, default, the line the settings
reference of the documentation shows (generated from the specs) and what its value may be
(system checks derive their range and list checks from it).
"""

from __future__ import annotations

import copy
import inspect
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import environ
from django.conf import settings as django_settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string

from .conf_rules import ByHand, Check, Fields, OneOf, Range
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
#: The longest provider call and the longest-trusted pass the checks allow.
MAX_TIMEOUT = 30.0
MAX_TTL = 7 * 24 * 3600


# --------------------------------------------------------------------------- what is allowed
# A spec's ``check`` says what its value may be, as data: system checks derive an error
# from a Range or a OneOf (captchala_django.checks.check_settings), and name the function
# that checks the rest by hand (ByHand).


#: A count of attempts (or None: not counted), and a duration in seconds.
_COUNT = Range("", 1, 10**6, whole=True, optional=True, low_included=True)
_SECONDS = Range("", 1, MAX_TTL, whole=True, low_included=True)
#: Retention: records at least an hour (a retry and its answer), at most ten years.
_RETAINED = Range("", 3600, 10 * 365 * 86400, whole=True, low_included=True)
_AFTER = Range("", 0, 10 * 365 * 86400, whole=True, low_included=True)


@dataclass(frozen=True)
class Setting:
    """One setting: its name, type (the django-environ parser of its environment value:
    str, float, int, bool, list or json), default, the one line the README's settings
    table shows (``doc``, Markdown), and what its value may be (``check``).

    ``shown``: the default as the table shows it, when its literal would mislead."""

    name: str
    cast: str
    default: Any
    doc: str
    check: Check = None
    shown: str | None = None


# fmt: off
_SPECS = [
    Setting("CAPTCHALA_APP_KEY", "str", None, "app key; also rendered into the widget",
            check=ByHand("captchala_django.E001", "check_keys"), shown="required"),
    Setting("CAPTCHALA_APP_SECRET", "str", None,
            "server secret; never rendered, logged or stored",
            check=ByHand("captchala_django.E002", "check_keys"), shown="required"),
    Setting("CAPTCHALA_API_URL", "str", "https://apiv1.captcha.la",
            "API base; the sandbox's URL in dev and tests",
            check=ByHand("captchala_django.W004", "check_api_urls")),
    Setting("CAPTCHALA_LOADER_URL", "str", "https://cdn.captcha-cdn.net/captchala-loader.js",
            "browser loader"),
    Setting("CAPTCHALA_TIMEOUT", "float", 3.0,
            "seconds for one provider call (connect and read, 0 < t ≤ 30)",
            check=Range("captchala_django.E004", 0, MAX_TIMEOUT)),
    Setting("CAPTCHALA_CHECKPOINT_TTL", "int", 1800, "seconds a passed checkpoint is trusted",
            check=Range("captchala_django.E005", 0, MAX_TTL)),
    Setting("CAPTCHALA_ON_PROVIDER_ERROR", "str", "deny",
            '`"deny"` or `"allow"` when CaptchaLa\'s main API is unreachable, times out or '
            "answers 5xx; never for its rate limit, a reply that is not a verdict, or "
            "`offline_` tokens (a client can bring those on)",
            check=OneOf("captchala_django.E006", POLICIES)),
    Setting("CAPTCHALA_ON_PERSISTENCE_ERROR", "str", "allow",
            "after a valid verification whose write failed twice",
            check=OneOf("captchala_django.E007", POLICIES)),
    Setting("CAPTCHALA_TRUSTED_PROXIES", "list", [],
            "CIDRs whose `X-Forwarded-For` is believed",
            check=ByHand("captchala_django.E011", "check_proxies")),
    Setting("CAPTCHALA_DEFAULT_SCOPE", "str", "session",
            '`"session"`, `"user"`, `"ip"` or a dotted path to a callable; without '
            "`SessionMiddleware` the `session` scope keeps no pass (warning W011), never "
            "falling back to the address",
            check=ByHand("captchala_django.E008", "check_scope")),
    Setting("CAPTCHALA_SANDBOX", "bool", False,
            "serve the local emulator (refused with `DEBUG` off unless "
            "`CAPTCHALA_SANDBOX_FORCE`)",
            check=ByHand("captchala_django.E003", "check_sandbox_in_production")),
    Setting("CAPTCHALA_SANDBOX_FORCE", "bool", False,
            "serve the sandbox with `DEBUG` off too, on a test server (warning W003)"),
    Setting("CAPTCHALA_TOKEN_FIELD", "str", "captchala_token",
            "POST field carrying the pass token"),
    Setting("CAPTCHALA_SEND_CLIENT_IP", "bool", True,
            "send the client's address to CaptchaLa (`client_ip` of a validate call, "
            "`binding_ip` of a server token)"),
    Setting("CAPTCHALA_ACCEPT_DEGRADED", "bool", False,
            "accept `degraded` verdicts (quota exhausted), under the rules of a valid one: "
            "the action (and `CAPTCHALA_REQUIRE_ACTION`) and the risk threshold"),
    Setting("CAPTCHALA_ACCEPT_CLIENT_ONLY", "bool", False,
            "accept unverifiable `client_` tokens (never recommended)"),
    Setting("CAPTCHALA_OFFLINE_API_URL", "str",
            "https://fallbackapiv1.captchala.com/api/validate",
            "where `offline_` tokens are validated",
            check=ByHand("captchala_django.W004", "check_api_urls")),
    Setting("CAPTCHALA_SERVER_TOKENS", "bool", True,
            "issue a server token per action when rendering the widget"),
    Setting("CAPTCHALA_WIDGET", "json", {"product": "bind", "lang": "auto"},
            "default widget options: `product`, `lang`, `theme` (the options the loader "
            "takes; any other key is error E010)",
            check=ByHand("captchala_django.E010", "check_widget")),
    Setting("CAPTCHALA_SERVER_TOKEN_ACTIONS", "json", {},
            "your action names mapped to the provider's server-token actions, such as "
            '`{"transfer": "checkout"}`; an unmapped name that is not the provider\'s runs '
            "as `generic_form` (warning W007)",
            check=ByHand("captchala_django.E013", "check_server_token_actions")),
    Setting("CAPTCHALA_DENY_IP_MISMATCH", "bool", False,
            "deny a valid verdict when CaptchaLa saw the check solved from another address "
            "than the request's (always recorded: the address it saw, on the check's record)"),
    Setting("CAPTCHALA_MAX_RISK", "int", None,
            "deny a valid verdict whose `risk_score` (0-100, higher is riskier) is above "
            "this; per front door: `max_risk=`",
            check=Range("captchala_django.E012", 0, 100, whole=True, optional=True,
                  low_included=True)),
    Setting("CAPTCHALA_SKIP_FOR_STAFF", "bool", False,
            "staff users skip the check (field, decorator, DRF); each skip is recorded as a "
            "`staff_skip` decision event and never creates or refreshes a pass; never on a "
            "login form (`AuthenticationForm`, allauth's `LoginForm`), whose session user is "
            "not the account logging in, unless its field sets `skip_for_staff=True`"),
    Setting("CAPTCHALA_IP_RESOLVER", "str", None,
            "dotted path of a `callable(request) -> str` replacing the client IP resolution"),
    Setting("CAPTCHALA_LEDGER_TTL", "int", 86400,
            "seconds a pass token is remembered for replay detection"),
    Setting("CAPTCHALA_RETRY_WINDOW", "float", None,
            "seconds after its first claim during which a resubmitted token is answered as "
            "an idempotent retry; after it, the token is a replay",
            shown="`None` (= `CAPTCHALA_TIMEOUT` + 5 s)"),
    Setting("CAPTCHALA_REQUIRE_ACTION", "bool", False,
            "when a front door names an `action`, deny a reply that carries none "
            "(`token_action_mismatch`)"),
    Setting("CAPTCHALA_SERVER_TOKEN_BUDGET", "int", 10,
            "server-token issue calls one session may cause per minute, across page renders "
            "and the refresh endpoint; its address (an IPv6 address by its /64) may cause "
            "twice that, so minting sessions buys at most twice the budget; a client "
            "without a session spends its address's budget"),
    Setting("CAPTCHALA_VALIDATE_BUDGET", "int", 20,
            "failed checks with a provider call that one client (its session, and its "
            "address) may cause per minute; past it, 429 with `Retry-After` and no provider "
            "call (class `rate_limited`); a client holding a live pass is never refused by "
            "its address's count; `0`: off"),
    Setting("CAPTCHALA_CACHE", "str", "default",
            "the cache alias that counts both budgets (use a shared cache, such as Redis, "
            "with several processes: warning W012); `DummyCache` is replaced by a count in "
            "each process's memory, and a cache that is down refuses server tokens and "
            "counts validate calls per process"),
    Setting("CAPTCHALA_CLAIM_MARGIN", "float", 2.0,
            "seconds beyond `CAPTCHALA_TIMEOUT` that a duplicate submission waits for the "
            "worker validating the same token"),
    Setting("CAPTCHALA_CLAIM_ABANDONED_AFTER", "float", 60.0,
            "seconds after which a claim still in flight is taken to belong to a worker "
            "that died, and is taken over"),
    Setting("CAPTCHALA_WRITE_STRATEGY", "str", None,
            "`None`: the best write for the database (one statement on PostgreSQL, an "
            'upsert on SQLite); `"portable"`: the ORM compare-and-set every backend supports'),
    Setting("CAPTCHALA_STEP_UP", "json",
            {"username": 3, "address": 10, "session": None, "window": 900},
            "a front door with `step_up=True` asks for the check only after this many "
            "attempts within `window` seconds by one username, client address (IPv6 by /64) "
            "or session (`None`: not counted that way); per front door: `step_up={...}`",
            check=Fields("captchala_django.E016", (("username", _COUNT), ("address", _COUNT),
                                                   ("session", _COUNT), ("window", _SECONDS)))),
    Setting("CAPTCHALA_UNDER_ATTACK", "json",
            {"auto": False, "window": 900, "floor": 900, "ceiling": 21600},
            "`auto`: when the verdict over the last `window` seconds says \"likely an attack\", "
            "every front door with `step_up` on the route it names (else on every route) asks "
            "for the check, for at least `floor` and at most `ceiling` seconds an episode; "
            "switched by hand in the admin either way",
            check=Fields("captchala_django.E017", (("auto", bool), ("window", _SECONDS),
                                                   ("floor", _SECONDS), ("ceiling", _SECONDS)),
                         ordered=("floor", "ceiling"))),
    Setting("CAPTCHALA_CLIENT", "str", None,
            "`None`: `CaptchaLaClient`; else the dotted path of a `CaptchaLaClient` subclass, "
            "or of a zero-argument factory returning one, that makes every check, server "
            "token and `captchala_ping` (error E014 when it names neither); override its "
            "`create_session()` to add a proxy, a CA bundle, retries or instrumentation",
            check=ByHand("captchala_django.E014", "check_client")),
    Setting("CAPTCHALA_ADDRESS_STORAGE", "str", "full",
            "what is stored of a client's address (a checkpoint's client IP, the address the "
            "provider saw): `\"full\"`, `\"truncated\"` (an IPv4 address to its /24, IPv6 "
            "to its /48), `\"hashed\"` (a keyed hash, written as an address in `fd00::/8`) "
            "or `\"none\"`; the `ip` scope, budgets and step-up counts work in every mode",
            check=OneOf("captchala_django.E018", ("full", "truncated", "hashed", "none"))),
    Setting("CAPTCHALA_RETENTION", "json", {"records": 2592000, "counters": 0},
            "seconds `captchala_cleanup` keeps rows: `records` (the checks' records, and "
            "checkpoints never passed, from their last change; at least 3600) and `counters` "
            "(step-up counts, after their window ends); the ledger keeps a token "
            "`CAPTCHALA_LEDGER_TTL`",
            check=Fields("captchala_django.E019", (("records", _RETAINED), ("counters", _AFTER)))),
    Setting("CAPTCHALA_KEYS_RESOLVER", "str", None,
            "keys per site: the dotted path of a `callable(request)` returning the request's "
            "CaptchaLa app (`AppKeys` or `(app_key, app_secret)`), or `None` for the two "
            "settings above; used by the widget, server tokens, the validate call and the "
            "budgets (error E020 when it names no callable)",
            check=ByHand("captchala_django.E020", "check_keys_resolver")),
    Setting("CAPTCHALA_CONSENT", "bool", False,
            "the browser loads CaptchaLa's script only once the page says the visitor "
            "consented (`CaptchaLaDjango.consent()`, or the widget's own \"Load the check\" "
            "button)"),
    Setting("CAPTCHALA_METRICS", "bool", True,
            "Prometheus metrics and OpenTelemetry spans of every check, when "
            "`prometheus-client` or `opentelemetry-api` is installed (extras `prometheus`, "
            "`opentelemetry`); `False`: neither, whatever is installed"),
]
# fmt: on
SETTINGS: dict[str, Setting] = {s.name: s for s in _SPECS}


def check_id(name: str) -> str:
    """The id of the system check that the spec of setting ``name`` names."""
    check = SETTINGS[name].check
    if check is None:
        raise LookupError(f"the spec of {name} names no check")
    return check.id


_env = environ.Env()


def _from_environment(spec: Setting) -> Any:
    parse = getattr(_env, spec.cast)
    try:
        return parse(spec.name)
    except (ValueError, TypeError) as exc:
        raise ConfigurationError(
            f"The environment variable {spec.name} is not a valid {spec.cast}: {exc}"
        ) from exc


#: Every value read, kept until a setting changes (``override_settings`` and
#: pytest-django's ``settings`` send ``setting_changed``) or :func:`reload_settings`: a
#: check reads about twenty settings, and the environment does not change under a
#: running process.
_values: dict[str, Any] = {}


@receiver(setting_changed)
def _forget_settings(**kwargs: Any) -> None:
    _values.clear()


def reload_settings() -> None:
    """Read every setting again (after changing ``os.environ`` in a running process)."""
    _values.clear()


def get_setting(name: str) -> Any:
    """Return the value of one ``CAPTCHALA_*`` setting (see module docstring)."""
    try:
        return _values[name]
    except KeyError:
        pass
    try:
        spec = SETTINGS[name]
    except KeyError:
        raise ConfigurationError(f"Unknown captchala-django setting {name!r}") from None
    value = getattr(django_settings, name, _UNSET)
    if value is _UNSET and name in os.environ:
        value = _from_environment(spec)
    elif value is _UNSET and isinstance(spec.default, (list, dict)):
        return copy.deepcopy(spec.default)  # never hand out the shared default to mutate
    elif value is _UNSET:
        value = spec.default
    _values[name] = value
    return value


_T = TypeVar("_T")


def factory_setting(name: str, base: type[_T]) -> Callable[[], _T]:
    """What the setting ``name`` names: None for ``base`` itself, else a subclass of
    ``base`` or a factory called without arguments (whose result the caller checks), or
    the dotted path of either. Raises ``ConfigurationError`` saying what is wrong."""
    value = get_setting(name)
    if value is None:
        return base
    target = value
    if isinstance(value, str):
        try:
            target = import_string(value)
        except ImportError as exc:
            raise ConfigurationError(f"{name} {value!r} cannot be imported: {exc}") from None
    if isinstance(target, type) and not issubclass(target, base):
        raise ConfigurationError(
            f"{name} {value!r} is a class, but not a subclass of {base.__name__}"
        )
    if not callable(target):
        raise ConfigurationError(
            f"{name} {value!r} is neither a {base.__name__} subclass nor a factory"
        )
    try:
        inspect.signature(target).bind()
    except TypeError:
        raise ConfigurationError(f"{name} {value!r} cannot be called without arguments") from None
    except ValueError:  # no signature to read (a builtin): called as it is
        pass
    return cast(Callable[[], _T], target)


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
