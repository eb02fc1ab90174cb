import pytest
from django.contrib.sessions.middleware import SessionMiddleware
from django.core.checks import run_checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from captchala_django import checks
from captchala_django.conf import reload_settings


def ids(messages):
    return [m.id for m in messages]


@pytest.fixture
def outside_a_test_run(monkeypatch):
    """As ``manage.py check`` on a real site: no test environment set up."""
    from django.core import mail

    monkeypatch.delattr(mail, "outbox")


def test_a_correct_configuration_has_no_messages():
    assert [c() for c in checks.ALL_CHECKS] == [[] for _ in checks.ALL_CHECKS]


@pytest.fixture(autouse=True)
def production_like(settings):
    """The budgets in a cache every process shares (never connected to here), and the
    request context kept for forms, as a production site has them; the tests of W011,
    W012 and W013 set their own."""
    settings.MIDDLEWARE = [
        *settings.MIDDLEWARE,
        "captchala_django.middleware.RequestContextMiddleware",
    ]
    settings.CACHES = {
        **settings.CACHES,
        "shared": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:9/0",
        },
    }
    settings.CAPTCHALA_CACHE = "shared"


@pytest.mark.parametrize(
    "backend",
    ["locmem.LocMemCache", "dummy.DummyCache", "db.DatabaseCache", "filebased.FileBasedCache"],
)
def test_a_per_process_budget_cache_warns_and_names_a_shared_one(
    settings, backend, outside_a_test_run
):
    settings.CACHES = {"default": {"BACKEND": f"django.core.cache.backends.{backend}"}}
    settings.CAPTCHALA_CACHE = "default"
    messages = checks.check_budget_cache()
    assert ids(messages) == ["captchala_django.W012"]
    assert "RedisCache" in messages[0].hint
    settings.DEBUG = True  # a development server is one process
    assert checks.check_budget_cache() == []


def test_a_shared_budget_cache_is_quiet():
    assert checks.check_budget_cache() == []


def test_the_session_scope_without_session_middleware_warns(settings):
    settings.MIDDLEWARE = ["django.middleware.common.CommonMiddleware"]
    messages = checks.check_session_store()
    assert ids(messages) == ["captchala_django.W011"]
    assert "'user'" in messages[0].hint and "'ip'" in messages[0].hint
    settings.CAPTCHALA_DEFAULT_SCOPE = "ip"
    assert checks.check_session_store() == []
    settings.CAPTCHALA_DEFAULT_SCOPE = "session"
    settings.MIDDLEWARE = ["tests.test_checks.OwnSessionMiddleware"]  # a subclass counts
    assert checks.check_session_store() == []


class OwnSessionMiddleware(SessionMiddleware):
    pass


def test_missing_keys_are_one_message_each_and_none_in_tests_or_builds(settings, monkeypatch):
    from django.core import mail

    settings.CAPTCHALA_APP_KEY = ""
    settings.CAPTCHALA_APP_SECRET = None
    settings.DEBUG = True
    assert checks.check_keys() == []  # a test run: nothing on every command
    monkeypatch.delattr(mail, "outbox")  # outside a test run
    assert ids(checks.check_keys()) == ["captchala_django.W005", "captchala_django.W006"]
    settings.DEBUG = False  # a production build (migrate, collectstatic) without secrets
    assert checks.check_keys() == []
    # check --deploy runs both: one error per missing key, and no warning beside it.
    found = checks.check_keys() + checks.check_keys_for_deploy()
    assert ids(found) == ["captchala_django.E001", "captchala_django.E002"]
    assert all(m.is_serious() for m in found)
    # The hint leads somewhere valid: the sandbox with DEBUG on (with DEBUG off it is E003).
    assert "with DEBUG on" in found[0].hint


def test_dev_setup_with_sandbox_and_no_keys_passes_manage_check(settings):
    settings.DEBUG = True
    settings.CAPTCHALA_SANDBOX = True
    settings.CAPTCHALA_APP_KEY = ""
    settings.CAPTCHALA_APP_SECRET = ""
    call_command("check")  # raises SystemCheckError on any error
    call_command("check", "--deploy", "--fail-level", "ERROR", tags=["captchala_django"])


