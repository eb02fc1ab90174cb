import pytest
from django.db import IntegrityError, transaction

from captchala_django.models import Checkpoint
from tests.factories import CheckpointEventFactory, CheckpointFactory, PassTokenFactory

pytestmark = pytest.mark.django_db


def test_one_row_per_scope_is_enforced_by_the_database():
    first = CheckpointFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        CheckpointFactory(scope_key=first.scope_key)
    assert Checkpoint.objects.count() == 1


def test_one_ledger_row_per_token_digest():
    first = PassTokenFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        PassTokenFactory(token_digest=first.token_digest)


def test_is_passed_needs_status_and_an_unexpired_time():
    assert CheckpointFactory().is_passed()
    assert not CheckpointFactory(expired=True).is_passed()
    assert not CheckpointFactory(failed=True).is_passed()


def test_events_hang_off_their_checkpoint_in_order():
    event = CheckpointEventFactory()
    later = CheckpointEventFactory(checkpoint=event.checkpoint, kind="reset")
    assert list(event.checkpoint.events.all()) == [event, later]
    assert str(later) == "reset allow"
    assert "passed" in str(event.checkpoint)


def test_migrations_match_the_models():
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("makemigrations", "captchala_django", "--check", "--dry-run", stdout=out)
    assert "No changes detected" in out.getvalue()
