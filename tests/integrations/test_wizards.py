"""django-formtools wizards: a check on any step, verified once when the step is posted;
the wizard's revalidation at done() accepts the step it verified, once; a replayed,
skipped or forged step never stands in for the check."""

import pytest
from django.test import Client

from captchala_django.checkpoints import token_digest
from captchala_django.models import CheckpointEvent, PassToken
from captchala_django.tokens import RECEIPT_PREFIX
from tests.helpers import FORGED
from tests.integrations.wizards.views import FINISHED

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _finished():
    FINISHED.clear()
    yield
    FINISHED.clear()


def post(client, url, wizard, step, fields, token=None, **extra):
    data = {f"{wizard}-current_step": step} | {f"{step}-{k}": v for k, v in fields.items()}
    if token is not None:
        data[f"{step}-captchala_token"] = token
    return client.post(url, data | extra)


def errors(response, field="captcha"):
    form = response.context["wizard"]["form"]
    return [e.code for e in form.errors.as_data().get(field, [])]


SESSION = ("/wizards/session/", "signup_wizard")
COOKIE = ("/wizards/cookie/", "cookie_signup_wizard")


@pytest.mark.parametrize(("url", "wizard"), [SESSION, COOKIE], ids=["session", "cookie"])
def test_a_wizard_with_the_check_on_a_step_finishes(captchala_sandbox, url, wizard):
    client = Client()
    page = client.get(url).content.decode()
    assert 'name="who-captchala_token"' in page and "data-captchala" in page
    token = captchala_sandbox.mint_pass_token("register")
    details = post(client, url, wizard, "who", {"email": "a@example.com"}, token)
    assert details.status_code == 200 and details.context["wizard"]["steps"].current == "details"
    done = post(client, url, wizard, "details", {"name": "Ann"})
    assert done.status_code == 201
    receipt = RECEIPT_PREFIX + token_digest(token)  # what done() sees, never the token
    assert FINISHED == [{"email": "a@example.com", "captcha": receipt, "name": "Ann"}]
    assert captchala_sandbox.calls_for(token) == 1  # verified once, when its step was posted
    assert CheckpointEvent.objects.filter(kind="check").count() == 1
    assert PassToken.objects.get(token_digest=token_digest(token)).held_for == "redeemed"


def test_without_the_mixin_the_wizard_meets_its_own_token_as_a_replay(captchala_sandbox):
    """Why the mixin exists: formtools validates the stored step again at done()."""
    client = Client()
    url, wizard = "/wizards/plain/", "plain_wizard"
    token = captchala_sandbox.mint_pass_token("register")
    post(client, url, wizard, "who", {"email": "a@example.com"}, token)
    back = post(client, url, wizard, "details", {"name": "Ann"})
    assert back.status_code == 200 and FINISHED == []
    assert back.context["wizard"]["steps"].current == "who" and errors(back) == ["invalid"]


def test_the_check_on_the_last_step_is_verified_once_and_the_wizard_finishes(captchala_sandbox):
    client = Client()
    url, wizard = "/wizards/last-step/", "last_step_wizard"
    post(client, url, wizard, "details", {"name": "Ann"})
    token = captchala_sandbox.mint_pass_token("register")
    done = post(client, url, wizard, "agree", {"agree": "on"}, token)
    assert done.status_code == 201 and len(FINISHED) == 1
    assert captchala_sandbox.calls_for(token) == 1


@pytest.mark.parametrize("token", [None, FORGED], ids=["missing", "made-up"])
def test_a_step_without_a_good_token_does_not_advance(captchala_sandbox, token):
    client = Client()
    url, wizard = SESSION
    stay = post(client, url, wizard, "who", {"email": "a@example.com"}, token)
    assert stay.context["wizard"]["steps"].current == "who"
    assert errors(stay) == ["required" if token is None else "invalid"]
    done = post(client, url, wizard, "details", {"name": "Ann"})
    assert done.status_code == 200 and FINISHED == []


def test_skipping_the_step_with_the_check_does_not_finish(captchala_sandbox):
    """A bot posts the last step first (formtools follows the posted current_step)."""
    client = Client()
    url, wizard = SESSION
    client.get(url)
    back = post(client, url, wizard, "details", {"name": "Bot"})
    assert FINISHED == []
    assert back.context["wizard"]["steps"].current == "who"


