"""An htmx request (``HX-Request: true``) stopped by the guard gets what htmx acts on: a
fragment and an ``HX-Trigger`` event with what the check needs, on 403, 429 and 503.
A bot that sends the header gets nothing more than any other client: same refusals,
same records, no server token, nothing secret."""

import json

import pytest
from django.test import Client
from django.utils import translation

from captchala_django.models import Checkpoint, CheckpointEvent

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true", "HTTP_ACCEPT": "text/html"}
BOT = "198.51.100.66"


def event(response, name):
    return json.loads(response["HX-Trigger"])[name]


def test_a_stopped_htmx_request_gets_a_fragment_and_the_event(captchala_sandbox, settings):
    response = Client().post("/transfer/", {"amount": "5"}, **HTMX)
    assert response.status_code == 403
    body = response.content.decode()
    assert "<html" not in body and 'role="alert"' in body  # a fragment, not the page
    required = event(response, "captchala:required")
    assert required["error"] == "captcha_required"
    assert required["token_header"] == "X-CaptchaLa-Token"
    assert required["captcha"]["app_key"] == "sandbox-app-key"
    assert required["captcha"]["refresh_url"] == "/captchala/server-token/"
    assert required["labels"]["close"] and required["labels"]["retry"]
    # Nothing secret, no server token minted for a refusal, and not the view's answer.
    raw = response["HX-Trigger"] + body
    assert settings.CAPTCHALA_APP_SECRET not in raw and 'server_token"' not in raw
    assert captchala_sandbox.count("server_token") == 0
    assert '"ok"' not in body
    assert "no-store" in response["Cache-Control"] and response["X-Frame-Options"] == "DENY"
    assert {"Accept", "HX-Request"} <= {v.strip() for v in response["Vary"].split(",")}


def test_a_header_token_on_the_htmx_resend_lets_the_view_run_once(captchala_sandbox):
    token = captchala_sandbox.mint_pass_token()
    client = Client()
    first = client.post("/transfer/", {"amount": "5"}, HTTP_X_CAPTCHALA_TOKEN=token, **HTMX)
    assert first.status_code == 200 and first.json()["ok"] is True
    # The same token again, from another client: a replay, refused with the event.
    replay = Client().post("/transfer/", {"amount": "5"}, HTTP_X_CAPTCHALA_TOKEN=token, **HTMX)
    assert replay.status_code == 403 and "captchala:required" in replay["HX-Trigger"]
    assert captchala_sandbox.calls_for(token) == 1


def test_a_forged_htmx_request_with_a_made_up_token_is_refused_and_recorded(captchala_sandbox):
    response = Client(REMOTE_ADDR=BOT).post(
        "/transfer/", {"amount": "5"}, HTTP_X_CAPTCHALA_TOKEN="pt_made-up-" + "x" * 30, **HTMX
    )
    assert response.status_code == 403
    assert event(response, "captchala:required")["detail"] == (
        "The check was not passed. Please try again."
    )
    check = CheckpointEvent.objects.get(kind="check")
    assert check.decision == "deny" and check.failure_class == "validation"


def test_a_header_token_and_a_body_token_are_refused_without_a_call(captchala_sandbox):
    a, b = captchala_sandbox.mint_pass_token(), captchala_sandbox.mint_pass_token()
    response = Client().post("/transfer/", {"captchala_token": a}, HTTP_X_CAPTCHALA_TOKEN=b, **HTMX)
    assert response.status_code == 403 and "captchala:required" in response["HX-Trigger"]
    assert captchala_sandbox.calls_for(a) == captchala_sandbox.calls_for(b) == 0


def test_provider_down_is_a_503_event_with_retry_after(captchala_sandbox):
    captchala_sandbox.set_fault("error")
    token = captchala_sandbox.mint_pass_token()
    response = Client().post("/transfer/", {"captchala_token": token}, **HTMX)
    assert response.status_code == 503 and response["Retry-After"] == "30"
    unavailable = event(response, "captchala:unavailable")
    assert unavailable["retry_after"] == 30 and unavailable["error"] == "captcha_unavailable"


def test_a_spent_budget_is_a_429_event(captchala_sandbox):
    client = Client(REMOTE_ADDR=BOT)
    answers = [
        client.post("/transfer/", {"captchala_token": f"pt_made-up-{i:04d}-" + "x" * 24}, **HTMX)
        for i in range(21)
    ]
    assert answers[-1].status_code == 429
    limited = event(answers[-1], "captchala:limited")
    assert limited["error"] == "rate_limited" and 0 < limited["retry_after"] <= 61


