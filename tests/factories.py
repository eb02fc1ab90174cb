"""factory-boy factories for the three models."""

from datetime import timedelta

import factory
from django.utils import timezone

from captchala_django.models import (
    Checkpoint,
    CheckpointEvent,
    ClaimState,
    EventKind,
    PassToken,
    Status,
)
from captchala_django.scopes import Scope


class CheckpointFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Checkpoint

    scope_key = factory.Sequence(lambda n: Scope("session", f"s{n}", "route").key)
    scope_kind = "session"
    route = "route"
    status = Status.PASSED
    version = 1
    attempts = 1
    client_ip = "203.0.113.10"
    passed_at = factory.LazyFunction(timezone.now)
    expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(minutes=30))

    class Params:
        expired = factory.Trait(
            expires_at=factory.LazyFunction(lambda: timezone.now() - timedelta(seconds=1))
        )
        failed = factory.Trait(
            status=Status.FAILED,
            failure_class="validation",
            failure_detail="invalid_token",
            passed_at=None,
        )


class CheckpointEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CheckpointEvent

    checkpoint = factory.SubFactory(CheckpointFactory)
    kind = EventKind.DECISION
    decision = "allow"
    version = factory.SelfAttribute("checkpoint.version")


class PassTokenFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PassToken

    token_digest = factory.Sequence(lambda n: f"{n:064x}")
    scope_key = factory.Sequence(lambda n: Scope("session", f"s{n}", "route").key)
    state = ClaimState.DONE
    allowed = True
    expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=1))
