"""checkpoint_required and CheckpointRequiredMixin through real requests."""

import asyncio
import re
import time

import pytest
from asgiref.sync import sync_to_async
from django.db import connection, connections
from django.test import AsyncClient, Client, RequestFactory
from django.test.utils import CaptureQueriesContext

from captchala_django.challenge import RETURN_FIELD, same_url
from captchala_django.models import Checkpoint
from tests.helpers import FORGED, checkpoint_lookups

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("captchala_sandbox")]

HTML = {"HTTP_ACCEPT": "text/html"}
JSON = {"HTTP_ACCEPT": "application/json"}


def hidden_inputs(html):
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html))


def run_async(coro):
    """Run ``coro``, then close the connections of asgiref's shared sync thread.

    The test client disconnects Django's per-request connection cleanup, so the
    thread that ran the sync middleware would otherwise keep its connection open.
    """

    async def main():
        try:
            return await coro
        finally:
            await sync_to_async(connections.close_all)()

    return asyncio.run(main())


@pytest.fixture
def cache_sessions(settings):
    """Sessions outside the database, so query counts show only the checkpoint's."""
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.cache"


# ----------------------------------------------------------------- the three answers


def test_get_is_not_guarded_by_default():
    assert Client().get("/transfer/").status_code == 200


def test_post_without_a_token_gets_the_challenge_page():
    response = Client().post("/transfer/", {"amount": "100"}, **HTML)
    assert response.status_code == 403
    html = response.content.decode()
    assert "data-captchala" in html and 'name="captchala_token"' in html
    assert hidden_inputs(html)["amount"] == "100"
    assert 'action="/transfer/"' in html
    assert "csrfmiddlewaretoken" in html


def test_json_clients_get_a_json_403():
    response = Client().post("/transfer/", {"amount": "1"}, **JSON)
    assert response.status_code == 403
    assert response.json()["error"] == "captcha_required"
    body = Client().post("/transfer/", "{}", content_type="application/json")
    assert body.status_code == 403 and body.json()["error"] == "captcha_required"


def test_valid_token_lets_the_view_run_and_records_the_outcome(captchala_sandbox):
    token = captchala_sandbox.mint_pass_token()
    response = Client().post("/transfer/", {"amount": "100", "captchala_token": token})
    assert response.status_code == 200
    assert response.json() == {
        "ok": True,
        "method": "POST",
        "amount": "100",
        "class": None,
        "degraded": False,
    }
    assert Checkpoint.objects.get().route == "transfer"


def test_token_in_the_header_is_read(captchala_sandbox):
    token = captchala_sandbox.mint_pass_token()
    response = Client().post("/transfer/", {"amount": "1"}, HTTP_X_CAPTCHALA_TOKEN=token)
    assert response.status_code == 200


def test_provider_down_gives_503_with_retry_after(captchala_sandbox):
    captchala_sandbox.set_fault("error")
    html = Client().post(
        "/transfer/", {"captchala_token": captchala_sandbox.mint_pass_token()}, **HTML
    )
    assert html.status_code == 503 and html["Retry-After"] == "30"
    assert "Please try again" in html.content.decode()
    json = Client().post(
        "/transfer/", {"captchala_token": captchala_sandbox.mint_pass_token()}, **JSON
    )
    assert json.status_code == 503 and json.json()["error"] == "captcha_unavailable"


def test_provider_down_under_allow_lets_the_view_run_degraded(captchala_sandbox, settings):
    settings.CAPTCHALA_ON_PROVIDER_ERROR = "allow"
    captchala_sandbox.set_fault("timeout")
    settings.CAPTCHALA_TIMEOUT = 0.3
    response = Client().post("/transfer/", {"captchala_token": captchala_sandbox.mint_pass_token()})
    assert response.status_code == 200
    assert response.json()["degraded"] is True and response.json()["class"] == "timeout"


def test_invalid_token_gets_the_challenge_again():
    response = Client().post("/transfer/", {"amount": "1", "captchala_token": FORGED}, **HTML)
    assert response.status_code == 403
    assert "not passed" in response.content.decode()


# ----------------------------------------------------------------- fast path


@pytest.mark.usefixtures("cache_sessions")
def test_fast_path_costs_exactly_one_query(captchala_sandbox):
    client = Client()
    token = captchala_sandbox.mint_pass_token()
    assert client.post("/transfer/", {"captchala_token": token}).status_code == 200
    with CaptureQueriesContext(connection) as queries:
        response = client.post("/transfer/", {"amount": "5"})
    assert response.status_code == 200 and response.json()["amount"] == "5"
    assert len(queries) == 1, [q["sql"] for q in queries]
    assert captchala_sandbox.count("validate") == 1


def test_a_pass_on_one_route_does_not_open_another(captchala_sandbox):
    client = Client()
    client.post("/transfer/", {"captchala_token": captchala_sandbox.mint_pass_token()})
    assert client.post("/decorated/", {}, **JSON).status_code == 403


