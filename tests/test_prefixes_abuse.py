"""Attacks on prefixed token fields: formsets, several forms on one page, management forms
that lie, token lists, and the cost one POST can put on the site (attack21)."""

import pytest
from django import forms
from django.http import HttpResponse
from django.test import Client
from django.urls import include, path

from captchala_django.fields import CaptchaLaField
from captchala_django.forms import CaptchaLaFormMixin
from captchala_django.models import CheckpointEvent, PassToken
from tests.formset_views import NoteForm, NoteFormSet

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]


# ------------------------------------------------------------------ attack views


def same_prefix(request):
    """Two forms of one class with no prefix: both read ``captchala_token``."""
    data = request.POST or None
    a = NoteForm(data, request=request)
    b = NoteForm(data, request=request)
    valid = [n for n, f in (("a", a), ("b", b)) if f.is_valid()]
    return HttpResponse(" ".join(valid) or "none")


def overlapping(request):
    """A formset (prefix ``form``) and a lone form whose prefix is ``form-0``: both read
    ``form-0-captchala_token``."""
    data = request.POST or None
    notes = NoteFormSet(data, form_kwargs={"request": request})
    lone = NoteForm(data, prefix="form-0", request=request)
    return HttpResponse(f"formset={notes.is_valid()} lone={lone.is_valid()}")


class PlainNote(CaptchaLaFormMixin, forms.Form):
    note = forms.CharField()
    captcha = CaptchaLaField(action="comment")


def one_form(request):
    form = PlainNote(request.POST or None, prefix=request.GET.get("prefix"), request=request)
    return HttpResponse("ok" if form.is_valid() else "refused")


#: A field instance shared by every form (put in form.fields by hand, not declared).
SHARED = CaptchaLaField(action="comment")


class SharedFieldForm(CaptchaLaFormMixin, forms.Form):
    note = forms.CharField()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["captcha"] = SHARED


def shared_field(request):
    form = SharedFieldForm(request.POST or None, request=request)
    return HttpResponse("ok" if form.is_valid() else "refused")


urlpatterns = [
    path("attack/same-prefix/", same_prefix, name="attack-same-prefix"),
    path("attack/overlapping/", overlapping, name="attack-overlapping"),
    path("attack/one/", one_form, name="attack-one"),
    path("attack/shared/", shared_field, name="attack-shared"),
    path("", include("tests.urls")),
]


def management(total, initial=0, prefix="form"):
    return {
        f"{prefix}-TOTAL_FORMS": str(total),
        f"{prefix}-INITIAL_FORMS": str(initial),
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }


# ------------------------------------------------------------------ one token, two forms


def test_two_unprefixed_forms_share_one_token_one_passes(captchala_sandbox):
    token = captchala_sandbox.mint_pass_token("comment")
    r = Client().post("/attack/same-prefix/", {"note": "x", "captchala_token": token})
    assert r.content.decode() in ("a", "b")
    assert captchala_sandbox.calls_for(token) == 1


def test_a_formset_and_a_lone_form_whose_prefixes_collide_share_one_token_once(captchala_sandbox):
    token = captchala_sandbox.mint_pass_token("comment")
    data = management(1) | {"form-0-note": "x", "form-0-captchala_token": token}
    r = Client().post("/attack/overlapping/", data)
    assert r.content.decode() in ("formset=True lone=False", "formset=False lone=True")


def test_a_token_posted_prefixed_and_unprefixed_serves_only_the_prefixed_form(captchala_sandbox):
    token = captchala_sandbox.mint_pass_token("comment")
    data = {"p-note": "x", "p-captchala_token": token, "captchala_token": token}
    assert Client().post("/attack/one/?prefix=p", data).content == b"ok"
    # The unprefixed copy is now a replay anywhere.
    assert Client().post("/attack/one/", {"note": "x", "captchala_token": token}).content == (
        b"refused"
    )


def test_the_header_never_serves_a_form(captchala_sandbox):
    token = captchala_sandbox.mint_pass_token("comment")
    r = Client().post("/attack/one/?prefix=p", {"p-note": "x"}, HTTP_X_CAPTCHALA_TOKEN=token)
    assert r.content == b"refused" and captchala_sandbox.calls_for(token) == 0


