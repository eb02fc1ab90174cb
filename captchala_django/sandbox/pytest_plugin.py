"""pytest plugin (registered through the ``pytest11`` entry point).

Fixtures:

``captchala_sandbox_server``
    session-scoped :class:`~captchala_django.sandbox.server.LiveSandbox` on a
    free loopback port.
``captchala_sandbox``
    the same server, reset (tokens, faults, counters) for this test, with the
    ``CAPTCHALA_*`` settings pointed at it for the test's duration.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ..conf import SANDBOX_APP_KEY, SANDBOX_APP_SECRET
from .server import LiveSandbox


def sandbox_settings(live: LiveSandbox) -> dict[str, object]:
    """The settings that point captchala-django at ``live``."""
    return {
        "CAPTCHALA_API_URL": live.url,
        "CAPTCHALA_OFFLINE_API_URL": live.offline_url,
        "CAPTCHALA_LOADER_URL": live.loader_url,
        "CAPTCHALA_APP_KEY": SANDBOX_APP_KEY,
        "CAPTCHALA_APP_SECRET": SANDBOX_APP_SECRET,
    }


@pytest.fixture(scope="session")
def captchala_sandbox_server() -> Iterator[LiveSandbox]:
    live = LiveSandbox().start()
    yield live
    live.stop()


@pytest.fixture
def captchala_sandbox(captchala_sandbox_server: LiveSandbox) -> Iterator[LiveSandbox]:
    live = captchala_sandbox_server
    live.reset()
    from django.conf import settings

    if not settings.configured:
        yield live
        return
    from django.test import override_settings

    with override_settings(**sandbox_settings(live)):
        yield live
    live.clear_faults()
