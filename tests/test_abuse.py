"""A bot author's attempts, through the real front doors, against the sandbox over a socket.

Each section is one way a pass could be made to mean more than it says. Every
test asserts what must be refused, what must be remembered and what is stored.
"""

import logging
import re
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.core import mail
from django.db import OperationalError, connection
from django.test import Client
from django.utils import timezone

from captchala_django import checkpoints
from captchala_django.checkpoints import token_digest, verify_and_record
from captchala_django.client import CaptchaLaClient
from captchala_django.exceptions import ProviderResponseError
from captchala_django.models import DECISION_KINDS, Checkpoint, CheckpointEvent, PassToken
from captchala_django.scopes import Scope
from tests.helpers import FORGED, VALID, JsonServer, make_request, run_threads, scope

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("captchala_sandbox")]

HTML = {"HTTP_ACCEPT": "text/html"}
JSON = {"HTTP_ACCEPT": "application/json"}
PASSWORD = "s3cret-pass!"


@pytest.fixture
def alice():
    return get_user_model().objects.create_user("alice", "alice@example.com", PASSWORD)


def session_client() -> Client:
    """A client that has a session cookie, as a browser that visited the site has."""
    client = Client()
    client.session  # noqa: B018 - the property creates the session and sets the cookie
    return client


def decisions(**filters):
    return list(
        CheckpointEvent.objects.filter(kind__in=DECISION_KINDS, **filters).values_list(
            "code", flat=True
        )
    )


# ----------------------------------------------------------------- 1. fields need their own token


def test_one_solve_on_the_login_form_buys_one_password_check(
    captchala_sandbox, alice, failed_logins
):
    client = session_client()
    token = captchala_sandbox.mint_pass_token("login")
    first = client.post(
        "/login/", {"username": "alice", "password": "guess-0", "captchala_token": token}
    )
    assert first.status_code == 200 and failed_logins == ["alice"]  # the solve bought one check
    for i in range(1, 21):
        guess = {"username": "alice", "password": f"guess-{i}", "captchala_token": "x"}
        response = client.post("/login/", guess)
        assert list(response.context["form"].errors) == ["captcha"]
    assert failed_logins == ["alice"]  # not one more password was checked
    # Every refused check is still recorded on the checkpoint's trail.
    assert len(decisions(decision="deny")) == 20


def test_one_solve_sends_one_password_reset_mail(captchala_sandbox, alice):
    client = session_client()
    token = captchala_sandbox.mint_pass_token("lost_password")
    client.post("/reset/", {"email": "alice@example.com", "captchala_token": token})
    assert len(mail.outbox) == 1
    for _ in range(10):
        client.post("/reset/", {"email": "alice@example.com", "captchala_token": "x"})
    assert len(mail.outbox) == 1


def test_a_fields_token_lets_one_submission_through_not_two(captchala_sandbox, alice):
    client = session_client()
    token = captchala_sandbox.mint_pass_token("login")
    data = {"username": "alice", "password": "wrong", "captchala_token": token}
    assert client.post("/login/", data).context["form"].errors.keys() == {"__all__"}
    again = client.post("/login/", {**data, "password": PASSWORD})  # same token, right password
    assert list(again.context["form"].errors) == ["captcha"]
    assert "_auth_user_id" not in client.session
    assert captchala_sandbox.calls_for(token) == 1
    assert decisions(failure_class="replay") == ["token_reused"]


def test_8_parallel_submissions_of_one_token_to_a_field_let_exactly_one_through(
    captchala_sandbox,
):
    """Racing one token at a form from one session: one provider call, one submission."""
    from django.contrib.sessions.backends.db import SessionStore

    from tests.forms import ContactForm

    captchala_sandbox.set_fault("none", latency_ms=100)  # keep the first claim in flight
    token = captchala_sandbox.mint_pass_token("contact_form")
    session = SessionStore()
    session.save()

    def submit(_):
        request = make_request()
        request.session = SessionStore(session_key=session.session_key)
        return ContactForm({"message": "hi", "captchala_token": token}, request=request).is_valid()

    results, errors = run_threads(8, submit)
    assert errors == []
    # One claims the token; the seven others wait for its answer, then are refused.
    assert sorted(results) == [False] * 7 + [True]
    assert captchala_sandbox.calls_for(token) == 1


def test_drf_field_takes_no_earlier_pass(captchala_sandbox):
    pytest.importorskip("rest_framework")
    from rest_framework.test import APIClient

    client = APIClient()
    client.get("/")  # no session needed: the API client keeps cookies it is given
    token = captchala_sandbox.mint_pass_token("comment")
    body = {"text": "a", "captchala_token": token}
    assert client.post("/api/comments/", body, format="json").status_code == 201
    for _ in range(3):
        forged = {"text": "spam", "captchala_token": "x"}
        assert client.post("/api/comments/", forged, format="json").status_code == 400
    assert client.post("/api/comments/", body, format="json").status_code == 400  # reused token


# ----------------------------------------------------------- 2. the ledger answers retries only


