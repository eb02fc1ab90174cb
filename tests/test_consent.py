"""``CAPTCHALA_CONSENT``: the page writes no loader, the boot script's own tag names it (what
the browser then does is in tests/e2e/test_consent.py); the server still refuses a
submission without a solved check."""

import re

import pytest
from django.template import Context, Template
from django.test import Client, RequestFactory

pytestmark = pytest.mark.django_db


def test_the_boot_script_names_the_loader_and_the_widget_a_consent_button(
    captchala_sandbox, settings
):
    settings.CAPTCHALA_CONSENT = True
    page = Client().get("/login/").content.decode()
    loader = settings.CAPTCHALA_LOADER_URL
    assert f'<script src="{loader}"' not in page  # nothing of CaptchaLa's runs yet
    boot = rf'<script src="[^"]*captchala-boot.js" data-captchala-loader="{re.escape(loader)}"'
    assert re.search(boot, page)
    assert "data-captchala-consent" in page and "Load the check" in page


def test_without_consent_asked_the_loader_is_a_plain_tag(captchala_sandbox):
    page = Client().get("/login/").content.decode()
    assert "data-captchala-loader" not in page and "data-captchala-consent" not in page


def test_the_scripts_tag_follows_the_setting(settings):
    settings.CAPTCHALA_CONSENT = True
    html = Template("{% load captchala %}{% captchala_scripts %}").render(
        Context({"request": RequestFactory().get("/")})
    )
    assert "captchala-boot.js" in html and "data-captchala-loader=" in html
    assert html.count("<script") == 1  # the boot script only


def test_a_submission_without_consent_is_refused_as_any_without_a_token(
    captchala_sandbox, settings
):
    settings.CAPTCHALA_CONSENT = True
    answer = Client().post("/login/", {"username": "a", "password": "b"})
    assert "Please complete the check." in answer.content.decode()
    assert captchala_sandbox.count("validate") == 0


def test_form_media_lists_the_boot_script_naming_the_loader_and_no_loader(settings):
    """``{{ form.media }}`` (crispy's helper, Wagtail's form pages) fetches nothing of
    CaptchaLa's before consent either."""
    from captchala_django.conf import app_settings
    from tests.forms import LoginForm

    settings.CAPTCHALA_CONSENT = True
    media = str(LoginForm().media)
    assert f'src="{app_settings.LOADER_URL}"' not in media
    assert f'data-captchala-loader="{app_settings.LOADER_URL}"' in media
