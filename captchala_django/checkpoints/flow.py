"""The flow of one check (:func:`verify_and_record`), in the order of DESIGN §5.

Never raises for bad input, provider trouble or database trouble: each
becomes an :class:`~.outcome.Outcome` with its failure class.

The map of one check, in the order this module runs it. How each answer ends:
``[finish]`` decides, writes the checkpoint, the claim and one record, then logs
and signals (:func:`.decide.finish`); ``[note]`` writes one record and logs, the
checkpoint unchanged (:func:`.decide.note`); ``[decided]`` logs and signals
without a write; ``[log]`` logs only::

    verify_and_record(request, pass_token, scope, action, ...)
    │   Attempt.of: the scope (kind + subject + route), the client IP, the request id
    │   and the database (router.db_for_write, never a replica)
    │
    ├─ a staff user under CAPTCHALA_SKIP_FOR_STAFF ──> allow, staff_skip, no pass  [note]
    │
    ├─ 1. token_format_error: missing or empty, over 4 KiB, not printable ASCII
    │     └─ cannot be a token ──> deny validation, no claim, no call  [finish]
    │     token_digest: HMAC-SHA256 keyed by the app secret
    │     └─ no secret ──> deny configuration  [finish]
    │
    ├─ 2-3. _fast_path_and_claim (the fast path only with fast_path, reuse and a subject)
    │     PostgreSQL with the fast path: ledger.claim_unless_passed, both in one statement
    │     otherwise: lookup.fetch_passed (with the fast path; one query), then, without a
    │     pass, ledger.claim (an insert that may conflict)
    │     ├─ a passed checkpoint: the token is claimed as seen with it; a new claim is
    │     │  charged to the client's budget of failed checks
    │     │     ├─ within the budget ──> allow, checkpoint_passed, checkpoint unchanged  [log]
    │     │     └─ budget spent ──> deny rate_limited, nothing kept  [decided]
    │     └─ answers.resolve, what the ledger's claim says:
    │           ├─ ours, or the ledger unreachable ──> go on
    │           ├─ another scope's claim ──> deny replay, no call  [finish]
    │           ├─ another worker's, in flight: waiting.await_claim, at most
    │           │  CAPTCHALA_TIMEOUT + CAPTCHALA_CLAIM_MARGIN
    │           │     ├─ released (its call got no verdict) ──> claim it once more, as above
    │           │     ├─ pending past CAPTCHALA_CLAIM_ABANDONED_AFTER ──> take it over, go on
    │           │     └─ still pending ──> deny timeout, claim_in_flight  [finish]
    │           └─ finished: answers.retry_answer, within CAPTCHALA_RETRY_WINDOW
    │                 ├─ a verdict whose write failed (class persistence), for a client
    │                 │  with a subject (at a field, only if that submission was refused)
    │                 │  ──> write it now, as a pass  [finish]
    │                 ├─ a denial ──> the same denial, no call  [note]
    │                 ├─ the pass its checkpoint still holds, at a checkpoint front door
    │                 │  ──> allow, ledger_retry, no call  [note]
    │                 └─ anything else, or past the window ──> deny replay  [finish]
    │
    ├─ waiting.in_flight: duplicates in this process wake as soon as this check ends
    │     budgets.reserve_validate: the client's budget of failed checks
    │     └─ spent ──> deny rate_limited, no call, the claim released
    │                  (the first refusal in a minute [finish], the others [decided])
    │
    ├─ 4. _verify: get_client().validate(), with no transaction open
    │     ├─ no verdict (_no_verdict): configuration, timeout or provider; allowed,
    │     │  degraded, only under CAPTCHALA_ON_PROVIDER_ERROR = "allow" for an outage
    │     │  of the main API; denied, the claim is released  [finish]
    │     └─ a verdict, first match: a client_ token let in under
    │        CAPTCHALA_ACCEPT_CLIENT_ONLY (degraded); ip_mismatch
    │        (CAPTCHALA_DENY_IP_MISMATCH); risk_too_high; valid; degraded (allowed
    │        under CAPTCHALA_ACCEPT_DEGRADED); token_consumed with the ledger
    │        unreachable (persistence); any other: validation  [finish]
    │
    ├─ 5. decide.finish: the decision; a pass earns its subject now
    │     (scopes.with_subject creates the session of a client without one)
    │     ├─ still no subject ──> allow, pass_not_kept, the claim finished, no pass  [note]
    │     └─ write.persist: the checkpoint (version + 1), the claim finished or
    │        released, one record, in one atomic write; a database error is retried
    │        once, then a valid verdict is class persistence (allowed, degraded, under
    │        CAPTCHALA_ON_PERSISTENCE_ERROR = "allow") and a failure stays denied
    │
    ├─ 6. decide.decided: one log line (telemetry.log), the signal after commit
    │
    └─ reservation.settle: only a failed check that called the provider is counted
"""