@pytest.mark.parametrize("end", ["expire", "reset"])
def test_a_used_token_does_not_pass_again_after_the_checkpoint_ends(captchala_sandbox, end):
    client = session_client()
    token = captchala_sandbox.mint_pass_token()
    assert client.post("/transfer/", {"captchala_token": token}, **JSON).status_code == 200
    key = Checkpoint.objects.get().scope_key
    getattr(checkpoints, end)(key)
    again = client.post("/transfer/", {"captchala_token": token}, **JSON)
    assert again.status_code == 403
    assert captchala_sandbox.calls_for(token) == 1  # refused without asking the provider
    assert decisions(failure_class="replay") == ["token_reused"]
    assert not Checkpoint.objects.get().is_passed()


def test_a_resubmitted_token_is_a_retry_only_within_the_window(captchala_sandbox, settings):
    token = captchala_sandbox.mint_pass_token()
    assert verify_and_record(make_request(), token, scope()).allowed
    retry = verify_and_record(make_request(), token, scope(), fast_path=False)
    assert (retry.allowed, retry.code, retry.from_ledger) == (True, "ledger_retry", True)
    settings.CAPTCHALA_RETRY_WINDOW = 0
    late = verify_and_record(make_request(), token, scope(), fast_path=False)
    assert (late.allowed, late.failure_class) == (False, "replay")
    # Both answers from the ledger are on the trail, with no provider call.
    assert decisions() == ["ok", "ledger_retry", "token_reused"]
    assert captchala_sandbox.calls_for(token) == 1


def test_the_default_retry_window_is_the_provider_timeout_plus_five_seconds(settings):
    settings.CAPTCHALA_TIMEOUT = 2.5
    assert checkpoints.retry_window() == 7.5
    settings.CAPTCHALA_RETRY_WINDOW = 12
    assert checkpoints.retry_window() == 12


# ----------------------------------------------------------------- 3. fail-open is never remembered


def test_a_token_let_through_by_an_outage_has_bought_its_submission(captchala_sandbox, settings):
    """Under ``CAPTCHALA_ON_PROVIDER_ERROR = "allow"`` an outage lets a submission through
    degraded. The token has then bought that submission: once the provider is back it is
    a replay, answered by the ledger without asking again (a forged token included)."""
    settings.CAPTCHALA_ON_PROVIDER_ERROR = "allow"
    client = session_client()
    captchala_sandbox.set_fault("error", count=1)  # a one-request outage
    during = client.post("/transfer/", {"captchala_token": FORGED}, **JSON)
    assert during.status_code == 200 and during.json()["degraded"] is True
    for _ in range(3):
        after = client.post("/transfer/", {"captchala_token": FORGED}, **JSON)
        assert after.status_code == 403
    assert captchala_sandbox.calls_for(FORGED) == 0  # the outage's call was never answered
    assert not Checkpoint.objects.filter(status="passed").exists()
    claim = PassToken.objects.get()
    assert (claim.state, claim.allowed, claim.degraded) == ("done", True, True)
    assert CheckpointEvent.objects.filter(failure_class="replay").count() == 3


def test_one_solve_let_through_by_an_outage_buys_one_login_attempt(
    captchala_sandbox, settings, alice, failed_logins
):
    settings.CAPTCHALA_ON_PROVIDER_ERROR = "allow"
    client = session_client()
    token = captchala_sandbox.mint_pass_token("login")
    captchala_sandbox.set_fault("error", count=1)
    first = client.post(
        "/login/", {"username": "alice", "password": "guess-0", "captchala_token": token}
    )
    assert first.status_code == 200 and failed_logins == ["alice"]  # let through, degraded
    second = client.post(
        "/login/", {"username": "alice", "password": "guess-1", "captchala_token": token}
    )
    assert list(second.context["form"].errors) == ["captcha"]
    assert failed_logins == ["alice"]  # the password was not tried again
    assert captchala_sandbox.calls_for(token) == 0


def test_a_bot_replaying_a_token_let_through_by_an_outage_gets_nothing(captchala_sandbox, settings):
    """The victim's token let its request through during an outage; a cookieless bot from
    another address replays it once the provider answers again: the provider never used
    the token up, so only the ledger can refuse it."""
    settings.CAPTCHALA_ON_PROVIDER_ERROR = "allow"
    token = captchala_sandbox.mint_pass_token()
    captchala_sandbox.set_fault("error", count=1)
    victim = Client(REMOTE_ADDR="198.51.100.20")
    victim.session  # noqa: B018 - a browser that visited the site
    used = victim.post("/transfer/", {"captchala_token": token}, **JSON)
    assert used.status_code == 200 and used.json()["degraded"] is True

    bot = Client(REMOTE_ADDR="203.0.113.66")
    assert bot.post("/transfer/", {"captchala_token": token}, **JSON).status_code == 403
    assert bot.post("/transfer/", {}, **JSON).status_code == 403
    assert not Checkpoint.objects.filter(status="passed").exists()
    assert captchala_sandbox.calls_for(token) == 0


