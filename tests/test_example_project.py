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
