"""The flow of one check (:func:`verify_and_record`) and its decision (:func:`finish`).

Never raises for bad input, provider trouble or database trouble: each
becomes an :class:`~.outcome.Outcome` with its failure class.
"""

from __future__ import annotations

import ipaddress
from dataclasses import replace

from django.db import DatabaseError, transaction
from django.http import HttpRequest

from .. import budgets
from ..client import ValidationResult, get_client
from ..codes import Code
from ..conf import app_settings
from ..exceptions import (
    ConfigurationError,
    PersistenceError,
    ProviderRateLimited,
    ProviderResponseError,
    ProviderTimeout,
    ProviderUnavailable,
)
from ..models import Checkpoint, CheckpointEvent, EventKind, FailureClass, Status
from ..scopes import ScopeArg, with_subject
from ..tokens import printable, token_format_error, token_hint
from . import ledger, telemetry
from .attempt import Attempt, token_digest
from .lookup import fetch_passed
from .outcome import RATE_LIMITED, Outcome
from .write import strategy, write


def skips_check(request: HttpRequest | None) -> bool:
    """Whether ``CAPTCHALA_SKIP_FOR_STAFF`` lets this request's user skip the check."""
    if request is None or not app_settings.SKIP_FOR_STAFF:
        return False
    try:
        user = getattr(request, "user", None)
        return bool(user is not None and user.is_authenticated and user.is_staff)
    except DatabaseError:  # the user cannot be read: no skip, the token decides
        return False


def verify_and_record(
    request: HttpRequest,
    pass_token: str | None,
    scope: ScopeArg = None,
    action: str | None = None,
    *,
    ttl: int | None = None,
    route: str | None = None,
    fast_path: bool = True,
    reuse: bool = True,
    max_risk: int | None = None,
) -> Outcome:
    """Check ``pass_token`` for the request's scope and record the outcome.

    A ``ConfigurationError`` is an outcome too (denied, logged at ERROR).
    ``fast_path=False`` skips the lookup of a passed checkpoint, for callers
    that have just made it (``get_passed``). ``reuse=False`` is for front doors
    whose pass covers one submission (the form and serializer fields): no
    checkpoint answers for the token, and a token that already let a submission
    through is a ``replay``. ``max_risk`` (default ``CAPTCHALA_MAX_RISK``) denies a
    valid verdict whose ``risk_score`` is above it, as ``risk_too_high``.
    """
    att = Attempt.of(request, scope, action, ttl, route, reuse, max_risk)
    if skips_check(request):
        return _note(att, Outcome(allowed=True, code=Code.STAFF_SKIP))
    reason = token_format_error(pass_token)
    if reason:
        att.event(EventKind.TOKEN_RECEIVED, detail=reason)
        return finish(att, FailureClass.VALIDATION, code=reason)
    token = str(pass_token)  # token_format_error() accepted it: a non-empty str
    att.offline = token.startswith("offline_")
    att.event(EventKind.TOKEN_RECEIVED, detail=token_hint(token))
    try:
        att.digest = token_digest(token)
    except ConfigurationError as exc:
        return finish(att, FailureClass.CONFIGURATION, code=Code.CONFIGURATION, error=exc)
    answered = _fast_path_and_claim(att, fast_path and reuse and not att.scope.anonymous)
    if answered is not None:
        return answered
    with ledger.in_flight(att):
        # Only once the claim is ours, so that duplicates of one submission (answered by
        # the ledger) never spend the budget; a refused token's claim is released.
        try:
            reservation = budgets.reserve_validate(att.request, lambda: _holds_own_pass(att))
        except budgets.ValidateBudgetExceeded as exc:
            return _over_budget(att, exc.first)
        outcome = _verify(att, token)
    # A budget of failures: a check that passed (or made no provider call) is given back.
    reservation.settle(keep=outcome.provider_called and outcome.failure_class is not None)
    return outcome


#: Scope kinds whose pass is bound to one client (its session, its user), not to what
#: it shares with others (an address) or to what a resolver says.
OWN_PASS_KINDS = frozenset({"session", "user"})


def _holds_own_pass(att: Attempt) -> bool:
    """Whether the client holds a live pass bound to it (then its address's validate
    budget does not apply: a neighbour's flood must not block it)."""
    if att.scope.kind not in OWN_PASS_KINDS or att.scope.anonymous:
        return False
    try:
        return fetch_passed(att.db, att.scope.key) is not None
    except DatabaseError:
        return False