def test_a_pass_of_one_session_does_not_open_another(captchala_sandbox):
    Client().post("/transfer/", {"captchala_token": captchala_sandbox.mint_pass_token()})
    assert Client().post("/transfer/", {}, **JSON).status_code == 403


# ----------------------------------------------------------------- the challenge round trip


def test_challenge_resubmits_the_original_post(captchala_sandbox):
    client = Client()
    page = client.post("/transfer/", {"amount": "250", "note": ["a", "b"]}, **HTML)
    fields = hidden_inputs(page.content.decode())
    assert fields["amount"] == "250"
    data = {k: v for k, v in fields.items() if k != "captchala_token"}
    data["captchala_token"] = captchala_sandbox.mint_pass_token()
    response = client.post("/transfer/", data)
    assert response.status_code == 200 and response.json()["amount"] == "250"


def test_challenge_of_a_get_returns_to_the_same_url(captchala_sandbox):
    client = Client()
    page = client.get("/statement/?month=11", **HTML)
    assert page.status_code == 403
    html = page.content.decode()
    assert hidden_inputs(html)[RETURN_FIELD] == "1"
    assert 'action="/statement/?month=11"' in html
    passed = client.post(
        "/statement/?month=11",
        {RETURN_FIELD: "1", "captchala_token": captchala_sandbox.mint_pass_token("transfer")},
    )
    assert passed.status_code == 302 and passed["Location"] == "/statement/?month=11"
    assert client.get("/statement/?month=11").json()["method"] == "GET"


@pytest.mark.parametrize("path", ["//evil.example/steal", "/\\evil.example/steal", "///x.org"])
def test_never_sends_the_user_to_another_host(path):
    request = RequestFactory().get("/")
    request.path = path  # as a catch-all URL pattern could receive it
    url = same_url(request)
    assert url.startswith("/") and not url.startswith(("//", "/\\"))


def test_csrf_protection_stays_in_force(captchala_sandbox):
    client = Client(enforce_csrf_checks=True)
    token = captchala_sandbox.mint_pass_token()
    response = client.post("/transfer/", {"captchala_token": token})
    assert response.status_code == 403
    assert b"CSRF" in response.content
    assert captchala_sandbox.count("validate") == 0


# ----------------------------------------------------------------- the other view shapes


@pytest.mark.parametrize("url", ["/decorated/", "/mixin/"])
def test_method_decorator_and_mixin(captchala_sandbox, url):
    client = Client()
    assert client.post(url, {}, **JSON).status_code == 403
    token = captchala_sandbox.mint_pass_token("transfer")
    assert client.post(url, {"captchala_token": token}).status_code == 200
    assert client.post(url, {}).status_code == 200  # fast path


def test_action_is_checked(captchala_sandbox):
    token = captchala_sandbox.mint_pass_token("login")
    assert Client().post("/decorated/", {"captchala_token": token}, **JSON).status_code == 403


def test_async_view(captchala_sandbox):
    async def go():
        client = AsyncClient()
        refused = await client.post("/async-transfer/", {}, headers={"Accept": "application/json"})
        token = captchala_sandbox.mint_pass_token("transfer")
        passed = await client.post("/async-transfer/", {"captchala_token": token})
        again = await client.post("/async-transfer/", {"amount": "7"})
        return refused.status_code, passed.status_code, again.json()["amount"]

    assert run_async(go()) == (403, 200, "7")


def test_two_slow_async_verifications_overlap(captchala_sandbox):
    """Sandbox latency 1 s each: one after the other they would take >= 2 s; together ~1 s."""
    captchala_sandbox.set_fault("none", latency_ms=1000)
    tokens = [captchala_sandbox.mint_pass_token("transfer") for _ in range(2)]

    async def one(token):
        return await AsyncClient().post("/async-transfer/", {"captchala_token": token})

    async def both():
        started = time.monotonic()
        responses = await asyncio.gather(*(one(t) for t in tokens))
        return time.monotonic() - started, [r.status_code for r in responses]

    elapsed, statuses = run_async(both())
    assert statuses == [200, 200]
    assert captchala_sandbox.count("validate") == 2
    assert elapsed < 1.9, f"verifications ran one after the other ({elapsed:.2f}s)"


@pytest.mark.usefixtures("cache_sessions")
def test_a_check_reads_the_checkpoint_once(captchala_sandbox):
    """The decorator's own lookup is the fast path: verification does not repeat it."""
    token = captchala_sandbox.mint_pass_token()
    client = Client()
    client.session  # noqa: B018 - a client with a session: a pass could exist
    with CaptureQueriesContext(connection) as queries:
        assert client.post("/transfer/", {"captchala_token": token}).status_code == 200
    lookups = checkpoint_lookups(queries)
    assert len(lookups) == 1, lookups


@pytest.mark.parametrize("language", ["fr", "de"])
def test_the_challenge_page_names_the_language_it_is_written_in(language):
    from django.utils import translation

    with translation.override(language):
        response = Client().post("/transfer/", {"amount": "1"}, **HTML)
    assert response.status_code == 403
    assert f'<html lang="{language}">' in response.content.decode()