def test_a_claim_taken_by_another_client_while_waiting_is_not_taken_over(
    captchala_sandbox, settings
):
    """A cookieless bot replays a token whose claim is in flight under the anonymous
    scope it shares with the victim. While it waits, that claim is released and claimed
    again by the victim's new session (one atomic change, injected between two reads).
    The bot must not take the other client's claim over and send the token itself: it is
    a replay. (Claims count as abandoned at once here, so a take-over would succeed.)"""
    # The bot waits out the claim (timeout + margin from its creation); the wait must
    # outlast the request's own setup so that the waiter reads the claim again.
    settings.CAPTCHALA_TIMEOUT = 1.5
    settings.CAPTCHALA_CLAIM_MARGIN = 0.0
    settings.CAPTCHALA_CLAIM_ABANDONED_AFTER = 0.0
    token = captchala_sandbox.mint_pass_token("transfer")
    digest = token_digest(token)
    now = timezone.now()
    PassToken.objects.create(
        token_digest=digest,
        scope_key=Scope("session", "", "transfer").key,
        state="pending",
        created_at=now,
        expires_at=now + timedelta(days=1),
    )
    victims = Scope("session", "victims-new-session", "transfer").key
    reads = []

    def reclaim_after_first_read(execute, sql, params, many, context):
        if sql.lstrip().upper().startswith("SELECT") and "passtoken" in sql:
            reads.append(sql)
            if len(reads) == 2:  # the waiter's first re-read
                PassToken.objects.filter(token_digest=digest).update(scope_key=victims)
        return execute(sql, params, many, context)

    bot = Client(REMOTE_ADDR="203.0.113.66")
    with connection.execute_wrapper(reclaim_after_first_read):
        replay = bot.post("/transfer/", {"captchala_token": token}, **JSON)
    assert len(reads) >= 2
    assert replay.status_code == 403
    assert captchala_sandbox.calls_for(token) == 0
    assert PassToken.objects.get().scope_key == victims  # the victim's claim stays its own
    assert not Checkpoint.objects.filter(status="passed").exists()
    assert CheckpointEvent.objects.filter(failure_class="replay").exists()


def test_a_claim_left_by_a_dead_worker_is_never_answered_by_fail_open(captchala_sandbox, settings):
    """A cookieless victim's worker died while validating its token: the claim stays
    pending under the anonymous scope, which every cookieless client shares. A bot
    replaying the token before the claim counts as abandoned waits it out and is told to
    retry later, never let through: fail-open covers this request's own provider
    trouble, and the provider is up."""
    settings.CAPTCHALA_ON_PROVIDER_ERROR = "allow"
    token = captchala_sandbox.mint_pass_token("transfer")
    created = timezone.now() - timedelta(seconds=20)  # past timeout + margin, not abandoned
    PassToken.objects.create(
        token_digest=token_digest(token),
        scope_key=Scope("session", "", "transfer").key,
        state="pending",
        created_at=created,
        expires_at=created + timedelta(days=1),
    )
    bot = Client(REMOTE_ADDR="203.0.113.66")
    replay = bot.post("/transfer/", {"captchala_token": token}, **JSON)
    assert replay.status_code == 503 and replay["Retry-After"]
    refused = CheckpointEvent.objects.filter(failure_class="timeout", code="claim_in_flight")
    assert refused.exists()
    assert captchala_sandbox.calls_for(token) == 0
    assert not Checkpoint.objects.filter(status="passed").exists()
    assert "sessionid" not in bot.cookies


def test_the_allow_policy_never_covers_the_offline_fallback(captchala_sandbox, settings):
    settings.CAPTCHALA_ON_PROVIDER_ERROR = "allow"
    settings.CAPTCHALA_OFFLINE_API_URL = "http://127.0.0.1:9/api/validate"  # nothing listens
    response = session_client().post(
        "/transfer/", {"captchala_token": "offline_" + "made-up" * 4}, **JSON
    )
    assert response.status_code == 503
    row = Checkpoint.objects.get()
    assert (row.status, row.failure_class) == ("failed", "provider")


def test_accepted_degraded_and_client_only_answers_are_never_a_pass(captchala_sandbox, settings):
    settings.CAPTCHALA_ACCEPT_DEGRADED = True
    settings.CAPTCHALA_ACCEPT_CLIENT_ONLY = True
    client = session_client()
    for token in (captchala_sandbox.mint_pass_token(degraded=True), "client_" + "x" * 20):
        first = client.post("/transfer/", {"captchala_token": token}, **JSON)
        assert first.status_code == 200 and first.json()["degraded"] is True
        assert not Checkpoint.objects.filter(status="passed").exists()
        assert client.post("/transfer/", {"captchala_token": token}, **JSON).status_code == 403


# ----------------------------------------------------------- 4. "try again later" is not sticky


@pytest.mark.parametrize("fault", ["error", "drop", "rate_limit", "disabled"])
def test_a_token_the_provider_gave_no_verdict_on_can_be_tried_again(captchala_sandbox, fault):
    client = session_client()
    token = captchala_sandbox.mint_pass_token()
    captchala_sandbox.set_fault(fault, count=1)
    assert client.post("/transfer/", {"captchala_token": token}, **JSON).status_code == 503
    assert PassToken.objects.count() == 0  # the claim was released
    again = client.post("/transfer/", {"captchala_token": token}, **JSON)
    assert again.status_code == 200
    assert Checkpoint.objects.get().is_passed()


