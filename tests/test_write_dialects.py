"""The write dialects agree: the keep-a-live-pass rule is written in SQL (the upsert of
PostgreSQL and SQLite) and in Python (the portable compare-and-set); these tests pin
the two together on every combination of stored state and new outcome."""

from datetime import timedelta

import pytest
from django.utils import timezone

from captchala_django.checkpoints import verify_and_record
from captchala_django.models import Checkpoint
from tests.factories import CheckpointFactory
from tests.helpers import make_request, scope

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("captchala_sandbox")]

HOUR = timedelta(hours=1)
#: What is stored before the write (None: no row yet).
STORED = {
    "none": None,
    "live pass": {"status": "passed", "expires_at": +HOUR},
    "expired pass": {"status": "passed", "expires_at": -HOUR},
    "failed": {"status": "failed", "expires_at": +HOUR, "failure_class": "validation"},
    "reset": {"status": "pending", "expires_at": None, "passed_at": None},
}


def _write(stored, outcome, subject, sandbox):
    if stored is not None:
        values = dict(stored)
        if values["expires_at"] is not None:
            values["expires_at"] = timezone.now() + values["expires_at"]
        CheckpointFactory(
            scope_key=scope(subject).key,
            token_digest="old",
            client_ip="203.0.113.10",
            request_id="old-request",
            **values,
        )
    before = Checkpoint.objects.filter(scope_key=scope(subject).key).first()
    token = sandbox.mint_pass_token() if outcome == "pass" else ""
    request = make_request(ip="198.51.100.99", HTTP_X_REQUEST_ID="new-request")
    verify_and_record(request, token, scope(subject), fast_path=False)
    row = Checkpoint.objects.get(scope_key=scope(subject).key)
    # Timestamps differ between runs: compare what they are relative to the old row.
    if before is not None and row.expires_at == before.expires_at:
        expiry = "kept"
    elif row.expires_at is None:
        expiry = None
    else:
        expiry = "new"
    return {
        "status": row.status,
        "kept digest": row.token_digest == "old",
        "failure_class": row.failure_class,
        "expires": expiry,
        "passed_at set": row.passed_at is not None,
        # Whose write the row names: the old one's, or this one's.
        "kept identity": (row.client_ip, row.request_id) == ("203.0.113.10", "old-request"),
        "version": row.version,
        "attempts": row.attempts,
    }


@pytest.mark.parametrize("outcome", ["pass", "failure"])
@pytest.mark.parametrize("stored", list(STORED))
def test_the_upsert_and_the_compare_and_set_write_the_same_row(
    captchala_sandbox, settings, stored, outcome
):
    results = {}
    for strategy in (None, "portable"):
        settings.CAPTCHALA_WRITE_STRATEGY = strategy
        results[strategy] = _write(
            STORED[stored], outcome, f"{stored}-{strategy}", captchala_sandbox
        )
    assert results[None] == results["portable"]
    row = results[None]
    if outcome == "failure" and stored == "live pass":
        # The pass stands, and so does whom it names: a failure cannot relabel it.
        assert (row["status"], row["kept digest"], row["expires"]) == ("passed", True, "kept")
        assert row["kept identity"]
    elif outcome == "failure":
        # A failure never pushes an expiry forward; a row without one gets a horizon.
        assert row["status"] == "failed" and not row["kept identity"]
        assert row["expires"] == ("new" if stored in ("none", "reset") else "kept")
    else:
        assert (row["status"], row["expires"], row["passed_at set"]) == ("passed", "new", True)
