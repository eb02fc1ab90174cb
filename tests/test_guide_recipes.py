"""The guides' recipes, run: ``docs/guides/how-it-works.md``, ``docs/guides/scopes.md`` and
``docs/guides/production.md`` show lines of this module (``tests/test_docs.py`` holds each
block to it), so what they show is what these tests prove."""

import pytest
import requests
from django.contrib.auth import get_user_model
from django.contrib.sessions.backends.db import SessionStore
from django.http import HttpResponse
from django.test import RequestFactory

from captchala_django.checkpoints import expire, get_passed, reset, verify_and_record
from captchala_django.client import CaptchaLaClient, get_client, reset_session
from captchala_django.decorators import checkpoint_required
from captchala_django.models import Checkpoint
from tests.helpers import FORGED

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("captchala_sandbox")]

HERE = "tests.test_guide_recipes"


# ----------------------------------------------------------------- how-it-works.md


def login_check(request):
    outcome = verify_and_record(
        request, request.POST.get("captchala_token"), scope="session", action="login"
    )
    if outcome.allowed:
        return HttpResponse("Welcome.")
    if outcome.retry_later:
        return HttpResponse("Please try again later.", status=503)
    return HttpResponse("Please solve the check again.", status=403)


def post(path, data=None, session=None, **extra):
    request = RequestFactory().post(path, data or {}, REMOTE_ADDR="203.0.113.7", **extra)
    request.session = session if session is not None else SessionStore()
    return request


def test_the_view_lets_a_solved_check_through_and_keeps_the_pass(captchala_sandbox):
    request = post("/login/", {"captchala_token": captchala_sandbox.mint_pass_token("login")})
    response = login_check(request)
    assert (response.status_code, response.content) == (200, b"Welcome.")
    passed = get_passed(request, scope="session")
    assert passed is not None and passed.status == "passed"
    assert reset(passed.scope_key)
    assert get_passed(request, scope="session") is None
    assert Checkpoint.objects.get().status == "pending"


def test_expire_ends_the_trust_and_keeps_the_status(captchala_sandbox):
    request = post("/login/", {"captchala_token": captchala_sandbox.mint_pass_token("login")})
    assert login_check(request).status_code == 200
    passed = get_passed(request, scope="session")
    assert expire(passed.scope_key)
    assert get_passed(request, scope="session") is None
    assert Checkpoint.objects.get().status == "passed"


def test_a_bad_token_is_solved_again_and_an_outage_is_tried_later(captchala_sandbox):
    assert login_check(post("/login/", {"captchala_token": FORGED})).status_code == 403
    assert login_check(post("/login/")).status_code == 403
    captchala_sandbox.set_fault("error")
    token = captchala_sandbox.mint_pass_token("login")
    assert login_check(post("/login/", {"captchala_token": token})).status_code == 503


# ----------------------------------------------------------------- scopes.md


def per_tenant(request):
    """One pass per tenant on each route; a request without a tenant: its session scope."""
    return request.headers.get("X-Tenant", "")


@checkpoint_required(scope=per_tenant, action="transfer")
def tenant_transfer(request):
    return HttpResponse("Sent.")


@checkpoint_required(scope="user", action="transfer")
def account_transfer(request):
    return HttpResponse("Sent.")


def test_a_callable_scope_shares_one_pass_per_tenant(captchala_sandbox):
    token = captchala_sandbox.mint_pass_token("transfer")
    solved = post("/transfer/", {"captchala_token": token}, HTTP_X_TENANT="acme")
    assert tenant_transfer(solved).status_code == 200
    assert Checkpoint.objects.get().scope_kind == "custom"
    # Another client of the same tenant rides the pass; another tenant needs its own.
    assert tenant_transfer(post("/transfer/", HTTP_X_TENANT="acme")).status_code == 200
    assert tenant_transfer(post("/transfer/", HTTP_X_TENANT="globex")).status_code == 403


def test_a_callable_scope_without_a_subject_is_the_session_scope(captchala_sandbox):
    token = captchala_sandbox.mint_pass_token("transfer")
    solved = post("/transfer/", {"captchala_token": token})
    assert tenant_transfer(solved).status_code == 200
    assert Checkpoint.objects.get().scope_kind == "session"
    assert tenant_transfer(post("/transfer/")).status_code == 403  # another client
    assert tenant_transfer(post("/transfer/", session=solved.session)).status_code == 200


def test_the_user_scope_follows_the_account_across_sessions(captchala_sandbox):
    user = get_user_model().objects.create_user("alice")
    token = captchala_sandbox.mint_pass_token("transfer")
    solved = post("/transfer/", {"captchala_token": token})
    solved.user = user
    assert account_transfer(solved).status_code == 200
    row = Checkpoint.objects.get()
    assert (row.scope_kind, row.user_id) == ("user", user.pk)
    elsewhere = post("/transfer/")  # a new session, the same account
    elsewhere.user = user
    assert account_transfer(elsewhere).status_code == 200


# ----------------------------------------------------------------- production.md


class ProxiedClient(CaptchaLaClient):
    """Every provider call through the site's own proxy, trusting its own CA bundle."""

    def create_session(self) -> requests.Session:
        session = super().create_session()
        session.proxies = {"https": "http://proxy.internal:3128"}
        session.verify = "/etc/ssl/certs/internal-ca.pem"
        return session


@pytest.fixture
def fresh_sessions():
    reset_session()
    yield
    reset_session()


def test_captchala_client_names_a_client_whose_session_is_made_once(
    settings, captchala_sandbox, fresh_sessions
):
    settings.CAPTCHALA_CLIENT = f"{HERE}.ProxiedClient"
    client = get_client()
    assert type(client) is ProxiedClient
    assert client.session is ProxiedClient().session  # one pooled session per process
    assert client.session.proxies == {"https": "http://proxy.internal:3128"}
    assert client.session.verify == "/etc/ssl/certs/internal-ca.pem"
    token = captchala_sandbox.mint_pass_token("login")  # the sandbox is plain http
    assert login_check(post("/login/", {"captchala_token": token})).status_code == 200
    assert captchala_sandbox.count("validate") == 1
