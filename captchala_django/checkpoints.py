"""The write path: the only code that writes checkpoints, events and the ledger.

``verify_and_record`` runs the steps of a check (DESIGN §5):

1. refuse a token that cannot be one (empty, > 4 KiB, not printable ASCII);
2. fast path: one query for a passed, unexpired checkpoint of the scope;
3. claim the token in the replay ledger (one insert that may conflict): a
   claim for another scope is a ``replay``; a claim in flight is waited for;
   a finished claim for this scope answers only as an idempotent retry
   (``_from_ledger``), else the token is a ``replay``;
4. call the provider, with no transaction open and no row locked by us;
5. write the outcome in one ``transaction.atomic`` block: upsert the
   checkpoint (``version`` + 1), finish the ledger row (or release it when
   the provider gave no verdict), append the events; a database error is
   retried once, then is class ``persistence``;
6. decide, log one line, send the signal after commit.

Every read that decides trust goes to ``router.db_for_write(Checkpoint)``.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
import time
import uuid
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from typing import Any

from django.db import DatabaseError, IntegrityError, connections, router, transaction
from django.db.models import F
from django.http import HttpRequest
from django.utils import timezone

from . import signals
from .client import CaptchaLaClient, ValidationResult, printable, token_format_error, token_hint
from .conf import app_settings
from .exceptions import (
    ConfigurationError,
    ProviderResponseError,
    ProviderTimeout,
    ProviderUnavailable,
)
from .ip import get_client_ip
from .models import (
    Checkpoint,
    CheckpointEvent,
    ClaimState,
    EventKind,
    FailureClass,
    PassToken,
    Status,
)
from .scopes import Scope, ScopeArg, resolve_scope, with_subject

logger = logging.getLogger("captchala_django.checkpoints")

#: Extra seconds, beyond the provider timeout, that a duplicate submission waits
#: for the worker validating the same token.
CLAIM_MARGIN = 2.0
#: Seconds after which a claim still in flight is taken to belong to a worker that
#: died: far beyond any live check, so a token is sent to the provider a second time
#: only when the first worker can no longer use the answer.
CLAIM_ABANDONED_AFTER = 60.0
#: Which write implementation to use: ``None`` picks the best for the database
#: (one upsert statement on PostgreSQL and SQLite); ``"portable"`` forces the
#: ORM compare-and-set path that every backend supports.
WRITE_STRATEGY: str | None = None

_CHECKPOINT_FIELDS = (
    "id",
    "version",
    "status",
    "created_at",
    "passed_at",
    "expires_at",
    "token_digest",
    "failure_class",
    "failure_detail",
    "attempts",
    "user_id",
)


@dataclass(frozen=True)
class Outcome:
    """What a check decided.

    ``failure_class`` is ``None`` or one of ``validation``, ``replay``,
    ``timeout``, ``provider``, ``persistence``, ``configuration``. ``degraded``
    is true when the request is let through without a recorded, verified pass.
    """

    allowed: bool
    failure_class: str | None = None
    checkpoint: Checkpoint | None = None
    degraded: bool = False
    #: The provider's (or our local) code: ``ok``, ``invalid_token``, ``token_replayed``...
    code: str = ""
    #: Whether this call made a provider call.
    provider_called: bool = False
    #: Whether the checkpoint write committed.
    persisted: bool = True
    #: Whether the answer came from the replay ledger (an earlier processing of the token).
    from_ledger: bool = False
    #: The verdict, when there was one.
    result: ValidationResult | None = field(default=None, repr=False)

    @property
    def retry_later(self) -> bool:
        """Denied for want of an answer (provider, configuration, database), not for a bad
        token: the user should be asked to try again later, not to solve a new check."""
        return not self.allowed and self.failure_class in _RETRY_LATER


_RETRY_LATER = frozenset({"timeout", "provider", "configuration", "persistence"})


class _LostRace(DatabaseError):
    """A compare-and-set lost twice; treated like any other database error."""


# --------------------------------------------------------------------------- helpers


def token_digest(pass_token: str) -> str:
    """HMAC-SHA256 of a pass token keyed by the app secret: what is stored, never the token."""
    key = app_settings.APP_SECRET.encode()
    return hmac.new(key, pass_token.encode(), hashlib.sha256).hexdigest()


def db_alias() -> str:
    """The database every trust decision reads from and writes to (never a replica)."""
    return router.db_for_write(Checkpoint)


def request_id_of(request: HttpRequest | None) -> str:
    """``X-Request-ID`` when sane, else a generated id; kept on the request."""
    if request is None:
        return uuid.uuid4().hex
    cached = getattr(request, "_captchala_request_id", None)
    if cached:
        return cached
    given = request.META.get("HTTP_X_REQUEST_ID", "")
    if not (0 < len(given) <= 64 and all("!" <= ch <= "~" for ch in given)):
        given = uuid.uuid4().hex
    request._captchala_request_id = given
    return given


_inflight_lock = threading.Lock()
_inflight: dict[str, threading.Event] = {}


@dataclass
class _Attempt:
    """Everything one check knows, gathered once."""

    request: HttpRequest | None
    scope: Scope
    client_ip: str | None
    request_id: str
    db: str
    action: str | None
    ttl: int
    #: Whether a pass already recorded (checkpoint or ledger) may answer this check.
    reuse: bool = True
    digest: str = ""
    #: ``offline_`` tokens are checked at the backup URL: never under a fail-open policy.
    offline: bool = False
    #: Whether this attempt owns (or could not make) the ledger claim, and so writes it.
    owns_claim: bool = True
    #: The scope key the claim was made for (an anonymous scope becomes a session's).
    claim_key: str = ""
    #: Release the claim instead of finishing it: the provider gave no verdict.
    release: bool = False
    #: Whether the caller already had a transaction open on ``db``.
    nested: bool = False
    started: float = field(default_factory=time.monotonic)
    events: list[dict[str, Any]] = field(default_factory=list)

    def event(self, kind: str, **values: Any) -> None:
        values.setdefault("created_at", timezone.now())
        values["detail"] = str(values.get("detail", ""))[:200]
        self.events.append({"kind": kind, **values})


def _attempt(
    request: HttpRequest,
    scope: ScopeArg,
    action: str | None,
    ttl: int | None,
    route: str | None,
    reuse: bool,
) -> _Attempt:
    return _Attempt(
        request=request,
        scope=resolve_scope(request, scope, route),
        client_ip=get_client_ip(request),
        request_id=request_id_of(request),
        db=db_alias(),
        action=action,
        ttl=int(ttl if ttl is not None else app_settings.CHECKPOINT_TTL),
        reuse=reuse,
    )


# --------------------------------------------------------------------------- reads


_FIELDS = Checkpoint._meta.concrete_fields
_ATTNAMES = [f.attname for f in _FIELDS]
_DATETIMES = [i for i, f in enumerate(_FIELDS) if f.get_internal_type() == "DateTimeField"]
_PASSED_SQL = (
    f"SELECT {', '.join(f.column for f in _FIELDS)} FROM {Checkpoint._meta.db_table} "
    "WHERE scope_key = %s AND status = %s AND expires_at > %s"
)


def _fetch_passed(db: str, scope_key: str) -> Checkpoint | None:
    """One indexed lookup, in plain SQL: this is every guarded request's hot path."""
    connection = connections[db]
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    with connection.cursor() as cursor:
        cursor.execute(_PASSED_SQL, [scope_key, Status.PASSED.value, now])
        row = cursor.fetchone()
    if row is None:
        return None
    values = list(row)
    for i in _DATETIMES:
        values[i] = _aware(values[i], db)
    return Checkpoint.from_db(db, _ATTNAMES, values)


