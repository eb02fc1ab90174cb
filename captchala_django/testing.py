"""Test helpers for suites run with ``manage.py test`` (unittest): no pytest needed.

CaptchaLa has no test keys, so tests talk to the package's local sandbox, a real
HTTP server on a free loopback port. Two ways in:

* :class:`CaptchaLaSandboxMixin` for a ``TestCase``: one sandbox per class, reset
  before each test, reached as ``self.captchala``;
* :func:`use_sandbox` (or :class:`SandboxFixture` itself) as a context manager,
  anywhere.

Both point the ``CAPTCHALA_*`` settings at the sandbox with ``override_settings``
for as long as it runs, and hand out a :class:`SandboxFixture`::

    class LoginTests(CaptchaLaSandboxMixin, TestCase):
        def test_login(self):
            data = self.captchala.form_data({"username": "u", "password": "p"}, action="login")
            self.client.post("/login/", data)

pytest users get the same through the ``captchala_sandbox`` fixture (the package's
pytest plugin).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from django.test.utils import override_settings

from .sandbox.core import Faults
from .sandbox.server import LiveSandbox, sandbox_settings

__all__ = ["CaptchaLaSandboxMixin", "SandboxFixture", "sandbox_settings", "use_sandbox"]

if TYPE_CHECKING:
    from unittest import TestCase

    # What the mixin is mixed into, so that mypy sees ``addClassCleanup`` and the
    # ``super()`` methods it calls; at run time it is a plain class.
    _TestCase = TestCase
else:
    _TestCase = object


def _fresh_budgets() -> None:
    """One test's failed checks and page loads never spend the next test's budgets."""
    from .budgets import reset  # the package's settings: import once Django is configured

    reset()


class SandboxFixture:
    """A running sandbox with the ``CAPTCHALA_*`` settings pointed at it.

    ``SandboxFixture()`` starts a :class:`~captchala_django.sandbox.server.LiveSandbox`
    of its own and stops it on exit; ``SandboxFixture(live)`` reuses a running one
    and leaves it running. Keyword arguments are further settings to override for
    the same span (``CAPTCHALA_TIMEOUT=0.5``). Use it as a context manager, or call
    :meth:`start` and :meth:`stop`.
    """

    def __init__(self, live: LiveSandbox | None = None, **settings: Any) -> None:
        self._given = live
        self._extra = settings
        self._live: LiveSandbox | None = None
        self._override: override_settings | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> SandboxFixture:
        """Start the sandbox (unless one was given) and enable the settings override."""
        if self._override is not None:
            raise RuntimeError("this SandboxFixture is already running")
        live = self._given if self._given is not None else LiveSandbox().start()
        try:
            override = override_settings(**sandbox_settings(live), **self._extra)
            override.enable()
        except BaseException:
            if self._given is None:
                live.stop()
            raise
        self._live, self._override = live, override
        _fresh_budgets()
        return self

    def stop(self) -> None:
        """Restore the settings and stop the sandbox if this fixture started it."""
        override, live = self._override, self._live
        self._override = self._live = None
        try:
            if override is not None:
                override.disable()
        finally:
            if live is not None and self._given is None:
                live.stop()

    def __enter__(self) -> SandboxFixture:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def live(self) -> LiveSandbox:
        """The running :class:`~captchala_django.sandbox.server.LiveSandbox`."""
        live = self._live or self._given
        if live is None:
            raise RuntimeError(
                "the sandbox is not running: use SandboxFixture as `with` or start()"
            )
        return live

    def __getattr__(self, name: str) -> Any:
        # Anything else is the server's (``loader_url``, ``port``), then the emulator's.
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.live, name)

    @property
    def url(self) -> str:
        """The sandbox's base URL (``http://127.0.0.1:PORT``), also ``CAPTCHALA_API_URL``."""
        return self.live.url

    # ------------------------------------------------------------------ tokens

    def mint_pass_token(self, action: str | None = None, **options: Any) -> str:
        """A fresh single-use pass token the sandbox accepts for ``action`` (``None``: a
        token that names no action, accepted by any front door unless
        ``CAPTCHALA_REQUIRE_ACTION`` is on).

        ``options`` go to :meth:`Sandbox.mint_pass_token
        <captchala_django.sandbox.Sandbox.mint_pass_token>`: ``ttl``,
        ``degraded``, ``uid``, ``app_key``, ``prefix``, ``risk_score``, ``user_ip``.
        """
        return self.live.sandbox.mint_pass_token(action, **options)

    #: The name of 0.2 (kept for a release): :meth:`mint_pass_token`.
    mint = mint_pass_token

    def form_data(
        self,
        fields: Mapping[str, Any] | None = None,
        *,
        action: str | None = None,
        token: str | None = None,
    ) -> dict[str, Any]:
        """POST data: ``fields`` plus a pass token under ``CAPTCHALA_TOKEN_FIELD``.

        The token is minted for ``action`` unless ``token`` is given (say, a
        made-up one, to test a refusal).
        """
        return self.live.form_data(fields, action=action, token=token)

    def token_header(
        self, action: str | None = None, *, token: str | None = None
    ) -> dict[str, str]:
        """The token as the ``X-CaptchaLa-Token`` header, as test-client keyword
        arguments: ``self.client.post(url, data, **sandbox.token_header("checkout"))``."""
        return self.live.token_header(action, token=token)

    # ------------------------------------------------------------------ faults and counters

    def set_fault(self, mode: str = "error", **options: Any) -> Faults:
        """Make the sandbox misbehave: ``mode`` is one of
        :data:`~captchala_django.sandbox.FAULT_MODES` (``"error"``, ``"timeout"``,
        ``"drop"``, ...); ``options`` as :class:`~captchala_django.sandbox.core.Faults`
        (``count``, ``latency_ms``, ``status``, ``endpoint``, ``body``)."""
        return self.live.sandbox.set_fault(mode, **options)

    #: The name of 0.2 (kept for a release): :meth:`set_fault`.
    fail = set_fault

    def clear_faults(self) -> None:
        """Answer normally again (and end any request a ``timeout`` fault holds)."""
        self.live.sandbox.clear_faults()

    def reset(self) -> None:
        """Forget every token, fault and counter, as at the start of a test (the
        per-client budgets of provider calls included)."""
        self.live.sandbox.reset()
        from django.conf import settings

        if settings.configured:
            _fresh_budgets()

    def count(self, name: str) -> int:
        """Calls seen: ``"validate"``, ``"issue"``, ``"requests"``, ``"connections"``
        or an API path such as ``"/v1/validate"``."""
        return self.live.sandbox.count(name)

    def calls_for(self, token: str) -> int:
        """How many validate calls carried ``token``."""
        return self.live.sandbox.calls_for(token)


