"""django-allauth with the check, through its own stock views and URLs, against the sandbox
over a socket, written as a bot author would probe it.

The HTML pages use allauth's forms with a ``CaptchaLaField`` (``allauth_site/forms.py``,
named by ``ACCOUNT_FORMS``); the headless JSON API has allauth's own views behind
``checkpoint_required`` (``allauth_site/urls.py``). Without a good token of its own, no
request gets allauth to check a password, create a user or send a mail.
"""

import json

import pytest
from allauth.account.auth_backends import AuthenticationBackend
from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client

from tests.helpers import FORGED
from tests.integrations.allauth_site import forms

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("captchala_sandbox")]

PASSWORD = "s3cret-pass!"
NEW_PASSWORD = "a-long-pass-123"
ALICE = {"username": "alice", "email": "alice@example.com"}


class CountingBackend(AuthenticationBackend):
    """allauth's backend, recording each password check (the username it was for)."""

    calls: list[str] = []

    def authenticate(self, request, **credentials):
        type(self).calls.append(credentials.get("username"))
        return super().authenticate(request, **credentials)


@pytest.fixture
def password_checks(settings):
    """The usernames whose password was checked during the test."""
    settings.AUTHENTICATION_BACKENDS = [f"{__name__}.CountingBackend"]
    CountingBackend.calls = []
    return CountingBackend.calls


@pytest.fixture
def alice():
    return get_user_model().objects.create_user(password=PASSWORD, **ALICE)


def users() -> list[str]:
    return sorted(get_user_model().objects.values_list("username", flat=True))


def token_for(sandbox, kind: str) -> str | None:
    """A token a bot could bring: none, a made-up one, or a real one solved for another
    site form's check (a comment form's), which none of these pages takes."""
    if kind == "another-action":
        return sandbox.mint_pass_token("comment")
    return {"missing": None, "made-up": FORGED}[kind]


BAD_TOKENS = ["missing", "made-up", "another-action"]
#: The error each bad token gets on the form's captcha field.
CODES = {"missing": ["required"], "made-up": ["invalid"], "another-action": ["invalid"]}


def provider_calls(sandbox, token: str | None) -> int:
    """Validate calls for ``token``; for no token, every validate call the sandbox saw."""
    return sandbox.count("validate") if token is None else sandbox.calls_for(token)


# ================================================================= the HTML pages

PAGES = {
    "login": ("/accounts/login/", "login", forms.LoginForm),
    "signup": ("/accounts/signup/", "register", forms.SignupForm),
    "reset": ("/accounts/password/reset/", "lost_password", forms.ResetPasswordForm),
}


def submit(client, page: str, token: str | list[str] | None, **fields):
    data = {
        "login": {"login": "alice", "password": PASSWORD},
        "signup": {
            "username": "mallory",
            "email": "mallory@example.com",
            "password1": NEW_PASSWORD,
            "password2": NEW_PASSWORD,
        },
        "reset": {"email": "alice@example.com"},
    }[page]
    data = {**data, **fields}
    if token is not None:
        data["captchala_token"] = token
    return client.post(PAGES[page][0], data)


def errors_of(response) -> dict[str, list[str]]:
    """The form's errors, as codes by field."""
    errors = response.context["form"].errors.as_data()
    return {field: [error.code for error in found] for field, found in errors.items()}


@pytest.mark.parametrize("page", PAGES)
def test_each_page_renders_the_check_with_allauths_stock_view(page):
    url, action, form_class = PAGES[page]
    response = Client().get(url)
    html = response.content.decode()
    assert response.status_code == 200
    assert type(response.context["form"]) is form_class  # ACCOUNT_FORMS took
    assert "data-captchala" in html and f'data-action="{action}"' in html
    # A server token is issued only for a request: the form found allauth's.
    assert 'data-server-token="sct_' in html


# ----------------------------------------------------------------- login


@pytest.mark.parametrize("kind", BAD_TOKENS)
def test_login_without_a_good_token_checks_no_password(
    captchala_sandbox, alice, password_checks, kind
):
    """The right password, yet not one password check, no login."""
    client = Client()
    token = token_for(captchala_sandbox, kind)
    response = submit(client, "login", token)
    assert response.status_code == 200
    assert errors_of(response) == {"captcha": CODES[kind]}
    assert password_checks == []
    assert "_auth_user_id" not in client.session
    alice.refresh_from_db()
    assert alice.last_login is None
    assert provider_calls(captchala_sandbox, token) == (0 if token is None else 1)