def test_a_token_consumed_during_a_timeout_asks_for_a_new_check(captchala_sandbox, settings):
    settings.CAPTCHALA_TIMEOUT = 0.3
    client = session_client()
    token = captchala_sandbox.mint_pass_token()
    # The provider consumes the token, but its answer comes too late.
    captchala_sandbox.set_fault("none", latency_ms=1500, count=1)
    assert client.post("/transfer/", {"captchala_token": token}, **JSON).status_code == 503
    captchala_sandbox.clear_faults()
    again = client.post("/transfer/", {"captchala_token": token}, **JSON)
    assert again.status_code == 403 and again.json()["error"] == "captcha_required"
    assert Checkpoint.objects.get().failure_detail == "token_consumed"


def test_the_login_form_after_an_outage_logs_in_with_the_same_token(captchala_sandbox, alice):
    client = session_client()
    token = captchala_sandbox.mint_pass_token("login")
    data = {"username": "alice", "password": PASSWORD, "captchala_token": token}
    captchala_sandbox.set_fault("error", count=1)
    down = client.post("/login/", data)
    assert [e.code for e in down.context["form"].errors.as_data()["captcha"]] == ["unavailable"]
    assert client.post("/login/", data).status_code == 302


# ----------------------------------------------------------- 5. a rate limit is not a bad token


def test_the_providers_rate_limit_is_try_again_later_everywhere(captchala_sandbox, alice):
    captchala_sandbox.set_fault("rate_limit")
    decorated = session_client().post(
        "/transfer/", {"captchala_token": captchala_sandbox.mint_pass_token()}, **JSON
    )
    assert decorated.status_code == 503 and decorated["Retry-After"] == "30"
    login = session_client().post(
        "/login/",
        {"username": "alice", "password": PASSWORD, "captchala_token": FORGED},
    )
    assert [e.code for e in login.context["form"].errors.as_data()["captcha"]] == ["unavailable"]
    assert set(Checkpoint.objects.values_list("failure_class", flat=True)) == {"provider"}


def test_drf_answers_a_rate_limit_with_503(captchala_sandbox):
    pytest.importorskip("rest_framework")
    from rest_framework.test import APIClient

    captchala_sandbox.set_fault("rate_limit")
    token = captchala_sandbox.mint_pass_token()
    response = APIClient().post("/api/transfer/", {"captchala_token": token}, format="json")
    assert response.status_code == 503 and response["Retry-After"] == "30"


# ----------------------------------------------------------------- 6. a staff skip opens nothing


def test_a_staff_skip_on_an_ip_scope_lets_no_one_else_in(captchala_sandbox, settings):
    settings.CAPTCHALA_SKIP_FOR_STAFF = True
    staff = get_user_model().objects.create_user("boss", is_staff=True)
    admin = Client(REMOTE_ADDR="198.51.100.20")
    admin.force_login(staff)
    assert admin.post("/mixin/", {}, **JSON).status_code == 200
    neighbour = Client(REMOTE_ADDR="198.51.100.20")  # same address, no token
    assert neighbour.post("/mixin/", {}, **JSON).status_code == 403
    row = Checkpoint.objects.get()
    assert row.status != "passed" and not row.is_passed()
    assert decisions(decision="allow") == ["staff_skip"]


# ----------------------------------------------------------------- 7. provider-call amplification


def test_one_client_causes_a_bounded_number_of_issue_calls(captchala_sandbox, settings, caplog):
    settings.CAPTCHALA_SERVER_TOKEN_BUDGET = 10
    client = session_client()
    rendered = [client.get("/login/").content.decode() for _ in range(50)]
    refreshes = [client.post("/captchala/server-token/", {"action": "login"}) for _ in range(50)]
    assert captchala_sandbox.count("issue") == 10
    assert sum('data-server-token="sct_' in html for html in rendered) == 10
    assert 'data-server-token=""' in rendered[-1]  # the page still renders, without one
    refused = refreshes[-1]
    assert refused.status_code == 429 and 0 < int(refused["Retry-After"]) <= 61
    assert "no-store" in refused["Cache-Control"]
    warnings = [r for r in caplog.records if "budget" in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].levelname == "WARNING"


def test_cookieless_clients_share_their_addresses_budget(captchala_sandbox, settings):
    settings.CAPTCHALA_SERVER_TOKEN_BUDGET = 3
    for _ in range(10):  # a new cookieless client each time, one address
        Client(REMOTE_ADDR="198.51.100.9").post("/captchala/server-token/", {"action": "login"})
    assert captchala_sandbox.count("issue") == 3
    other = Client(REMOTE_ADDR="198.51.100.10").post(
        "/captchala/server-token/", {"action": "login"}
    )
    assert other.status_code == 200  # another address has its own budget
    assert Session.objects.count() == 0


# ----------------------------------------------------------------- 8. bots do not grow the tables


def test_cookieless_bot_posts_store_no_session_and_one_row_per_route(captchala_sandbox):
    for i in range(20):
        bot = Client()  # no cookie, every time
        response = bot.post(
            "/transfer/", {"captchala_token": f"pt_made-up-{i:04d}-xxxxxxxx"}, **JSON
        )
        assert response.status_code == 403
    assert Session.objects.count() == 0
    assert Checkpoint.objects.count() == 1  # the route's row for clients without a session
    assert not Checkpoint.objects.filter(status="passed").exists()