from __future__ import annotations

from django.db import DatabaseError
from django.http import HttpRequest
from django.utils import timezone

from .. import budgets, observe
from ..client import ValidationResult, get_client
from ..codes import Code
from ..conf import app_settings
from ..exceptions import (
    ConfigurationError,
    ProviderRateLimited,
    ProviderResponseError,
    ProviderTimeout,
    ProviderUnavailable,
)
from ..ip import parse_ip, stored_address
from ..models import Checkpoint, EventKind, FailureClass
from ..scopes import ScopeArg
from ..tokens import printable, token_format_error, token_hint
from . import ledger, telemetry, waiting
from .answers import Step, resolve
from .attempt import Attempt, token_digest
from .decide import decided, finish, note
from .ledger import NO_CLAIM, Claim
from .lookup import fetch_passed
from .outcome import RATE_LIMITED, Outcome
from .rows import MISMATCH_DETAIL
from .shown import holds_own_pass, seen_within_budget
from .write import strategy


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
    staff_skip: bool = True,
    door: str = "api",
) -> Outcome:
    """Check ``pass_token`` for the request's scope and record the outcome.

    A ``ConfigurationError`` is an outcome too (denied, logged at ERROR).
    ``fast_path=False`` skips the lookup of a passed checkpoint, for callers
    that have just made it (``get_passed``). ``reuse=False`` is for front doors
    whose pass covers one submission (the form and serializer fields): no
    checkpoint answers for the token, and a token that already let a submission
    through is a ``replay``. ``max_risk`` (default ``CAPTCHALA_MAX_RISK``) denies a
    valid verdict whose ``risk_score`` is above it, as ``risk_too_high``.
    ``staff_skip=False`` checks a staff user too (a login form: the session's user is not
    the account being logged in to). ``door`` names the front door in the metrics.
    """
    att = Attempt.of(request, scope, action, ttl, route, reuse, max_risk)
    shown = observe.route_label(request)
    with observe.phase("check", door=door, route=shown, action=action or "") as check:
        outcome = _check(att, pass_token, fast_path, staff_skip)
        check.set(scope_kind=att.scope.kind, **observe.outcome_labels(outcome))
    observe.decision(door, shown, outcome)
    return outcome


def _check(att: Attempt, pass_token: str | None, fast_path: bool, staff_skip: bool) -> Outcome:
    request = att.request
    if staff_skip and skips_check(request):
        return note(att, Outcome(allowed=True, code=Code.STAFF_SKIP), EventKind.STAFF_SKIP)
    # 1. A token that cannot be one is refused at once.
    reason = token_format_error(pass_token)
    if reason:
        att.note(detail=reason)
        return finish(att, NO_CLAIM, FailureClass.VALIDATION, code=reason)
    token = str(pass_token)  # token_format_error() accepted it: a non-empty str
    att.offline = token.startswith("offline_")
    att.note(detail=token_hint(token))
    try:
        att.digest = token_digest(token)
    except ConfigurationError as exc:
        return finish(att, NO_CLAIM, FailureClass.CONFIGURATION, code=Code.CONFIGURATION, error=exc)
    # 2-3. The scope's pass, else the claim, may answer without the provider.
    answered, claim = _fast_path_and_claim(att, fast_path and att.reuse and not att.scope.anonymous)
    if answered is not None:
        return answered
    with waiting.in_flight(att), observe.claim_in_flight():
        # Only once the claim is ours, so that duplicates of one submission (answered by
        # the ledger) never spend the budget; a refused token's claim is released.
        try:
            reservation = budgets.reserve_validate(att.request, lambda: holds_own_pass(att))
        except budgets.ValidateBudgetExceeded as exc:
            return _over_budget(att, claim, exc.first)
        # 4-7. Ask the provider, then write, decide, log and signal.
        outcome = _verify(att, claim, token)
    # A budget of failures: a check that passed (or made no provider call) is given back.
    reservation.settle(keep=outcome.provider_called and outcome.failure_class is not None)
    return outcome