@pytest.mark.parametrize("replayer", ["same client", "another client"])
def test_one_solve_buys_one_password_check(captchala_sandbox, alice, password_checks, replayer):
    client = Client()
    token = captchala_sandbox.mint_pass_token("login")
    first = submit(client, "login", token, password="guess-1")
    assert errors_of(first) == {"__all__": ["username_password_mismatch"]}
    assert password_checks == ["alice"]
    again = client if replayer == "same client" else Client()
    replayed = submit(again, "login", token)  # the same token, now the right password
    assert replayed.status_code == 200
    assert errors_of(replayed) == {"captcha": ["invalid"]}
    assert password_checks == ["alice"]  # not one more
    assert "_auth_user_id" not in again.session
    assert captchala_sandbox.calls_for(token) == 1  # the replay never reached the provider


def test_login_with_two_tokens_checks_neither(captchala_sandbox, alice, password_checks):
    """Several tokens in one body are refused, never guessed between."""
    client = Client()
    tokens = [captchala_sandbox.mint_pass_token("login") for _ in range(2)]
    response = submit(client, "login", tokens)
    assert errors_of(response) == {"captcha": ["invalid"]}
    assert password_checks == [] and "_auth_user_id" not in client.session
    assert captchala_sandbox.count("validate") == 0


def test_login_with_a_good_token_logs_in(captchala_sandbox, alice, password_checks):
    client = Client()
    token = captchala_sandbox.mint_pass_token("login")
    response = submit(client, "login", token)
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(alice.pk)
    alice.refresh_from_db()
    assert alice.last_login is not None
    assert password_checks == ["alice"]
    assert captchala_sandbox.calls_for(token) == 1


# ----------------------------------------------------------------- signup


@pytest.mark.parametrize("kind", BAD_TOKENS)
def test_signup_without_a_good_token_creates_no_user(captchala_sandbox, alice, kind):
    client = Client()
    token = token_for(captchala_sandbox, kind)
    response = submit(client, "signup", token)
    assert response.status_code == 200
    assert errors_of(response) == {"captcha": CODES[kind]}
    assert users() == ["alice"]
    assert not EmailAddress.objects.exists()
    assert mail.outbox == []  # no verification mail either
    assert "_auth_user_id" not in client.session
    assert provider_calls(captchala_sandbox, token) == (0 if token is None else 1)


def test_one_solve_buys_one_signup(captchala_sandbox):
    token = captchala_sandbox.mint_pass_token("register")
    first = submit(Client(), "signup", token)
    assert first.status_code == 302 and users() == ["mallory"]
    client = Client()
    replayed = submit(client, "signup", token, username="mallory2", email="m2@example.com")
    assert replayed.status_code == 200
    assert errors_of(replayed) == {"captcha": ["invalid"]}
    assert users() == ["mallory"]
    assert captchala_sandbox.calls_for(token) == 1


def test_signup_with_a_good_token_creates_and_logs_in_the_user(captchala_sandbox):
    client = Client()
    token = captchala_sandbox.mint_pass_token("register")
    response = submit(client, "signup", token)
    assert response.status_code == 302
    mallory = get_user_model().objects.get(username="mallory")
    assert mallory.email == "mallory@example.com" and mallory.check_password(NEW_PASSWORD)
    assert client.session["_auth_user_id"] == str(mallory.pk)
    assert captchala_sandbox.calls_for(token) == 1


# A bot with no solve must learn nothing from a form: the answer for an address (or a
# username) that has an account is the answer for one that has none. The enumeration
# settings are allauth's defaults for the signup (it says so for a taken address:
# UNIQUE_EMAIL wins over PREVENT_ENUMERATION without mandatory verification); the reset
# form keeps quiet by default, so it is probed on a site that turned that off.
ENUMERATION_PROBES = {
    "signup email": ("signup", "email", "alice@example.com", "nobody@example.com", {}),
    "signup username": ("signup", "username", "alice", "nobody", {}),
    "reset email": (
        "reset",
        "email",
        "alice@example.com",
        "nobody@example.com",
        {"ACCOUNT_PREVENT_ENUMERATION": False},
    ),
}


