"""CaptchaLaField in real forms: login, signup, password reset, admin login, any form."""

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.exceptions import ImproperlyConfigured
from django.test import Client, RequestFactory
from django.utils import translation

from captchala_django.exceptions import RequestRequired
from captchala_django.models import Checkpoint
from tests.forms import ContactForm
from tests.helpers import FORGED

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("captchala_sandbox")]


@pytest.fixture
def alice():
    return get_user_model().objects.create_user("alice", "alice@example.com", "s3cret-pass!")


def post_login(token):
    return Client().post("/login/", {"username": "a", "password": "b", "captchala_token": token})


def errors_of(response):
    return response.context["form"].errors.as_data()


# ----------------------------------------------------------------- login (LoginView)


def test_login_with_a_valid_token_logs_in(captchala_sandbox, alice):
    client = Client()
    token = captchala_sandbox.mint_pass_token("login")
    response = client.post(
        "/login/", {"username": "alice", "password": "s3cret-pass!", "captchala_token": token}
    )
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(alice.pk)
    row = Checkpoint.objects.get()
    assert (row.status, row.route, row.scope_kind) == ("passed", "login", "session")


def test_login_page_renders_the_widget(captchala_sandbox):
    html = Client().get("/login/").content.decode()
    assert 'data-action="login"' in html and 'name="captchala_token"' in html


@pytest.mark.parametrize("token", [None, FORGED], ids=["missing", "invalid"])
def test_failed_check_reveals_nothing_about_the_account(alice, failed_logins, token):
    """Right password, wrong password, unknown user: the same single captcha error."""
    bodies = []
    for username, password in [("alice", "s3cret-pass!"), ("alice", "wrong"), ("nobody", "x")]:
        data = {"username": username, "password": password}
        if token:
            data["captchala_token"] = token
        response = Client().post("/login/", data)
        assert response.status_code == 200
        errors = errors_of(response)
        assert list(errors) == ["captcha"]
        bodies.append([e.message for e in errors["captcha"]])
    assert bodies[0] == bodies[1] == bodies[2]
    assert failed_logins == []  # no password was checked


def test_missing_and_invalid_tokens_have_their_messages():
    missing = Client().post("/login/", {"username": "a", "password": "b"})
    assert [e.message for e in errors_of(missing)["captcha"]] == ["Please complete the check."]
    bad = Client().post("/login/", {"username": "a", "password": "b", "captchala_token": FORGED})
    assert [e.message for e in errors_of(bad)["captcha"]] == [
        "The check was not passed. Please try again."
    ]
    assert "invalid_token" not in bad.content.decode()


def test_provider_down_is_a_form_error_inviting_a_retry(captchala_sandbox):
    captchala_sandbox.set_fault("error")
    token = captchala_sandbox.mint_pass_token("login")
    response = Client().post(
        "/login/", {"username": "a", "password": "b", "captchala_token": token}
    )
    assert response.status_code == 200
    assert [e.message for e in errors_of(response)["captcha"]] == [
        "The check could not be completed right now. Please try again."
    ]


def test_configuration_error_is_generic_for_the_user_and_error_for_the_site(
    captchala_sandbox, settings, caplog
):
    settings.CAPTCHALA_APP_SECRET = "wrong-secret-value"
    token = captchala_sandbox.mint_pass_token("login")
    response = Client().post(
        "/login/", {"username": "a", "password": "b", "captchala_token": token}
    )
    assert [e.code for e in errors_of(response)["captcha"]] == ["unavailable"]
    assert any(r.levelname == "ERROR" for r in caplog.records)
    assert "invalid_app_secret" not in response.content.decode()


def test_wrong_action_token_is_refused(captchala_sandbox):
    token = captchala_sandbox.mint_pass_token("register")
    response = Client().post(
        "/login/", {"username": "a", "password": "b", "captchala_token": token}
    )
    assert [e.code for e in errors_of(response)["captcha"]] == ["invalid"]


def test_messages_are_translated(captchala_sandbox):
    with translation.override("fr"):
        response = Client().post("/login/", {"username": "a", "password": "b"})
        assert [e.message for e in errors_of(response)["captcha"]] == [
            "Veuillez effectuer la vérification."
        ]


# ----------------------------------------------------------------- other forms


def test_signup_with_user_creation_form(captchala_sandbox):
    data = {"username": "bob", "password1": "a-long-pass-123", "password2": "a-long-pass-123"}
    refused = Client().post("/signup/", data)
    assert refused.status_code == 400 and not get_user_model().objects.filter(username="bob")
    data["captchala_token"] = captchala_sandbox.mint_pass_token("register")
    assert Client().post("/signup/", data).status_code == 201
    assert get_user_model().objects.filter(username="bob").exists()


def test_password_reset_needs_the_check(captchala_sandbox, alice):
    assert Client().post("/reset/", {"email": "alice@example.com"}).status_code == 200
    assert mail.outbox == []
    token = captchala_sandbox.mint_pass_token("lost_password")
    response = Client().post("/reset/", {"email": "alice@example.com", "captchala_token": token})
    assert response.status_code == 302 and len(mail.outbox) == 1


def test_admin_login_is_protected(captchala_sandbox):
    get_user_model().objects.create_superuser("root", "root@example.com", "root-pass-123")
    client = Client()
    refused = client.post("/secure-admin/login/", {"username": "root", "password": "root-pass-123"})
    assert refused.status_code == 200 and "_auth_user_id" not in client.session
    token = captchala_sandbox.mint_pass_token("login")
    ok = client.post(
        "/secure-admin/login/",
        {"username": "root", "password": "root-pass-123", "captchala_token": token},
    )
    assert ok.status_code == 302 and "_auth_user_id" in client.session


def test_any_form_with_the_mixin_validates_once_and_keeps_the_outcome(captchala_sandbox):
    token = captchala_sandbox.mint_pass_token("contact_form")
    request = RequestFactory().post("/", {"message": "hi", "captchala_token": token})
    from django.contrib.sessions.backends.db import SessionStore

    request.session = SessionStore()
    form = ContactForm(request.POST, request=request)
    assert form.is_valid(), form.errors
    form.full_clean()
    form.full_clean()
    assert form.is_valid()
    assert captchala_sandbox.calls_for(token) == 1
    assert form.captchala_outcome.allowed and form.captchala_outcome.checkpoint is not None
    assert form.clean_ran


def test_a_failed_check_skips_the_forms_own_clean(captchala_sandbox):
    request = RequestFactory().post("/", {"message": "hi"})
    form = ContactForm(request.POST, request=request)
    assert not form.is_valid()
    assert not hasattr(form, "clean_ran")


def test_a_form_without_the_request_is_refused_and_says_how_to_fix_it(caplog):
    from django import forms

    from captchala_django.fields import CaptchaLaField

    class Bare(forms.Form):
        captcha = CaptchaLaField()

    form = Bare({"captchala_token": FORGED})
    assert not form.is_valid()
    assert [e.code for e in form.errors.as_data()["captcha"]] == ["unavailable"]
    assert any("RequestContextMiddleware" in r.getMessage() for r in caplog.records)
    with pytest.raises(ImproperlyConfigured, match="CaptchaLaFormMixin") as raised:
        str(Bare()["captcha"])
    assert isinstance(raised.value, RequestRequired)  # an ImproperlyConfigured of ours
