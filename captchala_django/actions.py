"""Action names: the provider's own, how a site's names map onto them, which names the
site's front doors declare, and the system check of the two (E013, W007)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.core.checks import CheckMessage, Error, Warning

from .conf import app_settings, check_id, get_setting
from .exceptions import ConfigurationError

#: The warning about names that are neither the provider's nor mapped.
UNMAPPED_ACTION_CHECK_ID = "captchala_django.W007"

#: The actions CaptchaLa issues server tokens for (``invalid_action`` otherwise).
# fmt: off
KNOWN_ACTIONS = (
    "login", "register", "lost_password", "reset_password",
    "comment", "checkout", "contact_form", "generic_form",
)
# fmt: on


def provider_action(action: str | None) -> str | None:
    """The provider action a server token is issued for when the site names ``action``.

    The provider's own names are themselves; ``CAPTCHALA_SERVER_TOKEN_ACTIONS``
    maps others (``{"transfer": "checkout"}``); any other name is ``generic_form``.
    A pass is accepted for the named action or for this one.
    """
    if not action or action in KNOWN_ACTIONS:
        return action or None
    mapped = (app_settings.SERVER_TOKEN_ACTIONS or {}).get(action)
    return mapped if mapped in KNOWN_ACTIONS else "generic_form"


#: The names the front doors declared (see ``note_action``).
_DECLARED: set[str] = set()


def note_action(action: str | None) -> None:
    """Called where an action is declared (decorator, mixin class, fields, widget)."""
    if action:
        _DECLARED.add(action)


def used_actions() -> set[str]:
    """The names declared so far, after the URLconf (and so the views and their forms)
    has been imported, as Django's own URL checks do; with the ``captchala_action`` of
    every view class the URLconf routes to (DRF's permission reads it per request, so
    only the URLconf tells which views declare one)."""
    from django.urls import get_resolver

    try:
        patterns = get_resolver().url_patterns  # imports every view module
    except Exception:  # noqa: BLE001 - a broken URLconf is Django's check to report
        patterns = []
    return _DECLARED | set(_view_actions(patterns))


def _view_actions(patterns: Any) -> Iterator[str]:
    """The ``captchala_action`` of each view class under ``patterns``, at any depth."""
    for pattern in patterns:
        nested = getattr(pattern, "url_patterns", None)
        if nested is not None:
            yield from _view_actions(nested)
            continue
        callback = getattr(pattern, "callback", None)
        # DRF's as_view() keeps the class as ``cls``, Django's as ``view_class``.
        view = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
        action = getattr(view, "captchala_action", None)
        if isinstance(action, str) and action:
            yield action


# ------------------------------------------------------------------ the system check


def check_server_token_actions(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """The mapping's targets are the provider's actions (E013); names the site uses that
    are neither the provider's nor mapped share ``generic_form`` (W007)."""
    name = "CAPTCHALA_SERVER_TOKEN_ACTIONS"
    try:
        mapping = get_setting(name)
    except ConfigurationError:
        return []  # E009: checks.check_settings says it
    if not isinstance(mapping, dict) or any(v not in KNOWN_ACTIONS for v in mapping.values()):
        message = f"{name} must map your action names to the provider's {KNOWN_ACTIONS}"
        return [Error(f"{message}; got {mapping!r}.", id=check_id(name))]
    unmapped = sorted(used_actions() - set(KNOWN_ACTIONS) - set(mapping))
    if not unmapped:
        return []
    return [
        Warning(
            f"The actions {unmapped} are not the provider's: their widgets run as "
            "'generic_form', and a pass solved on any generic_form widget is accepted "
            "for them.",
            hint=f"Name a provider action, or map each one in {name} "
            '(for example {"transfer": "checkout"}).',
            id=UNMAPPED_ACTION_CHECK_ID,
        )
    ]