@pytest.mark.parametrize("kind", ["missing", "made-up"])
@pytest.mark.parametrize("probe", ENUMERATION_PROBES)
def test_a_failed_check_does_not_tell_whether_an_account_exists(
    captchala_sandbox, settings, alice, probe, kind
):
    page, field, taken, free, overrides = ENUMERATION_PROBES[probe]
    for name, value in overrides.items():
        setattr(settings, name, value)
    tokens = [None, None] if kind == "missing" else [FORGED + "a", FORGED + "b"]
    answers = [
        submit(Client(), page, token, **{field: value})
        for token, value in zip(tokens, (taken, free), strict=True)
    ]
    assert [r.status_code for r in answers] == [200, 200]
    assert errors_of(answers[0]) == errors_of(answers[1]) == {"captcha": CODES[kind]}
    assert users() == ["alice"] and mail.outbox == []


# ----------------------------------------------------------------- password reset


@pytest.mark.parametrize("kind", BAD_TOKENS)
def test_password_reset_without_a_good_token_sends_no_mail(captchala_sandbox, alice, kind):
    token = token_for(captchala_sandbox, kind)
    response = submit(Client(), "reset", token)
    assert response.status_code == 200
    assert errors_of(response) == {"captcha": CODES[kind]}
    assert mail.outbox == []
    assert provider_calls(captchala_sandbox, token) == (0 if token is None else 1)


def test_one_solve_buys_one_reset_mail(captchala_sandbox, alice):
    client = Client()
    token = captchala_sandbox.mint_pass_token("lost_password")
    assert submit(client, "reset", token).status_code == 302
    replayed = submit(client, "reset", token)
    assert errors_of(replayed) == {"captcha": ["invalid"]}
    assert len(mail.outbox) == 1
    assert captchala_sandbox.calls_for(token) == 1


def test_password_reset_with_a_good_token_sends_one_mail(captchala_sandbox, alice):
    token = captchala_sandbox.mint_pass_token("lost_password")
    response = submit(Client(), "reset", token)
    assert response.status_code == 302
    assert response["Location"] == "/accounts/password/reset/done/"
    assert [m.to for m in mail.outbox] == [["alice@example.com"]]
    assert captchala_sandbox.calls_for(token) == 1


# ================================================================= the headless API

ENDPOINTS = {
    "login": ("auth/login", "login", {"username": "alice", "password": PASSWORD}),
    "signup": (
        "auth/signup",
        "register",
        {"username": "mallory", "email": "mallory@example.com", "password": NEW_PASSWORD},
    ),
    "reset": ("auth/password/request", "lost_password", {"email": "alice@example.com"}),
}
CLIENTS = ["browser", "app"]


def call(client, api: str, endpoint: str, token: str | None, **fields):
    """A JSON POST to allauth's headless API, the token (if any) in the header."""
    route, _, body = ENDPOINTS[endpoint]
    headers = {} if token is None else {"X-CaptchaLa-Token": token}
    return client.post(
        f"/_allauth/{api}/v1/{route}",
        json.dumps({**body, **fields}),
        content_type="application/json",
        headers=headers,
    )


def allauths_work(alice) -> tuple:
    """What allauth's endpoints do: check a password, log in, create a user, send a mail."""
    alice.refresh_from_db()
    return (list(CountingBackend.calls), alice.last_login, users(), len(mail.outbox))


def assert_refused(response) -> None:
    assert response.status_code == 403
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"] == "captcha_required"


@pytest.mark.usefixtures("password_checks")
@pytest.mark.parametrize("kind", BAD_TOKENS)
@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("api", CLIENTS)
def test_headless_endpoint_without_a_good_token_does_nothing(
    captchala_sandbox, alice, api, endpoint, kind
):
    token = token_for(captchala_sandbox, kind)
    before = allauths_work(alice)
    response = call(Client(), api, endpoint, token)
    assert_refused(response)
    assert allauths_work(alice) == before
    assert provider_calls(captchala_sandbox, token) == (0 if token is None else 1)


