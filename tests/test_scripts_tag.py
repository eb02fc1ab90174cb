"""``{% captchala_scripts %}``: the loader and the boot script for a page without a form's
widget, with the request's nonce, once per request whoever writes them first."""

import pytest
from django.template import Context, Template
from django.test import RequestFactory

from tests.forms import LoginForm

pytestmark = pytest.mark.django_db

TAG = Template("{% load captchala %}{% captchala_scripts %}{% captchala_scripts %}")


def test_the_tag_writes_both_scripts_once_with_the_nonce(captchala_sandbox):
    request = RequestFactory().get("/")
    request.csp_nonce = "n0nce"
    html = TAG.render(Context({"request": request}))
    assert html.count("<script ") == 2 and html.count('nonce="n0nce"') == 2
    assert "captchala-loader.js" in html and "captchala_django/captchala-boot.js" in html
    # A widget rendered after it on the same page does not write them again.
    assert "<script" not in str(LoginForm(request=request)["captcha"])


def test_after_a_widget_the_tag_writes_nothing(captchala_sandbox):
    request = RequestFactory().get("/")
    assert str(LoginForm(request=request)["captcha"]).count("<script ") == 2
    assert TAG.render(Context({"request": request})) == ""


def test_without_a_nonce_no_empty_attribute(captchala_sandbox):
    html = TAG.render(Context({"request": RequestFactory().get("/")}))
    assert html.count("<script ") == 2 and "nonce" not in html
