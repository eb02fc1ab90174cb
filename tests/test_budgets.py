"""Budgets of provider calls, as a bot author would try to spend them (DESIGN §8).

One client may make the site call CaptchaLa only a bounded number of times a minute
whatever it does: mint sessions, post made-up tokens, flood in parallel; and a
budget holds whatever its cache does (down, counting nothing).
"""

import logging
from types import SimpleNamespace

import pytest
from django.core.cache.backends.locmem import LocMemCache
from django.test import Client

from captchala_django import budgets
from captchala_django.checkpoints import token_digest
from captchala_django.models import Checkpoint, CheckpointEvent, PassToken
from tests.helpers import free_port, run_threads

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("captchala_sandbox")]

JSON = {"HTTP_ACCEPT": "application/json"}
PASSWORD = "s3cret-pass!"
BOT = "198.51.100.66"


def made_up(i: int) -> str:
    return f"pt_made-up-{i:04d}-" + "x" * 24


def session_client(address: str = BOT) -> Client:
    client = Client(REMOTE_ADDR=address)
    client.session  # noqa: B018 - the property creates the session and sets the cookie
    return client


@pytest.fixture
def clock(monkeypatch):
    """The budgets' clock, moved by hand: ``clock[0] += 61``."""
    now = [7_000_000.0]
    monkeypatch.setattr(budgets, "time", SimpleNamespace(time=lambda: now[0]))
    return now


# --------------------------------------------------------------- the budget's cache (point 2)


@pytest.fixture
def cache_down(settings):
    """The budget's cache is a Redis whose server is down (nothing listens there)."""
    pytest.importorskip("redis")
    settings.CACHES = {
        **settings.CACHES,
        "budget": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
        },
    }
    settings.CAPTCHALA_CACHE = "budget"


@pytest.mark.usefixtures("cache_down")
def test_a_budget_cache_that_is_down_is_never_a_500(captchala_sandbox, caplog, django_user_model):
    caplog.set_level(logging.WARNING, logger="captchala_django")
    for _ in range(3):
        page = Client().get("/login/")
        assert page.status_code == 200
        assert 'data-server-token=""' in page.content.decode()  # the widget works without one
    challenge = Client().post("/transfer/", {"amount": "5"}, HTTP_ACCEPT="text/html")
    assert challenge.status_code == 403
    for _ in range(3):
        refresh = Client().post("/captchala/server-token/", {"action": "login"})
        assert refresh.status_code == 503 and int(refresh["Retry-After"]) > 0
        assert refresh.json() == {"error": "unavailable"}
    assert captchala_sandbox.count("issue") == 0
    outage = [r for r in caplog.records if r.name == "captchala_django.budgets"]
    assert len(outage) == 1 and outage[0].levelname == "WARNING"  # one per outage

    # Checks go on: the validate budget counts in this process meanwhile.
    django_user_model.objects.create_user("alice", "a@example.com", PASSWORD)
    token = captchala_sandbox.mint_pass_token("login")
    login = Client().post(
        "/login/", {"username": "alice", "password": PASSWORD, "captchala_token": token}
    )
    assert login.status_code == 302
    codes = [
        Client().post("/transfer/", {"captchala_token": made_up(i)}, **JSON).status_code
        for i in range(25)
    ]
    assert codes == [403] * 20 + [429] * 5
    assert captchala_sandbox.count("validate") == 21  # the login's, then 20 failures


def test_a_cache_that_counts_nothing_still_holds_the_budget(captchala_sandbox, settings):
    """``DummyCache`` (a site that "does not cache") never turns the budget off."""
    settings.CACHES = {
        **settings.CACHES,
        "none": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"},
    }
    settings.CAPTCHALA_CACHE = "none"
    settings.CAPTCHALA_SERVER_TOKEN_BUDGET = 10
    client = session_client()
    for _ in range(30):
        assert client.get("/login/").status_code == 200
    assert captchala_sandbox.count("issue") == 10
    codes = [
        Client(REMOTE_ADDR=BOT).post("/transfer/", {"captchala_token": made_up(i)}, **JSON)
        for i in range(30)
    ]
    assert [c.status_code for c in codes].count(429) == 10
    assert captchala_sandbox.count("validate") == 20


# ------------------------------------------------------------ minted sessions (point 4)


def test_minting_sessions_buys_at_most_twice_the_issue_budget(captchala_sandbox, settings):
    settings.CAPTCHALA_SERVER_TOKEN_BUDGET = 5
    for _ in range(6):  # six fresh sessions, one address
        client = session_client()
        for _ in range(5):
            assert client.get("/login/").status_code == 200
    assert captchala_sandbox.count("issue") == 10  # 2 x 5, not 6 x 5


