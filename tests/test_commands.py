import json
import threading
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone

from captchala_django.checkpoints import verify_and_record
from captchala_django.models import Checkpoint, CheckpointEvent, PassToken
from tests.factories import CheckpointEventFactory, CheckpointFactory, PassTokenFactory
from tests.helpers import make_request, scope


def run(*args, **kwargs):
    out = StringIO()
    call_command(*args, stdout=out, **kwargs)
    return out.getvalue()


# ----------------------------------------------------------------- captchala_cleanup


def seed():
    long_ago = timezone.now() - timedelta(days=60)
    expired = [CheckpointFactory(expired=True) for _ in range(7)]
    for row in expired:
        CheckpointEventFactory.create_batch(2, checkpoint=row)
    fresh = [CheckpointFactory() for _ in range(3)]
    CheckpointEventFactory.create_batch(2, checkpoint=fresh[0], created_at=long_ago)
    recent_event = CheckpointEventFactory(checkpoint=fresh[1])
    never_passed = CheckpointFactory(status="pending", expires_at=None, updated_at=long_ago)
    PassTokenFactory.create_batch(4, expires_at=timezone.now() - timedelta(seconds=1))
    kept_token = PassTokenFactory()
    return fresh, recent_event, never_passed, kept_token


@pytest.mark.django_db
def test_cleanup_deletes_in_batches_and_keeps_what_is_live():
    fresh, recent_event, never_passed, kept_token = seed()
    out = run("captchala_cleanup", "--batch-size", "3", verbosity=2)
    assert "deleted 8 checkpoints, 16 events, 4 ledger rows" in out
    assert "batch 1:" in out
    assert set(Checkpoint.objects.values_list("pk", flat=True)) == {r.pk for r in fresh}
    assert list(CheckpointEvent.objects.values_list("pk", flat=True)) == [recent_event.pk]
    assert list(PassToken.objects.values_list("pk", flat=True)) == [kept_token.pk]
    assert not Checkpoint.objects.filter(pk=never_passed.pk).exists()


@pytest.mark.django_db
def test_cleanup_dry_run_only_counts():
    seed()
    before = (
        Checkpoint.objects.count(),
        CheckpointEvent.objects.count(),
        PassToken.objects.count(),
    )
    out = run("captchala_cleanup", "--dry-run")
    assert "would delete 8 checkpoints, 16 events, 4 ledger rows" in out
    after = (Checkpoint.objects.count(), CheckpointEvent.objects.count(), PassToken.objects.count())
    assert after == before


@pytest.mark.django_db
def test_cleanup_rejects_bad_arguments():
    with pytest.raises(CommandError):
        run("captchala_cleanup", "--batch-size", "0")
    with pytest.raises(CommandError, match="duration"):
        run("captchala_cleanup", "--older-than", "soon")


@pytest.mark.django_db(transaction=True)
def test_cleanup_while_traffic_writes_loses_no_write():
    for _ in range(300):
        CheckpointFactory(expired=True)
    stop = threading.Event()
    outcomes, errors = [], []

    def traffic(n):
        try:
            i = 0
            while not stop.is_set() or i < 20:
                outcomes.append(verify_and_record(make_request(), "", scope(f"live-{n}-{i % 10}")))
                i += 1
        except Exception as exc:  # noqa: BLE001 - asserted below
            errors.append(exc)
        finally:
            connection.close()

    writers = [threading.Thread(target=traffic, args=(n,)) for n in range(2)]
    for writer in writers:
        writer.start()
    try:
        out = run("captchala_cleanup", "--batch-size", "10")
    finally:
        stop.set()
        for writer in writers:
            writer.join(60)
    assert errors == []
    assert all(o.persisted for o in outcomes)
    assert "deleted 300 checkpoints" in out
    assert Checkpoint.objects.count() == 20
    for row in Checkpoint.objects.all():
        assert row.version == row.attempts == row.events.count()  # one record a write


# ----------------------------------------------------------------- captchala_report


@pytest.mark.django_db(transaction=True)
def test_report_counts_decisions_by_class_route_and_degraded(captchala_sandbox, settings):
    verify_and_record(make_request(), captchala_sandbox.mint_pass_token(), scope("a", "login"))
    verify_and_record(make_request(), "pt_" + "forged" * 4, scope("b", "login"))
    verify_and_record(make_request(), "", scope("c", "transfer"))
    settings.CAPTCHALA_ON_PROVIDER_ERROR = "allow"
    captchala_sandbox.set_fault("error")
    verify_and_record(make_request(), captchala_sandbox.mint_pass_token(), scope("d", "transfer"))
    data = json.loads(run("captchala_report", "--since", "1h", "--json"))
    assert data["decisions"] == 4 and data["degraded"] == 1
    assert {r["decision"]: r["count"] for r in data["by_decision"]} == {
        "allow": 1,
        "deny": 2,
        "degrade": 1,
    }
    assert {r["failure_class"]: r["count"] for r in data["by_failure_class"]} == {
        "": 1,
        "validation": 2,
        "provider": 1,
    }
    assert {(r["route"], r["decision"]): r["count"] for r in data["by_route"]} == {
        ("login", "allow"): 1,
        ("login", "deny"): 1,
        ("transfer", "deny"): 1,
        ("transfer", "degrade"): 1,
    }
    table = run("captchala_report", "--since", "1h")
    assert "decisions since" in table and "by failure class:" in table and "validation" in table


@pytest.mark.django_db
def test_report_window_excludes_older_decisions():
    CheckpointEventFactory(created_at=timezone.now() - timedelta(days=3))
    assert json.loads(run("captchala_report", "--since", "1d", "--json"))["decisions"] == 0
    assert json.loads(run("captchala_report", "--since", "7d", "--json"))["decisions"] == 1


# ----------------------------------------------------------------- captchala_ping


def test_ping_ok(captchala_sandbox):
    out = run("captchala_ping")
    assert out.startswith("OK") and "sandbox-app-key" in out
    sent = json.loads(captchala_sandbox.last_requests[-1]["body"])
    assert sent == {"action": "login", "ttl": 60, "max_uses": 1}


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (
            lambda sb, s: setattr(s, "CAPTCHALA_APP_SECRET", "wrong-secret-value"),
            "refused the keys",
        ),
        (lambda sb, s: sb.set_fault("disabled"), "refused the keys"),
        (
            lambda sb, s: setattr(s, "CAPTCHALA_API_URL", "http://127.0.0.1:9"),
            "could not be reached",
        ),
        (lambda sb, s: sb.set_fault("error"), "could not be reached"),
    ],
    ids=["bad-secret", "disabled", "unreachable", "5xx"],
)
def test_ping_fails_clearly(captchala_sandbox, settings, setup, message):
    setup(captchala_sandbox, settings)
    with pytest.raises(CommandError, match=message) as info:
        run("captchala_ping")
    assert "wrong-secret-value" not in str(info.value)


@pytest.mark.django_db
def test_cleanup_prints_progress_every_tenth_batch_by_default():
    for _ in range(25):
        CheckpointFactory(expired=True)
    out = run("captchala_cleanup", "--batch-size", "2")
    assert "batch 10:" in out and "batch 1:" not in out
    assert "deleted 25 checkpoints" in out