@pytest.mark.parametrize(("url", "wizard"), [SESSION, COOKIE], ids=["session", "cookie"])
def test_a_receipt_posted_by_the_client_is_no_token(captchala_sandbox, url, wizard):
    """The receipt of a pass this client really made, posted on the step: refused, no call."""
    client = Client()
    token = captchala_sandbox.mint_pass_token("register")
    post(client, url, wizard, "who", {"email": "a@example.com"}, token)
    receipt = RECEIPT_PREFIX + token_digest(token)
    for poster in (client, Client()):  # its own session, whose pass it holds; another one
        again = post(poster, url, wizard, "who", {"email": "b@example.com"}, receipt)
        assert errors(again) == ["required"]
    staff = post(Client(), url, wizard, "who", {"email": "b@example.com"}, RECEIPT_PREFIX + "staff")
    assert errors(staff) == ["required"]
    assert captchala_sandbox.calls_for(token) == 1 and FINISHED == []


def test_a_replayed_wizard_cookie_finishes_the_wizard_once(captchala_sandbox):
    """One solve, one finished wizard: the cookie saved after the checked step is replayed."""
    client = Client()
    url, wizard = COOKIE
    token = captchala_sandbox.mint_pass_token("register")
    post(client, url, wizard, "who", {"email": "a@example.com"}, token)
    saved = {k: v.value for k, v in client.cookies.items()}
    assert post(client, url, wizard, "details", {"name": "Ann"}).status_code == 201
    for _ in range(3):
        replay = Client()
        for name, value in saved.items():
            replay.cookies[name] = value
        again = post(replay, url, wizard, "details", {"name": "Bot"})
        assert again.status_code == 200
        assert again.context["wizard"]["steps"].current == "who" and errors(again) == ["required"]
    assert len(FINISHED) == 1 and captchala_sandbox.calls_for(token) == 1


def test_going_back_to_the_checked_step_shows_it_passed_and_a_new_post_needs_a_new_solve(
    captchala_sandbox,
):
    client = Client()
    url, wizard = SESSION
    token = captchala_sandbox.mint_pass_token("register")
    post(client, url, wizard, "who", {"email": "a@example.com"}, token)
    back = client.post(url, {f"{wizard}-current_step": "details", "wizard_goto_step": "who"})
    assert back.context["wizard"]["steps"].current == "who" and errors(back) == []
    # The step posted again is the client's POST: its receipt is gone, a new solve is needed.
    stale = post(client, url, wizard, "who", {"email": "a@example.com"}, "")
    assert errors(stale) == ["required"]
    fresh = captchala_sandbox.mint_pass_token("register")
    post(client, url, wizard, "who", {"email": "a@example.com"}, fresh)
    assert post(client, url, wizard, "details", {"name": "Ann"}).status_code == 201
    assert len(FINISHED) == 1


def test_the_step_is_cleaned_data_for_the_wizard_while_it_runs(captchala_sandbox):
    """get_cleaned_data_for_step() (conditions, initial data) reads the verified step
    without using up its receipt."""
    client = Client()
    url, wizard = SESSION
    token = captchala_sandbox.mint_pass_token("register")
    details = post(client, url, wizard, "who", {"email": "ann@example.com"}, token)
    assert 'value="ann"' in details.content.decode()
    assert PassToken.objects.get(token_digest=token_digest(token)).held_for not in ("", "redeemed")
    assert post(client, url, wizard, "details", {"name": "Ann"}).status_code == 201


def test_a_degraded_pass_is_never_remembered_for_the_final_validation(captchala_sandbox):
    """Fail-open and degraded answers are not remembered: the step is asked again."""
    client = Client()
    url, wizard = SESSION
    token = captchala_sandbox.mint_pass_token("register")
    post(client, url, wizard, "who", {"email": "a@example.com"}, token)
    PassToken.objects.filter(token_digest=token_digest(token)).update(degraded=True)
    back = post(client, url, wizard, "details", {"name": "Ann"})
    assert back.status_code == 200 and FINISHED == []
    assert back.context["wizard"]["steps"].current == "who" and errors(back) == ["required"]