def test_missing_keys_let_build_steps_run_but_fail_the_deploy_check(settings):
    """Docker builds and CI run migrate/collectstatic without secrets: a warning there."""
    settings.CAPTCHALA_APP_KEY = ""
    call_command("check")  # raises SystemCheckError on any error
    with pytest.raises(SystemCheckError, match="E001"):
        call_command("check", "--deploy", tags=["captchala_django"])


def test_sandbox_without_debug_is_a_deploy_error(settings, outside_a_test_run):
    settings.DEBUG = False
    settings.CAPTCHALA_SANDBOX = True
    assert ids(checks.check_sandbox_in_production()) == ["captchala_django.E003"]
    settings.CAPTCHALA_SANDBOX_FORCE = True
    assert ids(checks.check_sandbox_in_production()) == ["captchala_django.W003"]
    settings.DEBUG = True
    assert checks.check_sandbox_in_production() == []


def test_sandbox_check_runs_without_deploy(settings, outside_a_test_run):
    settings.DEBUG = False
    settings.CAPTCHALA_SANDBOX = True
    found = run_checks(tags=["captchala_django"])
    assert "captchala_django.E003" in ids(found)
    with pytest.raises(SystemCheckError, match="E003"):
        call_command("check")


def test_sandbox_check_is_tagged_security(settings, outside_a_test_run):
    settings.DEBUG = False
    settings.CAPTCHALA_SANDBOX = True
    assert "captchala_django.E003" in ids(run_checks(tags=["security"]))


@pytest.mark.parametrize("name", ["CAPTCHALA_API_URL", "CAPTCHALA_OFFLINE_API_URL"])
@pytest.mark.parametrize(
    "url",
    [
        "http://apiv1.captcha.la",
        "http://203.0.113.5:8000/api/validate",
        "HTTP://Example.COM/",
        "http://[2001:db8::1]/",
        "http://localhost.example.com/",
        "http://127.0.0.1.nip.io/",
    ],
)
def test_plain_http_to_a_public_host_warns(settings, name, url):
    settings.CAPTCHALA_SANDBOX = False
    setattr(settings, name, url)
    found = [m for c in checks.ALL_CHECKS for m in c()]
    assert ids(found) == ["captchala_django.W004"]
    assert name in found[0].msg
    assert "https" in found[0].hint
    assert "captchala_django.W004" in ids(run_checks())


@pytest.mark.parametrize("name", ["CAPTCHALA_API_URL", "CAPTCHALA_OFFLINE_API_URL"])
@pytest.mark.parametrize(
    "url",
    [
        "https://apiv1.captcha.la",
        "https://203.0.113.5/api/validate",
        "http://127.0.0.1:8000",
        "http://127.8.9.10/api/validate",
        "http://localhost",
        "http://LOCALHOST:8000/captchala-sandbox",
        "http://[::1]:8000/",
    ],
)
def test_https_or_loopback_does_not_warn(settings, name, url):
    settings.CAPTCHALA_SANDBOX = False
    setattr(settings, name, url)
    assert checks.check_api_urls() == []


@pytest.mark.parametrize("name", ["CAPTCHALA_API_URL", "CAPTCHALA_OFFLINE_API_URL"])
def test_plain_http_with_the_sandbox_on_does_not_warn(settings, name):
    settings.DEBUG = True
    settings.CAPTCHALA_SANDBOX = True
    setattr(settings, name, "http://demo.example.com/captchala-sandbox")
    assert checks.check_api_urls() == []


@pytest.mark.parametrize(
    ("name", "value", "code"),
    [
        ("CAPTCHALA_TIMEOUT", 0, "E004"),
        ("CAPTCHALA_TIMEOUT", 120, "E004"),
        ("CAPTCHALA_TIMEOUT", "3", "E004"),
        ("CAPTCHALA_CHECKPOINT_TTL", -5, "E005"),
        ("CAPTCHALA_CHECKPOINT_TTL", 10**9, "E005"),
        ("CAPTCHALA_ON_PROVIDER_ERROR", "maybe", "E006"),
        ("CAPTCHALA_ON_PERSISTENCE_ERROR", "ALLOW", "E007"),
        ("CAPTCHALA_DEFAULT_SCOPE", "planet", "E008"),
        ("CAPTCHALA_DEFAULT_SCOPE", "no.such.module.scope", "E008"),
        ("CAPTCHALA_WIDGET", {"product": "billboard"}, "E010"),
        ("CAPTCHALA_WIDGET", "bind", "E010"),
        ("CAPTCHALA_WIDGET", {"product": "bind", "size": "compact"}, "E010"),
        ("CAPTCHALA_WIDGET", {"theme": 3}, "E010"),
        ("CAPTCHALA_MAX_RISK", 101, "E012"),
        ("CAPTCHALA_MAX_RISK", -1, "E012"),
        ("CAPTCHALA_MAX_RISK", "50", "E012"),
        ("CAPTCHALA_MAX_RISK", True, "E012"),
        ("CAPTCHALA_SERVER_TOKEN_ACTIONS", {"transfer": "wire"}, "E013"),
        ("CAPTCHALA_SERVER_TOKEN_ACTIONS", ["checkout"], "E013"),
        ("CAPTCHALA_TRUSTED_PROXIES", ["10.0.0.0/8", "not-an-ip"], "E011"),
    ],
)
def test_bad_values_are_errors(settings, name, value, code):
    setattr(settings, name, value)
    found = [m for c in checks.ALL_CHECKS for m in c()]
    assert ids(found) == [f"captchala_django.{code}"]


