"""Under a strict Content-Security-Policy the widget's two scripts carry the nonce of the
policy the response sends: Django's built-in CSP (6.0+) or django-csp."""

import re

import django
import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def nonces(html: str) -> set[str]:
    return set(re.findall(r'<script src="[^"]+" nonce="([^"]+)" defer>', html))


@pytest.mark.skipif(django.VERSION < (6, 0), reason="Django's own CSP is 6.0+")
def test_djangos_own_csp_nonce_is_on_both_scripts(captchala_sandbox, settings):
    from django.utils.csp import CSP

    settings.MIDDLEWARE = [
        *settings.MIDDLEWARE,
        "django.middleware.csp.ContentSecurityPolicyMiddleware",
    ]
    settings.SECURE_CSP = {"default-src": [CSP.SELF], "script-src": [CSP.SELF, CSP.NONCE]}
    response = Client().get("/login/")
    html = response.content.decode()
    found = nonces(html)
    assert len(found) == 1 and html.count(f'nonce="{next(iter(found))}"') == 2
    assert f"'nonce-{next(iter(found))}'" in response["Content-Security-Policy"]


def test_a_nonce_on_the_request_is_written_on_both_scripts(captchala_sandbox):
    """django-csp keeps its nonce as ``request.csp_nonce`` (as any middleware may)."""
    from django.test import RequestFactory

    from tests.forms import LoginForm

    request = RequestFactory().get("/login/")
    request.csp_nonce = "abc123"
    html = str(LoginForm(request=request)["captcha"])
    assert nonces(html) == {"abc123"} and html.count('nonce="abc123"') == 2


def test_django_csps_lazy_nonce_is_read_and_sent_in_the_header(captchala_sandbox, settings):
    """django-csp 4 keeps a lazy nonce that is falsy until read: the widget reads it, so the
    header names the nonce both scripts carry."""
    pytest.importorskip("csp.middleware")
    from csp.constants import NONCE, SELF

    settings.MIDDLEWARE = [*settings.MIDDLEWARE, "csp.middleware.CSPMiddleware"]
    settings.CONTENT_SECURITY_POLICY = {
        "DIRECTIVES": {"default-src": [SELF], "script-src": [SELF, NONCE]}
    }
    response = Client().get("/login/")
    html = response.content.decode()
    found = nonces(html)
    assert len(found) == 1 and next(iter(found))
    assert html.count(f'nonce="{next(iter(found))}"') == 2
    assert f"'nonce-{next(iter(found))}'" in response["Content-Security-Policy"]
