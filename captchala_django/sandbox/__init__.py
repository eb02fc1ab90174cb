"""A local emulator of the CaptchaLa API and browser loader.

Use it for development, the demo and tests; never in production. It runs:

* standalone: ``python -m captchala_django.sandbox --port 8765``;
* inside a project in ``DEBUG``: include ``captchala_django.sandbox.urls``;
* in pytest: the ``captchala_sandbox`` fixture (a live server on a free loopback port).
"""

from .core import FAULT_MODES, KNOWN_ACTIONS, Reply, Sandbox

__all__ = ["FAULT_MODES", "KNOWN_ACTIONS", "Reply", "Sandbox"]
