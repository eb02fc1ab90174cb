"""The example project serves its pages and the mounted sandbox (what `make demo` runs)."""

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
