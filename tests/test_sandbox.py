"""The sandbox: its rules, its three ways of running, and its loader."""

import http.client
import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import requests

from captchala_django.client import CaptchaLaClient
from captchala_django.conf import SANDBOX_APP_KEY
from captchala_django.sandbox import Sandbox
from captchala_django.sandbox.server import LiveSandbox


def post(url, body, headers=None):
    return requests.post(url, data=json.dumps(body), headers=headers or {}, timeout=5)


# ----------------------------------------------------------------- browser check flow


def test_browser_check_with_server_token_mints_a_pass_token_for_its_action(captchala_sandbox):
    client = CaptchaLaClient()
    sct = client.issue_server_token("login", max_uses=1)
    reply = post(
        captchala_sandbox.url + "/sandbox/solve",
        {"appKey": SANDBOX_APP_KEY, "serverToken": sct.token, "action": "login"},
    ).json()
    assert reply["code"] == 0
    token = reply["data"]["token"]
    assert token.startswith("pt_")
    result = client.validate(token, action="login")
    assert result.valid and result.action == "login"


def test_server_token_uses_are_limited(captchala_sandbox):
    sct = CaptchaLaClient().issue_server_token("login", max_uses=1)
    body = {"appKey": SANDBOX_APP_KEY, "serverToken": sct.token}
    assert post(captchala_sandbox.url + "/sandbox/solve", body).json()["code"] == 0
    again = post(captchala_sandbox.url + "/sandbox/solve", body)
    assert again.status_code == 400
    assert again.json()["data"]["error"] == "server_token_exhausted"


def test_unknown_server_token_and_app_key_are_refused(captchala_sandbox):
    url = captchala_sandbox.url + "/sandbox/solve"
    bad_sct = post(url, {"appKey": SANDBOX_APP_KEY, "serverToken": "sct_nope"}).json()
    assert bad_sct["data"]["error"] == "server_token_invalid"
    assert post(url, {"appKey": "nope"}).json()["data"]["error"] == "invalid_app_key"


def test_expired_server_token_is_refused():
    sandbox = Sandbox()
    reply = sandbox.handle(
        "POST",
        "/v1/server/challenge/issue",
        {"X-App-Key": SANDBOX_APP_KEY, "X-App-Secret": "sandbox-app-secret"},
        json.dumps({"action": "login"}).encode(),
    )
    sct = json.loads(reply.body)["data"]["server_token"]
    sandbox.server_tokens[sct].expires_at = 0
    solved = sandbox.handle(
        "POST",
        "/sandbox/solve",
        {},
        json.dumps({"appKey": SANDBOX_APP_KEY, "serverToken": sct}).encode(),
    )
    assert json.loads(solved.body)["data"]["error"] == "server_token_expired"


def test_keep_token_leaves_the_token_usable(captchala_sandbox):
    token = captchala_sandbox.mint_pass_token()
    headers = {"X-App-Key": SANDBOX_APP_KEY, "X-App-Secret": "sandbox-app-secret"}
    first = post(
        captchala_sandbox.url + "/v1/validate", {"pass_token": token, "keep_token": True}, headers
    ).json()
    second = post(captchala_sandbox.url + "/v1/validate", {"pass_token": token}, headers).json()
    third = post(captchala_sandbox.url + "/v1/validate", {"pass_token": token}, headers).json()
    assert [first["data"]["valid"], second["data"]["valid"], third["data"]["error"]] == [
        True,
        True,
        "token_consumed",
    ]


def test_control_endpoints_mint_and_switch_faults_over_http(captchala_sandbox):
    minted = post(captchala_sandbox.url + "/sandbox/mint", {"action": "login"}).json()
    token = minted["data"]["token"]
    faults = post(captchala_sandbox.url + "/sandbox/faults", {"mode": "error", "count": 1})
    assert faults.json()["data"]["mode"] == "error"
    client = CaptchaLaClient()
    with pytest.raises(Exception, match="HTTP 503"):
        client.validate(token)
    assert client.validate(token).valid  # the fault applied to one call only
    stats = requests.get(captchala_sandbox.url + "/sandbox/stats", timeout=5).json()
    assert stats["data"]["stats"]["validate"] == 2
    bad = post(captchala_sandbox.url + "/sandbox/faults", {"mode": "explode"})
    assert bad.status_code == 400


def test_fault_can_target_one_endpoint(captchala_sandbox):
    captchala_sandbox.set_fault("error", endpoint="issue")
    client = CaptchaLaClient()
    assert client.validate(captchala_sandbox.mint_pass_token()).valid
    with pytest.raises(Exception, match="HTTP 503"):
        client.issue_server_token("login")


