"""pytest plugin (registered through the ``pytest11`` entry point ``captchala_sandbox``).

It sits next to :mod:`captchala_django.testing`, whose :class:`SandboxFixture` it uses,
above the sandbox it serves (the sandbox, an emulator of the provider, imports neither).

Fixtures:

``captchala_sandbox_server``
    session-scoped :class:`~captchala_django.sandbox.server.LiveSandbox` on a
    free loopback port.
``captchala_sandbox``
    the same server, reset (tokens, faults, counters) for this test, with the
    ``CAPTCHALA_*`` settings pointed at it for the test's duration.

Every import beyond pytest happens inside a fixture, so the plugin costs nothing
and needs no Django settings until a test asks for one of them. Turn it off with
``-p no:captchala_sandbox``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .sandbox.server import LiveSandbox
    from .testing import SandboxFixture


def sandbox_settings(live: LiveSandbox) -> dict[str, Any]:
    """The settings that point captchala-django at ``live``; kept here for importers,
    defined in :func:`captchala_django.sandbox.server.sandbox_settings`."""
    from .sandbox.server import sandbox_settings as build

    return build(live)


@pytest.fixture(scope="session")
def captchala_sandbox_server() -> Iterator[LiveSandbox]:
    """A CaptchaLa sandbox (LiveSandbox) on a free loopback port, for the whole session.

    Not reset between tests and no settings changed: most tests want
    ``captchala_sandbox`` instead.
    """
    from .sandbox.server import LiveSandbox

    live = LiveSandbox().start()
    yield live
    live.stop()


@pytest.fixture
def captchala_sandbox(captchala_sandbox_server: LiveSandbox) -> Iterator[SandboxFixture]:
    """The session's sandbox, reset for this test, with the CAPTCHALA_* settings pointed at it.

    The same object as ``manage.py test``'s ``self.captchala`` (a
    :class:`~captchala_django.testing.SandboxFixture`): ``mint_pass_token("login")`` gives a
    token to post under ``CAPTCHALA_TOKEN_FIELD`` (``captchala_token`` by default),
    ``form_data()`` and ``token_header()`` put one in a request, ``set_fault("error")`` and
    ``count("validate")`` drive and observe it. Settings are overridden only when Django is
    configured.
    """
    from .testing import SandboxFixture

    live = captchala_sandbox_server
    live.reset()
    from django.conf import settings

    if not settings.configured:
        yield SandboxFixture(live)
        return
    with SandboxFixture(live) as fixture:  # given a server: the override only
        yield fixture
    live.clear_faults()
