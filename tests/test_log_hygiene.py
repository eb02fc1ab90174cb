"""The suite-wide log scan (``conftest.no_secrets_in_logs``) really sees leaks."""

import logging

from tests.conftest import secrets_in


def test_scanner_sees_records_of_library_loggers_and_their_extras(
    no_secrets_in_logs, captchala_sandbox
):
    token = captchala_sandbox.mint_pass_token()
    logging.getLogger("captchala_django.checkpoints").debug("saw %s", token)
    logging.getLogger("captchala_django.client").info("x", extra={"tok": token})
    assert len(secrets_in(no_secrets_in_logs.texts, {token})) == 2
    no_secrets_in_logs.texts.clear()  # the planted leaks must not fail this test


def test_client_logs_no_token_or_secret(no_secrets_in_logs, captchala_sandbox):
    from captchala_django.client import CaptchaLaClient

    token = captchala_sandbox.mint_pass_token()
    CaptchaLaClient().validate(token, "203.0.113.5")
    assert no_secrets_in_logs.texts, "the client logs each call at DEBUG"
    assert secrets_in(no_secrets_in_logs.texts, {token, "sandbox-app-secret"}) == []
