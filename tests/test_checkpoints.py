"""The write path, one request at a time: outcomes, classes, policies, records."""

from datetime import timedelta

import pytest
from django.db import connection, connections
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from captchala_django import checkpoints, signals
from captchala_django.checkpoints import get_passed, reset, verify_and_record
from captchala_django.models import Checkpoint, CheckpointEvent, PassToken
from tests.factories import CheckpointFactory
from tests.helpers import make_request, scope

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("captchala_sandbox")]


def kinds(checkpoint):
    return list(checkpoint.events.order_by("id").values_list("kind", flat=True))


# ----------------------------------------------------------------- verdicts and records


def test_valid_token_passes_and_records_a_checkpoint(captchala_sandbox, strategy):
    token = captchala_sandbox.mint_pass_token("login")
    outcome = verify_and_record(make_request(), token, scope(), action="login")
    assert (outcome.allowed, outcome.failure_class, outcome.degraded) == (True, None, False)
    row = Checkpoint.objects.get()
    assert outcome.checkpoint.pk == row.pk
    assert (row.status, row.version, row.attempts, row.client_ip) == ("passed", 1, 1, "203.0.113.7")
    assert row.is_passed()
    assert row.expires_at - row.passed_at == timedelta(seconds=1800)
    assert kinds(row) == ["check"]  # one record: received, sent, the reply, the decision
    record = row.events.get()
    assert (record.decision, record.code, record.failure_class) == ("allow", "ok", "")
    assert record.created_at <= record.sent_at and record.status_code == 200
    assert record.latency_ms is not None and record.detail.startswith("pt_")
    assert captchala_sandbox.calls_for(token) == 1


def test_nothing_is_stored_in_clear(captchala_sandbox, strategy):
    token = captchala_sandbox.mint_pass_token()
    request = make_request()
    request.session.save()
    verify_and_record(request, token)  # default scope: the session
    row = Checkpoint.objects.get()
    ledger = PassToken.objects.get()
    stored = " ".join(str(v) for v in Checkpoint.objects.values().get().values())
    stored += " ".join(str(v) for v in PassToken.objects.values().get().values())
    stored += " ".join(str(v) for e in CheckpointEvent.objects.values() for v in e.values())
    assert token not in stored and token[3:20] not in stored
    assert request.session.session_key not in stored
    assert "sandbox-app-secret" not in stored
    assert row.token_digest == ledger.token_digest == checkpoints.token_digest(token)
    assert len(row.scope_key) == 64


def test_invalid_token_is_denied_as_validation(captchala_sandbox, strategy):
    outcome = verify_and_record(make_request(), "pt_" + "forged" * 4, scope())
    assert (outcome.allowed, outcome.failure_class) == (False, "validation")
    row = Checkpoint.objects.get()
    assert (row.status, row.failure_class, row.failure_detail) == (
        "failed",
        "validation",
        "invalid_token",
    )


@pytest.mark.parametrize(
    "token",
    ["", None, "pt_" + "x" * 5000, "pt_ünïcode", "pt_a\x00b", "pt_a b"],
    ids=["empty", "none", "huge", "non-ascii", "nul", "space"],
)
def test_bad_input_is_refused_without_a_call_and_recorded(captchala_sandbox, token):
    outcome = verify_and_record(make_request(), token, scope())
    assert (outcome.allowed, outcome.failure_class, outcome.provider_called) == (
        False,
        "validation",
        False,
    )
    assert captchala_sandbox.count("requests") == 0
    assert kinds(Checkpoint.objects.get()) == ["check"]
    assert PassToken.objects.count() == 0


def test_same_token_twice_on_one_scope_gives_the_same_answer_and_one_call(
    captchala_sandbox, strategy
):
    token = "pt_" + "forged" * 4
    first = verify_and_record(make_request(), token, scope())
    second = verify_and_record(make_request(), token, scope())
    assert (first.allowed, first.failure_class) == (second.allowed, second.failure_class)
    assert second.from_ledger and not second.provider_called
    assert captchala_sandbox.calls_for(token) == 1


def test_reset_ends_the_retry_answer_the_token_is_a_replay(captchala_sandbox, strategy):
    token = captchala_sandbox.mint_pass_token()
    first = verify_and_record(make_request(), token, scope())
    reset(first.checkpoint.scope_key)
    again = verify_and_record(make_request(), token, scope())
    assert (again.allowed, again.failure_class, again.code) == (False, "replay", "token_reused")
    assert again.from_ledger and not again.provider_called
    assert captchala_sandbox.calls_for(token) == 1