def _over_budget(att: Attempt, first: bool) -> Outcome:
    """The client's budget of failed checks is spent: refused without a provider call,
    and the claim released (the token was never judged: class ``rate_limited``, not
    ``validation``). The client's first refusal in a minute is recorded; the rest are
    logged only, so that a flood past the budget adds no rows."""
    att.release = True
    if first:
        return finish(att, FailureClass.RATE_LIMITED, code=RATE_LIMITED.code)
    ledger.settle_after_failure(att, RATE_LIMITED)  # releases the claim, keeps no row
    return _decided(att, RATE_LIMITED, None)


def _seen_within_budget(att: Attempt, dialect: str, inserted: bool | None = None) -> bool:
    """Claim the token as seen with the pass that answered, charged to the client's
    validate budget: each new claim is a ledger row. ``inserted``: the claim was already
    made (PostgreSQL's combined statement); None: make it here. False when the budget
    refused it: then nothing is kept (the request is refused, never let through with a
    token left unclaimed)."""
    own = att.scope.kind in OWN_PASS_KINDS  # it rides its pass: it holds one
    try:
        reservation = budgets.reserve_validate(att.request, lambda: own)
    except budgets.ValidateBudgetExceeded:
        if inserted:
            ledger.unclaim_seen(att)
        return False
    if inserted is None:
        inserted = ledger.claim_seen(att, dialect)
    reservation.settle(keep=inserted)
    return True


#: Tokens of one request riding a pass that are claimed as seen with it.
MAX_SHOWN = 4


def claim_shown(
    request: HttpRequest, tokens: list[object], scope: ScopeArg = None, route: str | None = None
) -> bool:
    """Claim for the request's scope each token shown on a request that a pass let
    through: the site has seen them, so anywhere else they are replays (DESIGN §8).

    Each new claim is a ledger row, budgeted as a failed check is
    (``CAPTCHALA_VALIDATE_BUDGET``): ``False`` when the budget refused one, and the
    request is then refused (429), never let through with a token left unclaimed.
    Best effort otherwise: a database that cannot take the claim does not undo the pass.
    """
    # Capped: a request that rides a pass must not buy a ledger row per value it carries
    # (an honest one carries one token; the cap covers a body token and a header token).
    shown = [str(t) for t in tokens[:MAX_SHOWN] if token_format_error(t) is None]
    if not shown:
        return True
    try:
        att = Attempt.of(request, scope, None, None, route, reuse=True)
        dialect = strategy(att.db)
        for token in shown:
            att.digest = token_digest(token)
            if not _seen_within_budget(att, dialect):
                telemetry.log(att, RATE_LIMITED)
                return False
    except (DatabaseError, ConfigurationError) as exc:
        telemetry.logger.warning("could not claim a token shown with a pass (%s)", exc)
    return True


def _fast_path_and_claim(att: Attempt, fast_path: bool) -> Outcome | None:
    """A passed checkpoint of the scope (when asked for), else the claim: an outcome
    when either answers instead of the provider."""
    att.claim_key = att.scope.key
    dialect = strategy(att.db)
    claim: ledger.Claim | None
    if fast_path and dialect == "postgresql":
        claim = ledger.claim_unless_passed(att)  # claims the token as seen when a pass answers
        passed = claim.passed
        # Only a new claim costs budget (the same token shown again makes no row).
        within = passed is None or not claim.ours or _seen_within_budget(att, dialect, True)
    else:
        passed = _fast_path(att) if fast_path else None
        claim = None if passed is not None else ledger.claim(att, dialect)
        within = passed is None or _seen_within_budget(att, dialect)
    if not within:
        return _decided(att, RATE_LIMITED, None)
    if passed is not None:
        outcome = Outcome(allowed=True, checkpoint=passed, code=Code.CHECKPOINT_PASSED)
        telemetry.log(att, outcome)
        return outcome
    assert claim is not None
    return _claimed(att, claim, dialect)


def _fast_path(att: Attempt) -> Checkpoint | None:
    try:
        return fetch_passed(att.db, att.scope.key)
    except DatabaseError as exc:
        telemetry.logger.warning("checkpoint fast path failed (%s); verifying", type(exc).__name__)
        return None