def _over_budget(att: Attempt, claim: Claim, first: bool) -> Outcome:
    """The client's budget of failed checks is spent: refused without a provider call,
    and the claim released (the token was never judged: class ``rate_limited``, not
    ``validation``). The client's first refusal in a minute is recorded; the rest are
    logged only, so that a flood past the budget adds no rows."""
    if first:
        return finish(att, claim, FailureClass.RATE_LIMITED, code=RATE_LIMITED.code)
    ledger.settle_after_failure(att, claim, RATE_LIMITED)  # releases the claim, keeps no row
    return decided(att, RATE_LIMITED)


def _fast_path_and_claim(att: Attempt, fast_path: bool) -> tuple[Outcome | None, Claim]:
    """A passed checkpoint of the scope (when asked for), else the claim: an outcome
    when either answers instead of the provider, and the claim to go on with."""
    dialect = strategy(att.db)
    if fast_path and dialect == "postgresql":
        with observe.phase("claim"):  # claims the token as seen when a pass answers
            claim = ledger.claim_unless_passed(att)
        passed = claim.passed
        # Only a new claim costs budget (the same token shown again makes no row).
        new = claim.held is ledger.Held.OURS
        within = passed is None or not new or seen_within_budget(att, dialect, True)
    else:
        passed = _fast_path(att) if fast_path else None
        claim = NO_CLAIM
        if passed is None:
            with observe.phase("claim"):
                claim = ledger.claim(att, dialect)
        within = passed is None or seen_within_budget(att, dialect)
    if not within:
        return decided(att, RATE_LIMITED), NO_CLAIM
    if passed is not None:
        outcome = Outcome(allowed=True, checkpoint=passed, code=Code.CHECKPOINT_PASSED)
        telemetry.log(att, outcome)
        return outcome, NO_CLAIM
    return _answer_of(att, claim, dialect)


def _fast_path(att: Attempt) -> Checkpoint | None:
    try:
        return fetch_passed(att.db, att.scope.key)
    except DatabaseError as exc:
        telemetry.logger.warning("checkpoint fast path failed (%s); verifying", type(exc).__name__)
        return None


def _answer_of(att: Attempt, claim: Claim, dialect: str) -> tuple[Outcome | None, Claim]:
    """What the ledger says: ``None`` to ask the provider with the claim it returns, else
    the outcome given without a provider call (every one of them recorded)."""
    then = resolve(att, claim, dialect)
    if then.step is Step.ASK:
        return None, then.claim
    if then.step is Step.REPLAY:
        failed = finish(att, NO_CLAIM, FailureClass.REPLAY, code=then.code, from_ledger=True)
        return failed, NO_CLAIM
    if then.step is Step.IN_FLIGHT:
        return finish(att, NO_CLAIM, FailureClass.TIMEOUT, code=Code.CLAIM_IN_FLIGHT), NO_CLAIM
    if then.step is Step.WRITE:
        return finish(att, then.claim, None, code=Code.OK, from_ledger=True), then.claim
    assert then.outcome is not None
    return note(att, then.outcome), NO_CLAIM