def test_dotted_scope_callable_is_accepted(settings):
    settings.CAPTCHALA_DEFAULT_SCOPE = "os.path.join"
    assert checks.check_scope() == []


def test_unparsable_environment_is_e009(settings, monkeypatch):
    del settings.CAPTCHALA_TIMEOUT
    monkeypatch.setenv("CAPTCHALA_TIMEOUT", "soon")
    reload_settings()  # the environment is read once per process
    assert ids(checks.check_settings()) == ["captchala_django.E009"]


def test_sqlite_without_immediate_transactions_warns(monkeypatch, settings, outside_a_test_run):
    from django.db import connection

    settings.DEBUG = False

    if connection.vendor != "sqlite":
        assert checks.check_sqlite_concurrency() == []
        return
    assert checks.check_sqlite_concurrency() == []  # the test settings use IMMEDIATE
    options = dict(connection.settings_dict["OPTIONS"])
    options.pop("transaction_mode")
    monkeypatch.setitem(connection.settings_dict, "OPTIONS", options)
    assert ids(checks.check_sqlite_concurrency()) == ["captchala_django.W001"]
    settings.DEBUG = True  # a development site, a new project's SQLite: nothing said
    assert checks.check_sqlite_concurrency() == []


def test_an_action_the_provider_does_not_know_and_nobody_mapped_warns(settings):
    """The test project's views name "transfer"; unmapped, it would share generic_form."""
    settings.CAPTCHALA_SERVER_TOKEN_ACTIONS = {}
    messages = checks.check_server_token_actions()
    assert ids(messages) == ["captchala_django.W007"]
    assert "['transfer']" in messages[0].msg
    settings.CAPTCHALA_SERVER_TOKEN_ACTIONS = {"transfer": "checkout"}
    assert checks.check_server_token_actions() == []


def test_w007_names_a_drf_views_unmapped_action(settings):
    """DRF's permission reads ``captchala_action`` per request: the check finds it in
    the URLconf, at any depth of include()."""
    pytest.importorskip("rest_framework")
    settings.ROOT_URLCONF = "tests.urls_drf_action"
    messages = checks.check_server_token_actions()
    assert ids(messages) == ["captchala_django.W007"]
    assert "'wire'" in messages[0].msg
    settings.CAPTCHALA_SERVER_TOKEN_ACTIONS = {"transfer": "checkout", "wire": "checkout"}
    assert checks.check_server_token_actions() == []


def test_a_max_risk_in_range_is_fine(settings):
    for value in (None, 0, 55, 100):
        settings.CAPTCHALA_MAX_RISK = value
        assert checks.check_settings() == []


def test_a_pass_that_outlives_its_session_warns(settings):
    settings.SESSION_COOKIE_AGE = 600
    settings.CAPTCHALA_CHECKPOINT_TTL = 1800
    assert ids(checks.check_lifetimes()) == ["captchala_django.W008"]
    settings.CAPTCHALA_DEFAULT_SCOPE = "ip"  # not bound to a session: nothing to outlive
    assert checks.check_lifetimes() == []
    settings.CAPTCHALA_DEFAULT_SCOPE = "session"
    settings.CAPTCHALA_CHECKPOINT_TTL = 600
    assert checks.check_lifetimes() == []