def test_failures_never_push_a_checkpoints_expiry_forward(captchala_sandbox):
    client = session_client()
    client.post("/transfer/", {"captchala_token": FORGED}, **JSON)
    first_expiry = Checkpoint.objects.get().expires_at
    for i in range(5):
        client.post("/transfer/", {"captchala_token": f"{FORGED}-{i}"}, **JSON)
    row = Checkpoint.objects.get()
    assert row.attempts == 6 and row.expires_at == first_expiry


def test_a_valid_verdict_makes_the_session_and_the_pass_rides_on_it(captchala_sandbox):
    client = Client()  # cookieless until it passes
    token = captchala_sandbox.mint_pass_token()
    response = client.post("/transfer/", {"captchala_token": token}, **JSON)
    assert response.status_code == 200
    assert Session.objects.count() == 1 and "sessionid" in response.cookies
    assert client.post("/transfer/", {}, **JSON).status_code == 200  # on the checkpoint
    assert captchala_sandbox.count("validate") == 1


def test_a_session_rotated_away_keeps_no_checkpoint(captchala_sandbox):
    """An old (or stolen) cookie stops working once its session is gone: flushed by
    logout, rotated by login, expired. A made-up cookie is a client without a session."""
    client = session_client()
    old_key = client.session.session_key
    assert (
        client.post(
            "/transfer/", {"captchala_token": captchala_sandbox.mint_pass_token()}, **JSON
        ).status_code
        == 200
    )
    assert client.post("/transfer/", {}, **JSON).status_code == 200  # rides the pass
    Session.objects.filter(session_key=old_key).delete()  # what logout()/login() do
    assert client.post("/transfer/", {}, **JSON).status_code == 403
    assert Checkpoint.objects.filter(status="passed").count() == 1  # the dead session's row


def test_made_up_session_cookies_add_no_rows_and_share_one_budget(captchala_sandbox, settings):
    settings.CAPTCHALA_SERVER_TOKEN_BUDGET = 3
    for i in range(10):
        bot = Client(REMOTE_ADDR="198.51.100.30")
        bot.cookies["sessionid"] = f"made-up-session-{i:04d}-abcdefghij"
        bot.post("/login/", {"username": "a", "password": "b", "captchala_token": f"{FORGED}{i}"})
        bot.post("/captchala/server-token/", {"action": "login"})
    assert Checkpoint.objects.count() == 1  # the login route's row for sessionless clients
    assert Session.objects.count() == 0
    assert captchala_sandbox.count("issue") == 3  # one address, one budget


def test_the_admin_login_template_renders_the_check():
    html = Client().get("/secure-admin/login/").content.decode()
    assert "data-captchala" in html and 'name="username"' in html and 'name="password"' in html


def test_short_secret_field_names_are_not_echoed_either():
    posted = {"amount": "7", "pwd": "p-111111", "card_cvv": "c-222222", "otp": "o-333333"}
    posted |= {"shipping": "Main street 1"}  # "pin" inside a word is not a secret
    html = Client().post("/pay/", posted, **HTML).content.decode()
    carried = set(hidden_inputs(html)) - {"csrfmiddlewaretoken", "captchala_token"}
    assert carried == {"amount", "shipping"}


# ----------------------------------------------------------------- 9. HEAD is GET


def test_guarding_get_guards_head():
    assert Client().head("/statement/", **JSON).status_code == 403
    assert Client().get("/statement/", **JSON).status_code == 403


# ----------------------------------------------------------------- 11. no 500s on the way


def test_drf_permission_survives_a_failing_checkpoint_lookup(captchala_sandbox):
    pytest.importorskip("rest_framework")
    from rest_framework.test import APIClient

    def fail_lookups(execute, sql, params, many, context):
        if sql.lstrip().upper().startswith("SELECT") and "captchala_django_checkpoint" in sql:
            raise OperationalError("injected: the checkpoint read failed")
        return execute(sql, params, many, context)

    client = APIClient()
    with connection.execute_wrapper(fail_lookups):
        bare = client.post("/api/transfer/", {}, format="json")
        token = captchala_sandbox.mint_pass_token("transfer")
        ok = client.post("/api/transfer/", {"captchala_token": token}, format="json")
    assert bare.status_code == 403
    assert ok.status_code == 200 and ok.json()["verified"] is True


def test_request_captchala_is_none_on_methods_not_checked():
    response = Client().get("/reads-outcome/")
    assert response.status_code == 200 and response.json() == {"checked": False, "method": "GET"}


def test_the_mixin_guards_an_async_class_based_view(captchala_sandbox):
    from django.test import AsyncClient

    from tests.test_decorators import run_async

    async def scenario():
        client = AsyncClient()
        bare = await client.post("/async-mixin/", {}, **JSON)
        token = captchala_sandbox.mint_pass_token("transfer")
        ok = await client.post("/async-mixin/", {"captchala_token": token, "amount": "5"})
        return bare, ok

    bare, ok = run_async(scenario())
    assert bare.status_code == 403
    assert ok.status_code == 200 and ok.json()["amount"] == "5"


# ---------------------------------------------------------- 12. the challenge page keeps secrets


def hidden_inputs(html):
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html))