def _claimed(att: Attempt, claim: ledger.Claim, dialect: str, again: bool = True) -> Outcome | None:
    """The claim's answer: ``None`` to ask the provider (the claim is ours, or the ledger
    is unreachable), else the outcome without a provider call."""
    row = claim.row
    if claim.ours or row is None:
        return None
    if row["scope_key"] != att.scope.key:
        att.owns_claim = False
        return finish(att, FailureClass.REPLAY, code=Code.TOKEN_REPLAYED)
    if row["state"] == "pending":
        row = ledger.await_claim(att, row)
        if row["scope_key"] != att.scope.key:  # released and claimed by another scope
            att.owns_claim = False
            return finish(att, FailureClass.REPLAY, code=Code.TOKEN_REPLAYED)
    if row["state"] == "done":
        return _from_ledger(att, ledger.answer(att, row))
    if row["state"] == "released" and again:
        # The worker we waited for got no verdict and let go: claim it ourselves.
        return _claimed(att, ledger.claim(att, dialect), dialect, again=False)
    if row["state"] == "pending" and ledger.take_over(att, row):
        return None
    att.owns_claim = False
    # Never fail-open here: the provider is not in trouble for this request, and the
    # claim may be another client's, left by a worker that died (a replayed token).
    return finish(att, FailureClass.TIMEOUT, code=Code.CLAIM_IN_FLIGHT)


def _from_ledger(att: Attempt, answer: ledger.Answer) -> Outcome:
    """Every answer taken from the ledger is recorded: as a write, or as events."""
    if answer.kind == "write":
        return finish(att, None, code=Code.OK, from_ledger=True)
    if answer.kind == "note" and answer.outcome is not None:
        return _note(att, answer.outcome)
    att.owns_claim = False
    return finish(att, FailureClass.REPLAY, code=answer.code, from_ledger=True)


def _verify(att: Attempt, token: str) -> Outcome:
    """Ask the provider (no transaction open) and turn the reply into an outcome."""
    att.event(EventKind.VALIDATE_SENT, detail=token_hint(token))
    try:
        result = get_client().validate(token, att.client_ip, action=att.action)
    except (ConfigurationError, ProviderUnavailable, ProviderResponseError) as exc:
        return _no_verdict(att, exc)
    att.event(
        EventKind.VALIDATE_RESPONSE,
        detail=result.code,
        latency_ms=int(result.latency_ms),
        status_code=200 if result.called else None,
        risk_score=result.risk_score,
        platform=printable(result.captcha_args.get("platform") or "", 32),
    )
    if result.valid and not result.called:
        # An unverifiable client_ token let in by CAPTCHALA_ACCEPT_CLIENT_ONLY: a
        # policy's answer, never a pass.
        return finish(att, FailureClass.VALIDATION, code=result.code, lenient=True, result=result)
    if result.valid and _ip_mismatch(att, result) and app_settings.DENY_IP_MISMATCH:
        return finish(
            att, FailureClass.VALIDATION, code=Code.IP_MISMATCH, provider_called=True, result=result
        )
    if result.valid and _too_risky(att, result):
        return finish(
            att,
            FailureClass.VALIDATION,
            code=Code.RISK_TOO_HIGH,
            provider_called=True,
            result=result,
        )
    if result.valid:
        return finish(att, None, code=result.code, provider_called=True, result=result)
    if result.degraded:
        # Accepted only under the rules of a valid verdict (the action was checked by
        # the client; the risk threshold where the reply carries a score).
        accept = bool(app_settings.ACCEPT_DEGRADED) and not _too_risky(att, result)
        return finish(
            att,
            FailureClass.PROVIDER,
            code=result.code,
            provider_called=True,
            lenient=accept,
            result=result,
        )
    return finish(
        att, FailureClass.VALIDATION, code=result.code, provider_called=result.called, result=result
    )


def _ip_mismatch(att: Attempt, result: ValidationResult) -> bool:
    """The provider saw the check solved from another address than this request's: an
    ``ip_mismatch`` event (a solver farm, or a proxy the site does not trust yet)."""
    seen = printable(result.captcha_args.get("user_ip") or "", 45)
    if not seen or not att.client_ip or _same_address(seen, att.client_ip):
        return False
    att.event(EventKind.IP_MISMATCH, detail=f"provider saw {seen}")
    return True


def _same_address(a: str, b: str) -> bool:
    try:
        return ipaddress.ip_address(a) == ipaddress.ip_address(b)
    except ValueError:
        return a == b


