"""``CAPTCHALA_CLIENT``: a site's own client makes every check, through its own session."""

import threading

import pytest
import requests

from captchala_django import checks
from captchala_django.checkpoints import verify_and_record
from captchala_django.client import CaptchaLaClient, get_client, get_session, reset_session
from captchala_django.exceptions import ConfigurationError
from tests.helpers import VALID, JsonServer, make_request, scope

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("captchala_sandbox")]

HERE = "tests.test_client_setting"


class CountingClient(CaptchaLaClient):
    """Counts the validate calls made through it, and the sessions it was asked for."""

    validated = 0
    sessions_made = 0
    responses = 0
    _lock = threading.Lock()

    def validate(self, *args, **kwargs):
        with self._lock:
            type(self).validated += 1
        return super().validate(*args, **kwargs)

    def create_session(self) -> requests.Session:
        session = super().create_session()
        session.hooks["response"].append(self._count)
        with self._lock:
            type(self).sessions_made += 1
        return session

    @classmethod
    def _count(cls, response, **kwargs):
        with cls._lock:
            cls.responses += 1


def counting_factory() -> CaptchaLaClient:
    """A zero-argument factory, as ``CAPTCHALA_CLIENT`` may name one."""
    return CountingClient(timeout=2.0)


def not_a_client_factory():
    return object()


@pytest.fixture(autouse=True)
def counted():
    for name in ("validated", "sessions_made", "responses"):
        setattr(CountingClient, name, 0)
    reset_session()
    yield CountingClient
    reset_session()


@pytest.mark.parametrize("path", [f"{HERE}.CountingClient", f"{HERE}.counting_factory"])
def test_the_client_named_by_captchala_client_makes_every_check(settings, captchala_sandbox, path):
    settings.CAPTCHALA_CLIENT = path
    for i in range(3):
        token = captchala_sandbox.mint_pass_token("login")
        outcome = verify_and_record(make_request(), token, scope(f"s{i}"), action="login")
        assert outcome.allowed
    assert CountingClient.validated == 3
    assert captchala_sandbox.count("validate") == 3


def test_its_create_session_carries_every_call_and_is_made_once(settings, captchala_sandbox):
    settings.CAPTCHALA_CLIENT = f"{HERE}.CountingClient"
    for i in range(3):
        token = captchala_sandbox.mint_pass_token("login")
        assert verify_and_record(make_request(), token, scope(f"s{i}"), action="login").allowed
    assert CountingClient.responses == 3
    assert CountingClient.sessions_made == 1  # pooled: one session per process
    assert captchala_sandbox.count("connections") == 1  # and one kept-alive connection
    assert get_client().session is not get_session()  # not the default client's


def test_the_default_client_keeps_the_process_wide_session(settings):
    settings.CAPTCHALA_CLIENT = None
    client = get_client()
    assert type(client) is CaptchaLaClient
    assert client.session is get_session() is CaptchaLaClient().session


def test_a_subclass_that_keeps_the_default_session_shares_the_pool():
    class Quiet(CaptchaLaClient):
        pass

    assert Quiet().session is get_session()


def test_the_setting_is_resolved_once_and_again_when_it_changes(settings, monkeypatch):
    from django.utils import module_loading

    imported = []
    real = module_loading.import_string

    def spy(path):
        imported.append(path)
        return real(path)

    monkeypatch.setattr("captchala_django.conf.import_string", spy)
    settings.CAPTCHALA_CLIENT = f"{HERE}.CountingClient"
    assert [type(get_client()) for _ in range(3)] == [CountingClient] * 3
    assert imported == [f"{HERE}.CountingClient"]
    settings.CAPTCHALA_CLIENT = None  # setting_changed resets the cache
    assert type(get_client()) is CaptchaLaClient


def test_a_proxy_set_in_create_session_carries_the_calls(settings, clean_proxy_env):
    """What a subclass sets on its session (here a proxy) wins over the environment."""
    with JsonServer(body=VALID) as proxy:

        class ProxiedClient(CaptchaLaClient):
            def create_session(self) -> requests.Session:
                session = super().create_session()
                session.proxies = {"http": proxy.url}
                return session

        client = ProxiedClient(api_url="http://127.0.0.1:9", app_key="k", app_secret="s")
        assert client.validate("pt_" + "a" * 30).valid
        assert [s["line"] for s in proxy.seen] == ["POST http://127.0.0.1:9/v1/validate HTTP/1.1"]


# ----------------------------------------------------------------- a wrong setting


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("no.such.module.Client", "cannot be imported"),
        ("NoDotsAtAll", "cannot be imported"),
        ("collections.OrderedDict", "not a subclass of"),
        ("captchala_django.conf.POLICIES", "neither"),
        (42, "neither"),
    ],
)
def test_a_wrong_client_setting_is_a_system_check_error(settings, value, says):
    settings.CAPTCHALA_CLIENT = value
    found = [m for c in checks.ALL_CHECKS for m in c() if m.is_serious()]
    assert [m.id for m in found] == ["captchala_django.E014"]
    assert says in found[0].msg
    assert "CaptchaLaClient" in found[0].hint


def test_a_good_client_setting_passes_the_check(settings):
    for value in (None, f"{HERE}.CountingClient", f"{HERE}.counting_factory", CountingClient):
        settings.CAPTCHALA_CLIENT = value
        assert checks.check_client() == []


def test_a_wrong_client_setting_refuses_the_check_as_configuration(settings, captchala_sandbox):
    """Not a 500 at request time: the check is refused, class ``configuration``."""
    settings.CAPTCHALA_CLIENT = "no.such.module.Client"
    with pytest.raises(ConfigurationError, match="CAPTCHALA_CLIENT"):
        get_client()
    token = captchala_sandbox.mint_pass_token("login")
    outcome = verify_and_record(make_request(), token, scope(), action="login")
    assert (outcome.allowed, outcome.failure_class) == (False, "configuration")
    assert captchala_sandbox.count("validate") == 0


def test_a_factory_that_returns_something_else_refuses_the_check(settings, captchala_sandbox):
    settings.CAPTCHALA_CLIENT = f"{HERE}.not_a_client_factory"
    with pytest.raises(ConfigurationError, match="not a CaptchaLaClient"):
        get_client()
    token = captchala_sandbox.mint_pass_token("login")
    outcome = verify_and_record(make_request(), token, scope(), action="login")
    assert (outcome.allowed, outcome.failure_class) == (False, "configuration")


def test_server_tokens_and_the_ping_command_use_the_configured_client(settings, rf):
    from django.core.management import call_command

    from captchala_django import server_tokens

    settings.CAPTCHALA_CLIENT = f"{HERE}.CountingClient"
    request = make_request()
    server_tokens.issue(request, "login")
    call_command("captchala_ping", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert CountingClient.responses == 2