def test_minting_sessions_from_an_ipv6_64_shares_one_address_budget(captchala_sandbox, settings):
    settings.CAPTCHALA_SERVER_TOKEN_BUDGET = 5
    for i in range(6):
        client = session_client(f"2001:db8:1:2::{i + 1:x}")
        for _ in range(5):
            client.post("/captchala/server-token/", {"action": "login"})
    assert captchala_sandbox.count("issue") == 10
    neighbour = session_client("2001:db8:1:3::1")  # another /64
    assert neighbour.post("/captchala/server-token/", {"action": "login"}).status_code == 200


def test_one_session_still_has_its_own_issue_budget(captchala_sandbox, settings):
    settings.CAPTCHALA_SERVER_TOKEN_BUDGET = 5
    client = session_client()
    codes = [client.post("/captchala/server-token/", {"action": "login"}) for _ in range(8)]
    assert [c.status_code for c in codes] == [200] * 5 + [429] * 3


# ------------------------------------------------------- failed validate calls (point 5)


def test_a_cookieless_flood_of_made_up_tokens_costs_a_bounded_number_of_calls(
    captchala_sandbox, caplog
):
    caplog.set_level(logging.INFO, logger="captchala_django")
    responses = [
        Client(REMOTE_ADDR=BOT).post("/transfer/", {"captchala_token": made_up(i)}, **JSON)
        for i in range(40)
    ]
    assert [r.status_code for r in responses] == [403] * 20 + [429] * 20
    assert captchala_sandbox.count("validate") == 20  # the default budget: 20 a minute
    refused = responses[-1]
    assert 0 < int(refused["Retry-After"]) <= 61
    assert refused.json()["error"] == "rate_limited"
    assert "no-store" in refused["Cache-Control"]
    # Recorded (the first refusal of the minute) and logged (each) under its own class and
    # code: the token was never judged.
    assert (
        CheckpointEvent.objects.filter(
            kind="check", failure_class="rate_limited", code="too_many_attempts"
        ).count()
        == 1
    )
    assert not Checkpoint.objects.filter(failure_class="validation", status="passed").exists()
    logged = [r.getMessage() for r in caplog.records]
    assert sum("class=rate_limited code=too_many_attempts" in text for text in logged) == 20
    # Never judged, so never claimed: no ledger row for the refused tokens.
    assert not PassToken.objects.filter(token_digest=token_digest(made_up(39))).exists()


def test_the_html_answer_past_the_budget_is_a_429_page(captchala_sandbox):
    for i in range(20):
        Client(REMOTE_ADDR=BOT).post("/transfer/", {"captchala_token": made_up(i)}, **JSON)
    page = Client(REMOTE_ADDR=BOT).post(
        "/transfer/", {"captchala_token": made_up(99)}, HTTP_ACCEPT="text/html"
    )
    assert page.status_code == 429 and page["Retry-After"]
    assert "Too many attempts; try again in a minute." in page.content.decode()


def test_a_login_form_past_the_budget_says_try_again_in_a_minute(
    captchala_sandbox, django_user_model, failed_logins
):
    django_user_model.objects.create_user("alice", "a@example.com", PASSWORD)
    bot = session_client()
    for i in range(21):
        response = bot.post(
            "/login/", {"username": "alice", "password": "guess", "captchala_token": made_up(i)}
        )
    errors = response.context["form"].errors.as_data()["captcha"]
    assert [(e.code, e.message) for e in errors] == [
        ("rate_limited", "Too many attempts; try again in a minute.")
    ]
    assert captchala_sandbox.count("validate") == 20
    assert failed_logins == []  # no password was ever checked


def flood_in_parallel(n: int) -> list[int]:
    """``n`` cookieless posts of made-up tokens from one address at once; their statuses."""

    def post(i):
        client = Client(REMOTE_ADDR=BOT)
        return client.post("/transfer/", {"captchala_token": made_up(i)}, **JSON).status_code

    codes, errors = run_threads(n, post)
    assert not errors
    return codes


def test_parallel_made_up_tokens_cannot_slip_under_the_budget(captchala_sandbox):
    codes = flood_in_parallel(32)
    assert captchala_sandbox.count("validate") <= 20
    assert codes.count(429) >= 12


def test_passing_checks_cost_nothing(captchala_sandbox):
    """A budget of failures: a client whose checks pass is never refused."""
    codes = []
    for _ in range(30):
        token = captchala_sandbox.mint_pass_token("transfer")
        codes.append(Client(REMOTE_ADDR=BOT).post("/transfer/", {"captchala_token": token}, **JSON))
    assert [c.status_code for c in codes] == [200] * 30
    assert captchala_sandbox.count("validate") == 30


