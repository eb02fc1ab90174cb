"""Attacks on ``protect_admin_login`` (attack21): log in to the admin without a solved
token, or make its login a 500."""

import pytest
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import get_user_model
from django.test import Client

from captchala_django.admin_login import protect_admin_login
from captchala_django.checkpoints import token_digest
from captchala_django.tokens import RECEIPT_PREFIX, STAFF_RECEIPT

pytestmark = pytest.mark.django_db


def login(client, data=None, query=""):
    body = {"username": "root", "password": "root-pass-123"} | (data or {})
    return client.post(f"/admin/login/{query}", body)


def logged_in(client):
    return "_auth_user_id" in client.session


@pytest.mark.usefixtures("protected_site")
def test_no_value_that_is_not_a_fresh_token_logs_in(captchala_sandbox, root):
    used = captchala_sandbox.mint_pass_token("login")
    assert login(Client(), {"captchala_token": used}).status_code == 302  # its one use
    fresh_a = captchala_sandbox.mint_pass_token("login")
    fresh_b = captchala_sandbox.mint_pass_token("login")
    other_action = captchala_sandbox.mint_pass_token("register")
    cases = {
        "missing": {},
        "empty": {"captchala_token": ""},
        "replayed": {"captchala_token": used},
        "receipt": {"captchala_token": RECEIPT_PREFIX + token_digest(used)},
        "staff receipt": {"captchala_token": STAFF_RECEIPT},
        "two tokens": {"captchala_token": [fresh_a, fresh_b]},
        "other action": {"captchala_token": other_action},
        "prefixed": {"admin-captchala_token": fresh_a},
        "too long": {"captchala_token": "pt_" + "a" * 5000},
        "nul": {"captchala_token": "pt_\x00abc"},
        "non-ascii": {"captchala_token": "pt_é" * 10},
    }
    for name, data in cases.items():
        client = Client(raise_request_exception=False)
        r = login(client, data)
        assert r.status_code == 200, (name, r.status_code)
        assert not logged_in(client), name
    # Not in the query string, not in a header.
    client = Client()
    r = login(client, query=f"?captchala_token={fresh_a}")
    assert r.status_code == 200 and not logged_in(client)
    r = client.post(
        "/admin/login/",
        {"username": "root", "password": "root-pass-123"},
        HTTP_X_CAPTCHALA_TOKEN=fresh_b,
    )
    assert r.status_code == 200 and not logged_in(client)
    assert captchala_sandbox.calls_for(fresh_a) == captchala_sandbox.calls_for(fresh_b) == 0


@pytest.mark.usefixtures("protected_site")
@pytest.mark.parametrize(
    "next_url", ["https://evil.example/", "//evil.example/", "/admin/login/?next=/admin/"]
)
def test_next_tricks_do_not_skip_the_check(captchala_sandbox, root, next_url):
    client = Client()
    r = client.post(
        f"/admin/login/?next={next_url}",
        {"username": "root", "password": "root-pass-123", "next": next_url},
    )
    assert r.status_code == 200 and not logged_in(client)
    token = captchala_sandbox.mint_pass_token("login")
    r = client.post(
        f"/admin/login/?next={next_url}",
        {
            "username": "root",
            "password": "root-pass-123",
            "next": next_url,
            "captchala_token": token,
        },
    )
    assert r.status_code == 302 and not r["Location"].startswith(("https://evil", "//evil"))


def test_a_site_that_replaces_its_login_form_after_the_line_is_reported(
    captchala_sandbox, root, monkeypatch
):
    """The check lives in ``site.login_form``; a later assignment (an app's admin.py that
    runs after urls.py, a second ``login_form =``, a 2FA package that swaps the form) drops
    it: system check E015 says so, and calling the line again restores it."""
    monkeypatch.setattr(admin.site, "login_form", None)
    monkeypatch.setattr(admin.site, "login_template", None)
    protect_admin_login(admin.site)

    class OwnLoginForm(AdminAuthenticationForm):
        pass

    admin.site.login_form = OwnLoginForm  # after the line
    from captchala_django.admin_login import check_protected_admin_logins

    errors = check_protected_admin_logins()
    assert [e.id for e in errors] == ["captchala_django.E015"] and "OwnLoginForm" in errors[0].msg
    protect_admin_login(admin.site)  # the hint: the line after the assignment
    assert check_protected_admin_logins() == []
    client = Client()
    login(client)  # no token
    assert not logged_in(client), "logged in to the admin without a token"


def test_a_site_subclassed_form_is_extended_not_replaced(captchala_sandbox, root, monkeypatch):
    class OwnLoginForm(AdminAuthenticationForm):
        def clean(self):
            return super().clean()

    monkeypatch.setattr(admin.site, "login_form", OwnLoginForm)
    monkeypatch.setattr(admin.site, "login_template", None)
    protect_admin_login(admin.site)
    client = Client()
    assert login(client).status_code == 200 and not logged_in(client)
    token = captchala_sandbox.mint_pass_token("login")
    assert login(client, {"captchala_token": token}).status_code == 302


def test_a_site_form_with_a_non_captchala_field_named_captcha_is_still_protected(
    captchala_sandbox, root, monkeypatch
):
    from django import forms

    class OwnLoginForm(AdminAuthenticationForm):
        captcha = forms.CharField(required=False)  # an old captcha package's field

    monkeypatch.setattr(admin.site, "login_form", OwnLoginForm)
    monkeypatch.setattr(admin.site, "login_template", None)
    protect_admin_login(admin.site)
    client = Client()
    assert login(client, {"captcha": "anything"}).status_code == 200 and not logged_in(client)


@pytest.mark.usefixtures("protected_site")
def test_a_logged_in_staff_user_cannot_log_in_as_another_user_without_a_token(
    captchala_sandbox, root, settings
):
    """CAPTCHALA_SKIP_FOR_STAFF never applies to a login form: the session's user is not
    the account being logged in to, so a low-privilege staff account (or a stolen staff
    session) would try passwords of any account, the superuser's included, unchecked."""
    settings.CAPTCHALA_SKIP_FOR_STAFF = True
    get_user_model().objects.create_user("intern", password="intern-pass-123", is_staff=True)
    client = Client()
    client.login(username="intern", password="intern-pass-123")
    wrong = [login(client, {"password": f"guess-{i}"}).status_code for i in range(5)]
    login(client)  # root's password, no token
    assert wrong == [200] * 5
    assert client.session.get("_auth_user_id") != str(root.pk), "logged in as root, no token"


def test_a_custom_template_that_does_not_render_the_field_fails_closed(
    captchala_sandbox, root, monkeypatch
):
    """A site whose login_template renders only username and password (Django's stock
    admin/login.html, a theme's copy of it): the widget is missing, so nobody can log in;
    never a login without the check. Operational risk (lock-out), not a bypass."""
    monkeypatch.setattr(admin.site, "login_form", None)
    monkeypatch.setattr(admin.site, "login_template", "admin/login.html")
    protect_admin_login(admin.site)
    html = Client().get("/admin/login/").content.decode()
    assert "data-captchala" not in html
    client = Client()
    assert login(client).status_code == 200 and not logged_in(client)