def use_sandbox(live: LiveSandbox | None = None, **settings: Any) -> SandboxFixture:
    """A sandbox for a ``with`` block: ``with use_sandbox() as sandbox: sandbox.mint()``.

    Same arguments as :class:`SandboxFixture`: pass ``live`` to reuse a running
    server (it is left running); keyword arguments are extra settings.
    """
    return SandboxFixture(live, **settings)


class CaptchaLaSandboxMixin(_TestCase):
    """A ``TestCase`` mixin: one sandbox per class, reset before each test.

    Put it before Django's class: ``class T(CaptchaLaSandboxMixin, TestCase)``.
    ``self.captchala`` is the class's :class:`SandboxFixture`; the settings point
    at it from ``setUpClass`` (so in ``setUpTestData`` too) until the class's
    cleanups. A class-level or per-test ``override_settings`` of the same names
    wins over it. ``captchala_settings`` adds settings for the class. Overriding
    ``setUp``? Call ``super().setUp()``, which resets the sandbox.
    """

    captchala: ClassVar[SandboxFixture]
    #: Extra settings while the class's sandbox runs, e.g. ``{"CAPTCHALA_TIMEOUT": 0.5}``.
    captchala_settings: ClassVar[Mapping[str, Any]] = {}

    @classmethod
    def setUpClass(cls) -> None:  # noqa: N802 - unittest's name
        # Started before Django's own setUpClass (class-level override_settings,
        # setUpTestData) and cleaned up after it, so the overrides nest.
        cls.captchala = SandboxFixture(**cls.captchala_settings).start()
        cls.addClassCleanup(cls.captchala.stop)
        super().setUpClass()

    def setUp(self) -> None:  # noqa: N802
        self.captchala.reset()
        super().setUp()
