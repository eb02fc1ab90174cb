"""The demo's sandbox panel follows the sandbox's own switch: on only with DEBUG (or forced)."""

import pytest
import requests

from tests.demo_server import serve_demo

#: Any 32 letters and digits make a CSRF secret Django accepts from the client.
CSRF = "a" * 32


@pytest.fixture
def demo_without_debug(tmp_path):
    """The demo deployed by mistake with the sandbox on: DEBUG off, the sandbox not forced."""
    # A WSGI server runs no system checks, so captchala_django.E003 does not stop it.
    yield from serve_demo(
        tmp_path, skip_checks=True, DJANGO_DEBUG="false", CAPTCHALA_SANDBOX="true"
    )


def switch_mode(base, mode):
    """POST the panel's form (with a valid CSRF token) to switch the sandbox to ``mode``."""
    return requests.post(
        base + "/sandbox/",
        data={"mode": mode, "csrfmiddlewaretoken": CSRF},
        cookies={"csrftoken": CSRF},
        allow_redirects=False,
        timeout=10,
    )


def test_panel_is_off_when_the_sandbox_is(demo_without_debug):
    base = demo_without_debug
    # The sandbox itself is off (it needs DEBUG or CAPTCHALA_SANDBOX_FORCE) ...
    assert requests.post(base + "/captchala-sandbox/sandbox/mint", timeout=10).status_code == 404
    # ... and so is the panel that drives it, for reading and for switching faults.
    assert requests.get(base + "/sandbox/", timeout=10).status_code == 404
    for mode in ("error", "timeout", "degraded"):
        assert switch_mode(base, mode).status_code == 404
    home = requests.get(base + "/", timeout=10)
    assert home.status_code == 200 and "Nothing leaves this machine" not in home.text