def test_token_replayed_on_another_scope_is_refused_without_a_call(captchala_sandbox, strategy):
    token = captchala_sandbox.mint_pass_token()
    assert verify_and_record(make_request(), token, scope("alice")).allowed
    replay = verify_and_record(make_request(ip="198.51.100.1"), token, scope("mallory"))
    assert (replay.allowed, replay.failure_class, replay.provider_called) == (
        False,
        "replay",
        False,
    )
    assert captchala_sandbox.calls_for(token) == 1
    victim_ledger = PassToken.objects.get()
    assert victim_ledger.scope_key == scope("alice").key and victim_ledger.allowed is True
    assert Checkpoint.objects.get(scope_key=scope("mallory").key).failure_class == "replay"


def test_replay_of_a_failed_token_is_still_a_replay(captchala_sandbox):
    token = "pt_" + "forged" * 4
    verify_and_record(make_request(), token, scope("a"))
    assert verify_and_record(make_request(), token, scope("b")).failure_class == "replay"


# ----------------------------------------------------------------- trust: expiry and scopes


def test_expired_checkpoint_is_not_honoured(captchala_sandbox):
    CheckpointFactory(scope_key=scope().key, expired=True)
    assert get_passed(make_request(), scope()) is None
    token = captchala_sandbox.mint_pass_token()
    outcome = verify_and_record(make_request(), token, scope())
    assert outcome.provider_called and outcome.allowed
    assert Checkpoint.objects.get().version == 2


def test_a_pass_of_one_scope_never_serves_another(captchala_sandbox):
    token = captchala_sandbox.mint_pass_token()
    verify_and_record(make_request(), token, scope("alice", "transfer"))
    assert get_passed(make_request(), scope("alice", "transfer")) is not None
    assert get_passed(make_request(), scope("bob", "transfer")) is None
    assert get_passed(make_request(), scope("alice", "login")) is None


def test_passed_scope_takes_the_fast_path_without_a_call(captchala_sandbox):
    CheckpointFactory(scope_key=scope().key)
    token = captchala_sandbox.mint_pass_token()
    outcome = verify_and_record(make_request(), token, scope())
    assert outcome.allowed and not outcome.provider_called
    assert captchala_sandbox.count("requests") == 0


def test_a_failure_never_downgrades_a_valid_pass(captchala_sandbox, strategy):
    passed = verify_and_record(make_request(), captchala_sandbox.mint_pass_token(), scope())
    failed = verify_and_record(make_request(), "", scope())  # refused before the fast path
    assert not failed.allowed
    row = Checkpoint.objects.get()
    assert (row.status, row.version, row.attempts) == ("passed", 2, 2)
    assert row.expires_at == passed.checkpoint.expires_at
    assert row.token_digest == passed.checkpoint.token_digest


def test_a_pass_after_a_failure_upgrades_the_checkpoint(captchala_sandbox, strategy):
    verify_and_record(make_request(), "pt_" + "forged" * 4, scope())
    verify_and_record(make_request(), captchala_sandbox.mint_pass_token(), scope())
    row = Checkpoint.objects.get()
    assert (row.status, row.failure_class, row.version) == ("passed", "", 2)


def test_ttl_argument_sets_expiry(captchala_sandbox):
    outcome = verify_and_record(
        make_request(), captchala_sandbox.mint_pass_token(), scope(), ttl=60
    )
    row = Checkpoint.objects.get()
    assert row.expires_at - row.passed_at == timedelta(seconds=60)
    assert outcome.checkpoint.expires_at == row.expires_at


def test_reset_makes_the_scope_check_again(captchala_sandbox):
    outcome = verify_and_record(make_request(), captchala_sandbox.mint_pass_token(), scope())
    assert reset(outcome.checkpoint.scope_key, reason="by hand")
    row = Checkpoint.objects.get()
    assert (row.status, row.version, row.expires_at) == ("pending", 2, None)
    assert kinds(row)[-1] == "reset"
    assert get_passed(make_request(), scope()) is None
    assert reset("0" * 64) is False


def test_expire_ends_trust_and_keeps_status(captchala_sandbox):
    outcome = verify_and_record(make_request(), captchala_sandbox.mint_pass_token(), scope())
    assert checkpoints.expire(outcome.checkpoint.scope_key)
    row = Checkpoint.objects.get()
    assert row.status == "passed" and not row.is_passed()
    assert kinds(row)[-1] == "expired"


# ----------------------------------------------------------------- provider failures and policy