def test_the_challenge_page_never_echoes_a_sensitive_field():
    posted = {
        "amount": "100",
        "password": "hunter2-secret",
        "new_password1": "hunter3-secret",
        "api_key": "k-12345678",
        "auth_token": "t-12345678",
        "card_number": "4111111111111111",
    }
    response = Client().post("/pay/", posted, **HTML)
    assert response.status_code == 403
    html = response.content.decode()
    carried = set(hidden_inputs(html)) - {"csrfmiddlewaretoken", "captchala_token"}
    assert carried == {"amount"}
    for secret in (
        "hunter2-secret",
        "hunter3-secret",
        "k-12345678",
        "t-12345678",
        "4111111111111111",
    ):
        assert secret not in html
    assert "no-store" in response["Cache-Control"]
    assert response["X-Frame-Options"] == "DENY"


def test_unavailable_and_json_answers_are_not_cached_or_framed(captchala_sandbox):
    captchala_sandbox.set_fault("error")
    for accept in (HTML, JSON):
        response = Client().post("/transfer/", {"captchala_token": FORGED}, **accept)
        assert response.status_code == 503
        assert "no-store" in response["Cache-Control"]
        assert response["X-Frame-Options"] == "DENY"
    refresh = Client().post("/captchala/server-token/", {"action": "login"})
    assert refresh.status_code == 503 and "no-store" in refresh["Cache-Control"]


# ----------------------------------------------------------------- 13. redirects carry nothing away


@pytest.fixture
def redirecting_provider():
    """A provider that redirects every call to another server, which would say "valid"."""
    with JsonServer(body=VALID) as other, JsonServer(status=302, body=VALID) as provider:
        provider.location = other.url + "/v1/validate"
        yield provider, other


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_the_client_never_follows_a_redirect(redirecting_provider, status):
    provider, other = redirecting_provider
    provider.status = status
    client = CaptchaLaClient(api_url=provider.url, app_key="k", app_secret="the-app-secret")
    with pytest.raises(ProviderResponseError):
        client.validate("pt_" + "a" * 30)
    assert len(provider.seen) == 1
    assert other.seen == []  # neither the secret nor the token went anywhere else


def test_a_redirect_is_class_provider(redirecting_provider, settings):
    provider, other = redirecting_provider
    provider.status = 307  # would resend the POST, secret and token included
    settings.CAPTCHALA_API_URL = provider.url
    outcome = verify_and_record(make_request(), "pt_" + "a" * 30, scope())
    assert (outcome.allowed, outcome.failure_class) == (False, "provider")
    assert other.seen == []


# ----------------------------------------------------------------- 14. smaller holes


def test_a_provider_code_cannot_forge_a_log_line(captchala_sandbox, caplog):
    evil = "invalid_token\ncaptcha decision=allow class= code=ok\x1b[2K"
    body = {"code": 40001, "msg": "x", "data": {"valid": False, "error": evil}}
    captchala_sandbox.set_fault("reply", status=200, body=body)
    caplog.set_level(logging.INFO, logger="captchala_django")
    outcome = verify_and_record(make_request(), FORGED, scope())
    assert not outcome.allowed
    for record in caplog.records:
        message = record.getMessage()
        assert "\n" not in message and "\x1b" not in message
    stored = Checkpoint.objects.get().failure_detail
    assert stored.isprintable() and " " not in stored and len(stored) <= 64


@pytest.mark.parametrize("door", ["decorator", "drf"])
def test_a_header_token_and_a_body_token_are_refused_together(captchala_sandbox, door):
    good = captchala_sandbox.mint_pass_token("transfer")
    if door == "drf":
        pytest.importorskip("rest_framework")
        from rest_framework.test import APIClient

        response = APIClient().post(
            "/api/transfer/",
            {"captchala_token": FORGED},
            format="json",
            HTTP_X_CAPTCHALA_TOKEN=good,
        )
    else:
        response = Client().post(
            "/transfer/", {"captchala_token": FORGED}, HTTP_X_CAPTCHALA_TOKEN=good, **JSON
        )
    assert response.status_code == 403
    assert captchala_sandbox.count("validate") == 0


def test_the_drf_field_refuses_several_form_tokens(captchala_sandbox):
    """A form-encoded body with two tokens: DRF would keep the last; the field refuses."""
    pytest.importorskip("rest_framework")
    from rest_framework.test import APIClient

    good = captchala_sandbox.mint_pass_token("comment")
    for tokens in ([FORGED, good], [good, FORGED]):
        body = {"text": "x", "captchala_token": tokens}
        response = APIClient().post("/api/comments/", body, format="multipart")
        assert response.status_code == 400
    assert captchala_sandbox.count("validate") == 0


def test_drf_refuses_several_body_tokens(captchala_sandbox):
    pytest.importorskip("rest_framework")
    from rest_framework.test import APIClient

    good = captchala_sandbox.mint_pass_token("transfer")
    response = APIClient().post(
        "/api/transfer/", {"captchala_token": [FORGED, good]}, format="json"
    )
    assert response.status_code == 403
    assert captchala_sandbox.count("validate") == 0


# ----------------------------------------------------------------- 15. CAPTCHALA_REQUIRE_ACTION


