"""One record per check: what a check and a bot's POST store, and the trails written
before that change, still read by the admin, the report and the dashboard."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client
from django.utils import timezone

from captchala_django.checkpoints import verify_and_record
from captchala_django.insights import queries
from captchala_django.insights.report import report
from captchala_django.models import Checkpoint, CheckpointEvent, PassToken
from tests.helpers import make_request, scope

TABLES = (Session, Checkpoint, CheckpointEvent, PassToken)


def rows() -> int:
    return sum(model.objects.count() for model in TABLES)


@pytest.mark.django_db
def test_a_check_writes_three_rows_at_most(captchala_sandbox):
    verify_and_record(make_request(), captchala_sandbox.mint_pass_token(), scope("first"))
    before = rows()
    outcome = verify_and_record(make_request(), captchala_sandbox.mint_pass_token(), scope("new"))
    assert outcome.allowed
    assert rows() - before == 3  # the checkpoint, the ledger row, one record
    record = CheckpointEvent.objects.get(checkpoint=outcome.checkpoint)
    assert (record.kind, record.decision, record.code, record.version) == (
        "check",
        "allow",
        "ok",
        1,
    )


@pytest.mark.django_db
def test_a_cookieless_bot_post_adds_two_rows_at_most(captchala_sandbox):
    Client().post("/transfer/", {"captchala_token": "pt_made-up-first-bot-xx"})
    before = rows()
    posts = 15  # within the address's validate budget (20 failed checks a minute)
    for i in range(posts):
        status = Client().post("/transfer/", {"captchala_token": f"pt_made-up-{i:04d}-bot"})
        assert status.status_code == 403
    assert rows() - before <= 2 * posts  # a ledger row and one record each, no session
    assert Session.objects.count() == 0
    assert captchala_sandbox.count("validate") == posts + 1


# ------------------------------------------------------------------ trails written before


OLD = "0005_failure_class_rate_limited"


def _old_trail(apps) -> None:
    """What 0.2 wrote for three checks: four events each (an IP mismatch's fifth)."""
    checkpoints = apps.get_model("captchala_django", "Checkpoint")
    events = apps.get_model("captchala_django", "CheckpointEvent")
    now = timezone.now()
    row = checkpoints.objects.create(
        scope_key="k" * 64, scope_kind="session", route="old-login", status="failed",
        client_ip="203.0.113.5", version=3, attempts=3, expires_at=now + timedelta(hours=1),
    )  # fmt: skip
    for version, (decision, failure, code) in enumerate(
        [("allow", "", "ok"), ("deny", "validation", "invalid_token"),
         ("deny", "validation", "token_action_mismatch")], start=1,
    ):  # fmt: skip
        at = now - timedelta(minutes=10 - version)
        common = {"checkpoint_id": row.pk, "version": version, "created_at": at}
        events.objects.create(kind="token_received", detail="pt_ (40 chars)", **common)
        events.objects.create(kind="validate_sent", **common)
        events.objects.create(
            kind="validate_response", detail=code, status_code=200, latency_ms=40 * version,
            platform="web" if code == "ok" else "", **common,
        )  # fmt: skip
        events.objects.create(
            kind="decision", decision=decision, failure_class=failure, detail=code, **common
        )
    events.objects.create(
        kind="ip_mismatch", detail="provider saw 198.51.100.9", checkpoint_id=row.pk, version=1
    )


@pytest.mark.django_db(transaction=True)
def test_trails_written_before_stay_readable(admin_client):
    executor = MigrationExecutor(connection)
    executor.migrate([("captchala_django", OLD)])
    _old_trail(executor.loader.project_state([("captchala_django", OLD)]).apps)
    executor = MigrationExecutor(connection)
    # To the latest migration (0006 and what followed it), as a site upgrading would.
    executor.migrate(executor.loader.graph.leaf_nodes("captchala_django"))

    # Each old decision now carries its code, so it is read as a new record is.
    decided = CheckpointEvent.objects.filter(kind="decision").order_by("version")
    assert list(decided.values_list("code", flat=True)) == [
        "ok",
        "invalid_token",
        "token_action_mismatch",
    ]
    start = timezone.now() - timedelta(hours=1)
    assert queries.decision_count("default", start) == 3
    assert queries.decision_count("default", start, decision="deny") == 2
    assert queries.ip_mismatches("default", start) == 1
    web = [row for row in queries.platforms("default", start, None) if row["platform"] == "web"]
    assert web == [{"platform": "web", "count": 1, "valid": 1, "refused": 0}]
    assert queries.reply_times("default", start, {"p50": 0.5})["count"] == 3
    data = report(timedelta(hours=1))
    assert {r["decision"]: r["count"] for r in data["by_decision"]} == {"allow": 1, "deny": 2}

    # The admin's timeline shows every old event, with the code and the provider's side.
    checkpoint = Checkpoint.objects.get()
    page = admin_client.get(f"/admin/captchala_django/checkpoint/{checkpoint.pk}/change/")
    html = page.content.decode()
    assert page.status_code == 200
    for label in ("token received", "validate response", "decision", "IP mismatch"):
        assert label in html
    assert "invalid_<wbr>token" in html and "200 · 120 ms" in html
