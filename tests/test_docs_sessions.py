"""The terminal sessions of the documentation are scripts, run here with bash and curl:
``example_project/curl-session.sh`` against the demo (docs/demo.md) and
``tests/sandbox-session.sh`` against the standalone sandbox (docs/guides/sandbox.md)."""

import json
import os
import select
import shutil
import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path

import pytest

from tests.helpers import free_port

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(
    not (shutil.which("bash") and shutil.which("curl")), reason="the sessions need bash and curl"
)


def run_session(script: str, url: str) -> list[dict]:
    """Run ``script`` with ``url``; the JSON answers it printed, one a line."""
    # The scripts' python3 is this interpreter (any Python 3 would do).
    path = os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])
    done = subprocess.run(
        ["bash", str(ROOT / script), url],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PATH": path},
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


@pytest.mark.skipif(not find_spec("rest_framework"), reason="the demo's /api/ needs the drf extra")
def test_demo_session_is_refused_then_passes_with_a_solved_token(demo_server):
    refused, solved, passed, rode = run_session("example_project/curl-session.sh", demo_server)
    assert refused == {
        "detail": "Please complete the check to continue.",
        "code": "captcha_required",
    }
    assert solved["code"] == 0 and solved["data"]["action"] == "checkout"
    assert solved["data"]["token"].startswith("pt_")
    assert passed == {"ok": True, "amount": 5}
    assert rode == {"ok": True, "amount": 6}  # no token: the checkpoint of the address


@pytest.fixture
def standalone_sandbox():
    """``python -m captchala_django.sandbox --port PORT`` on a free port, until the test ends."""
    port = free_port()
    command = [sys.executable, "-m", "captchala_django.sandbox", "--port", str(port), "--quiet"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        # The banner is printed once the socket listens; wait for it, for 30 seconds at most.
        ready, _, _ = select.select([proc.stdout], [], [], 30)
        assert ready and f"127.0.0.1:{port}" in proc.stdout.readline(), "the sandbox did not start"
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


def test_sandbox_session_validates_a_minted_token(standalone_sandbox):
    valid, consumed, fault, stats = run_session("tests/sandbox-session.sh", standalone_sandbox)
    assert valid["code"] == 0 and valid["msg"] == "ok"
    assert valid["data"]["valid"] is True and valid["data"]["action"] == "login"
    assert valid["data"]["risk_score"] == 12
    assert consumed["data"] == {"valid": False, "error": "token_consumed"}
    assert fault["data"]["mode"] == "timeout"
    assert stats["data"]["stats"]["validate"] == 2
    assert stats["data"]["faults"]["mode"] == "timeout"