def test_require_action_denies_a_reply_that_names_no_action(captchala_sandbox, settings):
    token = captchala_sandbox.mint_pass_token(None)  # the reply will carry no action
    assert verify_and_record(make_request(), token, scope("a"), action="transfer").allowed
    settings.CAPTCHALA_REQUIRE_ACTION = True
    strict = verify_and_record(
        make_request(), captchala_sandbox.mint_pass_token(None), scope("b"), action="transfer"
    )
    assert (strict.allowed, strict.failure_class, strict.code) == (
        False,
        "validation",
        "token_action_mismatch",
    )
    assert token_digest(token)  # the keys are configured: the check was a real one


def test_the_issue_budget_holds_across_a_minute_boundary(captchala_sandbox, settings, monkeypatch):
    """Ten calls just before a clock minute ends and ten just after would be two budgets
    in two seconds: the previous minute still counts for what the last 60 s cover."""
    from captchala_django import budgets

    settings.CAPTCHALA_SERVER_TOKEN_BUDGET = 10
    clock = [6_000_059.5]  # 0.5 s before a minute ends
    monkeypatch.setattr(budgets, "time", SimpleNamespace(time=lambda: clock[0]))
    client = session_client()

    def refresh():
        return client.post("/captchala/server-token/", {"action": "login"}).status_code

    assert [refresh() for _ in range(10)] == [200] * 10
    clock[0] += 1.0  # 0.5 s into the next minute
    assert refresh() == 429
    clock[0] += 60.0  # a whole minute after the ten calls
    assert refresh() == 200
    assert captchala_sandbox.count("issue") == 11


# ------------------------------------------------------------------ scopes without a subject


def test_one_pass_for_an_unknown_address_is_not_every_unknown_clients_pass(captchala_sandbox):
    """Behind a proxy on a unix socket, with no trusted proxy set up, ``REMOTE_ADDR`` is
    empty for every client: the ``ip`` scope has no subject, so the client is told apart
    by its session, never by one key shared by all of them."""
    solver = Client(REMOTE_ADDR="")
    token = captchala_sandbox.mint_pass_token("transfer")
    assert solver.post("/mixin/", {"captchala_token": token}, **JSON).status_code == 200
    assert solver.post("/mixin/", {}, **JSON).status_code == 200  # its session rides it

    bot = Client(REMOTE_ADDR="")  # another client of unknown address, no token
    assert bot.post("/mixin/", {}, **JSON).status_code == 403
    assert bot.post("/mixin/", {"captchala_token": token}, **JSON).status_code == 403
    passed = Checkpoint.objects.get(status="passed")
    assert passed.scope_kind == "session"


@pytest.mark.parametrize("subject", [None, "", False], ids=["None", "empty", "False"])
def test_a_custom_scope_without_a_subject_is_the_clients_session(captchala_sandbox, subject):
    """``scope=lambda r: r.user.pk`` (or ``r.user.is_authenticated and r.user.pk``) for a
    visitor: one client's pass must not be every visitor's (``Scope("custom", "None")``
    was one key for all of them)."""

    def resolver(request):
        return subject

    token = captchala_sandbox.mint_pass_token()
    solver = make_request(ip="198.51.100.20")
    assert verify_and_record(solver, token, resolver, route="transfer").allowed
    assert checkpoints.get_passed(solver, resolver, route="transfer") is not None
    bot = make_request(ip="203.0.113.66")  # another client, no token
    assert checkpoints.get_passed(bot, resolver, route="transfer") is None
    assert Checkpoint.objects.get(status="passed").scope_kind == "session"


def test_without_a_session_store_an_unknown_address_keeps_no_pass(captchala_sandbox):
    """No address and no session store: the check lets this request through and keeps
    nothing (code ``pass_not_kept``); the token is a replay from then on."""
    token = captchala_sandbox.mint_pass_token()
    request = make_request(ip="")
    del request.session
    outcome = verify_and_record(request, token, "ip", route="transfer")
    assert (outcome.allowed, outcome.code, outcome.degraded) == (True, "pass_not_kept", False)
    assert not Checkpoint.objects.filter(status="passed").exists()
    other = make_request(ip="")
    del other.session
    assert checkpoints.get_passed(other, "ip", route="transfer") is None
    again = verify_and_record(other, token, "ip", route="transfer")
    assert (again.allowed, again.failure_class) == (False, "replay")
    assert captchala_sandbox.calls_for(token) == 1


@pytest.fixture
def no_session_store(settings):
    """An API-only site: no session (nor auth) middleware."""
    settings.MIDDLEWARE = [
        "django.middleware.common.CommonMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
    ]


@pytest.mark.usefixtures("no_session_store")
def test_the_session_scope_without_a_session_store_is_not_the_address(captchala_sandbox):
    """The default scope with no SessionMiddleware fell back to the address: one human's
    pass opened the route for everyone behind that address (everyone, behind an
    untrusted proxy). A pass then lets that one request through and keeps nothing."""
    human = Client(REMOTE_ADDR="198.51.100.40")
    token = captchala_sandbox.mint_pass_token()
    solved = human.post("/transfer/", {"captchala_token": token}, **JSON)
    assert solved.status_code == 200 and solved.json()["degraded"] is False
    neighbour = Client(REMOTE_ADDR="198.51.100.40")  # same address, no token
    assert neighbour.post("/transfer/", {}, **JSON).status_code == 403
    assert human.post("/transfer/", {}, **JSON).status_code == 403  # nothing was kept
    assert not Checkpoint.objects.filter(status="passed").exists()
    assert not Checkpoint.objects.filter(scope_kind="ip").exists()
    assert decisions(code="pass_not_kept") == ["pass_not_kept"]
    # The token bought that one request: a replay from then on, never sent again.
    assert neighbour.post("/transfer/", {"captchala_token": token}, **JSON).status_code == 403
    assert captchala_sandbox.calls_for(token) == 1


