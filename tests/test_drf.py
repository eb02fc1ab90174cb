"""Django REST framework: the serializer field and the permission class, over APIClient."""

import pytest
from django.db import connection

pytest.importorskip("rest_framework")

from rest_framework.test import APIClient  # noqa: E402

from captchala_django.models import Checkpoint, CheckpointEvent  # noqa: E402
from tests.helpers import FORGED, checkpoint_lookups, run_threads  # noqa: E402

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("captchala_sandbox")]

BAD_VALUES = {
    "empty": "",
    "1mb": "pt_" + "A" * (1024 * 1024),
    "non_ascii": "pt_жетон✓" + "x" * 20,
    "control_chars": "pt_abc\x00\x07\x1b[31m" + "x" * 20,
    "list": ["pt_a" * 5, "pt_b" * 5],
    "number": 12345,
    "object": {"token": "x"},
    "forged": FORGED,
}


# ----------------------------------------------------------------- serializer field


def test_field_accepts_a_valid_token(captchala_sandbox):
    token = captchala_sandbox.mint_pass_token("comment")
    response = APIClient().post(
        "/api/comments/", {"text": "hi", "captchala_token": token}, format="json"
    )
    assert response.status_code == 201
    assert Checkpoint.objects.get(pk=response.json()["checkpoint"]).status == "passed"
    assert captchala_sandbox.calls_for(token) == 1


def test_missing_token_is_a_400_field_error():
    response = APIClient().post("/api/comments/", {"text": "hi"}, format="json")
    assert response.status_code == 400
    assert response.json() == {"captchala_token": ["Please complete the check."]}


