"""A local emulator of the CaptchaLa API and browser loader.

Use it for development, the demo and tests; never in production. It runs:

* standalone: ``python -m captchala_django.sandbox --port 8765``;
* inside a project in ``DEBUG``: include ``captchala_django.sandbox.urls``;
* in pytest: the ``captchala_sandbox`` fixture (a live server on a free loopback port).
"""

from __future__ import annotations

from typing import Any

__all__ = ["FAULT_MODES", "KNOWN_ACTIONS", "Reply", "Sandbox"]


def __getattr__(name: str) -> Any:
    # Lazy: importing the package (say, for its ``urls``) loads no emulator state.
    if name in __all__:
        from . import core

        return getattr(core, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
