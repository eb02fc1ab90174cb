"""CaptchaLaClient over real HTTP against the live sandbox."""

import json
import logging
import socket
import threading
import time

import pytest

from captchala_django.client import (
    CaptchaLaClient,
    ServerToken,
    get_session,
    reset_session,
)
from captchala_django.conf import SANDBOX_APP_SECRET
from captchala_django.exceptions import (
    ConfigurationError,
    ProviderRateLimited,
    ProviderRejected,
    ProviderResponseError,
    ProviderTimeout,
    ProviderUnavailable,
)
from captchala_django.tokens import TOKEN_MAX_BYTES, token_hint
from tests.helpers import VALID, JsonServer, free_port  # noqa: E402

pytestmark = pytest.mark.usefixtures("captchala_sandbox")


@pytest.fixture
def client():
    return CaptchaLaClient()


# ----------------------------------------------------------------- verdicts


def test_valid_token_is_a_valid_verdict_with_details(client, captchala_sandbox):
    token = captchala_sandbox.mint_pass_token("login")
    result = client.validate(token, "203.0.113.9")
    assert result.valid is True
    assert result.code == "ok"
    assert result.action == "login"
    assert result.risk_score == 12
    assert result.captcha_args["user_ip"] == "203.0.113.9"
    assert result.challenge_id.startswith("ch_")
    assert result.latency_ms > 0
    assert captchala_sandbox.count("validate") == 1


def test_request_sends_keys_in_headers_and_consumes_the_token(client, captchala_sandbox):
    token = captchala_sandbox.mint_pass_token()
    client.validate(token, "198.51.100.7")
    sent = captchala_sandbox.last_requests[-1]
    body = json.loads(sent["body"])
    assert body == {"pass_token": token, "keep_token": False, "client_ip": "198.51.100.7"}
    assert sent["headers"]["x-app-secret"] == SANDBOX_APP_SECRET
    assert sent["headers"]["x-app-key"] == client.app_key
    assert SANDBOX_APP_SECRET not in sent["body"].decode()
    assert sent["headers"]["user-agent"].startswith("captchala-django/")


def test_client_ip_is_left_out_when_disabled(captchala_sandbox, settings):
    settings.CAPTCHALA_SEND_CLIENT_IP = False
    CaptchaLaClient().validate(captchala_sandbox.mint_pass_token(), "198.51.100.7")
    assert "client_ip" not in json.loads(captchala_sandbox.last_requests[-1]["body"])
    # The server token's binding is the client's address too: left out as well.
    CaptchaLaClient().issue_server_token("login", binding_ip="198.51.100.7", ttl=60)
    sent = captchala_sandbox.last_requests[-1]["body"]
    assert "binding_ip" not in json.loads(sent) and b"198.51.100.7" not in sent


def test_second_validate_of_a_token_is_token_consumed(client, captchala_sandbox):
    token = captchala_sandbox.mint_pass_token()
    assert client.validate(token).valid
    again = client.validate(token)
    assert (again.valid, again.code) == (False, "token_consumed")


@pytest.mark.parametrize(
    ("mint", "code"),
    [
        (lambda sb: "pt_" + "forged" * 5, "invalid_token"),
        (lambda sb: sb.mint_pass_token(ttl=-1), "token_expired"),
    ],
    ids=["forged", "expired"],
)
def test_invalid_tokens_are_invalid_verdicts(client, captchala_sandbox, mint, code):
    result = client.validate(mint(captchala_sandbox))
    assert (result.valid, result.code, result.degraded) == (False, code, False)


def test_degraded_token_is_reported_as_degraded(client, captchala_sandbox):
    result = client.validate(captchala_sandbox.mint_pass_token(degraded=True))
    assert (result.valid, result.degraded, result.code) == (False, True, "quota_exhausted")


def test_action_mismatch_is_invalid(client, captchala_sandbox):
    token = captchala_sandbox.mint_pass_token("register")
    result = client.validate(token, action="login")
    assert (result.valid, result.code, result.action) == (
        False,
        "token_action_mismatch",
        "register",
    )


def test_matching_action_is_valid(client, captchala_sandbox):
    assert client.validate(captchala_sandbox.mint_pass_token("login"), action="login").valid