def _verify(att: Attempt, claim: Claim, token: str) -> Outcome:
    """Ask the provider (no transaction open) and turn the reply into an outcome."""
    att.note(sent_at=timezone.now())
    try:
        client = get_client(att.request)  # the request's app (keys per site)
        att.note(app_key=client.app_key[:64])
        with observe.phase("provider"):
            result = client.validate(token, att.client_ip, action=att.action)
    except (ConfigurationError, ProviderUnavailable, ProviderResponseError) as exc:
        return _no_verdict(att, claim, exc)
    att.note(
        latency_ms=int(result.latency_ms),
        status_code=200 if result.called else None,
        risk_score=result.risk_score,
        platform=printable(result.captcha_args.get("platform") or "", 32),
    )
    if result.valid and not result.called:
        # An unverifiable client_ token let in by CAPTCHALA_ACCEPT_CLIENT_ONLY: a
        # policy's answer, never a pass.
        return finish(
            att, claim, FailureClass.VALIDATION, code=result.code, lenient=True, result=result
        )
    if result.valid and _ip_mismatch(att, result) and app_settings.DENY_IP_MISMATCH:
        return finish(att, claim, FailureClass.VALIDATION, code=Code.IP_MISMATCH, result=result)
    if result.valid and _too_risky(att, result):
        return finish(att, claim, FailureClass.VALIDATION, code=Code.RISK_TOO_HIGH, result=result)
    if result.valid:
        return finish(att, claim, None, code=result.code, result=result)
    if result.degraded:
        # Accepted only under the rules of a valid verdict (the action was checked by
        # the client; the risk threshold where the reply carries a score).
        accept = bool(app_settings.ACCEPT_DEGRADED) and not _too_risky(att, result)
        return finish(
            att, claim, FailureClass.PROVIDER, code=result.code, lenient=accept, result=result
        )
    if claim.held is ledger.Held.UNREACHABLE and result.code == Code.TOKEN_CONSUMED:
        # Consumed, and the ledger that would tell a retry of our own pass (its view then
        # failed) from a replay is away: "try again later", never a pass, and never "solve
        # again" for our own outage.
        return finish(att, claim, FailureClass.PERSISTENCE, code=result.code, result=result)
    return finish(att, claim, FailureClass.VALIDATION, code=result.code, result=result)


def _ip_mismatch(att: Attempt, result: ValidationResult) -> bool:
    """The provider saw the check solved from another address than this request's: kept
    on the record (a solver farm, or a proxy the site does not trust yet)."""
    seen = printable(result.captcha_args.get("user_ip") or "", 45)
    if not seen or not att.client_ip:
        return False
    address = parse_ip(seen)
    if address == att.client_ip:
        return False
    if address is not None:
        att.note(provider_ip=stored_address(address))
    elif app_settings.ADDRESS_STORAGE == "full":  # not an address: kept as said (capped)
        att.note(detail=f"{MISMATCH_DETAIL}{seen}")
    else:  # what it said may be an address in another form: not stored
        att.note(detail=f"{MISMATCH_DETAIL}(not stored)")
    return True


def _too_risky(att: Attempt, result: ValidationResult) -> bool:
    """Above the threshold. A reply without a score is judged by the provider's verdict
    alone: the score is informational in the contract, and the client cannot drop it."""
    if att.max_risk is None or result.risk_score is None:
        return False
    return result.risk_score > att.max_risk


def _no_verdict(att: Attempt, claim: Claim, exc: Exception) -> Outcome:
    """The provider gave no verdict: the claim is released for a later try, unless the
    fail-open policy lets this request through: the token has then bought its one
    submission, and the claim is finished so that a resubmission is a replay
    (:func:`.ledger.settlement`)."""
    if isinstance(exc, ConfigurationError):
        failure, code, lenient = FailureClass.CONFIGURATION, exc.code or Code.CONFIGURATION, False
    elif isinstance(exc, ProviderTimeout):
        failure, code, lenient = FailureClass.TIMEOUT, Code.TIMEOUT, _fail_open(att, exc)
    else:
        code = getattr(exc, "code", "") or Code.PROVIDER_ERROR
        failure, lenient = FailureClass.PROVIDER, _fail_open(att, exc)
    att.note(status_code=getattr(exc, "status", None))
    return finish(att, claim, failure, code=code, provider_called=True, lenient=lenient, error=exc)


def _fail_open(att: Attempt, exc: Exception) -> bool:
    """``CAPTCHALA_ON_PROVIDER_ERROR = "allow"``, only for what nobody outside can bring
    on: CaptchaLa unreachable, timed out or answering 5xx. Never for its rate limit (a
    flood of made-up tokens brings that on) nor for a reply that is not a verdict (a
    chosen token could provoke one); never for the backup API: the ``offline_``
    prefix is the client's choice."""
    outage = isinstance(exc, ProviderUnavailable) and not isinstance(exc, ProviderRateLimited)
    return app_settings.ON_PROVIDER_ERROR == "allow" and outage and not att.offline
