"""Keys per site: which CaptchaLa app judges a request.

One project may serve several sites or tenants (``django.contrib.sites``, django-tenants) or
apps, each with a CaptchaLa app of its own. ``CAPTCHALA_KEYS_RESOLVER`` names a
``callable(request)`` that returns that app's keys, as an :class:`AppKeys` or a pair
``(app_key, app_secret)``, or ``None`` for the settings' keys (``CAPTCHALA_APP_KEY`` and
``CAPTCHALA_APP_SECRET``). The widget renders its app key, server tokens are issued and
tokens validated with its keys, the budgets count each app's clients apart, and each check's
record names the app. A token solved for one app is refused by another: CaptchaLa binds it
to the app it was solved for.

A resolver that raises, or answers anything but keys or ``None``, is a configuration error:
the widget says the check is unavailable and every check is denied as class
``configuration`` (logged at ERROR), never judged with another app's keys.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from django.http import HttpRequest
from django.utils.module_loading import import_string

from .conf import app_settings
from .exceptions import ConfigurationError

#: Where a request's keys are kept once resolved: the resolver runs once per request.
KEYS_ATTRIBUTE = "_captchala_app_keys"


@dataclass(frozen=True)
class AppKeys:
    """One CaptchaLa app's keys. The secret is never shown (``repr``) or rendered."""

    app_key: str
    app_secret: str = field(repr=False)


@lru_cache(maxsize=8)
def _imported(path: str) -> Any:
    try:
        return import_string(path)
    except ImportError as exc:
        raise ConfigurationError(f"CAPTCHALA_KEYS_RESOLVER {path!r} does not import") from exc


def resolver() -> Any:
    """The resolver ``CAPTCHALA_KEYS_RESOLVER`` names (a dotted path, or the callable
    itself), or ``None``."""
    named = app_settings.KEYS_RESOLVER
    if not named:
        return None
    found = _imported(named) if isinstance(named, str) else named
    if not callable(found):
        raise ConfigurationError("CAPTCHALA_KEYS_RESOLVER does not name a callable")
    return found


def keys_for(request: HttpRequest | None) -> AppKeys | None:
    """The app of ``request`` from ``CAPTCHALA_KEYS_RESOLVER``, or ``None`` (the settings'
    keys: no resolver, no request, or the resolver said so). Raises ``ConfigurationError``
    for a resolver that fails or answers something else."""
    if request is None or not app_settings.KEYS_RESOLVER:
        return None
    kept = request.__dict__.get(KEYS_ATTRIBUTE, False)
    if kept is not False:
        return kept
    found = resolver()
    try:
        answer = found(request) if found is not None else None
    except ConfigurationError:
        raise
    except Exception as exc:
        raise ConfigurationError(f"CAPTCHALA_KEYS_RESOLVER raised {type(exc).__name__}") from exc
    keys = _as_keys(answer)
    request.__dict__[KEYS_ATTRIBUTE] = keys
    return keys


def _as_keys(answer: Any) -> AppKeys | None:
    if answer is None or isinstance(answer, AppKeys):
        return answer
    if (
        isinstance(answer, tuple)
        and len(answer) == 2
        and all(isinstance(part, str) and part for part in answer)
    ):
        return AppKeys(*answer)
    raise ConfigurationError(
        "CAPTCHALA_KEYS_RESOLVER must return AppKeys, (app_key, app_secret) or None; "
        f"it returned a {type(answer).__name__}"
    )


def app_of(request: HttpRequest | None) -> str:
    """The app a request's scopes and budgets are kept apart by: its resolver's app key, ``""``
    for the settings' keys, ``"?"`` when the resolver fails (its checks fail as class
    ``configuration``, and it holds nothing another app could use)."""
    try:
        keys = keys_for(request)
    except ConfigurationError:
        return "?"
    return keys.app_key if keys is not None else ""


def app_key_for(request: HttpRequest | None) -> str:
    """The app key the widget renders for ``request``."""
    keys = keys_for(request)
    return keys.app_key if keys is not None else app_settings.APP_KEY
