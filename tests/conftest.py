import logging
import os
import traceback

import pytest
from django.conf import settings
from django.db import connection

from captchala_django.client import reset_session
from tests.demo_server import demo_server, module_demo_server  # noqa: F401 - fixtures

#: The integrations suite needs its own settings (every optional package installed):
#: ``pytest tests/integrations --ds=tests.integrations.settings``; other runs leave it out.
INTEGRATIONS_SETTINGS = "tests.integrations.settings"
if os.environ.get("DJANGO_SETTINGS_MODULE") != INTEGRATIONS_SETTINGS:
    collect_ignore = ["integrations"]


class _Collect(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info:
            text += "".join(traceback.format_exception(*record.exc_info))
        text += " " + " ".join(f"{k}={v}" for k, v in vars(record).items() if k not in _STD)
        self.texts.append(text)


_STD = set(vars(logging.LogRecord("n", 0, "p", 0, "m", (), None))) | {"message", "asctime"}


def secrets_in(texts: list[str], secrets: set[str]) -> list[str]:
    """The log texts that contain any of ``secrets``."""
    return [t for t in texts if any(s in t for s in secrets)]


@pytest.fixture(autouse=True)
def no_secrets_in_logs(request, monkeypatch):
    """Every log record a test produces is scanned for the secret, pass tokens and session keys.

    Tokens are those the live sandbox minted or was sent during the test; session
    keys are those any session store made during it.
    """
    from django.contrib.sessions.backends.base import SessionBase

    session_keys: list[str] = []
    new_key = SessionBase._get_new_session_key

    def recording_new_key(self):
        key = new_key(self)
        session_keys.append(key)
        return key

    monkeypatch.setattr(SessionBase, "_get_new_session_key", recording_new_key)
    handler = _Collect()
    handler.session_keys = session_keys
    root = logging.getLogger()
    old_level = root.level
    root.setLevel(logging.DEBUG)
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    forbidden = {settings.CAPTCHALA_APP_SECRET, "sandbox-app-secret", *session_keys}
    if "captchala_sandbox_server" in request.fixturenames:
        live = request.getfixturevalue("captchala_sandbox_server")
        forbidden |= set(live.tokens) | set(live.token_calls)
    forbidden = {s for s in forbidden if s and len(s) >= 12}
    leaks = secrets_in(handler.texts, forbidden)
    assert not leaks, f"log records leak a secret or pass token: {leaks[:3]}"


@pytest.fixture(params=[None, "portable"], ids=["upsert", "portable"])
def strategy(request, settings):
    """Run a test with the database's upsert and with the portable compare-and-set."""
    options = connection.settings_dict.get("OPTIONS", {})
    if (
        request.param == "portable"
        and connection.vendor == "sqlite"
        and options.get("transaction_mode") != "IMMEDIATE"
    ):
        pytest.skip(
            "SQLite without transaction_mode=IMMEDIATE (Django < 5.1) fails read-then-write "
            "transactions at once with 'database is locked'; the SQLite upsert path starts "
            "with its write and is what runs there"
        )
    settings.CAPTCHALA_WRITE_STRATEGY = request.param
    return request.param


@pytest.fixture
def failed_logins():
    """Usernames whose password Django's auth checked and refused (``user_login_failed``)."""
    from django.contrib.auth.signals import user_login_failed

    seen = []

    def receiver(sender, credentials, **kwargs):
        seen.append(credentials.get("username"))

    user_login_failed.connect(receiver)
    yield seen
    user_login_failed.disconnect(receiver)


@pytest.fixture(autouse=True)
def fresh_cache():
    """Every test starts with empty caches (the server-token budget lives there)."""
    from django.core.cache import caches

    from captchala_django import budgets

    for cache in caches.all(initialized_only=True):
        cache.clear()
    budgets.reset()
    yield


@pytest.fixture
def fresh_session():
    """Start with no pooled provider connections."""
    reset_session()
    yield
    reset_session()


@pytest.fixture
def clean_proxy_env(monkeypatch):
    """No proxy in the environment, and the client's process-wide session made anew."""
    from captchala_django.client import reset_session

    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    reset_session()
    yield monkeypatch
    reset_session()


# --------------------------------------------------- the admin login (protect_admin_login)


@pytest.fixture(autouse=True)
def _protected_sites(monkeypatch):
    """The sites a test protects are forgotten after it (system check E015 reads them)."""
    from captchala_django import admin_login

    monkeypatch.setattr(admin_login, "_protected", list(admin_login._protected))


@pytest.fixture
def root():
    """The superuser the admin login tests try to log in as."""
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_superuser("root", "root@example.com", "root-pass-123")


@pytest.fixture
def protected_site(monkeypatch):
    """``admin.site`` as a site's urls.py leaves it after the one line (restored after)."""
    from django.contrib import admin

    from captchala_django.admin_login import protect_admin_login

    monkeypatch.setattr(admin.site, "login_form", None)
    monkeypatch.setattr(admin.site, "login_template", None)
    return protect_admin_login(admin.site)


@pytest.fixture(autouse=True)
def address_storage_of_this_run(request):
    """The abuse tests (modules named ``*abuse*``) run under the address storage mode this
    run was given (``CAPTCHALA_TEST_ADDRESS_STORAGE``, set per cell by noxfile.py): every
    mode meets a bot's attempts in some run of ``make test``."""
    mode = os.environ.get("CAPTCHALA_TEST_ADDRESS_STORAGE", "full")
    if "abuse" in request.module.__name__ and mode != "full":
        # Asked for only here: pytest-django's settings fixture, set up early, would be
        # torn down after the log scan, which reads the settings.
        request.getfixturevalue("settings").CAPTCHALA_ADDRESS_STORAGE = mode


@pytest.fixture
def two_sites(settings, captchala_sandbox):
    """Keys per site: two CaptchaLa apps on one project, chosen by host (tests/keys.py), the
    sandbox knowing both."""
    from tests.keys import SITE_A, SITE_B

    settings.CAPTCHALA_KEYS_RESOLVER = "tests.keys.by_host"
    settings.ALLOWED_HOSTS = ["a.example", "b.example", "testserver"]
    for keys in (SITE_A, SITE_B):
        captchala_sandbox.register_app(keys.app_key, keys.app_secret)
    return captchala_sandbox