def test_rate_limited_is_no_verdict_but_a_provider_error(client, captchala_sandbox):
    """The provider's rate limit says nothing about the token: try again later."""
    captchala_sandbox.set_fault("rate_limit")
    with pytest.raises(ProviderRateLimited) as caught:
        client.validate(captchala_sandbox.mint_pass_token())
    assert (caught.value.code, caught.value.status) == ("rate_limit_exceeded", 429)
    assert isinstance(caught.value, ProviderUnavailable)


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (200, {"code": 429, "msg": "x", "data": {"valid": False, "error": "rate_limit_exceeded"}}),
        (429, {"code": 42900, "msg": "slow down", "data": {}}),
        (429, {"code": 0, "msg": "", "data": {"valid": False, "error": "invalid_token"}}),
    ],
    ids=["in-envelope", "http-429", "429-with-a-verdict"],
)
def test_rate_limit_in_the_envelope_or_the_status_is_a_provider_error(
    client, captchala_sandbox, status, body
):
    captchala_sandbox.set_fault("reply", status=status, body=body)
    with pytest.raises(ProviderRateLimited):
        client.validate(captchala_sandbox.mint_pass_token())


# ----------------------------------------------------------------- envelope shapes


@pytest.mark.parametrize(
    ("status", "body", "valid", "code"),
    [
        (200, {"code": 0, "msg": "ok", "data": {"ok": True}}, True, "ok"),
        (200, {"code": 0, "msg": "ok", "data": {"ok": False, "error": "x_err"}}, False, "x_err"),
        (
            200,
            {"code": 0, "msg": "token_expired", "data": {"valid": False}},
            False,
            "token_expired",
        ),
        (400, {"code": 1001, "msg": "invalid_token"}, False, "invalid_token"),
        (200, {"code": 7, "error": "token_ip_mismatch", "data": None}, False, "token_ip_mismatch"),
        (503, {"code": 0, "data": {"valid": True}}, True, "ok"),
        (
            500,
            {"code": 1, "data": {"valid": False, "error": "token_consumed"}},
            False,
            "token_consumed",
        ),
    ],
    ids=[
        "ok-flag",
        "ok-false",
        "msg-fallback",
        "nonzero-code",
        "top-error",
        "5xx-verdict",
        "5xx-invalid",
    ],
)
def test_envelope_is_parsed_whatever_the_status(
    client, captchala_sandbox, status, body, valid, code
):
    captchala_sandbox.set_fault("reply", status=status, body=body)
    result = client.validate(captchala_sandbox.mint_pass_token())
    assert (result.valid, result.code) == (valid, code)
    assert result.raw == body


def test_risk_score_is_read_from_captcha_args_too(client, captchala_sandbox):
    body = {"code": 0, "data": {"valid": True, "captcha_args": {"risk_score": 88}}}
    captchala_sandbox.set_fault("reply", status=200, body=body)
    assert client.validate(captchala_sandbox.mint_pass_token()).risk_score == 88


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (200, "<html>hello</html>", ProviderResponseError),
        (200, [1, 2, 3], ProviderResponseError),
        (200, {"msg": "no code"}, ProviderResponseError),
        (200, {"code": "0", "data": {"valid": True}}, ProviderResponseError),
        (200, {"code": 0, "data": "valid"}, ProviderResponseError),
        (200, {"code": 0, "msg": "ok", "data": {}}, ProviderResponseError),
        (200, "x" * 70000, ProviderResponseError),
        (502, "<html>bad gateway</html>", ProviderUnavailable),
        (500, {"code": 500, "msg": "internal"}, ProviderUnavailable),
    ],
    ids=[
        "html",
        "list",
        "no-code",
        "string-code",
        "string-data",
        "no-verdict",
        "huge",
        "502-html",
        "500-no-verdict",
    ],
)
def test_malformed_replies_raise(client, captchala_sandbox, status, body, error):
    captchala_sandbox.set_fault("reply", status=status, body=body)
    with pytest.raises(error):
        client.validate(captchala_sandbox.mint_pass_token())


# ----------------------------------------------------------------- local refusals


@pytest.mark.parametrize(
    ("token", "code"),
    [
        ("", "missing_token"),
        (None, "missing_token"),
        ("pt_" + "a" * TOKEN_MAX_BYTES, "token_too_long"),
        ("pt_héllo", "malformed_token"),
        ("pt_abc\x00def", "malformed_token"),
        ("pt_abc def", "malformed_token"),
        ("pt_abc\ndef", "malformed_token"),
    ],
    ids=["empty", "none", "oversized", "non-ascii", "nul", "space", "newline"],
)
def test_bad_tokens_are_refused_without_a_call(client, captchala_sandbox, token, code):
    result = client.validate(token)
    assert (result.valid, result.code, result.called) == (False, code, False)
    assert captchala_sandbox.count("requests") == 0