def test_a_retry_window_shorter_than_a_slow_check_warns(settings):
    settings.CAPTCHALA_TIMEOUT = 3.0
    settings.CAPTCHALA_CLAIM_MARGIN = 2.0
    settings.CAPTCHALA_RETRY_WINDOW = 4.0
    messages = checks.check_lifetimes()
    assert ids(messages) == ["captchala_django.W009"]
    assert "5 s" in messages[0].msg
    settings.CAPTCHALA_RETRY_WINDOW = 5.0
    assert checks.check_lifetimes() == []
    settings.CAPTCHALA_RETRY_WINDOW = None  # the default, timeout + 5 s
    assert checks.check_lifetimes() == []


def test_server_tokens_without_a_refresh_endpoint_warn(settings):
    settings.ROOT_URLCONF = "tests.urls_without_refresh"
    assert ids(checks.check_lifetimes()) == ["captchala_django.W010"]
    settings.CAPTCHALA_SERVER_TOKENS = False
    assert checks.check_lifetimes() == []


@pytest.mark.parametrize(
    ("name", "raw"),
    [("CAPTCHALA_TIMEOUT", "soon"), ("CAPTCHALA_LEDGER_TTL", "a day"), ("CAPTCHALA_WIDGET", "{")],
)
def test_an_unparsable_environment_value_is_one_e009_naming_it(settings, monkeypatch, name, raw):
    if hasattr(settings, name):
        delattr(settings, name)
    monkeypatch.setenv(name, raw)
    reload_settings()  # the environment is read once per process
    found = [m for c in checks.ALL_CHECKS for m in c()]
    assert ids(found) == ["captchala_django.E009"]
    assert found[0].obj == name


def test_range_and_list_checks_come_from_the_specs(settings):
    """A spec's rule is the check: its bounds and its words are those of the message."""
    from captchala_django.conf import SETTINGS

    rule = SETTINGS["CAPTCHALA_TIMEOUT"].check
    settings.CAPTCHALA_TIMEOUT = rule.high + 1
    (message,) = checks.check_settings()
    assert message.id == rule.id == "captchala_django.E004"
    assert message.msg == "CAPTCHALA_TIMEOUT must be a number above 0 and at most 30; got 31.0."


def test_manage_py_check_deploy_says_each_missing_key_once_even_with_debug_on(
    settings, monkeypatch
):
    """A new project has DEBUG on: under ``check --deploy`` the warnings step aside for the
    deploy errors, one message per key."""
    import sys

    from django.core import mail

    settings.CAPTCHALA_APP_KEY = ""
    settings.CAPTCHALA_APP_SECRET = ""
    settings.DEBUG = True
    monkeypatch.delattr(mail, "outbox")
    monkeypatch.setattr(sys, "argv", ["manage.py", "check", "--deploy"])
    found = checks.check_keys() + checks.check_keys_for_deploy()
    assert ids(found) == ["captchala_django.E001", "captchala_django.E002"]


def test_a_test_run_hears_none_of_the_production_checks(settings):
    """Django's test runner turns DEBUG off itself: E003, W001 and W012 would fail or
    clutter every ``manage.py test`` of a site developing with the sandbox."""
    settings.DEBUG = False
    settings.CAPTCHALA_SANDBOX = True
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    found = {m.id for m in run_checks(tags=None) if m.id and m.id.startswith("captchala_django")}
    assert found == set()


def test_a_sandbox_the_site_does_not_talk_to_is_w014(settings, outside_a_test_run):
    settings.DEBUG = True
    settings.CAPTCHALA_SANDBOX = True
    for name in ("CAPTCHALA_API_URL", "CAPTCHALA_OFFLINE_API_URL", "CAPTCHALA_LOADER_URL"):
        if hasattr(settings, name):
            delattr(settings, name)
    (message,) = checks.check_sandbox_urls()
    assert message.id == "captchala_django.W014"
    assert "CAPTCHALA_API_URL" in message.msg and "/captchala-sandbox/api/validate" in message.hint
    base = "http://127.0.0.1:8000/captchala-sandbox"
    settings.CAPTCHALA_API_URL = base
    settings.CAPTCHALA_OFFLINE_API_URL = base + "/api/validate"
    settings.CAPTCHALA_LOADER_URL = base + "/captchala-loader.js"
    assert checks.check_sandbox_urls() == []
    settings.CAPTCHALA_SANDBOX = False  # off: nothing to say
    del settings.CAPTCHALA_API_URL
    assert checks.check_sandbox_urls() == []
