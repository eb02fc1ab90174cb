"""Moved: the pytest plugin is :mod:`captchala_django.pytest_plugin`, which the ``pytest11``
entry point ``captchala_sandbox`` names (it uses :mod:`captchala_django.testing`, a layer
above the sandbox). This module is no plugin any more; it keeps ``sandbox_settings`` for
code that imported it from here. Import it from :mod:`captchala_django.testing` instead.
"""

from __future__ import annotations

from .server import sandbox_settings

__all__ = ["sandbox_settings"]
