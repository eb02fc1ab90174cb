"""Concurrency proofs: threads and processes, each with its own database connection."""

import threading
from collections import Counter

import pytest
from django.db import connection, connections

from captchala_django import checkpoints
from captchala_django.checkpoints import ledger, verify_and_record
from captchala_django.models import Checkpoint, CheckpointEvent, PassToken
from tests.factories import CheckpointFactory
from tests.helpers import Waiter, make_request, run_processes, run_threads, scope
from tests.workers import write_many

pytestmark = pytest.mark.django_db(transaction=True)


def test_32_submits_of_one_token_call_provider_once(captchala_sandbox, strategy):
    captchala_sandbox.set_fault("none", latency_ms=50)  # keep the claim in flight a while
    token = captchala_sandbox.mint_pass_token("login")
    results, errors = run_threads(
        32, lambda i: verify_and_record(make_request(), token, scope(), action="login")
    )
    assert errors == []
    assert len(results) == 32
    assert {(o.allowed, o.failure_class) for o in results} == {(True, None)}
    assert captchala_sandbox.calls_for(token) == 1
    assert Checkpoint.objects.count() == 1
    assert PassToken.objects.count() == 1
    row = Checkpoint.objects.get()
    assert row.status == "passed" and row.version == 1
    assert sum(o.provider_called for o in results) == 1


def test_32_submits_of_one_bad_token_get_one_answer(captchala_sandbox, strategy):
    token = "pt_" + "forged" * 4
    results, errors = run_threads(32, lambda i: verify_and_record(make_request(), token, scope()))
    assert errors == []
    assert {(o.allowed, o.failure_class) for o in results} == {(False, "validation")}
    assert captchala_sandbox.calls_for(token) == 1
    assert Checkpoint.objects.get().version == 1


def test_one_token_raced_from_many_scopes_passes_exactly_one(captchala_sandbox, strategy):
    token = captchala_sandbox.mint_pass_token()
    results, errors = run_threads(
        16, lambda i: verify_and_record(make_request(), token, scope(f"s{i}"))
    )
    assert errors == []
    counted = Counter(o.failure_class for o in results)
    assert counted[None] == 1 and counted["replay"] == 15
    assert captchala_sandbox.calls_for(token) == 1
    assert Checkpoint.objects.filter(status="passed").count() == 1


def test_16_threads_writing_one_scope_lose_no_update(captchala_sandbox, strategy):
    per_thread = 10

    def work(i):
        return [verify_and_record(make_request(), "", scope()).persisted for _ in range(per_thread)]

    results, errors = run_threads(16, work)
    assert errors == []
    committed = sum(sum(r) for r in results)
    row = Checkpoint.objects.get()
    assert row.version == committed == row.attempts
    assert CheckpointEvent.objects.count() == committed  # one record per committed check
    if strategy is None:  # the upsert cannot lose a race
        assert committed == 16 * per_thread


@pytest.mark.slow
def test_8_processes_x_50_scopes_no_duplicates_no_lost_updates(captchala_sandbox, strategy):
    db_settings = {"NAME": connection.settings_dict["NAME"]}
    subjects = [f"scope{i}" for i in range(50)]
    rounds = 4
    reports = run_processes(
        8, write_many, db_settings, captchala_sandbox.url, strategy, subjects, rounds
    )

    assert [errors for _, _, errors in reports] == [[]] * 8
    committed = Counter()
    for per_scope, _, _ in reports:
        committed.update(per_scope)
    rows = {row.scope_key: row for row in Checkpoint.objects.all()}
    assert len(rows) == 50  # one row per scope, never a duplicate
    for subject in subjects:
        row = rows[scope(subject).key]
        assert row.version == committed[subject] == row.attempts, subject
    assert CheckpointEvent.objects.count() == sum(events for _, events, _ in reports)
    if strategy is None:
        assert sum(committed.values()) == 8 * 50 * rounds
    assert connections["default"].vendor in ("postgresql", "sqlite")


def _pending_claim(token, subject="s1", age_seconds=0):
    from datetime import timedelta

    from django.utils import timezone

    created = timezone.now() - timedelta(seconds=age_seconds)
    return PassToken.objects.create(
        token_digest=checkpoints.token_digest(token),
        scope_key=scope(subject).key,
        state="pending",
        created_at=created,
        expires_at=created + timedelta(days=1),
    )


