"""A token in a JSON body: read by the one reader for the decorator (any guarded method),
with the same refusal of several tokens; bad JSON is a 400, never a 500."""

import json

import pytest
from django.test import Client

from captchala_django.models import CheckpointEvent

pytestmark = pytest.mark.django_db


def post_json(path, raw, client=None, method="post", **extra):
    client = client or Client()
    return getattr(client, method)(path, raw, content_type="application/json", **extra)


def test_a_token_in_a_json_body_lets_the_view_run(captchala_sandbox):
    token = captchala_sandbox.mint_pass_token()
    response = post_json("/transfer/", json.dumps({"amount": "5", "captchala_token": token}))
    assert response.status_code == 200
    assert captchala_sandbox.calls_for(token) == 1


@pytest.mark.parametrize(
    "content_type", ["application/json; charset=utf-8", "application/vnd.api+json"]
)
def test_json_media_types_with_parameters_and_suffixes_are_read(captchala_sandbox, content_type):
    token = captchala_sandbox.mint_pass_token()
    body = json.dumps({"captchala_token": token})
    response = Client().post("/transfer/", body, content_type=content_type)
    assert response.status_code == 200


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_other_guarded_methods_read_their_json_body(captchala_sandbox, method):
    token = captchala_sandbox.mint_pass_token()
    response = post_json("/transfer/", json.dumps({"captchala_token": token}), method=method)
    assert response.status_code == 200


def test_the_403_names_what_a_client_needs_to_show_the_check(captchala_sandbox):
    response = post_json("/transfer/", "{}")
    assert response.status_code == 403
    body = response.json()
    assert body["error"] == "captcha_required" and body["token_field"] == "captchala_token"
    assert body["captcha"]["app_key"] == "sandbox-app-key"
    assert body["captcha"]["action"] == ""  # the view names none
    assert body["captcha"]["refresh_url"] == "/captchala/server-token/"
    assert "secret" not in json.dumps(body).lower()


@pytest.mark.parametrize(
    "raw",
    [
        '{"captchala_token": "%s", "captchala_token": "%s"}',
        '{"captchala_token": ["%s", "%s"]}',
    ],
    ids=["duplicate keys", "list"],
)
def test_several_tokens_in_one_json_body_are_refused_without_a_call(captchala_sandbox, raw):
    a, b = captchala_sandbox.mint_pass_token(), captchala_sandbox.mint_pass_token()
    response = post_json("/transfer/", raw % (a, b))
    assert response.status_code == 403
    assert captchala_sandbox.calls_for(a) == captchala_sandbox.calls_for(b) == 0


def test_a_json_token_and_a_header_token_are_refused(captchala_sandbox):
    a, b = captchala_sandbox.mint_pass_token(), captchala_sandbox.mint_pass_token()
    response = post_json("/transfer/", json.dumps({"captchala_token": a}), HTTP_X_CAPTCHALA_TOKEN=b)
    assert response.status_code == 403
    assert captchala_sandbox.calls_for(a) == captchala_sandbox.calls_for(b) == 0


@pytest.mark.parametrize(
    "raw", ['{"captchala_token": ', "[1, 2", "\xff\xfe", '{"a": NaN}', "nul\x00l"]
)
def test_bad_json_is_a_400_with_a_retry_path(captchala_sandbox, raw):
    response = Client(raise_request_exception=False).post(
        "/transfer/", raw.encode("latin-1"), content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["error"] == "bad_request"
    assert CheckpointEvent.objects.count() == 0


@pytest.mark.parametrize(
    "body", ["[]", '"pt_x"', "42", "null", '{"captchala_token": 42}', '{"captchala_token": {}}']
)
def test_json_that_carries_no_usable_token_is_refused_without_a_call(captchala_sandbox, body):
    response = post_json("/transfer/", body)
    assert response.status_code == 403
    assert captchala_sandbox.count("validate") == 0


def test_a_replayed_json_token_is_refused(captchala_sandbox):
    token = captchala_sandbox.mint_pass_token()
    assert post_json("/transfer/", json.dumps({"captchala_token": token})).status_code == 200
    again = post_json("/transfer/", json.dumps({"captchala_token": token}))
    assert again.status_code == 403


def test_a_json_body_over_the_upload_limit_is_a_400(captchala_sandbox, settings):
    """Django's own limit holds for the body the guard reads: a 400, never a 500."""
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    raw = json.dumps({"captchala_token": "pt_" + "x" * 200})
    response = Client(raise_request_exception=False).post(
        "/transfer/", raw, content_type="application/json"
    )
    assert response.status_code == 400
    assert captchala_sandbox.count("validate") == 0
