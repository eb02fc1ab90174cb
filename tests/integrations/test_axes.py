"""django-axes counting but never locking out: its failure limit asks for the check
instead. A bot guessing a victim's password from many addresses cannot lock the victim out,
and gets no more password checks without solving; the victim solves once and logs in."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("captchala_sandbox")]

URL = "/axes/login/"
PASSWORD = "s3cret-pass!"
INVALID = "Please enter a correct username and password"
REQUIRED = "Please complete the check."


@pytest.fixture(autouse=True)
def axes_on(settings):
    settings.AXES_ENABLED = True
    settings.AXES_LOCK_OUT_AT_FAILURE = False
    settings.AXES_FAILURE_LIMIT = 5
    settings.AXES_LOCKOUT_PARAMETERS = ["username"]
    settings.AXES_RESET_ON_SUCCESS = True
    settings.AUTHENTICATION_BACKENDS = [
        "axes.backends.AxesStandaloneBackend",
        "django.contrib.auth.backends.ModelBackend",
    ]
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, "axes.middleware.AxesMiddleware"]
    # The package's own counts out of the way: axes' limit is what is tested here.
    settings.CAPTCHALA_STEP_UP = {"username": 100, "address": 100}


@pytest.fixture
def alice():
    return get_user_model().objects.create_user("alice", password=PASSWORD)


def login(password, address, token=None, client=None):
    data = {"username": "alice", "password": password}
    if token:
        data["captchala_token"] = token
    return (client or Client()).post(URL, data, REMOTE_ADDR=address)


def test_a_bot_cannot_lock_the_victim_out(captchala_sandbox, alice):
    answers = [login(f"guess-{i}", f"198.51.100.{i + 1}").content.decode() for i in range(12)]
    assert [INVALID in a for a in answers] == [True] * 5 + [False] * 7
    assert all(REQUIRED in a for a in answers[5:])  # the check, not a lockout page
    victim = Client()
    refused = login(PASSWORD, "203.0.113.20", client=victim)
    assert refused.status_code == 200 and REQUIRED in refused.content.decode()
    assert "data-captchala" in refused.content.decode()
    token = captchala_sandbox.mint_pass_token("login")
    signed_in = login(PASSWORD, "203.0.113.20", token=token, client=victim)
    assert signed_in.status_code == 302 and "_auth_user_id" in victim.session
    # axes forgot the failures on success: the next login needs no check.
    assert login(PASSWORD, "203.0.113.21").status_code == 302


def test_past_the_limit_each_solve_buys_one_guess(captchala_sandbox, alice):
    for i in range(5):
        login(f"guess-{i}", "198.51.100.9")
    token = captchala_sandbox.mint_pass_token("login")
    assert INVALID in login("guess-5", "198.51.100.9", token=token).content.decode()
    replayed = login("guess-6", "198.51.100.9", token=token).content.decode()
    assert "The check was not passed" in replayed and INVALID not in replayed