def get_passed(
    request: HttpRequest, scope: ScopeArg = None, *, route: str | None = None
) -> Checkpoint | None:
    """The passed, unexpired checkpoint of the request's scope, or ``None`` (one query;
    none for a client without a session, which cannot hold a pass)."""
    resolved = resolve_scope(request, scope, route)
    if resolved.anonymous:
        return None
    return _fetch_passed(db_alias(), resolved.key)


# --------------------------------------------------------------------------- main entry


def skips_check(request: HttpRequest | None) -> bool:
    """Whether ``CAPTCHALA_SKIP_FOR_STAFF`` lets this request's user skip the check."""
    if request is None or not app_settings.SKIP_FOR_STAFF:
        return False
    user = getattr(request, "user", None)
    return bool(user is not None and user.is_authenticated and user.is_staff)


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
) -> Outcome:
    """Check ``pass_token`` for the request's scope and record the outcome.

    Never raises for bad input, provider trouble or database trouble: each is
    an :class:`Outcome` with its failure class. A ``ConfigurationError`` is an
    outcome too (denied, logged at ERROR). ``fast_path=False`` skips the lookup
    of a passed checkpoint, for callers that have just made it (``get_passed``).

    ``reuse=False`` is for front doors whose pass covers one submission (the
    form and serializer fields): no checkpoint answers for the token, and a
    token that already let a submission through is a ``replay``.
    """
    att = _attempt(request, scope, action, ttl, route, reuse)
    if skips_check(request):
        return _skip(att)
    reason = token_format_error(pass_token)
    if reason:
        att.event(EventKind.TOKEN_RECEIVED, detail=reason)
        return _finish(att, FailureClass.VALIDATION, code=reason)
    pass_token = str(pass_token)  # token_format_error() accepted it: a non-empty str
    att.offline = pass_token.startswith("offline_")
    att.event(EventKind.TOKEN_RECEIVED, detail=token_hint(pass_token))

    passed = None
    if fast_path and reuse and not att.scope.anonymous:
        try:
            passed = _fetch_passed(att.db, att.scope.key)
        except DatabaseError as exc:
            logger.warning("checkpoint fast path failed (%s); verifying", type(exc).__name__)
    if passed is not None:
        outcome = Outcome(allowed=True, checkpoint=passed, code="checkpoint_passed")
        _log(att, outcome)
        return outcome

    try:
        att.digest = token_digest(pass_token)
    except ConfigurationError as exc:
        return _finish(att, FailureClass.CONFIGURATION, code="configuration", error=exc)
    att.claim_key = att.scope.key
    claimed, ledger = _claim(att)
    if not claimed and ledger is not None:
        if ledger["scope_key"] != att.scope.key:
            att.owns_claim = False
            return _finish(att, FailureClass.REPLAY, code="token_replayed")
        if ledger["state"] == ClaimState.PENDING:
            ledger = _await_claim(att, ledger)
        if ledger["state"] == ClaimState.DONE:
            return _from_ledger(att, ledger)
        if not _take_over(att, ledger):
            att.owns_claim = False
            return _finish(
                att, FailureClass.TIMEOUT, code="claim_in_flight", lenient=_fail_open(att)
            )

    event = threading.Event()
    with _inflight_lock:
        _inflight[att.digest] = event
    try:
        return _verify(att, pass_token)
    finally:
        with _inflight_lock:
            _inflight.pop(att.digest, None)
        event.set()