@pytest.mark.parametrize(
    ("fault", "cls"),
    [
        ("timeout", "timeout"),
        ("error", "provider"),
        ("malformed", "provider"),
        ("drop", "provider"),
    ],
)
def test_provider_failure_is_denied_by_default(captchala_sandbox, settings, fault, cls):
    settings.CAPTCHALA_TIMEOUT = 0.5
    captchala_sandbox.set_fault(fault)
    outcome = verify_and_record(make_request(), captchala_sandbox.mint_pass_token(), scope())
    assert (outcome.allowed, outcome.failure_class, outcome.degraded) == (False, cls, False)
    row = Checkpoint.objects.get()
    assert (row.status, row.failure_class) == ("failed", cls)


def test_provider_failure_is_allowed_degraded_under_allow_policy(captchala_sandbox, settings):
    settings.CAPTCHALA_ON_PROVIDER_ERROR = "allow"
    captchala_sandbox.set_fault("error")
    outcome = verify_and_record(make_request(), captchala_sandbox.mint_pass_token(), scope())
    assert (outcome.allowed, outcome.failure_class, outcome.degraded) == (True, "provider", True)
    assert Checkpoint.objects.get().status == "failed"  # not trusted for later requests
    assert get_passed(make_request(), scope()) is None


def test_bad_token_is_never_accepted_because_the_provider_was_down(captchala_sandbox, settings):
    """Under 'allow', an outage lets a request through; the next bad token is still refused."""
    settings.CAPTCHALA_ON_PROVIDER_ERROR = "allow"
    outcome = verify_and_record(make_request(), "pt_" + "forged" * 4, scope())
    assert (outcome.allowed, outcome.failure_class) == (False, "validation")


def test_configuration_error_is_denied_and_logged_at_error(captchala_sandbox, settings, caplog):
    settings.CAPTCHALA_APP_SECRET = "wrong-secret-value"
    outcome = verify_and_record(make_request(), captchala_sandbox.mint_pass_token(), scope())
    assert (outcome.allowed, outcome.failure_class) == (False, "configuration")
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert errors and errors[0].captchala["failure_class"] == "configuration"
    assert all("wrong-secret-value" not in r.getMessage() for r in caplog.records)


def test_degraded_verdict_is_refused_unless_accepted(captchala_sandbox, settings):
    refused = verify_and_record(
        make_request(), captchala_sandbox.mint_pass_token(degraded=True), scope("a")
    )
    assert (refused.allowed, refused.failure_class, refused.degraded) == (False, "provider", False)
    settings.CAPTCHALA_ACCEPT_DEGRADED = True
    accepted = verify_and_record(
        make_request(), captchala_sandbox.mint_pass_token(degraded=True), scope("b")
    )
    assert (accepted.allowed, accepted.failure_class, accepted.degraded) == (True, "provider", True)


def test_action_mismatch_is_a_validation_failure(captchala_sandbox):
    token = captchala_sandbox.mint_pass_token("register")
    outcome = verify_and_record(make_request(), token, scope(), action="login")
    assert (outcome.allowed, outcome.failure_class, outcome.code) == (
        False,
        "validation",
        "token_action_mismatch",
    )


# ----------------------------------------------------------------- logging and signals


def test_each_class_is_logged_as_its_own_class(captchala_sandbox, settings, caplog):
    settings.CAPTCHALA_TIMEOUT = 0.5
    verify_and_record(make_request(), captchala_sandbox.mint_pass_token(), scope("ok"))
    verify_and_record(make_request(), "pt_" + "forged" * 4, scope("bad"))
    verify_and_record(make_request(), "pt_" + "forged" * 4, scope("other"))
    captchala_sandbox.set_fault("timeout")
    verify_and_record(make_request(), captchala_sandbox.mint_pass_token(), scope("slow"))
    captchala_sandbox.set_fault("error")
    verify_and_record(make_request(), captchala_sandbox.mint_pass_token(), scope("down"))
    decisions = [
        (r.levelname, r.captchala["decision"], r.captchala["failure_class"])
        for r in caplog.records
        if r.name == "captchala_django.checkpoints" and hasattr(r, "captchala")
    ]
    assert decisions == [
        ("INFO", "allow", ""),
        ("INFO", "deny", "validation"),
        ("WARNING", "deny", "replay"),
        ("WARNING", "deny", "timeout"),
        ("WARNING", "deny", "provider"),
    ]
    record = [r for r in caplog.records if hasattr(r, "captchala")][0]
    for key in ("request_id", "scope_kind", "route", "latency_ms", "version"):
        assert key in record.captchala
    assert record.captchala["version"] == 1


