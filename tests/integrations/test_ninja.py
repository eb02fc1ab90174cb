"""django-ninja: operations guarded by the one guard, sync and async, with the decorator's
answers as JSON (403, 429, 503 with Retry-After, 400 for bad JSON), never a 500."""

import json

import pytest
from django.test import AsyncClient, Client

from tests.test_decorators import run_async

# Transactional: an async operation's check runs in a worker thread with a connection of
# its own, which must see (and not wait for) the test's rows.
pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.urls("tests.integrations.ninja_site.urls"),
]

PATHS = ["/api/comments", "/api/async-comments", "/api/shop/orders", "/api/shop/async-orders"]
ACTIONS = {"/api/comments": "comment", "/api/async-comments": "comment"}


def post(path, body, client=None, **extra):
    raw = body if isinstance(body, str) else json.dumps(body)
    return (client or Client()).post(path, raw, content_type="application/json", **extra)


def action_of(path):
    return ACTIONS.get(path, "checkout")


@pytest.mark.parametrize("path", PATHS)
def test_a_good_token_in_the_body_or_the_header_runs_the_operation(captchala_sandbox, path):
    token = captchala_sandbox.mint_pass_token(action_of(path))
    assert post(path, {"text": "hi", "captchala_token": token}).json()["ok"] is True
    header = captchala_sandbox.mint_pass_token(action_of(path))
    response = post(path, {"text": "hi"}, HTTP_X_CAPTCHALA_TOKEN=header)
    assert response.status_code == 200
    assert captchala_sandbox.calls_for(token) == captchala_sandbox.calls_for(header) == 1


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("token", [None, "pt_" + "forged" * 4], ids=["missing", "made-up"])
def test_a_missing_or_made_up_token_is_a_json_403_before_ninja_parses(
    captchala_sandbox, path, token
):
    body = {"text": "hi"} | ({"captchala_token": token} if token else {})
    response = post(path, body)
    assert response.status_code == 403
    data = response.json()
    assert data["error"] == "captcha_required" and data["captcha"]["app_key"]
    # Before ninja's validation: a body ninja would refuse (422) is refused as unchecked.
    assert post(path, {"nothing": 1}).status_code == 403


def test_a_replayed_token_is_refused(captchala_sandbox):
    token = captchala_sandbox.mint_pass_token("comment")
    assert post("/api/comments", {"text": "a", "captchala_token": token}).status_code == 200
    again = post("/api/comments", {"text": "b", "captchala_token": token})
    assert again.status_code == 403
    assert captchala_sandbox.calls_for(token) == 1


def test_ttl_0_keeps_no_pass_for_the_next_request(captchala_sandbox):
    client = Client()
    token = captchala_sandbox.mint_pass_token("comment")
    assert post("/api/comments", {"text": "a", "captchala_token": token}, client).status_code == 200
    assert post("/api/comments", {"text": "b"}, client).status_code == 403


def test_provider_down_is_a_503_with_retry_after(captchala_sandbox):
    token = captchala_sandbox.mint_pass_token("comment")
    captchala_sandbox.set_fault("error")
    response = post("/api/comments", {"text": "a", "captchala_token": token})
    assert response.status_code == 503 and response["Retry-After"]
    assert response.json()["error"] == "captcha_unavailable"


def test_a_spent_budget_is_a_429_with_retry_after(captchala_sandbox, settings):
    settings.CAPTCHALA_VALIDATE_BUDGET = 1
    client = Client()
    post("/api/comments", {"text": "a", "captchala_token": "pt_" + "forged" * 4}, client)
    response = post("/api/comments", {"text": "a", "captchala_token": "pt_" + "other" * 5}, client)
    assert response.status_code == 429 and response["Retry-After"]
    assert response.json()["error"] == "rate_limited"


@pytest.mark.parametrize(
    "raw", ['{"text": ', "\x00", '{"captchala_token": 1, "captchala_token": 2}']
)
def test_bad_json_and_several_tokens_are_4xx_never_500(captchala_sandbox, raw):
    response = Client(raise_request_exception=False).post(
        "/api/comments", raw, content_type="application/json"
    )
    assert response.status_code in (400, 403)


def test_an_unguarded_get_runs_without_a_token(captchala_sandbox):
    assert Client().get("/api/open").json() == {"ok": True}


def test_async_operations_run_under_an_async_client(captchala_sandbox):
    token = captchala_sandbox.mint_pass_token("comment")
    body = json.dumps({"text": "hi", "captchala_token": token})

    async def go():
        client = AsyncClient()
        first = await client.post("/api/async-comments", body, content_type="application/json")
        again = await client.post("/api/async-comments", body, content_type="application/json")
        return first.status_code, again.status_code

    assert run_async(go()) == (200, 403)


def test_the_openapi_schema_still_builds(captchala_sandbox):
    schema = Client().get("/api/openapi.json").json()
    assert "/api/comments" in schema["paths"]
