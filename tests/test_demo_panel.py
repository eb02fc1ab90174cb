"""The demo's sandbox panel follows the sandbox's own switch: on only with DEBUG (or forced)."""

import os
import subprocess
import sys
import threading

import pytest
import requests

from tests.demo_server import ROOT, _drain, _free_port

#: Any 32 letters and digits make a CSRF secret Django accepts from the client.
CSRF = "a" * 32


def serve_demo_with(tmp_path, **settings):
    """The example project under runserver, with ``settings`` as its environment variables."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CAPTCHALA_", "DJANGO_"))}
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path / 'demo.sqlite3'}",
        DEMO_PORT=str(port),
        PYTHONUNBUFFERED="1",
        **settings,
    )
    cwd = ROOT / "example_project"
    manage = [sys.executable, "manage.py"]
    # A WSGI server (gunicorn, uwsgi) runs no system checks: skip them as it would, so
    # that captchala_django.E003 does not stop the misconfigured demo from starting.
    subprocess.run(
        [*manage, "migrate", "-v0", "--skip-checks"], cwd=cwd, env=env, check=True, timeout=120
    )
    proc = subprocess.Popen(
        [*manage, "runserver", "--noreload", "--skip-checks", f"127.0.0.1:{port}"],
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
        threading.Thread(target=_drain, args=(proc.stdout,), daemon=True).start()
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture
def demo_without_debug(tmp_path):
    """The demo deployed by mistake with the sandbox on: DEBUG off, the sandbox not forced."""
    yield from serve_demo_with(tmp_path, DJANGO_DEBUG="false", CAPTCHALA_SANDBOX="true")


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
