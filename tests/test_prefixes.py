"""A form's prefix names its token field: each form of a formset, or each of several forms
on one page, posts and verifies its own token; one token never serves two forms."""

import re

import pytest
from django.test import Client

from captchala_django.models import CheckpointEvent
from tests.helpers import FORGED

pytestmark = pytest.mark.django_db


def management(total: int) -> dict[str, str]:
    return {
        "form-TOTAL_FORMS": str(total),
        "form-INITIAL_FORMS": "0",
        "form-MIN_NUM_FORMS": "0",
        "form-MAX_NUM_FORMS": "1000",
    }


def formset_post(client: Client, tokens: list[str | None]):
    data = management(len(tokens))
    for i, token in enumerate(tokens):
        data[f"form-{i}-note"] = f"note {i}"
        if token is not None:
            data[f"form-{i}-captchala_token"] = token
    return client.post("/formset/", data)


def token_errors(response) -> list[list[str]]:
    forms = response.context["forms"].forms if response.context else []
    return [[e.code for e in f.errors.as_data().get("captcha", [])] for f in forms]


def test_each_form_of_a_formset_renders_its_own_widget_and_the_scripts_once(captchala_sandbox):
    html = Client().get("/formset/").content.decode()
    names = re.findall(r'<input type="hidden" name="([^"]+)" value="" data-captchala-token>', html)
    assert names == ["form-0-captchala_token", "form-1-captchala_token"]
    widgets = re.findall(r"<span [^>]*data-captchala[ >][^>]*>", html)
    ids = [re.search(r' id="([^"]+)"', w).group(1) for w in widgets]
    assert len(ids) == 2 and len(set(ids)) == 2
    assert html.count("captchala-boot.js") == 1
    assert html.count("data-captchala ") + html.count("data-captchala>") == 2


def test_each_form_of_a_formset_verifies_its_own_token(captchala_sandbox):
    tokens = [captchala_sandbox.mint_pass_token("comment") for _ in range(3)]
    response = formset_post(Client(), tokens)
    assert response.status_code == 201, token_errors(response)
    assert [captchala_sandbox.calls_for(t) for t in tokens] == [1, 1, 1]
    assert CheckpointEvent.objects.filter(kind="check", decision="allow").count() == 3


def test_one_token_in_every_form_of_a_formset_passes_one_form_at_most(captchala_sandbox):
    """A bot solves once and copies the token into each form: one pass is one form."""
    token = captchala_sandbox.mint_pass_token("comment")
    response = formset_post(Client(), [token, token, token])
    assert response.status_code == 200
    errors = token_errors(response)
    assert errors.count([]) <= 1 and sum(e == ["invalid"] for e in errors) >= 2, errors
    assert captchala_sandbox.calls_for(token) == 1


@pytest.mark.parametrize("bad", [None, FORGED], ids=["missing", "made-up"])
def test_one_bad_token_in_a_formset_saves_nothing(captchala_sandbox, bad):
    good = captchala_sandbox.mint_pass_token("comment")
    response = formset_post(Client(), [good, bad])
    assert response.status_code == 200
    assert token_errors(response)[1] == ["required" if bad is None else "invalid"]


def test_the_unprefixed_field_does_not_serve_a_prefixed_form(captchala_sandbox):
    """A token posted under the plain field name is not the formset's: no call, refused."""
    token = captchala_sandbox.mint_pass_token("comment")
    data = management(1) | {"form-0-note": "x", "captchala_token": token}
    response = Client().post("/formset/", data)
    assert token_errors(response) == [["required"]]
    assert captchala_sandbox.calls_for(token) == 0


def test_a_flood_of_forms_with_made_up_tokens_costs_one_provider_call(captchala_sandbox):
    """A formset is no way around the budget of failed checks: once one check of the
    request fails, the other forms are refused without a provider call."""
    made_up = [f"pt_madeup{i:04d}xxxxxxxxxxxx" for i in range(40)]
    response = formset_post(Client(), made_up)
    assert response.status_code == 200
    assert sum(captchala_sandbox.calls_for(t) for t in made_up) == 1
    assert token_errors(response) == [["invalid"]] * 40


def test_two_prefixed_forms_on_one_page_each_carry_their_own_check(captchala_sandbox):
    client = Client()
    html = client.get("/pair/").content.decode()
    assert 'name="a-captchala_token"' in html and 'name="b-captchala_token"' in html
    assert html.count("captchala-boot.js") == 1
    a = captchala_sandbox.mint_pass_token("comment")
    both = client.post(
        "/pair/", {"a-note": "1", "b-note": "2", "a-captchala_token": a, "b-captchala_token": a}
    )
    assert both.content.decode() in ("a", "b")  # the one token passes one form, not both
    b = captchala_sandbox.mint_pass_token("comment")
    c = captchala_sandbox.mint_pass_token("comment")
    ok = client.post(
        "/pair/", {"a-note": "1", "b-note": "2", "a-captchala_token": b, "b-captchala_token": c}
    )
    assert ok.content.decode() == "a b"
