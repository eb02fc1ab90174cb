"""Behaviour under ATOMIC_REQUESTS: the write is a savepoint of the request's transaction.

Decided: the checkpoint belongs to the request. When the view raises and the
request rolls back, the checkpoint, its events and the ledger row roll back
with it, and no signal is sent. The pass token was consumed at CaptchaLa, so a
resubmission of the same token is refused (``token_consumed``) and the user
solves a fresh check. The decision line is still in the logs.
"""

import pytest
from django.db import connection
from django.test import Client

from captchala_django import signals
from captchala_django.models import Checkpoint, CheckpointEvent, PassToken

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("captchala_sandbox")]


@pytest.fixture
def atomic_requests(monkeypatch):
    monkeypatch.setitem(connection.settings_dict, "ATOMIC_REQUESTS", True)


@pytest.fixture
def passed_signals():
    seen = []

    def receiver(sender, outcome, **kwargs):
        seen.append(outcome)

    signals.checkpoint_passed.connect(receiver)
    yield seen
    signals.checkpoint_passed.disconnect(receiver)


@pytest.mark.usefixtures("atomic_requests")
def test_checkpoint_commits_with_the_request(captchala_sandbox, passed_signals):
    token = captchala_sandbox.mint_pass_token()
    response = Client().post("/atomic/verify/", {"captchala_token": token})
    assert response.json() == {"allowed": True, "class": None}
    row = Checkpoint.objects.get()
    assert (row.status, row.scope_kind) == ("passed", "ip")
    assert CheckpointEvent.objects.count() == 1  # one record of the check
    assert len(passed_signals) == 1


@pytest.mark.usefixtures("atomic_requests")
def test_checkpoint_rolls_back_when_the_view_raises(captchala_sandbox, passed_signals, caplog):
    token = captchala_sandbox.mint_pass_token()
    client = Client(raise_request_exception=False)
    response = client.post("/atomic/verify/", {"captchala_token": token, "fail": "1"})
    assert response.status_code == 500
    assert Checkpoint.objects.count() == 0
    assert CheckpointEvent.objects.count() == 0
    assert PassToken.objects.count() == 0
    assert passed_signals == []  # signals wait for the commit that never came
    assert any(getattr(r, "captchala", {}).get("decision") == "allow" for r in caplog.records)

    again = client.post("/atomic/verify/", {"captchala_token": token})
    assert again.json() == {"allowed": False, "class": "validation"}
    assert Checkpoint.objects.get().failure_detail == "token_consumed"


def test_without_atomic_requests_the_checkpoint_survives_the_view_error(captchala_sandbox):
    token = captchala_sandbox.mint_pass_token()
    client = Client(raise_request_exception=False)
    assert (
        client.post("/atomic/verify/", {"captchala_token": token, "fail": "1"}).status_code == 500
    )
    assert Checkpoint.objects.get().status == "passed"
    retry = client.post("/atomic/verify/", {"captchala_token": token})
    assert retry.json() == {"allowed": True, "class": None}
    assert captchala_sandbox.calls_for(token) == 1
