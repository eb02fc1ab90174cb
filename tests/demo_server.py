"""Run the example project (what `make demo` serves) on a free port for a test."""

import os
import subprocess
import sys
import threading
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.helpers import free_port

ROOT = Path(__file__).resolve().parent.parent


def _drain(stream) -> None:
    for _ in stream:
        pass


def serve_demo(tmp_path, *, skip_checks: bool = False, **settings):
    """The example project under runserver, ``settings`` as its environment variables.

    ``skip_checks`` starts it as a WSGI server (gunicorn, uwsgi) would, without the
    system checks, so that a deliberately misconfigured demo still starts.
    """
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CAPTCHALA_", "DJANGO_"))}
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path / 'demo.sqlite3'}",
        DEMO_PORT=str(port),
        PYTHONUNBUFFERED="1",
        # The browser tests drive the check on every login; test_step_up.py turns it back on.
        DEMO_STEP_UP="0",
    )
    env.update(settings)
    cwd = ROOT / "example_project"
    manage = [sys.executable, "manage.py"]
    skip = ["--skip-checks"] if skip_checks else []
    subprocess.run([*manage, "migrate", "-v0", *skip], cwd=cwd, env=env, check=True, timeout=120)
    setup = subprocess.run(
        [*manage, "demo_setup", *skip],
        cwd=cwd,
        env=env,
        check=True,
        timeout=60,
        capture_output=True,
    )
    assert b"username 'admin'" in setup.stdout
    with runserver(cwd, env, port, *skip):
        yield f"http://127.0.0.1:{port}"


@contextmanager
def runserver(cwd, env, port: int, *options: str):
    """``manage.py runserver`` in ``cwd`` on ``port``, until the block ends: returns once
    the server listens (it says so), and keeps reading its output so it never blocks."""
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", "--noreload", *options, f"127.0.0.1:{port}"],
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
        yield proc
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture
def demo_server(tmp_path):
    yield from serve_demo(tmp_path)


@pytest.fixture(scope="module")
def module_demo_server(tmp_path_factory):
    yield from serve_demo(tmp_path_factory.mktemp("demo"))