def test_a_translated_message_travels_as_ascii_json(captchala_sandbox):
    with translation.override("ja"):
        response = Client().post("/transfer/", {"amount": "5"}, HTTP_ACCEPT_LANGUAGE="ja", **HTMX)
    header = response["HX-Trigger"]
    assert header.isascii() and "\n" not in header and "\r" not in header
    assert event(response, "captchala:required")["detail"] in response.content.decode()


@pytest.mark.parametrize(
    "extra, kind",
    [
        ({"HTTP_HX_REQUEST": "false", "HTTP_ACCEPT": "text/html"}, "page"),
        ({"HTTP_HX_REQUEST": "true", "HTTP_ACCEPT": "application/json"}, "json"),
    ],
)
def test_json_and_the_page_keep_their_answers(captchala_sandbox, extra, kind):
    response = Client().post("/transfer/", {"amount": "5"}, **extra)
    assert response.status_code == 403 and "HX-Trigger" not in response
    if kind == "json":
        assert response.json()["error"] == "captcha_required"
    else:
        assert "<html" in response.content.decode()


def trail():
    return sorted(
        (e.kind, e.decision, e.failure_class, e.code) for e in CheckpointEvent.objects.all()
    )


@pytest.mark.parametrize("token", [None, "pt_made-up-" + "x" * 30], ids=["none", "made-up"])
def test_a_forged_htmx_header_leaves_the_same_record_as_the_page(captchala_sandbox, token):
    extra = {"HTTP_X_CAPTCHALA_TOKEN": token} if token else {}
    plain = Client(REMOTE_ADDR=BOT).post("/transfer/", {"amount": "5"}, **extra)
    plain_trail, plain_rows = trail(), Checkpoint.objects.count()
    CheckpointEvent.objects.all().delete()
    Checkpoint.objects.all().delete()
    htmx = Client(REMOTE_ADDR=BOT).post("/transfer/", {"amount": "5"}, **extra, **HTMX)
    assert plain.status_code == htmx.status_code == 403
    assert trail() == plain_trail and Checkpoint.objects.count() == plain_rows


@pytest.mark.parametrize("value", ["TRUE", "true ", "1", "true, true"])
def test_other_hx_request_values_get_the_page(captchala_sandbox, value):
    response = Client().post("/transfer/", {"amount": "5"}, HTTP_HX_REQUEST=value)
    assert response.status_code == 403 and "HX-Trigger" not in response


def test_nothing_from_the_request_is_echoed_into_the_event(captchala_sandbox):
    base = Client().post("/transfer/", {"amount": "5"}, **HTMX)["HX-Trigger"]
    nasty = '"}}%0d%0aSet-Cookie:%20x=1;<script>\u2028'
    response = Client().post(
        "/transfer/?q=" + nasty + "&captchala_token=pt_x",
        {"amount": nasty, "action": "login"},
        HTTP_ACCEPT_LANGUAGE='en;q=1,"}\r\n',
        HTTP_HX_CURRENT_URL="https://evil.example/",
        HTTP_HX_TARGET='"><img src=x>',
        **HTMX,
    )
    assert response["HX-Trigger"] == base
    assert "Set-Cookie" not in response.headers and "evil" not in response.content.decode()


@pytest.mark.parametrize(
    "raw, content_type",
    [
        ("{", "application/json"),
        ('{"captchala_token": Infinity}', "application/json"),
        ("[" * 100000, "application/json"),
        (b"\xff", "application/json"),
        ('{"captchala_token": {"a": 1}}', "application/json"),
        ('{"captchala_token": [null, null]}', "application/json"),
        ("--x\r\n", "multipart/form-data; boundary=x"),
        ("--x\r\n", "multipart/form-data"),
        ("a=%ff%fe&captchala_token=%00", "application/x-www-form-urlencoded"),
    ],
)
def test_bad_bodies_from_htmx_are_a_4xx_never_a_500(captchala_sandbox, raw, content_type):
    response = Client(raise_request_exception=False).post(
        "/transfer/", raw, content_type=content_type, **HTMX
    )
    assert response.status_code in (400, 403)