def test_claim_held_by_another_process_is_waited_for_and_its_answer_reused(captchala_sandbox):
    """No in-process event to wake on: the waiter polls the ledger until the claim is done."""
    token = captchala_sandbox.mint_pass_token()
    claim = _pending_claim(token)
    # fast_path=False: the pass below must be found through the claim.
    waiter = Waiter(lambda: verify_and_record(make_request(), token, scope(), fast_path=False))
    # The "other process" records its pass, then finishes its claim.
    CheckpointFactory(
        scope_key=scope().key, status="passed", token_digest=checkpoints.token_digest(token)
    )
    PassToken.objects.filter(pk=claim.pk).update(state="done", allowed=True, code="ok")
    outcome = waiter.result()
    assert (outcome.allowed, outcome.from_ledger, outcome.provider_called) == (True, True, False)
    assert captchala_sandbox.calls_for(token) == 0


def test_a_claim_finished_for_another_scope_while_waiting_is_never_this_scopes_answer(
    captchala_sandbox, monkeypatch
):
    """Two clients without a session share the anonymous scope. The first to claim a token
    gets a session scope of its own when it passes; the other, waiting on the same claim,
    must not take that answer, not even the "valid but unwritten" one that is retried."""
    token = captchala_sandbox.mint_pass_token()
    claim = _pending_claim(token, subject="")  # the anonymous scope of this route
    polling = threading.Event()
    read_ledger = ledger.read

    def observed(att):
        # Calls through; the second read is the waiter polling the claim.
        observed.calls += 1
        if observed.calls >= 2:
            polling.set()
        return read_ledger(att)

    observed.calls = 0
    monkeypatch.setattr(ledger, "read", observed)

    waiter = Waiter(lambda: verify_and_record(make_request(), token, scope(""), fast_path=False))
    assert polling.wait(30)  # the waiter is waiting on the claim
    # The first client passed, got its session scope, and its write failed.
    PassToken.objects.filter(pk=claim.pk).update(
        state="done",
        allowed=True,
        degraded=True,
        failure_class="persistence",
        code="ok",
        scope_key=scope("first-client").key,
    )
    outcome = waiter.result()
    assert (outcome.allowed, outcome.failure_class) == (False, "replay")
    assert not Checkpoint.objects.filter(status="passed").exists()
    assert captchala_sandbox.calls_for(token) == 0


def test_a_claim_released_between_conflict_and_read_is_claimed_again_never_skipped(
    captchala_sandbox, monkeypatch
):
    """Right after an outage: our insert meets a claim, which is released (no verdict)
    before we read it, and a third request claims the token at once. We must not ask the
    provider without a claim: we claim again, meet the third one's, and it is its token."""
    token = captchala_sandbox.mint_pass_token()
    first = _pending_claim(token, subject="first")
    read_ledger = ledger.read

    def released_then_reclaimed(att):
        if not released_then_reclaimed.done:
            released_then_reclaimed.done = True
            PassToken.objects.filter(pk=first.pk).delete()  # the first got no verdict
            row = read_ledger(att)  # nothing there now
            _pending_claim(token, subject="third")  # a third request claims at once
            return row
        return read_ledger(att)

    released_then_reclaimed.done = False
    monkeypatch.setattr(ledger, "read", released_then_reclaimed)
    outcome = verify_and_record(make_request(), token, scope("ours"))
    assert (outcome.allowed, outcome.failure_class, outcome.provider_called) == (
        False,
        "replay",
        False,
    )
    assert captchala_sandbox.calls_for(token) == 0
    assert PassToken.objects.get().scope_key == scope("third").key


def test_abandoned_claim_is_taken_over_once(captchala_sandbox, settings):
    """A claim older than ``CAPTCHALA_CLAIM_ABANDONED_AFTER`` belongs to a worker that died."""
    token = captchala_sandbox.mint_pass_token()
    _pending_claim(token, age_seconds=3600)
    outcome = verify_and_record(make_request(), token, scope())
    assert outcome.allowed and outcome.provider_called
    assert captchala_sandbox.calls_for(token) == 1
    assert PassToken.objects.get().state == "done"


def test_claim_in_flight_past_the_deadline_is_a_timeout_not_a_second_call(
    captchala_sandbox, settings, monkeypatch
):
    """If the other worker neither finishes nor is stale yet, the waiter gives up bounded."""
    settings.CAPTCHALA_TIMEOUT = 0.2
    settings.CAPTCHALA_CLAIM_MARGIN = 0.1
    token = captchala_sandbox.mint_pass_token()
    claim = _pending_claim(token)
    # Keep the claim looking fresh while the waiter polls, as a live worker's would.
    from django.utils import timezone

    PassToken.objects.filter(pk=claim.pk).update(created_at=timezone.now())
    outcome = verify_and_record(make_request(), token, scope())
    assert captchala_sandbox.calls_for(token) == 0
    assert (outcome.allowed, outcome.failure_class, outcome.code, outcome.provider_called) == (
        False,
        "timeout",
        "claim_in_flight",
        False,
    )
    assert PassToken.objects.get().state == "pending"  # the live worker's claim is untouched
