"""The example project serves its pages and the mounted sandbox (what `make demo` runs)."""

import pytest
import requests

from captchala_django.client import CaptchaLaClient


def test_demo_serves_home_and_the_sandbox(demo_server):
    home = requests.get(demo_server + "/", timeout=10)
    assert home.status_code == 200 and "captchala-django demo" in home.text
    base = demo_server + "/captchala-sandbox"
    minted = requests.post(base + "/sandbox/mint", json={"action": "login"}, timeout=10)
    token = minted.json()["data"]["token"]
    client = CaptchaLaClient(
        api_url=base, app_key="sandbox-app-key", app_secret="sandbox-app-secret"
    )
    assert client.validate(token, action="login").valid
    loader = requests.get(base + "/captchala-loader.js", timeout=10)
    assert loader.ok and b"loadCaptchala" in loader.content


def test_demo_api_endpoint(demo_server):
    import pytest

    pytest.importorskip("rest_framework")
    refused = requests.post(demo_server + "/api/transfer/", json={"amount": 5}, timeout=10)
    assert refused.status_code == 403 and refused.json()["code"] == "captcha_required"
    base = demo_server + "/captchala-sandbox"
    token = requests.post(base + "/sandbox/mint", json={"action": "transfer"}, timeout=10)
    token = token.json()["data"]["token"]
    ok = requests.post(
        demo_server + "/api/transfer/",
        json={"amount": 5},
        headers={"X-CaptchaLa-Token": token},
        timeout=10,
    )
    assert ok.status_code == 200 and ok.json() == {"ok": True, "amount": 5}


def test_demo_sandbox_panel_switches_faults(demo_server):
    home = requests.get(demo_server + "/", timeout=10)
    assert "Nothing leaves this machine" in home.text  # the panel is advertised
    panel = requests.Session()
    page = panel.get(demo_server + "/sandbox/", timeout=10)
    assert page.status_code == 200 and 'id="sandbox-mode">none<' in page.text
    switched = panel.post(
        demo_server + "/sandbox/",
        data={"mode": "error", "csrfmiddlewaretoken": panel.cookies["csrftoken"]},
        timeout=10,
    )
    assert switched.status_code == 200 and 'id="sandbox-mode">error<' in switched.text
    stats = requests.get(demo_server + "/captchala-sandbox/sandbox/stats", timeout=10).json()
    assert stats["data"]["faults"]["mode"] == "error"


def test_demo_admin_login_takes_the_check(demo_server):
    """Password guesses against staff accounts need a solve each, like the site's own login."""
    session = requests.Session()
    page = session.get(demo_server + "/admin/login/", timeout=10)
    assert page.status_code == 200 and "data-captchala" in page.text
    csrf = session.cookies["csrftoken"]
    login = {"username": "admin", "password": "admin", "csrfmiddlewaretoken": csrf}
    refused = session.post(demo_server + "/admin/login/", data=login, timeout=10)
    assert refused.status_code == 200 and "sessionid" not in session.cookies
    base = demo_server + "/captchala-sandbox"
    token = requests.post(base + "/sandbox/mint", json={"action": "login"}, timeout=10)
    login["captchala_token"] = token.json()["data"]["token"]
    done = session.post(
        demo_server + "/admin/login/", data=login, timeout=10, allow_redirects=False
    )
    assert done.status_code == 302


def test_make_demo_serves_on_the_port_it_is_given():
    """`make demo PORT=8001`: the server, and the sandbox URLs the demo builds, use 8001."""
    import shutil
    import subprocess
    from pathlib import Path

    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    out = subprocess.run(
        ["make", "-n", "demo", "PORT=8001"],
        cwd=Path(__file__).resolve().parent.parent,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert "runserver 127.0.0.1:8001" in out
    assert out.count("DEMO_PORT=8001") == 3  # migrate, demo_setup and runserver
