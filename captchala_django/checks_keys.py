"""The system checks a new site meets first: its keys and the local sandbox.

Each says one thing once, where it matters, and its hint leads somewhere that works:
E001/E002 under ``check --deploy``, W005/W006 on a development site's commands, E003/W003
for a sandbox with ``DEBUG`` off, W014 for a sandbox the site does not talk to. A test run
(``manage.py test`` turns ``DEBUG`` off; pytest-django) hears none of them.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning

from .conf import SETTINGS, check_id, get_setting
from .exceptions import ConfigurationError

#: What :func:`_get` answers for a value that does not parse (E009 says it).
UNPARSABLE = object()

SANDBOX_GUIDE = "see the sandbox guide of the documentation (docs/guides/sandbox.md)"
#: The settings that point a site at the sandbox, with the sandbox's own path under them.
SANDBOX_URLS = (
    ("CAPTCHALA_API_URL", ""),
    ("CAPTCHALA_OFFLINE_API_URL", "/api/validate"),
    ("CAPTCHALA_LOADER_URL", "/captchala-loader.js"),
)
SANDBOX_URLS_CHECK_ID = "captchala_django.W014"


def _get(name: str) -> Any:
    try:
        return get_setting(name)
    except ConfigurationError:
        return UNPARSABLE


def in_a_test_run() -> bool:
    """Whether Django's test environment is set up (``manage.py test``, pytest-django):
    ``setup_test_environment()`` gives ``django.core.mail`` its ``outbox``."""
    from django.core import mail

    return hasattr(mail, "outbox")


def _deploy_run() -> bool:
    """Whether this is ``manage.py check --deploy`` (read from the command line: Django tells
    a check nothing of it), where the error of the deploy check says it once."""
    import sys

    return "--deploy" in sys.argv


def _sandbox_on() -> bool:
    sandbox = _get("CAPTCHALA_SANDBOX")
    return sandbox is not UNPARSABLE and bool(sandbox)


def check_keys(
    app_configs: Any = None, *, deploy: bool = False, **kwargs: Any
) -> list[CheckMessage]:
    """One message per missing key: an error under ``check --deploy`` (E001/E002); a
    warning (W005/W006) on the commands of a development site (``DEBUG`` on), so that the
    check's failures at runtime are not the first sign; nothing with the sandbox on, in a
    test run, or on a production build without secrets (``DEBUG`` off: ``migrate``,
    ``collectstatic``). At runtime a check without keys is class ``configuration``."""
    if _sandbox_on():
        return []
    if not deploy and (not settings.DEBUG or in_a_test_run() or _deploy_run()):
        return []
    level = Error if deploy else Warning
    return [
        level(
            f"{name} is not set.",
            hint=f"Set {name} in your settings or the environment. To develop without "
            "keys, run the local sandbox (CAPTCHALA_SANDBOX = True with DEBUG on, and the "
            f"site's CaptchaLa URLs pointed at it): {SANDBOX_GUIDE}.",
            id=check_id(name) if deploy else warning_id,
        )
        for name, warning_id in (
            ("CAPTCHALA_APP_KEY", "captchala_django.W005"),
            ("CAPTCHALA_APP_SECRET", "captchala_django.W006"),
        )
        if not _get(name)
    ]


def check_keys_for_deploy(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    return check_keys(app_configs, deploy=True, **kwargs)


def check_sandbox_in_production(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E003: the sandbox with ``DEBUG`` off (anyone could mint pass tokens); W003 when it
    is forced on. Not in a test run: Django's test runner turns ``DEBUG`` off itself."""
    if not _sandbox_on() or settings.DEBUG or in_a_test_run():
        return []
    forced = _get("CAPTCHALA_SANDBOX_FORCE")
    if forced is UNPARSABLE:
        return []
    if forced:
        return [
            Warning(
                "The CaptchaLa sandbox is forced on with DEBUG off.",
                hint="Every visitor can mint pass tokens. Use this only on test servers.",
                id="captchala_django.W003",
            )
        ]
    return [
        Error(
            "CAPTCHALA_SANDBOX is on while DEBUG is off.",
            hint="Turn the sandbox off in production, or set CAPTCHALA_SANDBOX_FORCE "
            "for a test server.",
            id=check_id("CAPTCHALA_SANDBOX"),
        )
    ]


def check_sandbox_urls(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """W014: the sandbox is on but the site still talks to CaptchaLa itself (the URLs'
    defaults): offline, every widget and every check fails."""
    if not _sandbox_on() or in_a_test_run():
        return []
    left = [name for name, _ in SANDBOX_URLS if _get(name) == SETTINGS[name].default]
    if not left:
        return []
    example = "http://127.0.0.1:8000/captchala-sandbox"
    return [
        Warning(
            "CAPTCHALA_SANDBOX is on, but "
            + ", ".join(left)
            + " still point"
            + ("s" if len(left) == 1 else "")
            + " at CaptchaLa itself.",
            hint="Point them at the sandbox, for one mounted at /captchala-sandbox/: "
            + ", ".join(f'{name} = "{example}{path}"' for name, path in SANDBOX_URLS)
            + f"; {SANDBOX_GUIDE}.",
            id=SANDBOX_URLS_CHECK_ID,
        )
    ]
