"""max_risk / CAPTCHALA_MAX_RISK: a valid verdict scored above the threshold is denied."""

import pytest
from django import forms
from django.http import JsonResponse
from django.test import Client, RequestFactory

from captchala_django.checkpoints import verify_and_record
from captchala_django.decorators import checkpoint_required
from captchala_django.fields import CaptchaLaField
from captchala_django.forms import CaptchaLaFormMixin
from captchala_django.models import Checkpoint, CheckpointEvent, EventKind, PassToken
from tests.helpers import make_request, scope

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("captchala_sandbox")]


def test_a_risky_pass_is_denied_as_validation_risk_too_high(captchala_sandbox, settings):
    settings.CAPTCHALA_MAX_RISK = 50
    token = captchala_sandbox.mint_pass_token(risk_score=51)
    outcome = verify_and_record(make_request(), token, scope("risky"))
    assert not outcome.allowed
    assert (outcome.failure_class, outcome.code) == ("validation", "risk_too_high")
    checkpoint = Checkpoint.objects.get()
    assert (checkpoint.status, checkpoint.failure_detail) == ("failed", "risk_too_high")
    response = CheckpointEvent.objects.get(kind=EventKind.CHECK)
    assert response.risk_score == 51


def test_at_the_threshold_passes_and_the_score_is_stored(captchala_sandbox, settings):
    settings.CAPTCHALA_MAX_RISK = 50
    outcome = verify_and_record(
        make_request(), captchala_sandbox.mint_pass_token(risk_score=50), scope("calm")
    )
    assert outcome.allowed and outcome.failure_class is None
    assert CheckpointEvent.objects.get(kind=EventKind.CHECK).risk_score == 50


def test_no_threshold_by_default(captchala_sandbox):
    token = captchala_sandbox.mint_pass_token(risk_score=100)
    assert verify_and_record(make_request(), token, scope("default")).allowed


def test_a_retry_of_a_risky_token_stays_denied_without_a_provider_call(captchala_sandbox, settings):
    settings.CAPTCHALA_MAX_RISK = 10
    token = captchala_sandbox.mint_pass_token(risk_score=90)
    first = verify_and_record(make_request(), token, scope("retry"))
    again = verify_and_record(make_request(), token, scope("retry"))
    assert not first.allowed and not again.allowed
    assert captchala_sandbox.calls_for(token) == 1
    assert PassToken.objects.get().allowed is False


def test_the_front_door_threshold_wins_over_the_setting(captchala_sandbox, settings):
    settings.CAPTCHALA_MAX_RISK = 90
    token = captchala_sandbox.mint_pass_token(risk_score=30)
    outcome = verify_and_record(make_request(), token, scope("strict"), max_risk=20)
    assert outcome.code == "risk_too_high"


def test_decorator_max_risk(captchala_sandbox):
    @checkpoint_required(max_risk=40)
    def view(request):
        return JsonResponse({"ok": True})

    def post(score):
        token = captchala_sandbox.mint_pass_token(risk_score=score)
        request = RequestFactory().post(
            "/pay/", {"captchala_token": token}, HTTP_ACCEPT="text/html"
        )
        return view(request)

    assert post(41).status_code == 403
    assert post(40).status_code == 200


def test_mixin_max_risk_through_the_url(captchala_sandbox, monkeypatch):
    from tests.views import MixinView

    monkeypatch.setattr(MixinView, "checkpoint_max_risk", 5, raising=False)
    token = captchala_sandbox.mint_pass_token("transfer", risk_score=6)
    response = Client().post("/mixin/", {"captchala_token": token}, HTTP_ACCEPT="text/html")
    assert response.status_code == 403
    assert Checkpoint.objects.get().failure_detail == "risk_too_high"


class RiskyForm(CaptchaLaFormMixin, forms.Form):
    captcha = CaptchaLaField(action="login", max_risk=25)


def test_form_field_max_risk(captchala_sandbox):
    def submit(score):
        token = captchala_sandbox.mint_pass_token("login", risk_score=score)
        return RiskyForm({"captchala_token": token}, request=make_request())

    risky = submit(26)
    assert not risky.is_valid()
    assert risky.errors["captcha"] == ["The check was not passed. Please try again."]
    assert submit(25).is_valid()


def test_drf_field_and_permission_max_risk(captchala_sandbox, monkeypatch):
    pytest.importorskip("rest_framework")
    from rest_framework import serializers
    from rest_framework.test import APIClient

    from captchala_django.drf import CaptchaLaTokenField
    from tests import drf_views

    class Comment(serializers.Serializer):
        captchala_token = CaptchaLaTokenField(action="comment", max_risk=15)

    def valid(score):
        token = captchala_sandbox.mint_pass_token("comment", risk_score=score)
        serializer = Comment(data={"captchala_token": token}, context={"request": make_request()})
        return serializer.is_valid()

    assert not valid(16)
    assert valid(15)

    monkeypatch.setattr(drf_views.TransferView, "captchala_max_risk", 15, raising=False)
    token = captchala_sandbox.mint_pass_token("transfer", risk_score=16)
    response = APIClient().post("/api/transfer/", {"captchala_token": token})
    assert response.status_code == 403
    token = captchala_sandbox.mint_pass_token("transfer", risk_score=15)
    assert APIClient().post("/api/transfer/", {"captchala_token": token}).status_code == 200


@pytest.mark.parametrize(("sent", "stored"), [(250, 100), (-7, 0), (40_000, 100)])
def test_a_score_outside_0_100_is_read_as_its_bound(captchala_sandbox, settings, sent, stored):
    """A reply out of range must neither slip under the threshold nor break the write."""
    settings.CAPTCHALA_MAX_RISK = 90
    token = captchala_sandbox.mint_pass_token(risk_score=sent)
    outcome = verify_and_record(make_request(), token, scope(f"odd{sent}"))
    assert outcome.persisted
    assert outcome.allowed is (stored <= 90)
    assert CheckpointEvent.objects.get(kind=EventKind.CHECK).risk_score == stored