def _verify(att: _Attempt, pass_token: str) -> Outcome:
    att.event(EventKind.VALIDATE_SENT, detail=token_hint(pass_token))
    try:
        result = CaptchaLaClient().validate(pass_token, att.client_ip, action=att.action)
    except ConfigurationError as exc:
        att.event(
            EventKind.VALIDATE_RESPONSE, detail=exc.code or "configuration", status_code=exc.status
        )
        # No verdict on the token: the claim is released for a later try.
        att.release = True
        return _finish(
            att,
            FailureClass.CONFIGURATION,
            code=exc.code or "configuration",
            provider_called=True,
            error=exc,
        )
    except ProviderTimeout as exc:
        att.event(EventKind.VALIDATE_RESPONSE, detail="timeout")
        att.release = True
        return _finish(
            att,
            FailureClass.TIMEOUT,
            code="timeout",
            provider_called=True,
            lenient=_fail_open(att),
            error=exc,
        )
    except (ProviderUnavailable, ProviderResponseError) as exc:
        code = exc.code or "provider_error"
        att.event(EventKind.VALIDATE_RESPONSE, detail=code, status_code=exc.status)
        att.release = True
        return _finish(
            att,
            FailureClass.PROVIDER,
            code=code,
            provider_called=True,
            lenient=_fail_open(att),
            error=exc,
        )

    att.event(
        EventKind.VALIDATE_RESPONSE,
        detail=result.code,
        latency_ms=int(result.latency_ms),
        status_code=200 if result.called else None,
    )
    if result.valid and not result.called:
        # An unverifiable client_ token let in by CAPTCHALA_ACCEPT_CLIENT_ONLY: a
        # policy's answer, never a pass.
        return _finish(att, FailureClass.VALIDATION, code=result.code, lenient=True, result=result)
    if result.valid:
        return _finish(att, None, code=result.code, provider_called=True, result=result)
    if result.degraded:
        return _finish(
            att,
            FailureClass.PROVIDER,
            code=result.code,
            provider_called=True,
            result=result,
            lenient=bool(app_settings.ACCEPT_DEGRADED),
        )
    return _finish(
        att, FailureClass.VALIDATION, code=result.code, provider_called=result.called, result=result
    )


# --------------------------------------------------------------------------- decide + write


def _fail_open(att: _Attempt) -> bool:
    """``CAPTCHALA_ON_PROVIDER_ERROR = "allow"``, for the primary API only: the
    ``offline_`` prefix is the client's choice and must not select a fail-open path."""
    return app_settings.ON_PROVIDER_ERROR == "allow" and not att.offline


