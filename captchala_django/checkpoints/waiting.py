"""Claims held by another worker: waiting for one (bounded), and taking over one that a
worker that died left behind. Duplicates in this process wake at once."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

from django.db import DatabaseError
from django.utils import timezone

from ..conf import app_settings
from ..models import ClaimState, PassToken
from . import ledger
from .attempt import Attempt, aware
from .ledger import Claim, Held

# Claims in flight in this process, so that a duplicate here wakes at once.
_inflight_lock = threading.Lock()
_inflight: dict[str, threading.Event] = {}


@contextmanager
def in_flight(att: Attempt) -> Iterator[None]:
    """While the provider is asked: duplicates in this process wait on an event."""
    event = threading.Event()
    with _inflight_lock:
        _inflight[att.digest] = event
    try:
        yield
    finally:
        with _inflight_lock:
            _inflight.pop(att.digest, None)
        event.set()


def await_claim(att: Attempt, claim: Claim) -> Claim:
    """Wait (bounded by the provider timeout plus the claim margin) for the worker
    validating this very token to finish: its claim, ``DONE``, ``RELEASED`` if it let
    go, or still ``PENDING`` at the deadline."""
    assert claim.row is not None
    row = claim.row
    deadline_in = float(app_settings.TIMEOUT) + float(app_settings.CLAIM_MARGIN)
    age = (timezone.now() - aware(row.created_at, att.db)).total_seconds()
    deadline = time.monotonic() + max(0.0, deadline_in - age)
    delay = 0.005
    while row.state == ClaimState.PENDING and time.monotonic() < deadline:
        with _inflight_lock:
            event = _inflight.get(att.digest)
        if event is not None:
            event.wait(delay)
        else:
            time.sleep(delay)  # another process holds the claim: poll the ledger
        delay = min(delay * 2, 0.1)
        fresh = ledger.read(att)
        if fresh is None:  # the claim was released: claim it again
            return replace(claim, held=Held.RELEASED)
        row = fresh
    return ledger.met(claim.key, row)


def take_over(att: Attempt, claim: Claim) -> Claim | None:
    """Take a claim abandoned for ``CAPTCHALA_CLAIM_ABANDONED_AFTER`` seconds by a worker
    that died: the claim, now ours, or None."""
    row = claim.row
    assert row is not None
    try:
        created = aware(row.created_at, att.db)
        if (timezone.now() - created).total_seconds() < float(app_settings.CLAIM_ABANDONED_AFTER):
            return None  # still a live worker's: never send the token twice
        taken = (
            PassToken.objects.using(att.db)
            .filter(id=row.id, state=ClaimState.PENDING, created_at=row.created_at)
            .update(created_at=timezone.now())
        )
    except DatabaseError:
        return None
    return Claim(Held.OURS, claim.key) if taken else None