def test_one_bot_costs_its_neighbours_a_minute_at_most(captchala_sandbox, clock):
    for i in range(25):
        Client(REMOTE_ADDR=BOT).post("/transfer/", {"captchala_token": made_up(i)}, **JSON)
    neighbour = Client(REMOTE_ADDR=BOT)  # same NAT, no pass yet
    token = captchala_sandbox.mint_pass_token("transfer")
    assert neighbour.post("/transfer/", {"captchala_token": token}, **JSON).status_code == 429
    assert captchala_sandbox.calls_for(token) == 0  # never judged: still good
    clock[0] += 61
    assert neighbour.post("/transfer/", {"captchala_token": token}, **JSON).status_code == 200


def test_a_neighbour_holding_a_live_pass_is_never_blocked(captchala_sandbox, django_user_model):
    """The address's count does not apply to a client holding a live pass; its own
    session's count still does."""
    neighbour = session_client()
    first = captchala_sandbox.mint_pass_token("register")
    form = {"username": "bob", "password1": "Sx9!long-pass", "password2": "Sx9!long-pass"}
    assert neighbour.post("/signup/", {**form, "captchala_token": first}).status_code == 201
    for i in range(25):  # a bot behind the same address spends the address's budget
        Client(REMOTE_ADDR=BOT).post("/signup/", {**form, "captchala_token": made_up(i)})
    again = captchala_sandbox.mint_pass_token("register")
    form = {"username": "carol", "password1": "Sx9!long-pass", "password2": "Sx9!long-pass"}
    assert neighbour.post("/signup/", {**form, "captchala_token": again}).status_code == 201
    stranger = session_client()  # same address, no pass: refused for now
    late = captchala_sandbox.mint_pass_token("register")
    form = {"username": "dave", "password1": "Sx9!long-pass", "password2": "Sx9!long-pass"}
    assert stranger.post("/signup/", {**form, "captchala_token": late}).status_code == 400
    assert captchala_sandbox.calls_for(late) == 0


def test_a_session_cannot_escape_its_budget_by_changing_address(captchala_sandbox):
    bot = session_client()
    for i in range(20):
        bot.defaults["REMOTE_ADDR"] = f"203.0.113.{i + 1}"
        bot.post("/transfer/", {"captchala_token": made_up(i)}, **JSON)
    bot.defaults["REMOTE_ADDR"] = "203.0.113.200"
    refused = bot.post("/transfer/", {"captchala_token": made_up(99)}, **JSON)
    assert refused.status_code == 429
    assert captchala_sandbox.count("validate") == 20


def test_during_an_outage_a_flood_is_still_bounded(captchala_sandbox, settings):
    """Retries during a provider outage spend the budget too, and never fail open."""
    settings.CAPTCHALA_ON_PROVIDER_ERROR = "allow"
    captchala_sandbox.set_fault("rate_limit")
    codes = [
        Client(REMOTE_ADDR=BOT).post("/transfer/", {"captchala_token": made_up(i)}, **JSON)
        for i in range(30)
    ]
    statuses = [c.status_code for c in codes]
    assert statuses.count(429) >= 10 and 200 not in statuses
    assert captchala_sandbox.count("validate") <= 20


def test_the_budget_can_be_switched_off(captchala_sandbox, settings):
    settings.CAPTCHALA_VALIDATE_BUDGET = 0
    codes = [
        Client(REMOTE_ADDR=BOT).post("/transfer/", {"captchala_token": made_up(i)}, **JSON)
        for i in range(25)
    ]
    assert [c.status_code for c in codes] == [403] * 25


@pytest.mark.parametrize("door", ["permission", "field"])
def test_drf_answers_a_spent_budget_with_429(captchala_sandbox, door):
    pytest.importorskip("rest_framework")
    from rest_framework.test import APIClient

    url = "/api/transfer/" if door == "permission" else "/api/comments/"
    codes = [
        APIClient(REMOTE_ADDR=BOT)
        .post(url, {"text": "hi", "captchala_token": made_up(i)}, format="json")
        .status_code
        for i in range(22)
    ]
    assert codes[-2:] == [429, 429] and 429 not in codes[:20]
    refused = APIClient(REMOTE_ADDR=BOT).post(
        url, {"text": "hi", "captchala_token": made_up(99)}, format="json"
    )
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    assert captchala_sandbox.count("validate") == 20


class ForgetfulCache(LocMemCache):
    """A cache that takes every key and keeps none (as a cache under heavy eviction, or a
    stub a site wrote, would): not DummyCache, and the budget must hold all the same."""

    def add(self, key, value, timeout=None, version=None):
        return True

    def get(self, key, default=None, version=None):
        return default