def test_client_only_tokens_are_refused_without_a_call(client, captchala_sandbox):
    result = client.validate("client_abcdef123456")
    assert (result.valid, result.code) == (False, "client_token_refused")
    assert captchala_sandbox.count("requests") == 0


def test_client_only_tokens_can_be_allowed(captchala_sandbox, settings):
    settings.CAPTCHALA_ACCEPT_CLIENT_ONLY = True
    result = CaptchaLaClient().validate("client_abcdef123456")
    assert (result.valid, result.code, result.called) == (True, "client_only", False)
    assert captchala_sandbox.count("requests") == 0


def test_offline_tokens_go_to_the_offline_url(client, captchala_sandbox):
    token = captchala_sandbox.mint_pass_token(prefix="offline_")
    assert client.validate(token).valid
    assert captchala_sandbox.count("/api/validate") == 1
    assert captchala_sandbox.count("/v1/validate") == 0


# ----------------------------------------------------------------- faults


def test_timeout_is_honoured_and_not_retried(captchala_sandbox):
    captchala_sandbox.set_fault("timeout")
    client = CaptchaLaClient(timeout=1.0)
    started = time.monotonic()
    with pytest.raises(ProviderTimeout):
        client.validate(captchala_sandbox.mint_pass_token())
    elapsed = time.monotonic() - started
    assert 0.9 <= elapsed < 1.5
    assert captchala_sandbox.count("validate") == 1


def test_latency_below_the_timeout_still_gives_a_verdict(captchala_sandbox):
    captchala_sandbox.set_fault("none", latency_ms=300)
    client = CaptchaLaClient(timeout=2.0)
    result = client.validate(captchala_sandbox.mint_pass_token())
    assert result.valid and result.latency_ms >= 290


def test_5xx_is_provider_unavailable_and_not_retried(client, captchala_sandbox):
    captchala_sandbox.set_fault("error", status=503)
    with pytest.raises(ProviderUnavailable) as info:
        client.validate(captchala_sandbox.mint_pass_token())
    assert not isinstance(info.value, ProviderTimeout)
    assert info.value.status == 503
    assert captchala_sandbox.count("validate") == 1


def test_malformed_json_is_a_response_error(client, captchala_sandbox):
    captchala_sandbox.set_fault("malformed")
    with pytest.raises(ProviderResponseError):
        client.validate(captchala_sandbox.mint_pass_token())


def test_dropped_connection_is_unavailable_and_not_retried(client, captchala_sandbox, caplog):
    captchala_sandbox.set_fault("drop")
    with pytest.raises(ProviderUnavailable) as info:
        client.validate(captchala_sandbox.mint_pass_token())
    assert not isinstance(info.value, ProviderTimeout)
    assert captchala_sandbox.count("validate") == 1


def test_refused_connection_is_retried_once_then_unavailable(caplog):
    client = CaptchaLaClient(api_url=f"http://127.0.0.1:{free_port()}")
    with caplog.at_level(logging.WARNING, logger="urllib3"), pytest.raises(ProviderUnavailable):
        client.validate("pt_" + "a" * 20)
    retries = [r for r in caplog.records if "Retrying" in r.getMessage()]
    assert len(retries) == 1


def test_a_connection_reset_after_sending_is_not_retried():
    """A raw server that reads the request, then closes: one connection, no retry."""
    accepted = []
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)

    def serve():
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            accepted.append(conn)
            conn.recv(65536)
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        client = CaptchaLaClient(api_url=f"http://127.0.0.1:{server.getsockname()[1]}")
        with pytest.raises(ProviderUnavailable):
            client.validate("pt_" + "a" * 20)
    finally:
        server.close()
    assert len(accepted) == 1


@pytest.mark.parametrize(
    ("key", "secret", "disable", "code", "status"),
    [
        ("nope", SANDBOX_APP_SECRET, False, "invalid_app_key", 401),
        (None, "wrong-secret", False, "invalid_app_secret", 401),
        (None, None, True, "app_disabled", 403),
    ],
)
def test_bad_keys_are_configuration_errors(captchala_sandbox, key, secret, disable, code, status):
    if disable:
        captchala_sandbox.set_fault("disabled")
    client = CaptchaLaClient(app_key=key, app_secret=secret)
    with pytest.raises(ConfigurationError) as info:
        client.validate(captchala_sandbox.mint_pass_token())
    assert (info.value.code, info.value.status) == (code, status)
    assert "wrong-secret" not in str(info.value)


