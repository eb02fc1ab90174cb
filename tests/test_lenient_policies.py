"""The site's lenient policies, as a bot author would try to ride them.

``CAPTCHALA_ACCEPT_DEGRADED`` accepts a verdict the provider gave while the site's
quota is spent: it obeys the action rule and the risk threshold as a valid one does.
``CAPTCHALA_ON_PROVIDER_ERROR = "allow"`` covers only what nobody outside can cause
(CaptchaLa unreachable, timed out, 5xx): never a rate limit a flood brought on,
nor a reply that is not one.
"""

import pytest
from django.test import Client

from captchala_django.checkpoints import verify_and_record
from captchala_django.models import Checkpoint, PassToken
from tests.helpers import FORGED, JsonServer, make_request, scope

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("captchala_sandbox")]

PASSWORD = "s3cret-pass!"
JSON = {"HTTP_ACCEPT": "application/json"}


@pytest.fixture
def alice(django_user_model):
    return django_user_model.objects.create_user("alice", "alice@example.com", PASSWORD)


@pytest.fixture
def provider(settings):
    """A stand-in CaptchaLa whose validate reply a test chooses."""
    with JsonServer() as server:
        settings.CAPTCHALA_API_URL = server.url
        yield server


def _degraded(action=None, risk=None) -> dict:
    data = {"valid": False, "degraded": True, "reason": "quota_exhausted"}
    if action is not None:
        data["action"] = action
    if risk is not None:
        data["risk_score"] = risk
    return {"code": 0, "msg": "degraded", "data": data}


# ------------------------------------------------------------ degraded verdicts obey the rules


def test_a_degraded_token_for_another_action_does_not_log_in(
    captchala_sandbox, settings, alice, failed_logins
):
    settings.CAPTCHALA_ACCEPT_DEGRADED = True
    settings.CAPTCHALA_REQUIRE_ACTION = True
    token = captchala_sandbox.mint_pass_token("comment", degraded=True)
    response = Client().post(
        "/login/", {"username": "alice", "password": PASSWORD, "captchala_token": token}
    )
    assert response.status_code == 200  # the form again, with its error
    assert [e.code for e in response.context["form"].errors.as_data()["captcha"]] == ["invalid"]
    assert "_auth_user_id" not in Client().session
    assert failed_logins == []  # no password was checked
    assert Checkpoint.objects.get().failure_class == "validation"


def test_a_degraded_reply_naming_another_action_is_a_mismatch(provider, settings):
    settings.CAPTCHALA_ACCEPT_DEGRADED = True
    provider.body = _degraded(action="comment")
    outcome = verify_and_record(make_request(), FORGED, scope("a"), action="login")
    assert (outcome.allowed, outcome.failure_class, outcome.code) == (
        False,
        "validation",
        "token_action_mismatch",
    )
    provider.body = _degraded(action="login")
    outcome = verify_and_record(make_request(), FORGED + "2", scope("b"), action="login")
    assert (outcome.allowed, outcome.degraded) == (True, True)


def test_a_degraded_reply_above_the_risk_threshold_is_refused(provider, settings):
    settings.CAPTCHALA_ACCEPT_DEGRADED = True
    settings.CAPTCHALA_MAX_RISK = 50
    provider.body = _degraded(action="login", risk=90)
    outcome = verify_and_record(make_request(), FORGED, scope("a"), action="login")
    assert not outcome.allowed and outcome.degraded is False
    provider.body = _degraded(action="login", risk=10)
    assert verify_and_record(make_request(), FORGED + "2", scope("b"), action="login").allowed


# ------------------------------------------------------- fail-open only for a real outage


@pytest.mark.parametrize("door", ["decorator", "login"])
def test_a_provider_rate_limit_never_lets_a_made_up_token_through(
    captchala_sandbox, settings, alice, failed_logins, door
):
    settings.CAPTCHALA_ON_PROVIDER_ERROR = "allow"
    captchala_sandbox.set_fault("rate_limit")
    if door == "decorator":
        response = Client().post("/transfer/", {"captchala_token": FORGED}, **JSON)
        assert response.status_code in (429, 503) and response["Retry-After"]
        assert response.json()["error"] != "ok"
    else:
        response = Client().post(
            "/login/", {"username": "alice", "password": PASSWORD, "captchala_token": FORGED}
        )
        errors = response.context["form"].errors.as_data()["captcha"]
        assert [e.code for e in errors] == ["unavailable"]
        assert failed_logins == []
    assert not Checkpoint.objects.filter(status="passed").exists()
    # Released, not finished: nothing was judged, nothing let through to remember.
    assert not PassToken.objects.filter(allowed=True).exists()


@pytest.mark.parametrize(
    "status,body",
    [
        (429, {"code": 429, "msg": "slow down", "data": {}}),
        (200, {"code": 1, "msg": "rate_limit_exceeded", "data": {"valid": False}}),
        (400, {"not": "an envelope"}),
        (200, ["not", "an", "object"]),
    ],
    ids=["http-429", "rate-limit-code", "4xx-no-envelope", "not-an-object"],
)
def test_replies_a_client_can_bring_on_never_select_fail_open(provider, settings, status, body):
    settings.CAPTCHALA_ON_PROVIDER_ERROR = "allow"
    provider.status, provider.body = status, body
    outcome = verify_and_record(make_request(), FORGED, scope("a"), action="transfer")
    assert not outcome.allowed and not outcome.degraded
    assert outcome.retry_later  # try again later, never "bad token" and never a pass


@pytest.mark.parametrize("status", [500, 503])
def test_a_5xx_still_selects_the_sites_fail_open_policy(provider, settings, status):
    settings.CAPTCHALA_ON_PROVIDER_ERROR = "allow"
    provider.status, provider.body = status, {"oops": True}
    outcome = verify_and_record(make_request(), FORGED, scope("a"), action="transfer")
    assert (outcome.allowed, outcome.degraded, outcome.failure_class) == (True, True, "provider")
