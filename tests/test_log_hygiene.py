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


def test_scanner_knows_the_session_keys_made_during_the_test(no_secrets_in_logs, db):
    from django.contrib.sessions.backends.db import SessionStore

    store = SessionStore()
    store.create()
    logging.getLogger("captchala_django.checkpoints").info("session %s", store.session_key)
    assert store.session_key in no_secrets_in_logs.session_keys
    assert secrets_in(no_secrets_in_logs.texts, set(no_secrets_in_logs.session_keys))
    no_secrets_in_logs.texts.clear()  # planted; the teardown scan would fail this test


def test_provider_failure_is_logged_at_warning_with_the_exception(captchala_sandbox, db, caplog):
    from captchala_django.checkpoints import verify_and_record
    from tests.helpers import make_request, scope

    captchala_sandbox.set_fault("error")
    verify_and_record(make_request(), captchala_sandbox.mint_pass_token(), scope())
    [record] = [r for r in caplog.records if getattr(r, "captchala", None)]
    assert record.levelname == "WARNING" and record.name == "captchala_django.checkpoints"
    assert record.exc_info and record.exc_info[0].__name__ == "ProviderUnavailable"
