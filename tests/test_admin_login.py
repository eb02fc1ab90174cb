"""``protect_admin_login(site)``: the admin's own login URL takes the check, for the
default ``admin.site`` and for a custom ``AdminSite``, ``?next=`` included."""

import pytest
from django.contrib import admin
from django.test import Client

from captchala_django.admin_login import protect_admin_login
from captchala_django.fields import CaptchaLaField
from tests.helpers import FORGED

pytestmark = pytest.mark.django_db
NEXT = "/admin/auth/user/"


def login(client, token=None, next_url=NEXT, path="/admin/login/"):
    data = {"username": "root", "password": "root-pass-123", "next": next_url}
    if token is not None:
        data["captchala_token"] = token
    return client.post(f"{path}?next={next_url}", data)


@pytest.mark.usefixtures("protected_site")
def test_the_admin_login_page_shows_the_check_and_keeps_next(captchala_sandbox):
    html = Client().get(f"/admin/login/?next={NEXT}").content.decode()
    assert "data-captchala" in html and 'name="captchala_token"' in html
    assert f'name="next" value="{NEXT}"' in html
    assert 'name="username"' in html and 'name="password"' in html


@pytest.mark.usefixtures("protected_site")
@pytest.mark.parametrize(
    "token", [None, FORGED, "replayed"], ids=["missing", "made-up", "replayed"]
)
def test_the_admin_login_refuses_a_bad_token_without_checking_the_password(
    captchala_sandbox, root, token
):
    if token == "replayed":
        token = captchala_sandbox.mint_pass_token("login")
        assert login(Client(), token).status_code == 302  # its one use
    client = Client()
    refused = login(client, token)
    assert refused.status_code == 200 and "_auth_user_id" not in client.session
    assert refused.context["form"].errors["captcha"]
    # The password was never looked at: the same answer with a wrong one.
    wrong = Client().post(
        "/admin/login/", {"username": "root", "password": "x", "captchala_token": token or ""}
    )
    assert wrong.context["form"].errors.keys() == refused.context["form"].errors.keys()


@pytest.mark.usefixtures("protected_site")
def test_a_good_token_logs_in_and_follows_next(captchala_sandbox, root):
    client = Client()
    token = captchala_sandbox.mint_pass_token("login")
    response = login(client, token)
    assert response.status_code == 302 and response["Location"] == NEXT
    assert client.session["_auth_user_id"] == str(root.pk)
    assert captchala_sandbox.calls_for(token) == 1


def test_a_custom_admin_site_is_protected_by_the_same_line(captchala_sandbox, root):
    """tests.urls mounts ``secure_admin`` at /secure-admin/, protected with the one line."""
    from tests.views import secure_admin

    assert isinstance(secure_admin.login_form.base_fields["captcha"], CaptchaLaField)
    client = Client()
    refused = login(client, None, "/secure-admin/", "/secure-admin/login/")
    assert refused.status_code == 200 and "_auth_user_id" not in client.session
    token = captchala_sandbox.mint_pass_token("login")
    ok = login(client, token, "/secure-admin/", "/secure-admin/login/")
    assert ok.status_code == 302 and ok["Location"] == "/secure-admin/"


def test_protecting_twice_changes_nothing_and_a_sites_own_form_is_kept(monkeypatch):
    from django.contrib.admin.forms import AdminAuthenticationForm

    class OwnForm(AdminAuthenticationForm):
        remember = None

    site = admin.AdminSite(name="own")
    site.login_form = OwnForm
    site.login_template = "own/login.html"
    protect_admin_login(site)
    first = site.login_form
    protect_admin_login(site)
    assert site.login_form is first and issubclass(first, OwnForm)
    assert site.login_template == "own/login.html"  # the site's own, left as it is
