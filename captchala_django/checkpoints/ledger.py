"""The replay ledger: one row per pass token ever seen (by digest), claimed before the
provider is asked.

Claiming is one insert that may conflict. The conflict tells the cases apart:
a claim for another scope is a replay; a claim still in flight is waited for
(bounded), so a token is never sent to the provider twice; a finished claim
of this scope answers only as an idempotent retry (:func:`answer`). The
claim is finished with the outcome by the writer, or released when the
provider gave no verdict, so that a retry asks the provider again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import DatabaseError, IntegrityError, connections, transaction
from django.utils import timezone

from ..codes import Code
from ..conf import app_settings
from ..models import Checkpoint, ClaimState, FailureClass, PassToken
from .attempt import Attempt, aware
from .lookup import PASSED_SQL, fetch_passed, from_values, passed_params
from .outcome import Outcome

logger = logging.getLogger("captchala_django.checkpoints")

TABLE = PassToken._meta.db_table
COLUMNS = (
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
#: The columns that finishing a claim sets.
FINISH = ("scope_key", "state", "allowed", "degraded", "failure_class", "code")
_READ = ("id", "scope_key", "state", "allowed", "degraded", "failure_class", "code", "created_at")

# Claims in flight in this process, so that a duplicate here wakes at once.
_inflight_lock = threading.Lock()
_inflight: dict[str, threading.Event] = {}


def retry_window() -> float:
    """Seconds after its claim that a resubmitted token is answered as a retry
    (``CAPTCHALA_RETRY_WINDOW``, default: the provider timeout plus 5 s)."""
    window = app_settings.RETRY_WINDOW
    if window is None:
        return float(app_settings.TIMEOUT) + 5.0
    return float(window)


def row_for(att: Attempt, outcome: Outcome | None = None) -> dict[str, Any]:
    """The ledger row of this attempt: a claim, or (with ``outcome``) a finished one."""
    now = timezone.now()
    return {
        "token_digest": att.digest,
        "scope_key": att.scope.key,
        "state": ClaimState.PENDING if outcome is None else ClaimState.DONE,
        "allowed": None if outcome is None else outcome.allowed,
        "degraded": False if outcome is None else outcome.degraded,
        "failure_class": "" if outcome is None else outcome.failure_class or "",
        "code": "" if outcome is None else outcome.code[:64],
        "created_at": now,
        "expires_at": now + timedelta(seconds=app_settings.LEDGER_TTL),
    }


def _sql_values(att: Attempt, row: dict[str, Any]) -> list[Any]:
    adapt = connections[att.db].ops.adapt_datetimefield_value
    return [adapt(row[n]) if isinstance(row[n], datetime) else row[n] for n in COLUMNS]


# --------------------------------------------------------------------------- claim

#: The code of a claim made for a token that a request riding a pass carried.
SEEN_WITH_PASS = Code.SEEN_WITH_PASS
_SEEN_OUTCOME = Outcome(allowed=True, code=SEEN_WITH_PASS)

# PostgreSQL: the fast path and the claim in one statement. When a pass answers, the
# token is claimed as seen with it (finished at once, see ``claim_seen``); otherwise it
# is claimed pending, for the provider call. One round trip either way.
_SEEN = "EXISTS (SELECT 1 FROM passed)"
_CLAIM_UNLESS_PASSED = (
    f"WITH passed AS ({PASSED_SQL}), "
    f"claim AS (INSERT INTO {TABLE} ({', '.join(COLUMNS)}) "
    "SELECT %s, %s, "
    + ", ".join(f"CASE WHEN {_SEEN} THEN %s ELSE %s END" for _ in ("state", "allowed"))
    + ", %s, %s, "
    + f"CASE WHEN {_SEEN} THEN %s ELSE %s END, %s, %s "
    "ON CONFLICT (token_digest) DO NOTHING RETURNING id) "
    "SELECT (SELECT id FROM claim), passed.* FROM (SELECT 1) AS one LEFT JOIN passed ON TRUE"
)


def _claim_unless_passed_params(att: Attempt) -> list[Any]:
    """The claim's values for ``_CLAIM_UNLESS_PASSED``: each that differs between a claim
    seen with a pass and a pending one given twice, in that order."""
    seen = dict(zip(COLUMNS, _sql_values(att, row_for(att, _SEEN_OUTCOME)), strict=True))
    pending = dict(zip(COLUMNS, _sql_values(att, row_for(att)), strict=True))
    return [
        *(pending[name] for name in ("token_digest", "scope_key")),
        *(value for name in ("state", "allowed") for value in (seen[name], pending[name])),
        *(pending[name] for name in ("degraded", "failure_class")),
        seen["code"],
        pending["code"],
        *(pending[name] for name in ("created_at", "expires_at")),
    ]


@dataclass(frozen=True)
class Claim:
    """``ours``: the claim is ours. Else ``row`` is someone's claim, or ``None`` when the
    ledger is unreachable (we go on without it). ``passed``: the scope's pass answered
    first (``claim_unless_passed`` only), and the token was claimed as seen with it."""

    ours: bool
    row: dict[str, Any] | None = None
    passed: Checkpoint | None = None


#: How often a claim met, then gone before it could be read, is tried again.
_CLAIM_TRIES = 3


def claim_unless_passed(att: Attempt) -> Claim:
    """The fast path and the claim at once (PostgreSQL)."""
    try:
        with connections[att.db].cursor() as cursor:
            # (1+2) the fast path and the claim: one statement.
            params = [*passed_params(att.db, att.scope.key), *_claim_unless_passed_params(att)]
            cursor.execute(_CLAIM_UNLESS_PASSED, params)
            claim_id, *checkpoint = cursor.fetchone()
        if checkpoint[0] is not None:
            # ``ours``: the token was claimed as seen with the pass (a new ledger row).
            return Claim(ours=claim_id is not None, passed=from_values(att.db, checkpoint))
        if claim_id is not None:
            return Claim(ours=True)
        row = read(att)
    except DatabaseError as exc:
        return _unreachable(att, exc)
    # Met a claim that was released before we could read it: claim again.
    return Claim(ours=False, row=row) if row is not None else claim(att, "postgresql")


def claim(att: Attempt, strategy: str) -> Claim:
    """Claim the token: one insert that may conflict.

    A claim met but gone before it could be read was released (its provider call
    gave no verdict): the insert is tried again, so the provider is never asked
    without a claim while the ledger answers.
    """
    try:
        for _ in range(_CLAIM_TRIES):
            if _insert(att, strategy):
                return Claim(ours=True)
            row = read(att)
            if row is not None:
                return Claim(ours=False, row=row)
    except DatabaseError as exc:
        return _unreachable(att, exc)
    # Claimed and released over and over under our feet: treat it as a claim in flight.
    return Claim(ours=False, row={"scope_key": att.scope.key, "state": "busy"})


def _insert(att: Attempt, strategy: str, outcome: Outcome | None = None) -> bool:
    row = row_for(att, outcome)
    if strategy == "portable":
        try:
            with transaction.atomic(using=att.db):
                PassToken.objects.using(att.db).create(**row)
            return True
        except IntegrityError:
            return False
    with connections[att.db].cursor() as cursor:
        # (2) the claim: one insert that may conflict.
        cursor.execute(
            f"INSERT INTO {TABLE} ({', '.join(COLUMNS)}) "
            f"VALUES ({', '.join(['%s'] * len(COLUMNS))}) "
            "ON CONFLICT (token_digest) DO NOTHING RETURNING id",
            _sql_values(att, row),
        )
        return cursor.fetchone() is not None


def claim_seen(att: Attempt, strategy: str) -> bool:
    """Claim a token that a request riding a pass showed, for that request's scope.

    The provider is not asked (the pass answered), but the site has seen the token:
    anywhere else it is a replay, and here it is spent. Finished at once, so no
    answer of :func:`answer` ever lets it through. An existing claim is left as it is.
    True if this made a new claim (a new ledger row).
    """
    try:
        return _insert(att, strategy, _SEEN_OUTCOME)
    except DatabaseError as exc:
        logger.warning(
            "could not claim a token shown with a pass (%s) request_id=%s",
            type(exc).__name__,
            att.request_id,
        )
        return False


def unclaim_seen(att: Attempt) -> None:
    """Take back the claim just made as seen with a pass, when the request that showed
    the token is refused after all (its budget is spent): nothing is kept for it."""
    try:
        PassToken.objects.using(att.db).filter(
            token_digest=att.digest, scope_key=att.scope.key, code=SEEN_WITH_PASS
        ).delete()
    except DatabaseError as exc:
        logger.warning("could not take back a claim (%s)", type(exc).__name__)


def _unreachable(att: Attempt, exc: Exception) -> Claim:
    logger.warning(
        "replay ledger unavailable (%s); verifying without a claim request_id=%s",
        type(exc).__name__,
        att.request_id,
    )
    return Claim(ours=False)


def read(att: Attempt) -> dict[str, Any] | None:
    claimed = PassToken.objects.using(att.db).filter(token_digest=att.digest)
    row: dict[str, Any] | None = claimed.values(*_READ).first()
    return row


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


def await_claim(att: Attempt, row: dict[str, Any]) -> dict[str, Any]:
    """Wait (bounded by the provider timeout plus the claim margin) for the worker
    validating this very token to finish; ``state == "released"`` if it let go."""
    deadline_in = float(app_settings.TIMEOUT) + float(app_settings.CLAIM_MARGIN)
    age = (timezone.now() - aware(row["created_at"], att.db)).total_seconds()
    deadline = time.monotonic() + max(0.0, deadline_in - age)
    delay = 0.005
    while row["state"] == ClaimState.PENDING and time.monotonic() < deadline:
        with _inflight_lock:
            event = _inflight.get(att.digest)
        if event is not None:
            event.wait(delay)
        else:
            time.sleep(delay)  # another process holds the claim: poll the ledger
        delay = min(delay * 2, 0.1)
        fresh = read(att)
        if fresh is None:  # the claim was released: claim it again
            return {**row, "state": "released"}
        row = fresh
    return row


def take_over(att: Attempt, row: dict[str, Any]) -> bool:
    """Take a claim abandoned for ``CAPTCHALA_CLAIM_ABANDONED_AFTER`` seconds by a worker
    that died; True if it is now ours."""
    try:
        created = aware(row["created_at"], att.db)
        if (timezone.now() - created).total_seconds() < float(app_settings.CLAIM_ABANDONED_AFTER):
            return False  # still a live worker's: never send the token twice
        return bool(
            PassToken.objects.using(att.db)
            .filter(id=row["id"], state=ClaimState.PENDING, created_at=row["created_at"])
            .update(created_at=timezone.now())
        )
    except DatabaseError:
        return False


# --------------------------------------------------------------------------- answers


@dataclass(frozen=True)
class Answer:
    """What a finished claim of this scope says about a resubmitted token.

    ``kind``: ``"write"`` (a valid verdict whose write failed: write it now),
    ``"note"`` (answer ``outcome`` and record it as an event), or ``"replay"``
    (refuse with ``code``).
    """

    kind: str
    outcome: Outcome | None = None
    code: str = ""


def answer(att: Attempt, row: dict[str, Any]) -> Answer:
    """Within the retry window a resubmission is answered as an idempotent retry:
    a denial is repeated; a valid verdict whose write failed is written now (for
    a one-submission front door only if that submission was not let through);
    a pass is answered only while the checkpoint still holds it, and only at a
    checkpoint front door. Anything else is a replay: refused, no provider call.
    """
    if row["scope_key"] != att.claim_key:
        # Finished for another scope while we waited (a client without a session
        # that passed got its own session scope): never an answer for this one.
        return Answer("replay", code=Code.TOKEN_REPLAYED)
    age = (timezone.now() - aware(row["created_at"], att.db)).total_seconds()
    in_window = age <= retry_window()
    stored = FailureClass(row["failure_class"]) if row["failure_class"] else None
    if in_window and stored == FailureClass.PERSISTENCE:
        # A client without a session shares its anonymous scope with every other such
        # client: nothing ties a resubmission to the one that solved the check, so the
        # unwritten pass is never written for it (a replayed token stays a replay).
        if att.scope.anonymous:
            return Answer("replay", code=Code.TOKEN_REUSED)
        if att.reuse or not row["allowed"]:
            return Answer("write")
    elif in_window and not row["allowed"]:
        denied = Outcome(allowed=False, failure_class=stored, code=row["code"], from_ledger=True)
        return Answer("note", denied)
    elif in_window and att.reuse and stored is None:
        passed = fetch_passed(att.db, att.scope.key)
        if passed is not None and passed.token_digest == att.digest:
            retry = Outcome(
                allowed=True, checkpoint=passed, code=Code.LEDGER_RETRY, from_ledger=True
            )
            return Answer("note", retry)
    return Answer("replay", code=Code.TOKEN_REUSED)


# --------------------------------------------------------------------------- finishing


def finish_sql(att: Attempt, outcome: Outcome) -> tuple[str, list[Any]]:
    """Finish our claim with ``outcome`` (an upsert, so a claim the ledger could not take
    is written now) or release it: one statement, for the SQL write dialects."""
    if att.release:
        return (
            f"DELETE FROM {TABLE} WHERE token_digest = %s AND scope_key = %s AND state = %s",
            [att.digest, att.claim_key, ClaimState.PENDING.value],
        )
    sets = ", ".join(f"{name} = excluded.{name}" for name in FINISH)
    sql = (
        f"INSERT INTO {TABLE} AS p ({', '.join(COLUMNS)}) "
        f"VALUES ({', '.join(['%s'] * len(COLUMNS))}) "
        f"ON CONFLICT (token_digest) DO UPDATE SET {sets} WHERE p.scope_key = %s"
    )
    return sql, [*_sql_values(att, row_for(att, outcome)), att.claim_key]


def finish_orm(att: Attempt, outcome: Outcome) -> None:
    """The same as :func:`finish_sql` through the ORM (portable writer, after a failed write)."""
    tokens = PassToken.objects.using(att.db)
    claimed = tokens.filter(token_digest=att.digest, scope_key=att.claim_key)
    if att.release:
        claimed.filter(state=ClaimState.PENDING).delete()
        return
    row = row_for(att, outcome)
    finished = claimed.update(**{name: row[name] for name in FINISH})
    if not finished and not tokens.filter(token_digest=att.digest).exists():
        tokens.create(**row)


def settle_after_failure(att: Attempt, outcome: Outcome) -> None:
    """After the checkpoint write failed, finish or release the claim on its own (best
    effort): a retry within the window then gets the answer without a provider call.
    If even this fails, the claim is taken over once abandoned."""
    if not (att.digest and att.owns_claim):
        return
    try:
        finish_orm(att, outcome)
    except DatabaseError as exc:
        logger.warning("could not record the answer on the ledger (%s)", type(exc).__name__)
