"""Injected database faults and a real lock timeout on the checkpoint write."""

import re
import threading

import pytest
from django.db import OperationalError, connection, transaction
from django.db.models import F

from captchala_django import signals
from captchala_django.checkpoints import verify_and_record
from captchala_django.models import Checkpoint, CheckpointEvent, PassToken
from tests.helpers import make_request, run_threads, scope

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("captchala_sandbox")]

#: A statement that writes the checkpoint row (not one that only reads it).
CHECKPOINT_WRITE = re.compile(
    r"\b(INSERT\s+INTO|UPDATE)\s+\"?captchala_django_checkpoint\b(?!event)", re.I | re.S
)


class FailCheckpointWrites:
    """``connection.execute_wrapper`` that fails the first ``times`` checkpoint writes."""

    def __init__(self, times: int):
        self.times = times
        self.raised = 0

    def __call__(self, execute, sql, params, many, context):
        if self.raised < self.times and CHECKPOINT_WRITE.search(sql):
            self.raised += 1
            raise OperationalError("injected fault: server closed the connection")
        return execute(sql, params, many, context)


@pytest.fixture
def degraded_signals():
    seen = []

    def receiver(sender, checkpoint, outcome, request, **kwargs):
        seen.append(outcome)

    signals.checkpoint_degraded.connect(receiver)
    yield seen
    signals.checkpoint_degraded.disconnect(receiver)


def test_one_failed_write_is_retried_and_succeeds(captchala_sandbox, strategy, caplog):
    fault = FailCheckpointWrites(1)
    with connection.execute_wrapper(fault):
        outcome = verify_and_record(make_request(), captchala_sandbox.mint_pass_token(), scope())
    assert fault.raised == 1
    assert (outcome.allowed, outcome.failure_class, outcome.persisted) == (True, None, True)
    row = Checkpoint.objects.get()
    assert (row.status, row.version) == ("passed", 1)
    assert CheckpointEvent.objects.count() == 1
    assert any("retrying once" in r.getMessage() for r in caplog.records)
    assert not [r for r in caplog.records if r.levelname == "ERROR"]


def test_valid_verdict_survives_two_failed_writes_degraded(
    captchala_sandbox, strategy, caplog, degraded_signals
):
    token = captchala_sandbox.mint_pass_token()
    fault = FailCheckpointWrites(2)
    with connection.execute_wrapper(fault):
        outcome = verify_and_record(make_request(), token, scope())
    assert fault.raised == 2
    assert (outcome.allowed, outcome.degraded, outcome.failure_class, outcome.persisted) == (
        True,
        True,
        "persistence",
        False,
    )
    assert outcome.checkpoint is None
    assert Checkpoint.objects.count() == 0 and CheckpointEvent.objects.count() == 0
    assert degraded_signals == [outcome]
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert any("write failed twice" in r.getMessage() for r in errors)
    assert any(getattr(r, "captchala", {}).get("failure_class") == "persistence" for r in errors)
    # The ledger keeps the valid verdict: a retry within the window writes it now,
    # without a second provider call.
    assert PassToken.objects.get().state == "done"
    again = verify_and_record(make_request(), token, scope())
    assert (again.allowed, again.degraded, again.from_ledger) == (True, False, True)
    assert Checkpoint.objects.get().is_passed()
    assert captchala_sandbox.calls_for(token) == 1


def test_persistence_deny_policy_denies_after_two_failed_writes(captchala_sandbox, settings):
    settings.CAPTCHALA_ON_PERSISTENCE_ERROR = "deny"
    with connection.execute_wrapper(FailCheckpointWrites(2)):
        outcome = verify_and_record(make_request(), captchala_sandbox.mint_pass_token(), scope())
    assert (outcome.allowed, outcome.degraded, outcome.failure_class) == (
        False,
        False,
        "persistence",
    )


def test_invalid_verdict_with_failed_writes_is_still_denied(captchala_sandbox, strategy, caplog):
    with connection.execute_wrapper(FailCheckpointWrites(2)):
        outcome = verify_and_record(make_request(), "pt_" + "forged" * 4, scope())
    assert (outcome.allowed, outcome.failure_class, outcome.persisted) == (
        False,
        "validation",
        False,
    )
    assert Checkpoint.objects.count() == 0
    assert any("write failed twice" in r.getMessage() for r in caplog.records)


def test_ledger_outage_does_not_block_a_valid_verdict(captchala_sandbox):
    def fail_ledger(execute, sql, params, many, context):
        if "captchala_django_passtoken" in sql:
            raise OperationalError("injected: ledger table unavailable")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(fail_ledger):
        outcome = verify_and_record(make_request(), captchala_sandbox.mint_pass_token(), scope())
    # The claim failed, so did the write that carries the ledger row: degraded, not denied.
    assert (outcome.allowed, outcome.degraded, outcome.failure_class, outcome.provider_called) == (
        True,
        True,
        "persistence",
        True,
    )


