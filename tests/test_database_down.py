"""The session store (or the user table) unreachable during a guarded request.

Seen in the production-shaped soak while PgBouncer restarted: the check must
decide as documented (a valid verdict stands under CAPTCHALA_ON_PERSISTENCE_ERROR,
a bad token is refused) and never answer 500.
"""

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.db import OperationalError
from django.test import Client

from captchala_django.models import Checkpoint, CheckpointEvent, PassToken
from tests.helpers import FORGED

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("captchala_sandbox")]

HTML = {"HTTP_ACCEPT": "text/html"}


def down(*args, **kwargs):
    raise OperationalError("connection refused (injected: the session store is down)")


def client_with_session() -> Client:
    session = SessionStore()
    session["seen"] = True
    session.save()
    client = Client()
    client.cookies["sessionid"] = session.session_key
    return client


def test_a_valid_token_that_cannot_get_a_session_is_allowed_degraded(
    captchala_sandbox, monkeypatch
):
    token = captchala_sandbox.mint_pass_token("transfer")
    monkeypatch.setattr(SessionStore, "create", down)
    response = Client().post("/transfer/", {"captchala_token": token, "amount": "5"})
    assert response.status_code == 200
    assert response.json()["class"] == "persistence" and response.json()["degraded"] is True


def test_under_deny_it_is_a_503_to_retry(captchala_sandbox, monkeypatch, settings):
    settings.CAPTCHALA_ON_PERSISTENCE_ERROR = "deny"
    token = captchala_sandbox.mint_pass_token("transfer")
    monkeypatch.setattr(SessionStore, "create", down)
    response = Client().post("/transfer/", {"captchala_token": token}, **HTML)
    assert response.status_code == 503 and response["Retry-After"]


def test_a_session_that_cannot_be_read_is_a_client_without_one(captchala_sandbox, monkeypatch):
    client = client_with_session()
    monkeypatch.setattr(SessionStore, "load", down)
    token = captchala_sandbox.mint_pass_token("transfer")
    response = client.post("/transfer/", {"captchala_token": token, "amount": "5"})
    assert response.status_code == 200
    assert captchala_sandbox.calls_for(token) == 1


def test_the_challenge_page_renders_while_sessions_are_down(monkeypatch):
    client = client_with_session()
    monkeypatch.setattr(SessionStore, "load", down)
    response = client.post("/statement/", {"amount": "5"}, **HTML)
    assert response.status_code == 403
    assert b"data-captchala" in response.content


@pytest.mark.parametrize("token", [FORGED, "pt_made-up-token", ""])
def test_a_bad_token_is_refused_while_sessions_are_down(monkeypatch, token):
    """A bot gains nothing from an outage: the token still decides."""
    client = client_with_session()
    monkeypatch.setattr(SessionStore, "load", down)
    monkeypatch.setattr(SessionStore, "create", down)
    response = client.post("/transfer/", {"captchala_token": token}, **HTML)
    assert response.status_code == 403
    assert not PassToken.objects.filter(allowed=True).exists()


def test_staff_skip_is_off_while_the_user_cannot_be_read(captchala_sandbox, monkeypatch, settings):
    settings.CAPTCHALA_SKIP_FOR_STAFF = True
    client = client_with_session()
    monkeypatch.setattr(SessionStore, "load", down)
    response = client.post("/transfer/", {}, **HTML)
    assert response.status_code == 403


@pytest.mark.parametrize("policy", ["allow", "deny"])
def test_a_replay_after_a_sessionless_persistence_failure_is_refused(
    captchala_sandbox, monkeypatch, settings, policy
):
    """The first submit had no session and its pass could not be stored (the session
    store was down): the ledger keeps the valid verdict under the anonymous scope, which
    every client without a session shares. A bot replaying the token, once the database
    is back, without cookies and from another address, must not have it written for
    itself: nothing ties it to the client that solved the check. Under the ``deny``
    policy the first answer was a 503; the unwritten pass is no more the bot's."""
    settings.CAPTCHALA_ON_PERSISTENCE_ERROR = policy
    token = captchala_sandbox.mint_pass_token("transfer")
    with monkeypatch.context() as patched:
        patched.setattr(SessionStore, "create", down)
        first = Client(REMOTE_ADDR="198.51.100.20").post(
            "/transfer/", {"captchala_token": token, "amount": "5"}
        )
    assert first.status_code == (200 if policy == "allow" else 503)
    assert PassToken.objects.get().failure_class == "persistence"

    bot = Client(REMOTE_ADDR="203.0.113.66")
    replay = bot.post("/transfer/", {"captchala_token": token, "amount": "5"}, **HTML)
    assert replay.status_code == 403
    assert not Checkpoint.objects.filter(status="passed").exists()
    assert "sessionid" not in bot.cookies
    assert captchala_sandbox.calls_for(token) == 1  # refused by the ledger, not the provider
    refused = CheckpointEvent.objects.filter(failure_class="replay")
    assert refused.exists()


# ------------------------------------------------------ the example project's session writes


def _example_project_on_path(monkeypatch):
    import sys
    from pathlib import Path

    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parent.parent / "example_project"))
    for name in [m for m in sys.modules if m == "demo" or m.startswith("demo.")]:
        monkeypatch.delitem(sys.modules, name)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("outermost", [False, True], ids=["sessions-only", "example-project"])
def test_a_session_that_cannot_be_saved_in_an_outage_is_a_503(settings, monkeypatch, outermost):
    """A request that passed a check has a new session; if the database goes away before
    the response saves it again, Django answers 400 (``SessionInterrupted``). The example
    project answers that outage as every other: 503 with ``Retry-After``."""
    from django.contrib.sessions.middleware import SessionMiddleware
    from django.core.handlers.exception import convert_exception_to_response
    from django.db import connection
    from django.http import HttpResponse
    from django.test import RequestFactory

    _example_project_on_path(monkeypatch)
    from demo.middleware import SessionWriteFailedMiddleware

    settings.SESSION_ENGINE = "demo.sessions"

    def view(request):
        request.session.save()  # a session made during the request (as a passed check does)
        request.session["seen"] = True
        return HttpResponse("ok")

    def update_fails(execute, sql, params, many, context):
        if sql.startswith("UPDATE") and "django_session" in sql:
            raise OperationalError("injected: the database went away")
        return execute(sql, params, many, context)

    # As Django's handler builds the chain: each middleware's exceptions become responses.
    chain = convert_exception_to_response(SessionMiddleware(view))
    if outermost:
        chain = convert_exception_to_response(SessionWriteFailedMiddleware(chain))
    with connection.execute_wrapper(update_fails):
        response = chain(RequestFactory().post("/transfer/"))
    if outermost:
        assert (response.status_code, response["Retry-After"]) == (503, "5")
    else:
        assert response.status_code == 400  # Django's own answer, without the example's middleware
