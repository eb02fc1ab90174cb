"""What the ledger's claim says the check does next (DESIGN §5, step 3).

:func:`resolve` turns a :class:`~.ledger.Claim` into a :class:`Next`: ask the
provider (the claim is ours), or an answer without a provider call — a
replay, a claim still in flight, or a resubmission answered as an idempotent
retry (:func:`retry_answer`).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from django.utils import timezone

from ..codes import Code
from ..models import FailureClass
from . import ledger, waiting
from .attempt import Attempt, aware
from .ledger import Claim, Held, LedgerRow
from .lookup import fetch_passed
from .outcome import Outcome


class Step(enum.Enum):
    #: Ask the provider: the claim is ours (or the ledger is unreachable).
    ASK = "ask"
    #: Refuse as a replay (``code``), no provider call.
    REPLAY = "replay"
    #: Another worker still validates this token: refused, no provider call.
    IN_FLIGHT = "in_flight"
    #: Answer ``outcome`` again, recorded without a write.
    REPEAT = "repeat"
    #: A valid verdict whose write failed: write it now.
    WRITE = "write"


@dataclass(frozen=True)
class Next:
    step: Step
    #: The claim the check goes on with (a new one after a re-claim or a take-over).
    claim: Claim
    code: Code = Code.TOKEN_REPLAYED
    outcome: Outcome | None = None


def resolve(att: Attempt, claim: Claim, dialect: str) -> Next:
    """The next step for ``claim``: waits for a claim in flight (bounded), claims again
    once if it was let go, takes over one abandoned by a worker that died."""
    for again in (True, False):
        if claim.owned:
            return Next(Step.ASK, claim)
        if claim.others_scope:
            return Next(Step.REPLAY, ledger.NO_CLAIM)
        if claim.held is Held.PENDING:
            claim = waiting.await_claim(att, claim)
            if claim.others_scope:  # released and claimed by another scope
                return Next(Step.REPLAY, ledger.NO_CLAIM)
        if claim.held is Held.DONE:
            assert claim.row is not None
            then = retry_answer(att, claim, claim.row)
            if then is not None:
                return then
            # Another resubmission took the unwritten verdict to write it: its answer.
            claim = ledger.reread(att, claim.key)
            continue
        if claim.held is Held.RELEASED and again:
            # The worker we waited for got no verdict and let go: claim it ourselves.
            claim = ledger.claim(att, dialect)
            continue
        if claim.held is Held.PENDING and (taken := waiting.take_over(att, claim)) is not None:
            return Next(Step.ASK, taken)
        break
    # Never fail-open here: the provider is not in trouble for this request, and the
    # claim may be another client's, left by a worker that died (a replayed token).
    return Next(Step.IN_FLIGHT, ledger.NO_CLAIM)


def retry_answer(att: Attempt, claim: Claim, row: LedgerRow) -> Next | None:
    """Within the retry window a resubmission is answered as an idempotent retry:
    a denial is repeated; a valid verdict whose write failed is written now (for
    a one-submission front door only if that submission was not let through);
    a pass is answered only while the checkpoint still holds it, and only at a
    checkpoint front door. Anything else is a replay: refused, no provider call.
    ``None``: another resubmission took the unwritten verdict first (read it again).
    """
    age = (timezone.now() - aware(row.created_at, att.db)).total_seconds()
    in_window = age <= ledger.retry_window()
    stored = row.failure_class
    replay = Next(Step.REPLAY, ledger.NO_CLAIM, Code.TOKEN_REUSED)
    if not in_window:
        return replay
    if stored == FailureClass.PERSISTENCE and row.code == Code.OK:
        # A valid verdict left unwritten (only ``ok``: a "consumed" answer met while the
        # claim failed is class persistence too, and is repeated below, never written).
        # A client without a session shares its anonymous scope with every other such
        # client: nothing ties a resubmission to the one that solved the check, so the
        # unwritten pass is never written for it (a replayed token stays a replay).
        if not att.scope.anonymous and (att.reuse or not row.allowed):
            taken = ledger.retake(att, claim)
            return Next(Step.WRITE, taken) if taken is not None else None
        return replay
    if not row.allowed:
        denied = Outcome(allowed=False, failure_class=stored, code=row.code, from_ledger=True)
        return Next(Step.REPEAT, ledger.NO_CLAIM, outcome=denied)
    if att.reuse and stored is None:
        passed = fetch_passed(att.db, att.scope.key)
        if passed is not None and passed.token_digest == att.digest:
            retry = Outcome(
                allowed=True, checkpoint=passed, code=Code.LEDGER_RETRY, from_ledger=True
            )
            return Next(Step.REPEAT, ledger.NO_CLAIM, outcome=retry)
    return replay