def test_configuration_code_with_status_200_is_still_a_configuration_error(
    client, captchala_sandbox
):
    body = {"code": 0, "data": {"valid": False, "error": "app_disabled"}}
    captchala_sandbox.set_fault("reply", status=200, body=body)
    with pytest.raises(ConfigurationError):
        client.validate(captchala_sandbox.mint_pass_token())


# ----------------------------------------------------------------- pooling and threads


@pytest.mark.usefixtures("fresh_session")
def test_100_validations_open_one_tcp_connection(client, captchala_sandbox):
    tokens = [captchala_sandbox.mint_pass_token() for _ in range(100)]
    assert all(client.validate(token).valid for token in tokens)
    assert captchala_sandbox.count("validate") == 100
    assert captchala_sandbox.count("connections") == 1


@pytest.mark.usefixtures("fresh_session")
def test_16_threads_share_the_session_without_errors(captchala_sandbox):
    tokens = [captchala_sandbox.mint_pass_token() for _ in range(16 * 5)]
    results, errors = [], []
    barrier = threading.Barrier(16)

    def work(chunk):
        client = CaptchaLaClient()
        barrier.wait()
        for token in chunk:
            try:
                results.append(client.validate(token).valid)
            except Exception as exc:  # noqa: BLE001 - collected and asserted
                errors.append(exc)

    threads = [threading.Thread(target=work, args=(tokens[i::16],)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert results == [True] * 80
    assert captchala_sandbox.count("validate") == 80
    assert captchala_sandbox.count("connections") <= 16


def test_session_is_one_per_process():
    assert get_session() is get_session()


# ----------------------------------------------------------------- server tokens


def test_issue_server_token(client, captchala_sandbox):
    token = client.issue_server_token("login", binding_ip="203.0.113.1", ttl=60, max_uses=1)
    assert isinstance(token, ServerToken)
    assert token.token.startswith("sct_") and token.expires_in == 60
    body = json.loads(captchala_sandbox.last_requests[-1]["body"])
    assert body == {"action": "login", "binding_ip": "203.0.113.1", "ttl": 60, "max_uses": 1}
    assert token.token not in repr(token)


def test_issue_with_unknown_action_is_rejected(client):
    with pytest.raises(ProviderRejected) as info:
        client.issue_server_token("launch_rockets")
    assert info.value.code == "invalid_action"


def test_issue_with_bad_key_is_a_configuration_error():
    with pytest.raises(ConfigurationError):
        CaptchaLaClient(app_key="nope").issue_server_token("login")


def test_issue_during_outage_is_unavailable(client, captchala_sandbox):
    captchala_sandbox.set_fault("error", status=500)
    with pytest.raises(ProviderUnavailable):
        client.issue_server_token("login")


def test_token_hint_shows_no_token_value():
    token = "pt_" + "s3cr3t" * 6
    hint = token_hint(token)
    assert hint.startswith("pt_") and "s3cr3t" not in hint


# ----------------------------------------------------------------- environment (proxies)


def test_environment_proxies_are_honoured_and_read_once(clean_proxy_env):
    """HTTP(S)_PROXY and NO_PROXY work as in requests, resolved once per URL, not per call."""
    from captchala_django.client import environment_for

    with JsonServer(body=VALID) as proxy:
        clean_proxy_env.setenv("HTTP_PROXY", proxy.url)
        reset_session()
        client = CaptchaLaClient(api_url="http://127.0.0.1:9", app_key="k", app_secret="s")
        assert client.validate("pt_" + "a" * 30).valid
        assert client.validate("pt_" + "b" * 30).valid
        assert [s["line"] for s in proxy.seen] == [
            "POST http://127.0.0.1:9/v1/validate HTTP/1.1"
        ] * 2
        assert environment_for.cache_info().misses == 1  # the environment was read once
        clean_proxy_env.setenv("NO_PROXY", "127.0.0.1")
        reset_session()
        with pytest.raises(ProviderUnavailable):  # straight to port 9: nothing listens
            client.validate("pt_" + "c" * 30)
        assert len(proxy.seen) == 2