def test_reset_releases_held_requests():
    with LiveSandbox() as live:
        live.set_fault("timeout", hang_seconds=60)
        import threading
        import time

        errors = []

        def call():
            try:
                CaptchaLaClient(api_url=live.url, timeout=30).validate(live.mint_pass_token())
            except Exception as exc:  # noqa: BLE001 - asserted below
                errors.append(exc)

        thread = threading.Thread(target=call)
        started = time.monotonic()
        thread.start()
        while live.count("validate") == 0:
            thread.join(0.01)
        live.clear_faults()
        thread.join(10)
        assert not thread.is_alive() and time.monotonic() - started < 10
        assert len(errors) == 1


# ----------------------------------------------------------------- ways of running


@pytest.mark.django_db(transaction=True)
def test_mounted_in_a_django_project(live_server, settings):
    settings.DEBUG = True
    settings.CAPTCHALA_SANDBOX = True
    base = live_server.url + "/captchala-sandbox"
    token = post(base + "/sandbox/mint", {"action": "login"}).json()["data"]["token"]
    client = CaptchaLaClient(api_url=base)
    result = client.validate(token, "127.0.0.1", action="login")
    assert result.valid
    assert client.validate(token).code == "token_consumed"
    loader = requests.get(base + "/captchala-loader.js", timeout=5)
    assert loader.headers["Content-Type"] == "application/javascript"
    assert b"loadCaptchala" in loader.content


@pytest.mark.django_db(transaction=True)
def test_mounted_sandbox_is_off_without_debug(live_server, settings):
    settings.DEBUG = False
    settings.CAPTCHALA_SANDBOX = True
    reply = post(live_server.url + "/captchala-sandbox/sandbox/mint", {})
    assert reply.status_code == 404


def test_standalone_command_serves_the_api():
    with __import__("socket").socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "captchala_django.sandbox", "--port", str(port), "--quiet"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        banner = proc.stdout.readline()  # printed once the socket is bound
        assert f"127.0.0.1:{port}" in banner
        url = f"http://127.0.0.1:{port}"
        token = post(url + "/sandbox/mint", {}).json()["data"]["token"]
        assert CaptchaLaClient(api_url=url).validate(token).valid
    finally:
        proc.terminate()
        proc.wait(10)