@pytest.mark.parametrize("case", list(BAD_VALUES))
def test_bad_tokens_are_400_field_errors(captchala_sandbox, case):
    body = {"text": "hi", "captchala_token": BAD_VALUES[case]}
    response = APIClient().post("/api/comments/", body, format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["captchala_token"]
    if case != "forged":
        assert captchala_sandbox.count("validate") == 0


def test_replayed_and_expired_tokens_are_400(captchala_sandbox):
    token = captchala_sandbox.mint_pass_token("comment")
    assert (
        APIClient()
        .post("/api/comments/", {"text": "a", "captchala_token": token}, format="json")
        .status_code
        == 201
    )
    replay = APIClient().post(
        "/api/comments/", {"text": "b", "captchala_token": token}, format="json"
    )
    assert replay.status_code == 400
    expired = captchala_sandbox.mint_pass_token("comment", ttl=-1)
    assert (
        APIClient()
        .post("/api/comments/", {"text": "c", "captchala_token": expired}, format="json")
        .status_code
        == 400
    )


def test_field_provider_down_is_503_with_retry_after(captchala_sandbox):
    captchala_sandbox.set_fault("error")
    token = captchala_sandbox.mint_pass_token("comment")
    response = APIClient().post(
        "/api/comments/", {"text": "hi", "captchala_token": token}, format="json"
    )
    assert response.status_code == 503 and response["Retry-After"] == "30"


# ----------------------------------------------------------------- permission class


def test_safe_methods_pass():
    assert APIClient().get("/api/transfer/").json() == {"balance": 100}


def test_no_token_is_403_captcha_required():
    response = APIClient().post("/api/transfer/", {}, format="json")
    assert response.status_code == 403
    assert response.json() == {
        "detail": "Please complete the check to continue.",
        "code": "captcha_required",
    }


@pytest.mark.parametrize("where", ["header", "body"])
def test_token_in_header_or_body_passes_then_the_fast_path_serves(captchala_sandbox, where):
    client = APIClient()
    token = captchala_sandbox.mint_pass_token("transfer")
    if where == "header":
        response = client.post("/api/transfer/", {}, format="json", HTTP_X_CAPTCHALA_TOKEN=token)
    else:
        response = client.post("/api/transfer/", {"captchala_token": token}, format="json")
    assert response.status_code == 200 and response.json()["verified"] is True
    again = APIClient().post("/api/transfer/", {}, format="json")  # same IP scope
    assert again.status_code == 200
    assert captchala_sandbox.count("validate") == 1


@pytest.mark.parametrize("case", list(BAD_VALUES))
def test_permission_refuses_bad_tokens_with_403(captchala_sandbox, case):
    response = APIClient().post(
        "/api/transfer/", {"captchala_token": BAD_VALUES[case]}, format="json"
    )
    assert response.status_code == 403
    assert response.json()["code"] == "captcha_required"


def test_several_form_values_are_refused():
    response = APIClient().post("/api/transfer/", {"captchala_token": ["pt_aaaaaa", "pt_bbbbb"]})
    assert response.status_code == 403


def test_malformed_json_is_a_400():
    response = APIClient().post("/api/transfer/", "{not json", content_type="application/json")
    assert response.status_code == 400


def test_permission_provider_down_is_503_with_retry_after(captchala_sandbox):
    captchala_sandbox.set_fault("timeout")
    from django.test import override_settings

    with override_settings(CAPTCHALA_TIMEOUT=0.3):
        response = APIClient().post(
            "/api/transfer/",
            {"captchala_token": captchala_sandbox.mint_pass_token("transfer")},
            format="json",
        )
    assert response.status_code == 503 and response["Retry-After"] == "30"


def test_16_concurrent_api_calls_with_one_token(captchala_sandbox):
    captchala_sandbox.set_fault("none", latency_ms=50)
    token = captchala_sandbox.mint_pass_token("transfer")

    def call(_):
        body = {"captchala_token": token}
        return APIClient().post("/api/transfer/", body, format="json").status_code

    statuses, errors = run_threads(16, call)
    assert errors == []
    assert statuses == [200] * 16
    assert captchala_sandbox.calls_for(token) == 1
    assert Checkpoint.objects.count() == 1


def test_permission_reads_the_checkpoint_once(captchala_sandbox):
    from django.test.utils import CaptureQueriesContext

    token = captchala_sandbox.mint_pass_token("transfer")
    with CaptureQueriesContext(connection) as queries:
        response = APIClient().post("/api/transfer/", {"captchala_token": token}, format="json")
    assert response.status_code == 200
    lookups = checkpoint_lookups(queries)
    assert len(lookups) == 1, lookups


# ----------------------------------------------------------------- one token, one submission


def test_each_item_of_a_list_needs_its_own_token(captchala_sandbox):
    """``many=True`` shares one field among the items: one solve must not create 50."""
    token = captchala_sandbox.mint_pass_token("comment")
    items = [{"text": f"spam {i}", "captchala_token": token} for i in range(50)]
    response = APIClient().post("/api/bulk-notes/", items, format="json")
    assert response.status_code == 400
    errors = response.json()  # by item index; the first item's token was good
    assert sorted(errors, key=int) == [str(i) for i in range(1, 50)]
    assert all(list(e) == ["captchala_token"] for e in errors.values())
    assert captchala_sandbox.calls_for(token) == 1

    tokens = [captchala_sandbox.mint_pass_token("comment") for _ in range(3)]
    items = [{"text": f"note {i}", "captchala_token": t} for i, t in enumerate(tokens)]
    response = APIClient().post("/api/bulk-notes/", items, format="json")
    assert response.status_code == 201 and response.json() == {"created": 3}


def test_a_partial_update_needs_the_token_too(captchala_sandbox):
    """``partial=True`` skips a missing field; never the check."""
    response = APIClient().patch("/api/edit-note/", {"text": "defaced"}, format="json")
    assert response.status_code == 400 and "captchala_token" in response.json()
    token = captchala_sandbox.mint_pass_token("comment")
    body = {"text": "fixed", "captchala_token": token}
    response = APIClient().patch("/api/edit-note/", body, format="json")
    assert response.status_code == 200 and response.json() == {"updated": "fixed"}


def _item(shape, text, token):
    """One item of ``shape``'s body; the token sits where that shape's serializer holds it."""
    if shape == "many-above-inner":
        return {"text": text, "inner": {"captchala_token": token}}
    return {"text": text, "captchala_token": token}


def _body(shape, items):
    """``items`` laid out as ``shape`` expects: a list, a dict, or groups of five."""
    if shape == "dict-field":
        return {"items": {f"key-{i}": item for i, item in enumerate(items)}}
    if shape in ("many-in-many", "list-of-lists"):
        groups = [items[i : i + 5] for i in range(0, len(items), 5)]
        if shape == "many-in-many":
            return {"items": [{"notes": group} for group in groups]}
        return {"items": groups}
    return {"items": items}


def _field_errors(errors, path=()):
    """Every ``(path to the item, field name)`` that a DRF error body reports, at any depth."""
    if isinstance(errors, list) and all(isinstance(e, str) for e in errors):
        return [(path[:-1], path[-1])] if errors else []
    entries = errors.items() if isinstance(errors, dict) else enumerate(errors)
    return [found for key, value in entries for found in _field_errors(value, (*path, str(key)))]


NESTED_SHAPES = ["list-field", "dict-field", "many-above-inner", "many-in-many", "list-of-lists"]


@pytest.mark.parametrize("shape", NESTED_SHAPES)
def test_one_token_buys_one_item_at_any_depth(captchala_sandbox, shape):
    """ListField/DictField children and nested ``many=True``: every item is a submission."""
    token = captchala_sandbox.mint_pass_token("comment")
    items = [_item(shape, f"spam {i}", token) for i in range(20)]
    response = APIClient().post(f"/api/nested/{shape}/", _body(shape, items), format="json")
    assert response.status_code == 400, response.json()
    errors = _field_errors(response.json())
    assert {field for _, field in errors} == {"captchala_token"}
    # One item per error: the first item spent the token, the 19 others are refused.
    assert len({item for item, _ in errors}) == len(errors) == 19
    assert captchala_sandbox.calls_for(token) == 1
    assert Checkpoint.objects.filter(status="passed").count() == 1


@pytest.mark.parametrize("shape", NESTED_SHAPES)
def test_each_nested_item_with_its_own_token_passes(captchala_sandbox, shape):
    tokens = [captchala_sandbox.mint_pass_token("comment") for _ in range(20)]
    items = [_item(shape, f"note {i:02}", t) for i, t in enumerate(tokens)]
    response = APIClient().post(f"/api/nested/{shape}/", _body(shape, items), format="json")
    assert response.status_code == 201, response.json()
    assert response.json() == {"created": [f"note {i:02}" for i in range(20)]}
    assert [captchala_sandbox.calls_for(t) for t in tokens] == [1] * 20


def test_validating_one_serializer_twice_makes_one_call(captchala_sandbox):
    """``is_valid()`` keeps its result: asking again is not a second submission."""
    from tests.drf_views import CommentSerializer
    from tests.helpers import make_request

    token = captchala_sandbox.mint_pass_token("comment")
    data = {"text": "hi", "captchala_token": token}
    serializer = CommentSerializer(data=data, context={"request": make_request()})
    assert serializer.is_valid() and serializer.is_valid()
    assert serializer.captchala_outcome.allowed
    assert serializer.captchala_outcome.checkpoint.status == "passed"
    assert captchala_sandbox.calls_for(token) == 1


def test_one_api_request_cannot_make_the_site_write_a_row_per_item(captchala_sandbox):
    """Once an item of a request fails its check the request is refused, so the other
    items are not checked: a malformed token costs no provider call and no budget, and
    must not cost a record per item either."""
    items = [{"text": "x", "captchala_token": "not a token"} for _ in range(500)]
    before = CheckpointEvent.objects.count()
    response = APIClient().post("/api/bulk-notes/", items, format="json")
    assert response.status_code == 400
    assert captchala_sandbox.count("validate") == 0
    assert CheckpointEvent.objects.count() - before <= 20

    tokens = [captchala_sandbox.mint_pass_token("comment") for _ in range(3)]
    items = [{"text": "x", "captchala_token": FORGED}] + [
        {"text": "x", "captchala_token": t} for t in tokens
    ]
    response = APIClient().post("/api/bulk-notes/", items, format="json")
    assert response.status_code == 400
    assert [captchala_sandbox.calls_for(t) for t in tokens] == [0, 0, 0]  # still good
