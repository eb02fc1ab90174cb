"""The action names the site's front doors declare, for system check W007."""

from __future__ import annotations

_ACTIONS: set[str] = set()


def note_action(action: str | None) -> None:
    """Called where an action is declared (decorator, mixin class, fields, widget)."""
    if action:
        _ACTIONS.add(action)


def used_actions() -> set[str]:
    """The names declared so far, after the URLconf (and so the views and their forms)
    has been imported, as Django's own URL checks do."""
    from django.urls import get_resolver

    try:
        get_resolver().url_patterns  # noqa: B018 - imports every view module
    except Exception:  # noqa: BLE001, S110 - a broken URLconf is Django's check to report
        pass
    return set(_ACTIONS)