def test_a_list_of_tokens_in_one_prefixed_field_is_refused(captchala_sandbox):
    a, b = (captchala_sandbox.mint_pass_token("comment") for _ in range(2))
    r = Client().post("/attack/one/?prefix=p", {"p-note": "x", "p-captchala_token": [a, b]})
    assert r.content == b"refused"
    assert captchala_sandbox.calls_for(a) == captchala_sandbox.calls_for(b) == 0


def test_a_receipt_posted_to_a_plain_form_is_no_token(captchala_sandbox):
    for value in ("captchala-receipt:staff", "captchala-receipt:" + "0" * 64):
        r = Client().post("/attack/one/", {"note": "x", "captchala_token": value})
        assert r.content == b"refused"


# ------------------------------------------------------------------ management forms that lie


def test_a_formset_with_no_forms_or_only_empty_forms_is_valid_without_any_check(
    captchala_sandbox,
):
    """Django semantics: an empty extra form is skipped, a formset of none is valid. Nothing
    is saved by a form that was not checked, but a view that acts on ``is_valid()`` alone
    (sends a mail, makes a parent row) does so without a check. Observation, not a bypass
    of a checked item."""
    none = Client().post("/formset/", management(0))
    assert none.status_code == 201 and none.content == b"saved 0"
    empty = Client().post("/formset/", management(3))
    assert empty.status_code == 201 and empty.content == b"saved 3"
    assert captchala_sandbox.count("validate") == 0


def test_total_forms_smaller_than_the_forms_posted_checks_only_the_counted_ones(
    captchala_sandbox,
):
    token = captchala_sandbox.mint_pass_token("comment")
    data = management(1) | {"form-0-note": "a", "form-0-captchala_token": token}
    data |= {"form-1-note": "b"}  # not counted: never cleaned, never saved
    r = Client().post("/formset/", data)
    assert r.status_code == 201 and r.content == b"saved 1"


# ------------------------------------------------------------------ what one POST costs


def big_formset(n, token_of):
    data = management(n)
    for i in range(n):
        data[f"form-{i}-note"] = "x"
        data[f"form-{i}-captchala_token"] = token_of(i)
    return data


@pytest.mark.parametrize("kind", ["malformed", "replayed", "made-up"])
def test_one_post_of_a_huge_formset_costs_one_failed_check(captchala_sandbox, kind):
    """One anonymous POST of a 450-form formset: once a check of the request fails, the
    other forms are refused unchecked (no provider call, no rows), as DRF's token field
    does for a list. Malformed and replayed tokens are refused before the validate budget,
    so without this nothing would bound them (a record per form)."""
    n = 450  # DATA_UPLOAD_MAX_NUMBER_FIELDS (1000) caps a default site near 498 forms
    if kind == "replayed":
        used = captchala_sandbox.mint_pass_token("comment")
        assert Client().post("/attack/one/", {"note": "x", "captchala_token": used}).content == (
            b"ok"
        )
        token_of = lambda i: used  # noqa: E731
    elif kind == "malformed":
        token_of = lambda i: "not a token"  # noqa: E731 - a space: refused before any claim
    else:
        token_of = lambda i: f"pt_madeup{i:06d}xxxxxxxxxxxxxxxx"  # noqa: E731
    events_before = CheckpointEvent.objects.count()
    calls_before = captchala_sandbox.count("validate")
    r = Client().post("/formset/", big_formset(n, token_of))
    assert r.status_code == 200  # refused
    errors = [f.errors.as_data().get("captcha", []) for f in r.context["forms"].forms]
    assert all(e and e[0].code == "invalid" for e in errors)
    assert captchala_sandbox.count("validate") - calls_before <= 1
    assert CheckpointEvent.objects.count() - events_before <= 2


# ------------------------------------------------------- a field instance shared by forms


def test_a_field_instance_shared_by_two_forms_never_answers_a_replay_from_a_cache(
    captchala_sandbox,
):
    """A field instance shared by forms (put in ``form.fields`` by hand, a common pattern
    for a conditional field) keeps no answer of its own: a second request with the same
    token meets the ledger, and is a replay."""
    token = captchala_sandbox.mint_pass_token("comment")
    first = Client().post("/attack/shared/", {"note": "x", "captchala_token": token})
    assert first.content == b"ok"
    again = Client().post("/attack/shared/", {"note": "x", "captchala_token": token})
    assert captchala_sandbox.calls_for(token) == 1  # the second answer came from the cache
    assert PassToken.objects.count() == 1
    assert again.content == b"refused", "the same token passed a second submission"