def test_a_retry_of_a_passed_token_while_the_ledger_is_down_is_retry_later(captchala_sandbox):
    """Found by the soak: the check passed, the view's own write then failed (503) and the
    user sent the same token again while the database was still away. Without the ledger
    nothing tells that retry from a replay, and CaptchaLa says the token is consumed: the
    answer is "try again later" (class persistence), never "the check was not passed"
    (which would ask the user to solve again for our outage), and never a pass."""
    token = captchala_sandbox.mint_pass_token()
    assert verify_and_record(make_request(), token, scope(), reuse=False).allowed

    def fail_ledger(execute, sql, params, many, context):
        if "captchala_django_passtoken" in sql:
            raise OperationalError("injected: ledger table unavailable")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(fail_ledger):
        retry = verify_and_record(make_request(), token, scope(), reuse=False)
    assert (retry.allowed, retry.failure_class, retry.retry_later) == (False, "persistence", True)
    assert retry.code == "token_consumed" and captchala_sandbox.calls_for(token) == 2
    # A made-up token is still plainly invalid while the ledger is down.
    with connection.execute_wrapper(fail_ledger):
        forged = verify_and_record(make_request(), "pt_" + "forged" * 4, scope(), reuse=False)
    assert (forged.allowed, forged.failure_class) == (False, "validation")


def test_a_consumed_token_judged_while_the_claim_failed_never_becomes_a_pass(captchala_sandbox):
    """The claim failed, CaptchaLa said "consumed" (class persistence: try again later) and
    the write then stored that answer on the ledger. A resubmission within the retry window
    repeats the answer: it is no valid verdict waiting to be written."""
    from captchala_django.client import get_client

    token = captchala_sandbox.mint_pass_token()
    assert get_client().validate(token, None).valid  # used once, elsewhere
    failed = []

    def fail_the_claim(execute, sql, params, many, context):
        if "captchala_django_passtoken" in sql and not failed:
            failed.append(sql)
            raise OperationalError("injected: the claim's statement failed")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(fail_the_claim):
        first = verify_and_record(make_request(), token, scope())
    assert (first.allowed, first.failure_class, first.code) == (
        False,
        "persistence",
        "token_consumed",
    )
    assert PassToken.objects.get().failure_class == "persistence"
    again = verify_and_record(make_request(), token, scope())
    assert not again.allowed and again.failure_class is not None
    assert not Checkpoint.objects.filter(status="passed").exists()
    assert not PassToken.objects.filter(allowed=True).exists()


@pytest.mark.parametrize("valid", [True, False], ids=["valid", "invalid"])
def test_real_lock_timeout_from_a_concurrent_transaction(captchala_sandbox, valid, caplog):
    """Another transaction holds the row (PostgreSQL) or the write lock (SQLite)."""
    verify_and_record(make_request(), "", scope())  # the row exists, failed
    row = Checkpoint.objects.get()
    locked, release = threading.Event(), threading.Event()

    def hold():
        try:
            with transaction.atomic():
                Checkpoint.objects.filter(pk=row.pk).update(attempts=F("attempts"))
                locked.set()
                release.wait(30)
        finally:
            connection.close()

    holder = threading.Thread(target=hold)
    holder.start()
    assert locked.wait(30)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET lock_timeout = 300")
        else:
            cursor.execute("PRAGMA busy_timeout = 300")
    token = captchala_sandbox.mint_pass_token() if valid else "pt_" + "forged" * 4
    try:
        outcome = verify_and_record(make_request(), token, scope())
    finally:
        release.set()
        holder.join(30)
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("SET lock_timeout = 0")
            else:
                cursor.execute("PRAGMA busy_timeout = 20000")
    assert outcome.persisted is False
    if valid:
        assert (outcome.allowed, outcome.degraded, outcome.failure_class) == (
            True,
            True,
            "persistence",
        )
    else:
        assert (outcome.allowed, outcome.failure_class) == (False, "validation")
    row.refresh_from_db()
    assert row.version == 1  # nothing was written past the lock
    failures = [r.getMessage() for r in caplog.records if "write failed twice" in r.getMessage()]
    assert failures and ("lock timeout" in failures[0] or "database is locked" in failures[0])


def test_two_resubmissions_at_once_of_an_unwritten_pass_let_one_form_through(
    captchala_sandbox, settings, monkeypatch
):
    """A form field (one submission per token) under ``ON_PERSISTENCE_ERROR = "deny"``: the
    submission was refused because its valid verdict could not be written, so the next
    submission of that token writes it. Two sent at once, both having read the ledger
    before either writes: exactly one is let through (DESIGN §8: one token, one form)."""
    from captchala_django.checkpoints import answers

    settings.CAPTCHALA_ON_PERSISTENCE_ERROR = "deny"
    token = captchala_sandbox.mint_pass_token()
    with connection.execute_wrapper(FailCheckpointWrites(times=2)):
        first = verify_and_record(make_request(), token, scope("victim"), reuse=False)
    assert (first.allowed, first.failure_class) == (False, "persistence")

    both_read = threading.Barrier(2, timeout=30)
    real = answers.retry_answer
    first_reads = iter(range(2))

    def after_both_read(att, claim, row):
        if next(first_reads, None) is not None:
            both_read.wait()  # the race made certain: each saw the unwritten verdict
        return real(att, claim, row)

    monkeypatch.setattr(answers, "retry_answer", after_both_read)
    results, errors = run_threads(
        2, lambda i: verify_and_record(make_request(), token, scope("victim"), reuse=False)
    )
    assert errors == []
    assert sorted(o.allowed for o in results) == [False, True], [o.code for o in results]
    assert captchala_sandbox.count("validate") == 1  # the token was never sent again
    assert Checkpoint.objects.get().status == "passed"