def _finish(
    att: _Attempt,
    failure: str | None,
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
    code = printable(code)
    verified = failure is None
    allowed = verified or lenient
    degraded = allowed and not verified
    if verified:
        # The client earns a session (and a pass on it) only now.
        att.scope = with_subject(att.request, att.scope) if att.request else att.scope
    decision = "degrade" if degraded else ("allow" if allowed else "deny")
    att.event(EventKind.DECISION, decision=decision, failure_class=failure or "", detail=code)

    outcome = Outcome(
        allowed=allowed,
        failure_class=str(failure) if failure else None,
        degraded=degraded,
        code=code,
        provider_called=provider_called,
        from_ledger=from_ledger,
        result=result,
    )
    try:
        checkpoint = _write(att, outcome)
    except DatabaseError as exc:
        outcome = _persistence_failed(att, outcome, exc)
    else:
        outcome = replace(outcome, checkpoint=checkpoint)
    _log(att, outcome, error=error)
    _signal(att, outcome)
    return outcome


def _persistence_failed(att: _Attempt, outcome: Outcome, exc: Exception) -> Outcome:
    logger.error(
        "checkpoint write failed twice (%s: %s) scope_kind=%s route=%s request_id=%s",
        type(exc).__name__,
        str(exc)[:200],
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
            failure_class=str(FailureClass.PERSISTENCE),
            persisted=False,
        )
    _settle_claim(att, outcome)
    return outcome


def _write(att: _Attempt, outcome: Outcome) -> Checkpoint:
    """Write the outcome; one retry of a database error. Raises ``DatabaseError``."""
    state = _desired_state(att, outcome)
    att.nested = connections[att.db].in_atomic_block
    last: DatabaseError | None = None
    strategy = _strategy(att.db)
    # On PostgreSQL the whole write is one statement, atomic on its own: outside a
    # caller's transaction it needs no BEGIN/COMMIT round trips.
    single = strategy == "postgresql" and not att.nested
    for attempt in (1, 2):
        try:
            with nullcontext() if single else transaction.atomic(using=att.db):
                row = _WRITERS[strategy](att, state, outcome)
            return _checkpoint_from_row(att, state, row)
        except DatabaseError as exc:
            last = exc
            if attempt == 1:
                logger.warning(
                    "checkpoint write failed (%s), retrying once request_id=%s",
                    type(exc).__name__,
                    att.request_id,
                )
    assert last is not None
    raise last


def _strategy(db: str) -> str:
    if WRITE_STRATEGY:
        return WRITE_STRATEGY
    vendor = connections[db].vendor
    if vendor == "postgresql":
        return "postgresql"
    if vendor == "sqlite":
        import sqlite3

        if sqlite3.sqlite_version_info >= (3, 35):
            return "sqlite"
    return "portable"


def _desired_state(att: _Attempt, outcome: Outcome) -> dict[str, Any]:
    now = timezone.now()
    passed = outcome.failure_class is None
    return {
        "scope_key": att.scope.key,
        "scope_kind": att.scope.kind,
        "route": att.scope.route[:200],
        "user_id": att.scope.user_id,
        "status": Status.PASSED if passed else Status.FAILED,
        "token_digest": att.digest,
        "failure_class": outcome.failure_class or "",
        "failure_detail": outcome.code[:200],
        "client_ip": att.client_ip,
        "created_at": now,
        "updated_at": now,
        "passed_at": now if passed else None,
        "expires_at": now + timedelta(seconds=att.ttl),
        "request_id": att.request_id,
    }


def _ledger_row(att: _Attempt, outcome: Outcome, now: datetime) -> dict[str, Any]:
    return {
        "token_digest": att.digest,
        "scope_key": att.scope.key,
        "state": ClaimState.DONE,
        "allowed": outcome.allowed,
        "degraded": outcome.degraded,
        "failure_class": outcome.failure_class or "",
        "code": outcome.code[:64],
        "created_at": now,
        "expires_at": now + timedelta(seconds=app_settings.LEDGER_TTL),
    }


def _keeps_pass(row: dict[str, Any], state: dict[str, Any]) -> bool:
    """A failure never overwrites a pass that is still valid."""
    return (
        state["status"] != Status.PASSED
        and row["status"] == Status.PASSED
        and row["expires_at"] is not None
        and row["expires_at"] > state["updated_at"]
    )


def _checkpoint_from_row(att: _Attempt, state: dict[str, Any], row: dict[str, Any]) -> Checkpoint:
    values = {**state, **row}
    for name in ("created_at", "passed_at", "expires_at"):
        values[name] = _aware(values[name], att.db)
    checkpoint = Checkpoint(**{k: v for k, v in values.items() if k != "id"})
    checkpoint.pk = row["id"]
    checkpoint._state.adding = False
    checkpoint._state.db = att.db
    return checkpoint


def _aware(value: Any, db: str) -> Any:
    if isinstance(value, str):
        value = connections[db].ops.convert_datetimefield_value(value, None, connections[db])
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
    if isinstance(value, datetime) and timezone.is_naive(value):
        value = timezone.make_aware(value, dt_timezone.utc)
    return value


# ------------------------------------------------------------------ writer: portable ORM


def _write_portable(att: _Attempt, state: dict[str, Any], outcome: Outcome) -> dict[str, Any]:
    """Compare-and-set on ``version``; one re-read after a lost race."""
    manager = Checkpoint.objects.using(att.db)
    row = None
    for _ in range(2):
        row = manager.filter(scope_key=state["scope_key"]).values(*_CHECKPOINT_FIELDS).first()
        if row is None:
            try:
                with transaction.atomic(using=att.db):
                    created = manager.create(**state, version=1, attempts=1)
            except IntegrityError:
                continue  # lost the insert race: re-read
            row = {name: getattr(created, name) for name in _CHECKPOINT_FIELDS}
            break
        changes = _merge(row, state)
        updated = manager.filter(pk=row["id"], version=row["version"]).update(
            **changes, version=row["version"] + 1, attempts=F("attempts") + 1
        )
        if updated:
            row = {**row, **changes, "version": row["version"] + 1, "attempts": row["attempts"] + 1}
            break
        row = None  # lost the compare-and-set: re-read once
    if row is None:
        raise _LostRace("checkpoint compare-and-set lost twice")

    if att.digest and att.owns_claim:
        tokens = PassToken.objects.using(att.db)
        claim = tokens.filter(token_digest=att.digest, scope_key=att.claim_key)
        if att.release:
            claim.filter(state=ClaimState.PENDING).delete()
        else:
            ledger = _ledger_row(att, outcome, state["updated_at"])
            done = claim.update(**{k: ledger[k] for k in _LEDGER_UPDATE})
            if not done and not tokens.filter(token_digest=att.digest).exists():
                tokens.create(**ledger)
    CheckpointEvent.objects.using(att.db).bulk_create(
        CheckpointEvent(
            checkpoint_id=row["id"], version=row["version"], request_id=att.request_id, **event
        )
        for event in att.events
    )
    return row


def _merge(row: dict[str, Any], state: dict[str, Any]) -> dict[str, Any]:
    """The columns an update of ``row`` to ``state`` sets (mirrors the SQL upsert)."""
    changes = {
        name: state[name]
        for name in ("scope_kind", "route", "client_ip", "updated_at", "request_id")
    }
    if state["user_id"] is not None:
        changes["user_id"] = state["user_id"]
    if not _keeps_pass(row, state):
        for name in ("status", "token_digest", "failure_class", "failure_detail"):
            changes[name] = state[name]
    if state["status"] == Status.PASSED:
        changes["passed_at"] = state["passed_at"]
        changes["expires_at"] = state["expires_at"]
    elif row["expires_at"] is None:
        # A failure never pushes an expiry forward; it only gives a row without
        # one (new, or reset) a horizon for cleanup.
        changes["expires_at"] = state["expires_at"]
    return changes


# ------------------------------------------------------------------ writers: SQL upsert

_INSERT_COLUMNS = (
    "scope_key",
    "scope_kind",
    "route",
    "user_id",
    "status",
    "version",
    "token_digest",
    "failure_class",
    "failure_detail",
    "client_ip",
    "attempts",
    "created_at",
    "updated_at",
    "passed_at",
    "expires_at",
    "request_id",
)
_KEEP = (
    "(excluded.status <> 'passed' AND c.status = 'passed' "
    "AND c.expires_at IS NOT NULL AND c.expires_at > excluded.updated_at)"
)


def _checkpoint_upsert_sql() -> str:
    table = Checkpoint._meta.db_table
    kept = ("status", "token_digest", "failure_class", "failure_detail")
    sets = [
        "version = c.version + 1",
        "attempts = c.attempts + 1",
        "scope_kind = excluded.scope_kind",
        "route = excluded.route",
        "client_ip = excluded.client_ip",
        "updated_at = excluded.updated_at",
        "request_id = excluded.request_id",
        "user_id = COALESCE(excluded.user_id, c.user_id)",
        "passed_at = CASE WHEN excluded.status = 'passed' THEN excluded.passed_at "
        "ELSE c.passed_at END",
        # Mirrors _merge(): a failure never pushes an expiry forward.
        "expires_at = CASE WHEN excluded.status = 'passed' THEN excluded.expires_at "
        "ELSE COALESCE(c.expires_at, excluded.expires_at) END",
    ] + [f"{name} = CASE WHEN {_KEEP} THEN c.{name} ELSE excluded.{name} END" for name in kept]
    return (
        f"INSERT INTO {table} AS c ({', '.join(_INSERT_COLUMNS)}) "
        f"VALUES ({', '.join(['%s'] * len(_INSERT_COLUMNS))}) "
        f"ON CONFLICT (scope_key) DO UPDATE SET {', '.join(sets)} "
        f"RETURNING {', '.join(_CHECKPOINT_FIELDS)}"
    )


_LEDGER_COLUMNS = (
    "token_digest",
    "scope_key",
    "state",
    "allowed",
    "degraded",
    "failure_class",
    "code",
    "created_at",
    "expires_at",
)


#: The ledger columns that finishing a claim sets.
_LEDGER_UPDATE = ("scope_key", "state", "allowed", "degraded", "failure_class", "code")


def _ledger_sql(att: _Attempt, outcome: Outcome, now: datetime) -> tuple[str, list[Any]]:
    """Finish our claim (an upsert, so a claim the ledger could not take is written
    now) or, when the provider gave no verdict, release it: one statement."""
    table = PassToken._meta.db_table
    if att.release:
        return (
            f"DELETE FROM {table} WHERE token_digest = %s AND scope_key = %s AND state = %s",
            [att.digest, att.claim_key, ClaimState.PENDING.value],
        )
    ops = connections[att.db].ops
    row = _ledger_row(att, outcome, now)
    params = [
        ops.adapt_datetimefield_value(row[n]) if isinstance(row[n], datetime) else row[n]
        for n in _LEDGER_COLUMNS
    ]
    sets = ", ".join(f"{name} = excluded.{name}" for name in _LEDGER_UPDATE)
    sql = (
        f"INSERT INTO {table} AS p ({', '.join(_LEDGER_COLUMNS)}) "
        f"VALUES ({', '.join(['%s'] * len(_LEDGER_COLUMNS))}) "
        f"ON CONFLICT (token_digest) DO UPDATE SET {sets} WHERE p.scope_key = %s"
    )
    return sql, [*params, att.claim_key]


_EVENT_COLUMNS = (
    "kind",
    "created_at",
    "decision",
    "failure_class",
    "detail",
    "status_code",
    "latency_ms",
)


def _event_values(att: _Attempt, event: dict[str, Any], adapt) -> list[Any]:
    return [
        event["kind"],
        adapt(event["created_at"]),
        event.get("decision", ""),
        event.get("failure_class", ""),
        event.get("detail", ""),
        event.get("status_code"),
        event.get("latency_ms"),
    ]


def _params(att: _Attempt, state: dict[str, Any]) -> list[Any]:
    ops = connections[att.db].ops
    values = {**state, "version": 1, "attempts": 1}
    out = []
    for name in _INSERT_COLUMNS:
        value = values[name]
        if isinstance(value, datetime):
            value = ops.adapt_datetimefield_value(value)
        out.append(value)
    return out


def _row(cursor) -> dict[str, Any]:
    values = cursor.fetchone()
    return dict(zip(_CHECKPOINT_FIELDS, values, strict=True))


def _write_sqlite(att: _Attempt, state: dict[str, Any], outcome: Outcome) -> dict[str, Any]:
    """Three statements: checkpoint upsert (RETURNING), ledger upsert, events."""
    connection = connections[att.db]
    adapt = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        cursor.execute(_checkpoint_upsert_sql(), _params(att, state))
        row = _row(cursor)
        if att.digest and att.owns_claim:
            cursor.execute(*_ledger_sql(att, outcome, state["updated_at"]))
        table = CheckpointEvent._meta.db_table
        columns = ("checkpoint_id", "version", "request_id", *_EVENT_COLUMNS)
        placeholders = "(" + ", ".join(["%s"] * len(columns)) + ")"
        params: list[Any] = []
        for event in att.events:
            params += [row["id"], row["version"], att.request_id, *_event_values(att, event, adapt)]
        cursor.execute(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
            + ", ".join([placeholders] * len(att.events)),
            params,
        )
    return row


def _write_postgresql(att: _Attempt, state: dict[str, Any], outcome: Outcome) -> dict[str, Any]:
    """One statement: checkpoint upsert, ledger upsert and events in data-modifying CTEs."""
    connection = connections[att.db]
    adapt = connection.ops.adapt_datetimefield_value
    params: list[Any] = []
    parts = [f"cp AS ({_checkpoint_upsert_sql()})"]
    params += _params(att, state)
    if att.digest and att.owns_claim:
        sql, ledger_params = _ledger_sql(att, outcome, state["updated_at"])
        parts.append(f"pt AS ({sql})")
        params += ledger_params
    table = CheckpointEvent._meta.db_table
    rows = ", ".join(
        ["(%s::text, %s::timestamptz, %s::text, %s::text, %s::text, %s::integer, %s::integer)"]
        * len(att.events)
    )
    parts.append(
        f"ev AS (INSERT INTO {table} (checkpoint_id, version, request_id, "
        f"{', '.join(_EVENT_COLUMNS)}) SELECT cp.id, cp.version, %s::text, v.* FROM cp "
        f"CROSS JOIN (VALUES {rows}) AS v({', '.join(_EVENT_COLUMNS)}))"
    )
    params.append(att.request_id)
    for event in att.events:
        params += _event_values(att, event, adapt)
    sql = "WITH " + ", ".join(parts) + f" SELECT {', '.join(_CHECKPOINT_FIELDS)} FROM cp"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return _row(cursor)


_WRITERS = {
    "portable": _write_portable,
    "sqlite": _write_sqlite,
    "postgresql": _write_postgresql,
}


# --------------------------------------------------------------------------- ledger


def _claim(att: _Attempt) -> tuple[bool, dict[str, Any] | None]:
    """Claim the token. ``(True, None)``: ours; ``(False, row)``: someone's; ``(False, None)``:
    the ledger is unreachable (we go on without it)."""
    now = timezone.now()
    values = {
        "token_digest": att.digest,
        "scope_key": att.scope.key,
        "state": ClaimState.PENDING,
        "allowed": None,
        "degraded": False,
        "failure_class": "",
        "code": "",
        "created_at": now,
        "expires_at": now + timedelta(seconds=app_settings.LEDGER_TTL),
    }
    try:
        if _strategy(att.db) == "portable":
            try:
                with transaction.atomic(using=att.db):
                    PassToken.objects.using(att.db).create(**values)
                return True, None
            except IntegrityError:
                pass
        else:
            connection = connections[att.db]
            ops = connection.ops
            columns = list(values)
            params = [
                ops.adapt_datetimefield_value(v) if isinstance(v, datetime) else v
                for v in values.values()
            ]
            with connection.cursor() as cursor:
                cursor.execute(
                    f"INSERT INTO {PassToken._meta.db_table} ({', '.join(columns)}) "
                    f"VALUES ({', '.join(['%s'] * len(columns))}) "
                    "ON CONFLICT (token_digest) DO NOTHING RETURNING id",
                    params,
                )
                if cursor.fetchone() is not None:
                    return True, None
        return False, _ledger(att)
    except DatabaseError as exc:
        logger.warning(
            "replay ledger unavailable (%s); verifying without a claim request_id=%s",
            type(exc).__name__,
            att.request_id,
        )
        return False, None


def _ledger(att: _Attempt) -> dict[str, Any] | None:
    return (
        PassToken.objects.using(att.db)
        .filter(token_digest=att.digest)
        .values(
            "id", "scope_key", "state", "allowed", "degraded", "failure_class", "code", "created_at"
        )
        .first()
    )


def _claim_deadline() -> float:
    return float(app_settings.TIMEOUT) + CLAIM_MARGIN


def _await_claim(att: _Attempt, row: dict[str, Any]) -> dict[str, Any]:
    """Wait (bounded) for the worker validating this very token to finish."""
    age = (timezone.now() - _aware(row["created_at"], att.db)).total_seconds()
    deadline = time.monotonic() + max(0.0, _claim_deadline() - age)
    delay = 0.005
    while row["state"] == ClaimState.PENDING and time.monotonic() < deadline:
        with _inflight_lock:
            event = _inflight.get(att.digest)
        if event is not None:
            event.wait(delay)
        else:
            time.sleep(delay)  # another process holds the claim: poll the ledger
        delay = min(delay * 2, 0.1)
        fresh = _ledger(att)
        if fresh is None:  # the claim was released: it is ours to take
            return {**row, "state": "released"}
        row = fresh
    return row


def _take_over(att: _Attempt, row: dict[str, Any]) -> bool:
    """Take an abandoned claim (older than ``CLAIM_ABANDONED_AFTER``); True if now ours."""
    tokens = PassToken.objects.using(att.db)
    try:
        if row["state"] == "released":
            try:
                with transaction.atomic(using=att.db):
                    tokens.create(
                        token_digest=att.digest,
                        scope_key=att.scope.key,
                        expires_at=timezone.now() + timedelta(seconds=app_settings.LEDGER_TTL),
                    )
                return True
            except IntegrityError:
                return False
        created = _aware(row["created_at"], att.db)
        if (timezone.now() - created).total_seconds() < CLAIM_ABANDONED_AFTER:
            return False  # still a live worker's: never send the token twice
        return bool(
            tokens.filter(
                id=row["id"], state=ClaimState.PENDING, created_at=row["created_at"]
            ).update(created_at=timezone.now())
        )
    except DatabaseError:
        return False


def _settle_claim(att: _Attempt, outcome: Outcome) -> None:
    """After a failed write, settle the claim on its own (best effort).

    The answer is recorded on it, so a retry of the same submission within the
    retry window gets it without a second provider call; a claim without a
    verdict is released. If even this fails, the claim is taken over once it is
    older than ``CLAIM_ABANDONED_AFTER``.
    """
    if not (att.digest and att.owns_claim):
        return
    try:
        claim = PassToken.objects.using(att.db).filter(
            token_digest=att.digest, scope_key=att.claim_key
        )
        if att.release:
            claim.filter(state=ClaimState.PENDING).delete()
            return
        claim.update(
            scope_key=att.scope.key,
            state=ClaimState.DONE,
            allowed=outcome.allowed,
            degraded=outcome.degraded,
            failure_class=outcome.failure_class or "",
            code=outcome.code[:64],
        )
    except DatabaseError as exc:
        logger.warning("could not record the answer on the ledger (%s)", type(exc).__name__)


def retry_window() -> float:
    """Seconds after its claim that a resubmitted token is answered as a retry
    (``CAPTCHALA_RETRY_WINDOW``, default: the provider timeout plus 5 s)."""
    window = app_settings.RETRY_WINDOW
    if window is None:
        return float(app_settings.TIMEOUT) + 5.0
    return float(window)


def _from_ledger(att: _Attempt, row: dict[str, Any]) -> Outcome:
    """Answer a token this scope has already claimed and finished.

    Within the retry window a resubmission is answered as an idempotent retry:
    a denial is repeated; a valid verdict whose write failed is written now (for
    a one-submission front door only if that submission was not let through);
    a pass is answered only while the checkpoint still holds it, and only at a
    checkpoint front door. Anything else is a replay: refused, no provider call.
    """
    if row["scope_key"] != att.claim_key:
        # Finished for another scope while we waited (a client without a session
        # that passed got its own session scope): never an answer for this one.
        att.owns_claim = False
        return _finish(att, FailureClass.REPLAY, code="token_replayed")
    age = (timezone.now() - _aware(row["created_at"], att.db)).total_seconds()
    in_window = age <= retry_window()
    stored = row["failure_class"] or None
    if in_window and stored == FailureClass.PERSISTENCE:
        if att.reuse or not row["allowed"]:
            return _finish(att, None, code="ok", from_ledger=True)
    elif in_window and not row["allowed"]:
        denied = Outcome(allowed=False, failure_class=stored, code=row["code"], from_ledger=True)
        return _note(att, denied)
    elif in_window and att.reuse and stored is None:
        passed = _fetch_passed(att.db, att.scope.key)
        if passed is not None and passed.token_digest == att.digest:
            outcome = Outcome(
                allowed=True, checkpoint=passed, code="ledger_retry", from_ledger=True
            )
            return _note(att, outcome)
    att.owns_claim = False
    return _finish(att, FailureClass.REPLAY, code="token_reused", from_ledger=True)


def _skip(att: _Attempt) -> Outcome:
    """``CAPTCHALA_SKIP_FOR_STAFF``: recorded as a decision, never as a pass.

    The checkpoint's state is left as it is, so a skip opens nothing for anyone
    else sharing the scope (an ``ip`` scope, for instance).
    """
    return _note(att, Outcome(allowed=True, code="staff_skip"))


def _note(att: _Attempt, outcome: Outcome) -> Outcome:
    """Record a decision as events only: the checkpoint's state and version stay."""
    att.event(
        EventKind.DECISION,
        decision="allow" if outcome.allowed else "deny",
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
        logger.warning("could not record a %s decision (%s)", outcome.code, type(exc).__name__)
        outcome = replace(outcome, persisted=False)
    _log(att, outcome)
    return outcome


def _pending_row(att: _Attempt) -> Checkpoint:
    """The scope's checkpoint, made ``pending`` (no pass, no expiry) if it has none."""
    checkpoint, _ = Checkpoint.objects.using(att.db).get_or_create(
        scope_key=att.scope.key,
        defaults={
            "scope_kind": att.scope.kind,
            "route": att.scope.route[:200],
            "user_id": att.scope.user_id,
            "status": Status.PENDING,
            "client_ip": att.client_ip,
            "request_id": att.request_id,
        },
    )
    return checkpoint


# --------------------------------------------------------------------------- reset / expire


def reset(scope_key: str, *, request: HttpRequest | None = None, reason: str = "") -> bool:
    """Set a checkpoint back to ``pending`` (the next request is checked again)."""
    return _set_state(
        scope_key, EventKind.RESET, request, reason, status=Status.PENDING, expires_at=None
    )


def expire(scope_key: str, *, request: HttpRequest | None = None, reason: str = "") -> bool:
    """End a checkpoint's trust now, keeping its status for the record."""
    return _set_state(scope_key, EventKind.EXPIRED, request, reason, expires_at=timezone.now())


def _set_state(
    scope_key: str, kind: str, request: HttpRequest | None, reason: str, **changes: Any
) -> bool:
    db = db_alias()
    now = timezone.now()
    request_id = request_id_of(request)
    with transaction.atomic(using=db):
        manager = Checkpoint.objects.using(db)
        updated = manager.filter(scope_key=scope_key).update(
            **changes, version=F("version") + 1, updated_at=now, request_id=request_id
        )
        if not updated:
            return False
        checkpoint = manager.only("id", "version").get(scope_key=scope_key)
        CheckpointEvent.objects.using(db).create(
            checkpoint=checkpoint,
            kind=kind,
            version=checkpoint.version,
            detail=reason[:200],
            request_id=request_id,
            created_at=now,
        )
    logger.info("checkpoint %s version=%s request_id=%s", kind, checkpoint.version, request_id)
    return True


# --------------------------------------------------------------------------- log + signal


def _log(att: _Attempt, outcome: Outcome, error: Exception | None = None) -> None:
    decision = "degrade" if outcome.degraded else ("allow" if outcome.allowed else "deny")
    version = outcome.checkpoint.version if outcome.checkpoint is not None else None
    latency_ms = int((time.monotonic() - att.started) * 1000)
    fields = {
        "decision": decision,
        "failure_class": outcome.failure_class or "",
        "code": outcome.code,
        "scope_kind": att.scope.kind,
        "route": att.scope.route,
        "version": version,
        "latency_ms": latency_ms,
        "request_id": att.request_id,
        "provider_called": outcome.provider_called,
        "from_ledger": outcome.from_ledger,
    }
    cls = outcome.failure_class
    if cls in (FailureClass.CONFIGURATION, FailureClass.PERSISTENCE):
        level = logging.ERROR
    elif cls in (FailureClass.TIMEOUT, FailureClass.PROVIDER, FailureClass.REPLAY):
        level = logging.WARNING
    else:
        level = logging.INFO
    logger.log(
        level,
        "captcha decision=%(decision)s class=%(failure_class)s code=%(code)s "
        "scope_kind=%(scope_kind)s route=%(route)s version=%(version)s "
        "latency_ms=%(latency_ms)s request_id=%(request_id)s",
        fields,
        exc_info=error if level >= logging.WARNING and error is not None else None,
        extra={"captchala": fields},
    )


def _signal(att: _Attempt, outcome: Outcome) -> None:
    if outcome.degraded:
        signal = signals.checkpoint_degraded
    elif outcome.failure_class is None:
        signal = signals.checkpoint_passed
    else:
        signal = signals.checkpoint_failed

    def send() -> None:
        replies = signal.send_robust(
            sender=Checkpoint, checkpoint=outcome.checkpoint, outcome=outcome, request=att.request
        )
        for receiver, reply in replies:
            if isinstance(reply, Exception):
                logger.error(
                    "signal receiver %r raised %s", receiver, type(reply).__name__, exc_info=reply
                )

    if outcome.persisted:
        transaction.on_commit(send, using=att.db)
    else:
        send()


# --------------------------------------------------------------------------- cleanup


@dataclass
class CleanupResult:
    checkpoints: int = 0
    events: int = 0
    tokens: int = 0
    batches: int = 0
    #: The longest single statement, in seconds.
    longest_statement: float = 0.0
    dry_run: bool = False


def cleanup(
    *,
    batch_size: int = 1000,
    older_than: timedelta = timedelta(days=30),
    dry_run: bool = False,
    progress=None,
) -> CleanupResult:
    """Delete expired checkpoints (with their events), old events and expired ledger rows.

    Works in primary-key batches in a stable order, one short transaction each,
    so it is safe while traffic writes: each ``DELETE`` re-checks its condition,
    so a checkpoint passed again since the batch was chosen is kept. ``progress``
    is called with the running :class:`CleanupResult` after every batch.
    """
    db = db_alias()
    now = timezone.now()
    old = now - older_than
    ops = connections[db].ops
    cp = Checkpoint._meta.db_table
    ev = CheckpointEvent._meta.db_table
    pt = PassToken._meta.db_table
    # Expired, or never passed/reset (no expiry) and untouched for ``older_than``.
    cp_cond = "(expires_at < %s OR (expires_at IS NULL AND updated_at < %s))"
    cp_params = [ops.adapt_datetimefield_value(now), ops.adapt_datetimefield_value(old)]
    ev_cond, ev_params = "created_at < %s", [ops.adapt_datetimefield_value(old)]
    pt_cond, pt_params = "expires_at < %s", [ops.adapt_datetimefield_value(now)]
    result = CleanupResult(dry_run=dry_run)

    def timed(cursor, sql, params):
        started = time.monotonic()
        cursor.execute(sql, params)
        result.longest_statement = max(result.longest_statement, time.monotonic() - started)

    with connections[db].cursor() as cursor:
        if dry_run:
            ev_all = f"({ev_cond} OR checkpoint_id IN (SELECT id FROM {cp} WHERE {cp_cond}))"
            for table, cond, params, attr in (
                (cp, cp_cond, cp_params, "checkpoints"),
                (ev, ev_all, [*ev_params, *cp_params], "events"),
                (pt, pt_cond, pt_params, "tokens"),
            ):
                timed(cursor, f"SELECT COUNT(*) FROM {table} WHERE {cond}", params)
                setattr(result, attr, cursor.fetchone()[0])
            return result

    def batches(table: str, cond: str, params: list, attr: str, then=None) -> None:
        while True:
            with transaction.atomic(using=db), connections[db].cursor() as cursor:
                timed(
                    cursor,
                    f"DELETE FROM {table} WHERE id IN (SELECT id FROM {table} WHERE {cond} "
                    f"ORDER BY id LIMIT %s) AND {cond} RETURNING id",
                    [*params, batch_size, *params],
                )
                ids = [row[0] for row in cursor.fetchall()]
                if ids and then is not None:
                    then(cursor, ids)
            setattr(result, attr, getattr(result, attr) + len(ids))
            result.batches += 1
            if progress is not None:
                progress(result)
            if len(ids) < batch_size:
                return

    def drop_events(cursor, ids):
        for start in range(0, len(ids), 500):  # stay under every backend's parameter limit
            chunk = ids[start : start + 500]
            placeholders = ", ".join(["%s"] * len(chunk))
            timed(cursor, f"DELETE FROM {ev} WHERE checkpoint_id IN ({placeholders})", chunk)
            result.events += cursor.rowcount

    batches(cp, cp_cond, cp_params, "checkpoints", then=drop_events)
    batches(ev, ev_cond, ev_params, "events")
    batches(pt, pt_cond, pt_params, "tokens")
    return result
