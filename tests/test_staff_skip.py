"""CAPTCHALA_SKIP_FOR_STAFF: staff skip the check, and the skip is recorded."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client, RequestFactory

from captchala_django.models import Checkpoint
from tests.forms import ContactForm

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("captchala_sandbox")]


def client_for(staff: bool) -> Client:
    user = get_user_model().objects.create_user("staff" if staff else "member", is_staff=staff)
    client = Client()
    client.force_login(user)
    return client


def test_staff_pass_the_decorator_without_a_token_and_it_is_recorded(settings, captchala_sandbox):
    settings.CAPTCHALA_SKIP_FOR_STAFF = True
    response = client_for(staff=True).post("/transfer/", {"amount": "3"})
    assert response.status_code == 200
    row = Checkpoint.objects.get()
    # A decision event, never a pass: the row stays pending, with no expiry.
    assert (row.status, row.expires_at, row.token_digest) == ("pending", None, "")
    decision = row.events.get(kind="staff_skip")
    assert (decision.decision, decision.code) == ("allow", "staff_skip")
    assert captchala_sandbox.count("validate") == 0


def test_non_staff_still_need_the_check(settings):
    settings.CAPTCHALA_SKIP_FOR_STAFF = True
    response = client_for(staff=False).post("/transfer/", {}, HTTP_ACCEPT="application/json")
    assert response.status_code == 403


def test_staff_need_the_check_when_the_setting_is_off():
    response = client_for(staff=True).post("/transfer/", {}, HTTP_ACCEPT="application/json")
    assert response.status_code == 403


def test_staff_skip_the_form_field(settings):
    settings.CAPTCHALA_SKIP_FOR_STAFF = True
    staff = get_user_model().objects.create_user("editor", is_staff=True)
    request = RequestFactory().post("/", {"message": "hi"})
    request.user = staff
    from django.contrib.sessions.backends.db import SessionStore

    request.session = SessionStore()
    form = ContactForm(request.POST, request=request)
    assert form.is_valid(), form.errors
    assert form.captchala_outcome.code == "staff_skip"


def test_staff_skip_the_drf_field_and_permission(settings, captchala_sandbox):
    pytest.importorskip("rest_framework")
    settings.CAPTCHALA_SKIP_FOR_STAFF = True
    client = client_for(staff=True)
    assert client.post("/api/transfer/", {}, content_type="application/json").status_code == 200
    comment = client.post("/api/comments/", {"text": "hi"}, content_type="application/json")
    assert comment.status_code == 201
    assert captchala_sandbox.count("validate") == 0
