"""The package's own challenge and "try again" pages: styled by a static sheet of the
package (no CDN, no inline style or script, so a strict CSP needs nothing), for phones."""

import re
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders
from django.test import Client

pytestmark = pytest.mark.django_db

SHEET = "captchala_django/challenge.css"


def pages(captchala_sandbox):
    challenge = Client().post("/transfer/", {"amount": "1"}).content.decode()
    captchala_sandbox.set_fault("error")
    token = captchala_sandbox.mint_pass_token()
    unavailable = Client().post("/transfer/", {"captchala_token": token}).content.decode()
    return {"challenge": challenge, "unavailable": unavailable}


def test_each_page_links_the_packages_sheet_and_fits_a_phone(captchala_sandbox):
    for name, html in pages(captchala_sandbox).items():
        assert f'<link rel="stylesheet" href="/static/{SHEET}">' in html, name
        assert 'name="viewport" content="width=device-width, initial-scale=1"' in html, name
    assert finders.find(SHEET)


def test_no_page_carries_inline_style_or_a_script_without_a_source(captchala_sandbox):
    for name, html in pages(captchala_sandbox).items():
        assert "<style" not in html and " style=" not in html, name
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), name


def test_the_sheet_is_self_contained_light_and_dark():
    css = Path(finders.find(SHEET)).read_text()
    assert "prefers-color-scheme: dark" in css and "focus-visible" in css
    assert not re.search(r"@import|url\(|https?://", css)