def test_any_cache_that_keeps_nothing_still_holds_the_budget(captchala_sandbox, settings):
    settings.CACHES = {
        **settings.CACHES,
        "forgetful": {"BACKEND": "tests.test_budgets.ForgetfulCache"},
    }
    settings.CAPTCHALA_CACHE = "forgetful"
    codes = [
        Client(REMOTE_ADDR=BOT).post("/transfer/", {"captchala_token": made_up(i)}, **JSON)
        for i in range(25)
    ]
    assert [c.status_code for c in codes].count(429) == 5
    assert captchala_sandbox.count("validate") == 20


def test_a_give_back_after_eviction_banks_no_credit():
    store = budgets._local
    counter = budgets._Counter("validate", "someone", now=7_000_000.0)
    counter.add(store, 1)
    store.delete(counter.key)  # evicted while the check ran
    assert counter.add(store, -1) == 0
    assert counter.add(store, 1) == 1  # not 0: no credit was banked


# ------------------------------------------------------- ways around the budget


def test_a_pass_holder_without_a_session_cannot_escape_the_validate_budget(
    captchala_sandbox, settings
):
    """``CAPTCHALA_DEFAULT_SCOPE = "ip"``: one solve gives the address a live pass of the
    login form's scope; the address's count then never applies (the live-pass exemption)
    and a cookieless client has no session count: every made-up token is a provider call."""
    settings.CAPTCHALA_DEFAULT_SCOPE = "ip"
    token = captchala_sandbox.mint_pass_token("login")
    solved = Client(REMOTE_ADDR=BOT).post(
        "/login/", {"username": "nobody", "password": "x", "captchala_token": token}
    )
    assert solved.status_code == 200  # the check passed (the password did not)
    for i in range(60):
        Client(REMOTE_ADDR=BOT).post(
            "/login/", {"username": "nobody", "password": "x", "captchala_token": made_up(i)}
        )
    # The budget is 20 failed checks a minute: at most 20 made-up tokens reach CaptchaLa.
    assert captchala_sandbox.count("validate") <= 1 + 20


def test_a_user_scoped_api_client_without_a_session_cannot_escape_the_validate_budget(
    captchala_sandbox, settings, django_user_model
):
    """The same with ``CAPTCHALA_DEFAULT_SCOPE = "user"`` and an API client that signs its
    requests (token auth: no session): one solve, then unbounded provider calls."""
    pytest.importorskip("rest_framework")
    from rest_framework.test import APIClient

    settings.CAPTCHALA_DEFAULT_SCOPE = "user"
    bot_user = django_user_model.objects.create_user("bot", "b@example.com", "pw-long-enough!")

    def api():
        client = APIClient(REMOTE_ADDR=BOT)
        client.force_authenticate(bot_user)  # as TokenAuthentication would: no session
        return client

    token = captchala_sandbox.mint_pass_token("comment")
    first = api().post("/api/comments/", {"text": "hi", "captchala_token": token}, format="json")
    assert first.status_code == 201
    codes = [
        api()
        .post("/api/comments/", {"text": "hi", "captchala_token": made_up(i)}, format="json")
        .status_code
        for i in range(60)
    ]
    assert 429 in codes
    assert captchala_sandbox.count("validate") <= 1 + 20


def test_requests_refused_by_the_budget_store_no_rows(captchala_sandbox):
    """Past the budget a made-up token costs no provider call, but each refusal still
    writes two CheckpointEvent rows (token_received, decision) and a claim insert and
    delete: a cookieless flood grows the events table without bound."""
    for i in range(20):
        Client(REMOTE_ADDR=BOT).post("/transfer/", {"captchala_token": made_up(i)}, **JSON)
    before = CheckpointEvent.objects.count()
    for i in range(100):
        refused = Client(REMOTE_ADDR=BOT).post(
            "/transfer/", {"captchala_token": made_up(1000 + i)}, **JSON
        )
        assert refused.status_code == 429
    assert CheckpointEvent.objects.count() - before <= 20


@pytest.mark.parametrize("backend", ["filebased", "db"])
def test_a_shared_cache_without_atomic_incr_still_holds_the_budget_in_parallel(
    captchala_sandbox, settings, tmp_path, backend
):
    """FileBasedCache and DatabaseCache are shared by every process, but their ``incr()``
    is a get then a set: parallel requests of one process must not lose each other's
    counts (W012 warns about several processes)."""
    from django.core.management import call_command

    if backend == "filebased":
        config = {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(tmp_path / "budget-cache"),
        }
    else:
        config = {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "captchala_budget_cache",
        }
    settings.CACHES = {**settings.CACHES, "budget": config}
    settings.CAPTCHALA_CACHE = "budget"
    if backend == "db":
        call_command("createcachetable", "captchala_budget_cache")

    flood_in_parallel(48)
    assert captchala_sandbox.count("validate") <= 20