# --------------------------------------------------------------------------- methods


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE", "TRACE", "PURGE", "FOO"])
@pytest.mark.parametrize("url", ["/transfer/", "/async-transfer/"])
def test_every_unsafe_method_of_a_guarded_view_needs_the_check(captchala_sandbox, url, method):
    """A function view that acts on anything but GET is guarded for every such method by
    default, made-up ones included, as the DRF permission sees unsafe methods."""
    client = session_client()
    assert client.generic(method, url, **JSON).status_code == 403
    assert client.generic(method, url, HTTP_X_CAPTCHALA_TOKEN=FORGED, **JSON).status_code == 403
    token = captchala_sandbox.mint_pass_token("transfer")
    allowed = client.generic(method, url, HTTP_X_CAPTCHALA_TOKEN=token, **JSON)
    assert allowed.status_code == 200 and allowed.json()["method"] == method
    for safe in ("GET", "HEAD", "OPTIONS"):
        assert Client().generic(safe, url, **JSON).status_code == 200


# --------------------------------------------------------------------------- budgets and cookies


def test_an_ipv6_client_spends_one_budget_for_its_whole_64(captchala_sandbox, settings):
    """One host is usually given a /64: a new source address per call is no new budget."""
    settings.CAPTCHALA_SERVER_TOKEN_BUDGET = 10
    codes = [
        Client(REMOTE_ADDR=f"2001:db8:1:2::{i:x}")
        .post("/captchala/server-token/", {"action": "login"})
        .status_code
        for i in range(1, 31)
    ]
    assert codes.count(200) == 10 and codes.count(429) == 20
    assert captchala_sandbox.count("issue") == 10
    other = Client(REMOTE_ADDR="2001:db8:1:3::1")  # the next /64: another client
    assert other.post("/captchala/server-token/", {"action": "login"}).status_code == 200


@pytest.fixture
def signed_cookie_sessions(settings):
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"


@pytest.mark.usefixtures("signed_cookie_sessions")
def test_made_up_signed_cookies_share_their_addresses_budget(captchala_sandbox, settings):
    """A signed-cookie store keeps a cookie that fails its signature as the session key:
    each made-up cookie must not be a fresh budget."""
    settings.CAPTCHALA_SERVER_TOKEN_BUDGET = 10
    codes = []
    for i in range(30):
        bot = Client(REMOTE_ADDR="198.51.100.77")
        bot.cookies[settings.SESSION_COOKIE_NAME] = f"made-up-cookie-{i:04d}"
        codes.append(bot.post("/captchala/server-token/", {"action": "login"}).status_code)
    assert codes.count(200) == 10 and codes.count(429) == 20
    assert captchala_sandbox.count("issue") == 10


@pytest.mark.usefixtures("signed_cookie_sessions")
def test_made_up_signed_cookies_are_clients_without_a_session(captchala_sandbox, settings):
    for i in range(5):
        bot = Client()
        bot.cookies[settings.SESSION_COOKIE_NAME] = f"made-up-cookie-{i:04d}"
        token = "pt_" + "x" * 30 + str(i)
        assert bot.post("/transfer/", {"captchala_token": token}, **JSON).status_code == 403
    assert Checkpoint.objects.count() == 1  # the one row of every client without a session
    assert Checkpoint.objects.get().scope_key == Scope("session", "", "transfer").key


@pytest.mark.django_db
@pytest.mark.parametrize("token", [None, FORGED], ids=["missing", "made-up"])
def test_a_failed_check_on_signup_does_not_tell_whether_a_username_is_taken(token):
    """UserCreationForm's clean_username() runs whatever the check says: when the check
    fails, its error is the only answer, for a taken name as for a free one."""
    from django.contrib.auth import get_user_model

    get_user_model().objects.create_user("alice", password="a-long-pass-123")
    answers = []
    for name in ("alice", "nobody"):
        data = {"username": name, "password1": "a-long-pass-123", "password2": "a-long-pass-123"}
        if token:
            data["captchala_token"] = token
        response = Client().post("/signup/", data)
        answers.append(response.context["form"].errors.as_data().keys())
    assert answers[0] == answers[1] == {"captcha"}


def test_this_run_tries_the_bots_under_its_address_storage_mode():
    """noxfile.py gives each cell a mode (CAPTCHALA_TEST_ADDRESS_STORAGE); it is in force
    for every abuse test of the run (tests/conftest.py)."""
    import os

    from captchala_django.conf import app_settings

    assert app_settings.ADDRESS_STORAGE == os.environ.get("CAPTCHALA_TEST_ADDRESS_STORAGE", "full")
