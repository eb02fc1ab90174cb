"""The sandbox mounted in a project: who may call it.

The mounted views follow the standalone server's rules: a page on another site
may load the loader and run the browser check, and nothing else; a request whose
``Host`` the project does not name is refused.
"""

import json

import pytest

from captchala_django.conf import SANDBOX_APP_KEY, SANDBOX_APP_SECRET
from captchala_django.sandbox.views import get_sandbox

BASE = "/captchala-sandbox"
API_HEADERS = {"HTTP_X_APP_KEY": SANDBOX_APP_KEY, "HTTP_X_APP_SECRET": SANDBOX_APP_SECRET}
CONTROL_PATHS = ("/sandbox/faults", "/sandbox/mint", "/sandbox/reset", "/v1/validate")
FOREIGN_ORIGINS = (
    "https://evil.example",
    "null",  # an opaque origin: a sandboxed iframe, a data: URL
    "http://testserver.evil.example",
    "http://127.0.0.1.nip.io:8000",
)


@pytest.fixture
def sandbox(settings):
    """The project's mounted sandbox, switched on and empty."""
    settings.DEBUG = True
    settings.CAPTCHALA_SANDBOX = True
    box = get_sandbox()
    box.reset()
    yield box
    box.reset()


def cors_headers(response):
    return {k for k in response.headers if k.lower().startswith("access-control-")}


def simple_post(client, path, body, **extra):
    """A POST a page may send cross-site without a preflight (``text/plain``)."""
    return client.post(BASE + path, json.dumps(body), content_type="text/plain", **extra)


def validate(client, token):
    reply = client.post(
        BASE + "/v1/validate",
        json.dumps({"pass_token": token}),
        content_type="application/json",
        **API_HEADERS,
    )
    assert reply.status_code == 200, reply.content
    return reply.json()["data"]


def test_a_cross_site_page_cannot_switch_the_fault_or_drive_the_control_endpoints(client, sandbox):
    token = sandbox.mint_pass_token("login")
    bodies = {"/sandbox/faults": {"mode": "error"}, "/v1/validate": {"pass_token": token}}
    for origin in FOREIGN_ORIGINS:
        for path in CONTROL_PATHS:
            body = bodies.get(path, {})
            reply = simple_post(client, path, body, HTTP_ORIGIN=origin, **API_HEADERS)
            assert reply.status_code == 403, (origin, path)
            assert reply["Content-Type"].startswith("text/plain")
            assert token.encode() not in reply.content and not cors_headers(reply)
    assert sandbox.faults.mode == "none"
    assert list(sandbox.tokens) == [token]  # neither reset nor minted into
    assert not sandbox.stats  # the API never saw the refused validate calls
    assert validate(client, token)["valid"] is True  # and it answers normally


def test_a_cross_site_preflight_gets_no_cors_for_the_control_endpoints(client, sandbox):
    for path in CONTROL_PATHS:
        reply = client.options(
            BASE + path,
            HTTP_ORIGIN="https://evil.example",
            HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        )
        assert not cors_headers(reply), path
    assert sandbox.faults.mode == "none"


def test_same_origin_and_origin_less_requests_drive_the_control_endpoints(client, sandbox):
    """The site's own pages, a page of the developer's on this machine, and curl."""
    origins = ["http://testserver", "https://TestServer:8443", "http://localhost:8000"]
    for origin in [*origins, "http://[::1]:5173", None]:
        extra = {} if origin is None else {"HTTP_ORIGIN": origin}
        reply = simple_post(client, "/sandbox/faults", {"mode": "error"}, **extra)
        assert reply.status_code == 200, origin
        assert sandbox.faults.mode == "error"
        assert simple_post(client, "/sandbox/reset", {}, **extra).status_code == 200
        assert sandbox.faults.mode == "none"
    token = simple_post(client, "/sandbox/mint", {}, HTTP_ORIGIN="http://testserver").json()
    assert validate(client, token["data"]["token"])["valid"] is True


def test_a_host_the_project_does_not_allow_is_refused(client, sandbox):
    reply = simple_post(client, "/sandbox/faults", {"mode": "error"}, HTTP_HOST="evil.example")
    assert reply.status_code == 400  # Django's own ALLOWED_HOSTS check
    assert sandbox.faults.mode == "none"


def test_a_wildcard_in_allowed_hosts_does_not_let_a_rebound_name_in(client, sandbox, settings):
    """A DNS-rebinding page: its own name in Host and Origin, sent to this machine."""
    settings.ALLOWED_HOSTS = ["*", "dev.example", ".internal.example"]
    rebound_posts = {
        "/sandbox/faults": {"mode": "error"},
        "/sandbox/solve": {"appKey": SANDBOX_APP_KEY},
    }
    for host in ("evil.example:8000", "localhost.evil.example", "127.0.0.1.nip.io:8000"):
        for origin in (f"http://{host}", None):
            extra = {"HTTP_HOST": host} | ({} if origin is None else {"HTTP_ORIGIN": origin})
            for path, body in rebound_posts.items():
                reply = simple_post(client, path, body, **extra)
                assert reply.status_code == 403, (host, origin, path)
            assert client.get(BASE + "/captchala-loader.js", **extra).status_code == 403
    assert sandbox.faults.mode == "none" and not sandbox.tokens
    for host in ("localhost:8000", "127.0.0.1", "dev.example:8000", "app.internal.example"):
        own = {"HTTP_HOST": host, "HTTP_ORIGIN": f"http://{host}"}
        reply = simple_post(client, "/sandbox/faults", {"mode": "error"}, **own)
        assert reply.status_code == 200, host
        assert sandbox.faults.mode == "error"
        sandbox.clear_faults()


def test_loader_and_browser_check_answer_cors_to_another_origin(client, sandbox):
    origin = {"HTTP_ORIGIN": "https://evil.example"}
    for path in ("/captchala-loader.js", "/loader.js"):
        loader = client.get(BASE + path, **origin)
        assert loader.status_code == 200 and b"loadCaptchala" in loader.content
        assert loader["Access-Control-Allow-Origin"] == "*"
    preflight = client.options(
        BASE + "/sandbox/solve",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="content-type",
        **origin,
    )
    assert preflight.status_code == 204
    assert preflight["Access-Control-Allow-Origin"] == "*"
    assert "POST" in preflight["Access-Control-Allow-Methods"]
    solved = simple_post(client, "/sandbox/solve", {"appKey": SANDBOX_APP_KEY}, **origin)
    assert solved.status_code == 200 and solved["Access-Control-Allow-Origin"] == "*"
    token = solved.json()["data"]["token"]
    assert validate(client, token)["valid"] is True
    assert not cors_headers(client.get(BASE + "/sandbox/stats", **origin))