def test_standalone_command_serves_only_loopback_and_allowed_hosts():
    with __import__("socket").socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = [sys.executable, "-m", "captchala_django.sandbox", "--port", str(port), "--quiet"]
    proc = subprocess.Popen(
        [*command, "--allow-host", "sandbox.internal", "--allow-host", "Other.Internal"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        proc.stdout.readline()  # printed once the socket is bound
        assert request(port, "POST", "/sandbox/mint", "evil.example").status == 403
        for host in ("sandbox.internal", f"other.internal:{port}", "localhost"):
            assert request(port, "POST", "/sandbox/mint", host).status == 200, host
    finally:
        proc.terminate()
        proc.wait(10)


def test_pytest_plugin_points_settings_at_the_live_sandbox(
    pytestconfig, settings, captchala_sandbox
):
    assert pytestconfig.pluginmanager.has_plugin("captchala_sandbox")
    assert settings.CAPTCHALA_API_URL == captchala_sandbox.url
    assert settings.CAPTCHALA_OFFLINE_API_URL == captchala_sandbox.url + "/api/validate"
    assert captchala_sandbox.count("requests") == 0  # reset for each test


# ----------------------------------------------------------------- who may call the server


def request(port, method, path, host, body=b"{}", headers=None):
    """One request to 127.0.0.1:``port`` with ``host`` as its Host header (None: no Host).

    Returns the response, read: ``.status``, ``.getheader()``, ``.data``.
    """
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        if host is not None:
            conn.putheader("Host", host)
        for name, value in (headers or {}).items():
            conn.putheader(name, value)
        conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        response = conn.getresponse()
        response.data = response.read()
        return response
    finally:
        conn.close()


def cors_headers(response):
    return {k for k, _ in response.getheaders() if k.lower().startswith("access-control-")}


FORGED_HOSTS = [
    "evil.example",
    "evil.example:{port}",
    "localhost.evil.example",
    "127.0.0.1.nip.io:{port}",
    "[::2]:{port}",
    "",
    None,
]


@pytest.mark.parametrize(
    "path, body",
    [
        ("/sandbox/faults", {"mode": "error"}),
        ("/sandbox/mint", {"action": "login"}),
        ("/sandbox/reset", {}),
        ("/v1/validate", {"pass_token": "TOKEN"}),
        ("/sandbox/solve", {"appKey": SANDBOX_APP_KEY}),
    ],
)
def test_a_forged_host_is_refused_and_changes_nothing(captchala_sandbox, path, body):
    """What a DNS-rebinding page sends: its own host name in Host, to the loopback port."""
    live = captchala_sandbox
    token = live.mint_pass_token("login")
    live.set_fault("none", latency_ms=1)  # a reset would clear it
    if "pass_token" in body:
        body = {"pass_token": token}
    headers = {"X-App-Key": SANDBOX_APP_KEY, "X-App-Secret": "sandbox-app-secret"}
    for host in FORGED_HOSTS:
        host = None if host is None else host.format(port=live.port)
        reply = request(live.port, "POST", path, host, json.dumps(body).encode(), headers)
        assert reply.status == 403, host
        assert reply.getheader("Content-Type", "").startswith("text/plain")
        assert token.encode() not in reply.data and not cors_headers(reply)
        assert (live.faults.mode, live.faults.latency_ms) == ("none", 1)
        assert list(live.tokens) == [token] and live.calls_for(token) == 0
        assert not live.stats, host  # not even counted


LOOPBACK_HOSTS = [
    "127.0.0.1",
    "127.0.0.1:{port}",
    "127.9.8.7:{port}",
    "localhost",
    "LocalHost:{port}",
    "[::1]",
    "[::1]:{port}",
]


def test_loopback_hosts_are_served(captchala_sandbox):
    port = captchala_sandbox.port
    for host in LOOPBACK_HOSTS:
        host = host.format(port=port)
        reply = request(port, "POST", "/sandbox/mint", host)
        assert reply.status == 200, host
        assert json.loads(reply.data)["data"]["token"] in captchala_sandbox.tokens
        assert request(port, "GET", "/sandbox/stats", host, b"").status == 200, host


def test_allowed_hosts_lets_named_hosts_in():
    def mint(live, host):
        return request(live.port, "POST", "/sandbox/mint", host).status

    names = ["sandbox.internal", "Other.Internal:8765"]  # a port given is not checked
    with LiveSandbox(None, "127.0.0.1", 0, False, allowed_hosts=names) as live:
        for host in ("sandbox.internal", f"SANDBOX.internal:{live.port}", "other.internal"):
            assert mint(live, host) == 200, host
        assert mint(live, "localhost") == 200
        assert mint(live, "evil.example") == 403
        assert mint(live, "sandbox.internal.evil") == 403
        assert len(live.tokens) == 4
    with LiveSandbox() as live:  # none by default
        assert mint(live, "sandbox.internal") == 403


def test_cors_only_on_the_loader_and_the_browser_check(captchala_sandbox):
    port = captchala_sandbox.port
    host = f"127.0.0.1:{port}"
    origin = {"Origin": "http://evil.example"}
    preflight = {
        **origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type",
    }
    solve = json.dumps({"appKey": SANDBOX_APP_KEY}).encode()
    for path in ("/captchala-loader.js", "/loader.js"):
        loader = request(port, "GET", path, host, b"", origin)
        assert loader.status == 200 and loader.getheader("Access-Control-Allow-Origin") == "*"
    solved = request(port, "POST", "/sandbox/solve", host, solve, origin)
    assert solved.status == 200 and solved.getheader("Access-Control-Allow-Origin") == "*"
    allowed = request(port, "OPTIONS", "/sandbox/solve", host, b"", preflight)
    assert allowed.status in (200, 204)
    assert allowed.getheader("Access-Control-Allow-Origin") == "*"
    assert "POST" in allowed.getheader("Access-Control-Allow-Methods")

    for path in ("/sandbox/faults", "/sandbox/mint", "/sandbox/reset", "/v1/validate"):
        refused = request(port, "OPTIONS", path, host, b"", preflight)
        assert not cors_headers(refused), path
    for method, path in [
        ("POST", "/sandbox/faults"),
        ("POST", "/sandbox/mint"),
        ("POST", "/sandbox/reset"),
        ("POST", "/v1/validate"),
        ("POST", "/api/validate"),
        ("POST", "/v1/server/challenge/issue"),
        ("GET", "/sandbox/stats"),
        ("GET", "/nope"),
    ]:
        for headers in (origin, {}):
            reply = request(port, method, path, host, b"{}", headers)
            assert not cors_headers(reply), (method, path, headers)


def test_a_cross_site_page_cannot_drive_the_control_endpoints(captchala_sandbox):
    """A page may still send a "simple" POST without a preflight: its Origin gives it away."""
    live = captchala_sandbox
    port = live.port
    host = f"127.0.0.1:{port}"
    body = json.dumps({"mode": "error"}).encode()
    for origin in ("http://evil.example", "null", "http://127.0.0.1.nip.io:8000"):
        headers = {"Origin": origin, "Content-Type": "text/plain"}
        for path in ("/sandbox/faults", "/sandbox/mint", "/sandbox/reset", "/v1/validate"):
            assert request(port, "POST", path, host, body, headers).status == 403, (origin, path)
    assert live.faults.mode == "none" and not live.tokens and not live.stats
    # A page of the developer's own site on this machine, and clients that send no Origin.
    for origin in ("http://localhost:8000", "http://[::1]:8000", f"http://127.0.0.1:{port}"):
        local = {"Origin": origin, "Content-Type": "text/plain"}
        assert request(port, "POST", "/sandbox/faults", host, body, local).status == 200
        assert live.faults.mode == "error"
    assert request(port, "POST", "/sandbox/reset", host).status == 200
    assert live.faults.mode == "none"


# ----------------------------------------------------------------- loader surface

NODE = shutil.which("node")


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_loader_offers_the_captchala_surface(captchala_sandbox, tmp_path):
    loader = requests.get(captchala_sandbox.loader_url, timeout=5).text
    script = tmp_path / "probe.js"
    script.write_text(
        textwrap.dedent("""
        const vm = require("vm");
        const fs = require("fs");
        const ctx = {setTimeout, console};
        ctx.window = ctx;
        ctx.document = {currentScript: {src: "http://127.0.0.1:1/captchala-loader.js"}};
        vm.createContext(ctx);
        vm.runInContext(fs.readFileSync(process.argv[2], "utf8"), ctx);
        ctx.loadCaptchala((C) => {
          const inst = C.init({appKey: "k", action: "login", product: "bind"});
          const chain = ["onSuccess", "onError", "onReady", "onClose"]
            .every((m) => inst[m](() => {}) === inst);
          const methods = ["bindTo", "appendTo", "showCaptcha", "verify", "reset", "destroy"]
            .every((m) => typeof inst[m] === "function");
          console.log(JSON.stringify({global: ctx.Captchala === C, chain, methods}));
        }, () => console.log("load error"));
    """)
    )
    source = tmp_path / "loader.js"
    source.write_text(loader)
    out = subprocess.run(
        [NODE, str(script), str(source)], capture_output=True, text=True, timeout=30
    )
    assert json.loads(out.stdout) == {"global": True, "chain": True, "methods": True}


def test_loader_file_is_packaged():
    import captchala_django.sandbox as pkg

    assert (Path(pkg.__file__).parent / "assets" / "loader.js").is_file()


def test_degraded_mode_makes_the_browser_check_mint_degraded_tokens(captchala_sandbox):
    captchala_sandbox.set_fault("degraded")
    reply = post(captchala_sandbox.url + "/sandbox/solve", {"appKey": SANDBOX_APP_KEY}).json()
    token = reply["data"]["token"]
    assert token.startswith("dg_")
    result = CaptchaLaClient().validate(token)
    assert (result.valid, result.degraded) == (False, True)


def test_every_endpoint_the_sandbox_guide_documents_answers(captchala_sandbox):
    """The sandbox guide's table of endpoints, checked against the running sandbox."""
    guide = Path(__file__).resolve().parent.parent / "docs" / "guides" / "sandbox.md"
    table = guide.read_text().split("## Endpoints", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    documented = []
    for row in rows:
        cell = row.split("|")[1]
        for part in cell.split(","):
            method, _, path = part.strip().strip("`").rpartition(" ")
            documented.append((method or "POST", path))
    assert len(documented) == 10
    headers = {"X-App-Key": "sandbox-app-key", "X-App-Secret": "sandbox-app-secret"}
    for method, path in documented:
        body = {"pass_token": "pt_unknown", "action": "login", "appKey": "sandbox-app-key"}
        if path.endswith("/faults"):
            body = {"mode": "none"}
        response = requests.request(
            method, captchala_sandbox.url + path, json=body, headers=headers, timeout=5
        )
        assert response.status_code == 200, (method, path, response.status_code)


def test_calls_endpoint_reports_validate_calls_per_token(captchala_sandbox):
    """``GET /sandbox/calls``: the validate calls each token carried, read-only."""
    used = captchala_sandbox.mint_pass_token("login")
    unused = captchala_sandbox.mint_pass_token("login")
    client = CaptchaLaClient()
    assert client.validate(used).valid
    assert client.validate(used).code == "token_consumed"
    assert not client.validate("pt_made-up").valid
    reply = requests.get(captchala_sandbox.url + "/sandbox/calls", timeout=5)
    assert reply.status_code == 200
    calls = reply.json()["data"]["calls"]
    assert calls == {used: 2, "pt_made-up": 1} and unused not in calls
    assert captchala_sandbox.calls_for(used) == 2
    # Reading changes nothing, and the endpoint takes no POST.
    assert requests.get(captchala_sandbox.url + "/sandbox/calls", timeout=5).json() == reply.json()
    refused = requests.post(captchala_sandbox.url + "/sandbox/calls", json={}, timeout=5)
    assert refused.status_code == 404
