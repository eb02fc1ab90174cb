"""The example project serves its pages and the mounted sandbox (what `make demo` runs)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from captchala_django.client import CaptchaLaClient

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def demo_server(tmp_path):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CAPTCHALA_", "DJANGO_"))}
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path / 'demo.sqlite3'}",
        DEMO_PORT=str(port),
        PYTHONUNBUFFERED="1",
    )
    cwd = ROOT / "example_project"
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "-v0"], cwd=cwd, env=env, check=True, timeout=120)
    setup = subprocess.run(
        [*manage, "demo_setup"], cwd=cwd, env=env, check=True, timeout=60, capture_output=True
    )
    assert b"username 'admin'" in setup.stdout
    proc = subprocess.Popen(
        [*manage, "runserver", "--noreload", f"127.0.0.1:{port}"],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        for line in proc.stdout:  # runserver prints this once it listens
            if "Quit the server with" in line:
                break
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


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
