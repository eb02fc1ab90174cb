"""``CAPTCHALA_CONSENT``: the page's loader tag is inert until the visitor consents (what
the browser then does is in tests/e2e/test_consent.py); the server still refuses a
submission without a solved check."""

import re

import pytest
from django.template import Context, Template
from django.test import Client, RequestFactory

pytestmark = pytest.mark.django_db


def test_the_widget_writes_an_inert_loader_and_a_consent_button(captchala_sandbox, settings):
    settings.CAPTCHALA_CONSENT = True
    page = Client().get("/login/").content.decode()
    loader = settings.CAPTCHALA_LOADER_URL
    assert f'<script src="{loader}"' not in page  # nothing of CaptchaLa's runs yet
    assert re.search(
        rf'<script type="text/plain" data-captchala-loader="{re.escape(loader)}"', page
    )
    assert "data-captchala-consent" in page and "Load the check" in page
    assert "captchala-boot.js" in page  # our own script, which waits for consent


def test_without_consent_asked_the_loader_is_a_plain_tag(captchala_sandbox):
    page = Client().get("/login/").content.decode()
    assert "data-captchala-loader" not in page and "data-captchala-consent" not in page


def test_the_scripts_tag_follows_the_setting(settings):
    settings.CAPTCHALA_CONSENT = True
    html = Template("{% load captchala %}{% captchala_scripts %}").render(
        Context({"request": RequestFactory().get("/")})
    )
    assert 'type="text/plain" data-captchala-loader=' in html and " defer>" in html


def test_a_submission_without_consent_is_refused_as_any_without_a_token(
    captchala_sandbox, settings
):
    settings.CAPTCHALA_CONSENT = True
    answer = Client().post("/login/", {"username": "a", "password": "b"})
    assert "Please complete the check." in answer.content.decode()
    assert captchala_sandbox.count("validate") == 0