def _too_risky(att: Attempt, result: ValidationResult) -> bool:
    """Above the threshold. A reply without a score is judged by the provider's verdict
    alone: the score is informational in the contract, and the client cannot drop it."""
    if att.max_risk is None or result.risk_score is None:
        return False
    return result.risk_score > att.max_risk


def _no_verdict(att: Attempt, exc: Exception) -> Outcome:
    """The provider gave no verdict: the claim is released for a later try, unless the
    fail-open policy lets this request through: the token has then bought its one
    submission, and the claim is finished so that a resubmission is a replay."""
    if isinstance(exc, ConfigurationError):
        failure, code, lenient = FailureClass.CONFIGURATION, exc.code or Code.CONFIGURATION, False
    elif isinstance(exc, ProviderTimeout):
        failure, code, lenient = FailureClass.TIMEOUT, Code.TIMEOUT, _fail_open(att, exc)
    else:
        failure, code, lenient = (
            FailureClass.PROVIDER,
            getattr(exc, "code", "") or Code.PROVIDER_ERROR,
            _fail_open(att, exc),
        )
    att.release = not lenient
    att.event(EventKind.VALIDATE_RESPONSE, detail=code, status_code=getattr(exc, "status", None))
    return finish(att, failure, code=code, provider_called=True, lenient=lenient, error=exc)


def _fail_open(att: Attempt, exc: Exception) -> bool:
    """``CAPTCHALA_ON_PROVIDER_ERROR = "allow"``, only for what nobody outside can bring
    on: CaptchaLa unreachable, timed out or answering 5xx. Never for its rate limit (a
    flood of made-up tokens brings that on) nor for a reply that is not a verdict (a
    chosen token could provoke one); never for the backup API: the ``offline_``
    prefix is the client's choice."""
    outage = isinstance(exc, ProviderUnavailable) and not isinstance(exc, ProviderRateLimited)
    return app_settings.ON_PROVIDER_ERROR == "allow" and outage and not att.offline


def finish(
    att: Attempt,
    failure: FailureClass | None,
    *,
    code: str,
    provider_called: bool = False,
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
            return _decided(att, _persistence_failed(att, outcome, exc), error)
        if att.scope.anonymous:
            return _this_submission_only(att, outcome)
    att.event(
        EventKind.DECISION,
        decision=outcome.decision,
        failure_class=failure or "",
        detail=outcome.code,
    )
    try:
        outcome = replace(outcome, checkpoint=write(att, outcome))
    except PersistenceError as exc:
        outcome = _persistence_failed(att, outcome, exc)
    return _decided(att, outcome, error)


def _this_submission_only(att: Attempt, outcome: Outcome) -> Outcome:
    """A pass with no subject to keep it for (a scope without one, and no session store):
    it lets this request through (recorded as events, code ``pass_not_kept``, no signal:
    nothing passed) and opens nothing for the clients sharing the scope. The claim is
    finished, so the token is a replay from now on."""
    outcome = replace(outcome, code=Code.PASS_NOT_KEPT)
    ledger.settle_after_failure(att, outcome)
    return _note(att, outcome)


def _decided(att: Attempt, outcome: Outcome, error: Exception | None) -> Outcome:
    telemetry.log(att, outcome, error=error)
    telemetry.signal(att, outcome)
    return outcome


def _persistence_failed(att: Attempt, outcome: Outcome, exc: Exception) -> Outcome:
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
    ledger.settle_after_failure(att, outcome)
    return outcome


def _note(att: Attempt, outcome: Outcome) -> Outcome:
    """Record a decision as events only: the checkpoint's state and version stay.

    For a staff skip (never a pass, so it opens nothing for anyone sharing the
    scope) and for answers repeated from the ledger.
    """
    att.event(
        EventKind.DECISION,
        decision=outcome.decision,
        failure_class=outcome.failure_class or "",
        detail=outcome.code,
    )
    try:
        with transaction.atomic(using=att.db):
            checkpoint = outcome.checkpoint or _pending_row(att)
            CheckpointEvent.objects.using(att.db).bulk_create(
                CheckpointEvent(
                    checkpoint_id=checkpoint.pk,
                    version=checkpoint.version,
                    request_id=att.request_id,
                    **event,
                )
                for event in att.events
            )
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
        scope_key=att.scope.key,
        defaults={
            "scope_kind": att.scope.kind,
            "route": att.scope.route[:200],
            "user_id": att.user_id,
            "status": Status.PENDING,
            "client_ip": att.client_ip,
            "request_id": att.request_id,
        },
    )
    return checkpoint