def test_request_id_header_is_used(captchala_sandbox):
    request = make_request(HTTP_X_REQUEST_ID="req-123")
    outcome = verify_and_record(request, captchala_sandbox.mint_pass_token(), scope())
    assert outcome.checkpoint.request_id == "req-123"
    assert set(CheckpointEvent.objects.values_list("request_id", flat=True)) == {"req-123"}


def test_signals_are_sent_with_their_arguments(captchala_sandbox):
    seen = []

    def receiver(signal, sender, checkpoint, outcome, request, **kwargs):
        seen.append((signal, checkpoint.pk if checkpoint else None, outcome.allowed))

    for sig in (signals.checkpoint_passed, signals.checkpoint_failed):
        sig.connect(receiver)
    try:
        request = make_request()
        ok = verify_and_record(request, captchala_sandbox.mint_pass_token(), scope("a"))
        bad = verify_and_record(request, "pt_" + "forged" * 4, scope("b"))
    finally:
        for sig in (signals.checkpoint_passed, signals.checkpoint_failed):
            sig.disconnect(receiver)
    assert seen == [
        (signals.checkpoint_passed, ok.checkpoint.pk, True),
        (signals.checkpoint_failed, bad.checkpoint.pk, False),
    ]


def test_a_failing_signal_receiver_does_not_break_the_check(captchala_sandbox):
    def boom(**kwargs):
        raise RuntimeError("receiver bug")

    signals.checkpoint_passed.connect(boom)
    try:
        outcome = verify_and_record(make_request(), captchala_sandbox.mint_pass_token(), scope())
    finally:
        signals.checkpoint_passed.disconnect(boom)
    assert outcome.allowed


# ----------------------------------------------------------------- statement counts


def test_fast_path_is_exactly_one_query(captchala_sandbox):
    verify_and_record(make_request(), captchala_sandbox.mint_pass_token(), scope())
    with CaptureQueriesContext(connection) as queries:
        assert get_passed(make_request(), scope()) is not None
    assert len(queries) == 1
    with CaptureQueriesContext(connection) as queries:
        outcome = verify_and_record(make_request(), captchala_sandbox.mint_pass_token(), scope())
    assert outcome.allowed and not outcome.provider_called
    # The token shown with the pass is claimed as seen: in the same statement on
    # PostgreSQL, in one more elsewhere.
    assert len(queries) == (1 if connection.vendor == "postgresql" else 2)


def test_full_verification_statement_count(captchala_sandbox):
    with CaptureQueriesContext(connection) as queries:
        outcome = verify_and_record(make_request(), captchala_sandbox.mint_pass_token(), scope())
    assert outcome.allowed and outcome.persisted
    if connection.vendor == "postgresql":
        # The fast path with the claim, then the whole write: no BEGIN, no COMMIT.
        assert len(queries) == 2, [q["sql"][:60] for q in queries]
    else:  # SQLite has no data-modifying CTEs: the ledger and events are statements of their own
        data = [q["sql"] for q in queries if not q["sql"].startswith(("BEGIN", "COMMIT"))]
        assert len(data) <= 5, data


# ----------------------------------------------------------------- primary reads


@pytest.mark.django_db(transaction=True, databases=["default", "replica"])
@override_settings(DATABASE_ROUTERS=["tests.routers.ReplicaRouter"])
def test_trust_decisions_read_the_primary_not_a_stale_replica(captchala_sandbox):
    CheckpointFactory._meta.database = "replica"
    try:
        # The replica still shows a pass that the primary no longer has (it was reset).
        CheckpointFactory(scope_key=scope("stale").key)
    finally:
        CheckpointFactory._meta.database = "default"
    assert Checkpoint.objects.filter(scope_key=scope("stale").key).exists()  # read: replica
    assert get_passed(make_request(), scope("stale")) is None
    outcome = verify_and_record(make_request(), "pt_" + "forged" * 4, scope("stale"))
    assert not outcome.allowed and outcome.provider_called

    # And a fresh pass on the primary is honoured although the replica lags behind it.
    token = captchala_sandbox.mint_pass_token()
    verify_and_record(make_request(), token, scope("fresh"))
    assert not Checkpoint.objects.filter(scope_key=scope("fresh").key).exists()  # replica
    assert get_passed(make_request(), scope("fresh")) is not None
    assert Checkpoint.objects.using("default").filter(scope_key=scope("fresh").key).exists()
    assert connections["replica"].vendor == connection.vendor