@pytest.mark.usefixtures("password_checks")
@pytest.mark.parametrize("token", ["", "x" * 5000, "pt_ spaced"], ids=["empty", "huge", "spaced"])
@pytest.mark.parametrize("api", CLIENTS)
def test_headless_login_with_a_malformed_token_is_refused_without_a_provider_call(
    captchala_sandbox, alice, api, token
):
    before = allauths_work(alice)
    assert_refused(call(Client(), api, "login", token))
    assert allauths_work(alice) == before
    assert captchala_sandbox.count("validate") == 0


#: What the first request (with a good token) sends: a login guesses a wrong password.
FIRST = {"login": {"password": "guess-1"}, "signup": {}, "reset": {}}
#: What the replays send: a sign-up for another account.
AGAIN = {"login": {}, "signup": {"username": "mallory2", "email": "m2@example.com"}, "reset": {}}


@pytest.mark.usefixtures("password_checks")
@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("api", CLIENTS)
def test_headless_token_buys_one_request(captchala_sandbox, alice, api, endpoint):
    """A good token lets its one request through to allauth, and no other: the check keeps
    no pass (``ttl=0``), and the token is spent."""
    client = Client()
    token = captchala_sandbox.mint_pass_token(ENDPOINTS[endpoint][1])
    first = call(client, api, endpoint, token, **FIRST[endpoint])
    assert first.status_code == (400 if endpoint == "login" else 200)  # allauth's own answer
    after_first = allauths_work(alice)
    checked, _, created, mails = after_first
    assert (checked, created, mails) == {
        "login": (["alice"], ["alice"], 0),  # one password checked
        "signup": ([], ["alice", "mallory"], 1),  # one user, and its verification mail
        "reset": ([], ["alice"], 1),  # one reset mail
    }[endpoint]
    for replay in (token, None):  # the same token again, then none, on the same client
        assert_refused(call(client, api, endpoint, replay, **AGAIN[endpoint]))
    assert allauths_work(alice) == after_first
    assert captchala_sandbox.calls_for(token) == 1


@pytest.mark.parametrize("api", CLIENTS)
def test_headless_login_with_a_good_token_logs_in(captchala_sandbox, alice, password_checks, api):
    client = Client()
    token = captchala_sandbox.mint_pass_token("login")
    response = call(client, api, "login", token)
    assert response.status_code == 200
    assert response.json()["data"]["user"]["username"] == "alice"
    if api == "app":
        assert response.json()["meta"]["session_token"]
    else:
        assert client.session["_auth_user_id"] == str(alice.pk)
    assert password_checks == ["alice"]
    assert captchala_sandbox.calls_for(token) == 1


@pytest.mark.parametrize("api", CLIENTS)
def test_headless_signup_with_a_good_token_creates_the_user(captchala_sandbox, api):
    token = captchala_sandbox.mint_pass_token("register")
    response = call(Client(), api, "signup", token)
    assert response.status_code == 200
    assert response.json()["data"]["user"]["username"] == "mallory"
    assert users() == ["mallory"]
    assert captchala_sandbox.calls_for(token) == 1


@pytest.mark.parametrize("api", CLIENTS)
def test_headless_reset_request_with_a_good_token_sends_one_mail(captchala_sandbox, alice, api):
    token = captchala_sandbox.mint_pass_token("lost_password")
    response = call(Client(), api, "reset", token)
    assert response.status_code == 200
    assert [m.to for m in mail.outbox] == [["alice@example.com"]]
    assert captchala_sandbox.calls_for(token) == 1


@pytest.mark.parametrize("endpoint", ["signup", "reset"])
def test_headless_failed_check_does_not_tell_whether_an_account_exists(alice, endpoint):
    """The check answers before allauth reads the body: the same answer either way."""
    answers = [
        call(Client(), "browser", endpoint, token, email=email)
        for token, email in [
            (FORGED + "a", "alice@example.com"),
            (FORGED + "b", "nobody@example.com"),
        ]
    ]
    assert [a.status_code for a in answers] == [403, 403]
    assert answers[0].json() == answers[1].json()
