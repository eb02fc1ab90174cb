"""The end of a check (DESIGN §5, steps 5-7): decide, write the outcome, log and signal it.

:func:`finish` is the one way a check ends with a write; :func:`note` records an
answer given without one (a staff skip, an answer repeated from the ledger).
"""

from __future__ import annotations

from dataclasses import replace

from django.db import DatabaseError, transaction

from .. import observe
from ..client import ValidationResult
from ..codes import Code
from ..conf import app_settings
from ..exceptions import PersistenceError
from ..models import Checkpoint, EventKind, FailureClass
from ..scopes import with_subject
from ..tokens import printable
from . import ledger, rows, telemetry
from .attempt import Attempt
from .ledger import Claim
from .outcome import Outcome
from .write import persist


def finish(
    att: Attempt,
    claim: Claim,
    failure: FailureClass | None,
    *,
    code: str,
    provider_called: bool | None = None,
    lenient: bool = False,
    from_ledger: bool = False,
    result: ValidationResult | None = None,
    error: Exception | None = None,
) -> Outcome:
    """Decide, write the outcome, log it and signal it.

    ``failure is None`` is a verified pass. A failure is denied unless a policy
    lets it through (``lenient``): then it is allowed *degraded*, recorded as the
    failure it is, and never becomes a pass or a reusable ledger answer.
    """
    verified = failure is None
    allowed = verified or lenient
    if provider_called is None:  # a verdict says whether it came from the provider
        provider_called = result is not None and result.called
    outcome = Outcome(
        allowed=allowed,
        failure_class=failure,
        degraded=allowed and not verified,
        code=printable(code),
        provider_called=provider_called,
        from_ledger=from_ledger,
        result=result,
    )
    if verified and att.request is not None:
        # The client earns a session (and a pass on it) only now.
        try:
            att.scope = with_subject(att.request, att.scope)
        except DatabaseError as exc:
            # No session can be made, so no pass can be kept: the valid verdict stands
            # under CAPTCHALA_ON_PERSISTENCE_ERROR, as for any write that fails.
            return decided(att, _persistence_failed(att, claim, outcome, exc), error)
        if att.scope.anonymous:
            return _this_submission_only(att, claim, outcome)
    try:
        with observe.phase("write"):
            outcome = replace(outcome, checkpoint=persist(att, claim, outcome))
    except PersistenceError as exc:
        outcome = _persistence_failed(att, claim, outcome, exc)
    return decided(att, outcome, error)


def _this_submission_only(att: Attempt, claim: Claim, outcome: Outcome) -> Outcome:
    """A pass with no subject to keep it for (a scope without one, and no session store):
    it lets this request through (recorded, code ``pass_not_kept``, no signal: nothing
    passed) and opens nothing for the clients sharing the scope. The claim is finished,
    so the token is a replay from now on."""
    outcome = replace(outcome, code=Code.PASS_NOT_KEPT)
    ledger.settle_after_failure(att, claim, outcome)
    return note(att, outcome)


def decided(att: Attempt, outcome: Outcome, error: Exception | None = None) -> Outcome:
    telemetry.log(att, outcome, error=error)
    telemetry.signal(att, outcome)
    return outcome


def _persistence_failed(att: Attempt, claim: Claim, outcome: Outcome, exc: Exception) -> Outcome:
    telemetry.logger.error(
        "checkpoint write failed twice (%s) scope_kind=%s route=%s request_id=%s",
        exc,
        att.scope.kind,
        att.scope.route,
        att.request_id,
        extra={"captchala": {"event": EventKind.PERSIST_FAILED, "request_id": att.request_id}},
    )
    if outcome.failure_class is not None:
        # Bad token (or provider trouble): the verdict stands, only unrecorded.
        outcome = replace(outcome, persisted=False)
    else:
        allowed = app_settings.ON_PERSISTENCE_ERROR == "allow"
        outcome = replace(
            outcome,
            allowed=allowed,
            degraded=allowed,
            failure_class=FailureClass.PERSISTENCE,
            persisted=False,
        )
    ledger.settle_after_failure(att, claim, outcome)
    return outcome


def note(att: Attempt, outcome: Outcome, kind: str = EventKind.CHECK) -> Outcome:
    """Record a decision without a write: the checkpoint's state and version stay.

    For a staff skip (never a pass, so it opens nothing for anyone sharing the
    scope) and for answers repeated from the ledger.
    """
    record = rows.record(att, outcome, kind)
    try:
        with transaction.atomic(using=att.db):
            checkpoint = outcome.checkpoint or _pending_row(att)
            rows.insert_records(att.db, checkpoint.pk, checkpoint.version, [record])
        outcome = replace(outcome, checkpoint=checkpoint)
    except DatabaseError as exc:
        telemetry.logger.warning(
            "could not record a %s decision (%s)", outcome.code, type(exc).__name__
        )
        outcome = replace(outcome, persisted=False)
    telemetry.log(att, outcome)
    return outcome


def _pending_row(att: Attempt) -> Checkpoint:
    """The scope's checkpoint, made ``pending`` (no pass, no expiry) if it has none."""
    checkpoint, _ = Checkpoint.objects.using(att.db).get_or_create(
        scope_key=att.scope.key, defaults=rows.pending_checkpoint(att)
    )
    return checkpoint
