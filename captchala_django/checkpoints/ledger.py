"""The replay ledger: one row per pass token ever seen (by digest), claimed before the
provider is asked.

Claiming is one insert that may conflict; :func:`claim` returns a typed
:class:`Claim` saying what the ledger holds, and :mod:`.answers` turns it into
the next step. The claim is finished with the outcome by the writer, or
released when the provider gave no verdict (:func:`settlement`), so that a
retry asks the provider again.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import DatabaseError, IntegrityError, connections, transaction
from django.utils import timezone

from ..codes import Code
from ..conf import app_settings
from ..models import Checkpoint, ClaimState, FailureClass, PassToken
from . import rows
from .attempt import Attempt
from .lookup import PASSED_SQL, from_values, passed_params
from .outcome import Outcome

logger = logging.getLogger("captchala_django.checkpoints")

_READ = ("id", "scope_key", "state", "allowed", "degraded", "failure_class", "code", "created_at")


class Held(enum.Enum):
    """What the ledger holds for a token, as one claim attempt found it."""

    #: Nothing of ours: no token to claim, or (with a pass that answered) a claim
    #: already made for it, left as it is.
    NOTHING = "nothing"
    #: The claim is ours: ask the provider; the write finishes or releases it.
    OURS = "ours"
    #: The ledger could not be reached: ask the provider; the write records the claim.
    UNREACHABLE = "unreachable"
    #: Another worker's claim, its provider call in flight.
    PENDING = "pending"
    #: A finished claim: it answers (:mod:`.answers`).
    DONE = "done"
    #: A claim met, then let go before it could be read (its call gave no verdict).
    RELEASED = "released"
    #: Claimed and released over and over under our feet: treated as in flight.
    BUSY = "busy"


@dataclass(frozen=True)
class LedgerRow:
    """A claim as stored."""

    id: int
    scope_key: str
    state: ClaimState
    allowed: bool | None
    failure_class: FailureClass | None
    code: str
    created_at: datetime

    @classmethod
    def of(cls, values: dict[str, Any]) -> LedgerRow:
        return cls(
            id=values["id"],
            scope_key=values["scope_key"],
            state=ClaimState(values["state"]),
            allowed=values["allowed"],
            failure_class=FailureClass(values["failure_class"])
            if values["failure_class"]
            else None,
            code=values["code"],
            created_at=values["created_at"],
        )


@dataclass(frozen=True)
class Claim:
    """One claim attempt's result. ``key``: the scope the claim is made for (the check's
    scope may later become a session's). ``row``: someone's claim (``PENDING``/``DONE``).
    ``passed``: the scope's pass answered first (PostgreSQL's combined statement), and
    the token was claimed as seen with it, a new ledger row when ``held`` is ``OURS``."""

    held: Held
    key: str = ""
    row: LedgerRow | None = None
    passed: Checkpoint | None = None

    @property
    def owned(self) -> bool:
        """Whether this check writes the claim (finishes or releases it)."""
        return self.held in (Held.OURS, Held.UNREACHABLE)

    @property
    def others_scope(self) -> bool:
        return self.row is not None and self.row.scope_key != self.key


#: No claim: nothing will be written to the ledger.
NO_CLAIM = Claim(Held.NOTHING)


class Settle(enum.Enum):
    """What the write does with an owned claim."""

    FINISH = "finish"
    RELEASE = "release"
    NOTHING = "nothing"


#: Denials for want of a verdict: the claim is released so that a retry asks again.
_NO_VERDICT = frozenset(
    {
        FailureClass.TIMEOUT,
        FailureClass.PROVIDER,
        FailureClass.CONFIGURATION,
        FailureClass.RATE_LIMITED,
    }
)


def settlement(claim: Claim, outcome: Outcome) -> Settle:
    """Finish an owned claim with the outcome, or release it when the token was never
    judged (the provider gave no verdict, or the budget refused the call) and the
    request was denied; a fail-open answer finishes it (the token bought its one
    submission)."""
    if not claim.owned:
        return Settle.NOTHING
    unjudged = outcome.result is None and outcome.failure_class in _NO_VERDICT
    return Settle.RELEASE if unjudged and not outcome.allowed else Settle.FINISH


def retry_window() -> float:
    """Seconds after its claim that a resubmitted token is answered as a retry
    (``CAPTCHALA_RETRY_WINDOW``, default: the provider timeout plus 5 s)."""
    window = app_settings.RETRY_WINDOW
    if window is None:
        return float(app_settings.TIMEOUT) + 5.0
    return float(window)


def _sql_values(att: Attempt, row: dict[str, Any]) -> list[Any]:
    return rows.params(PassToken, rows.LEDGER_COLUMNS, row, att.db)


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
    f"claim AS (INSERT INTO {rows.LEDGER_TABLE} ({', '.join(rows.LEDGER_COLUMNS)}) "
    "SELECT "
    + ", ".join(
        f"CASE WHEN {_SEEN} THEN %s ELSE %s END" if name in ("state", "allowed", "code") else "%s"
        for name in rows.LEDGER_COLUMNS
    )
    + " ON CONFLICT (token_digest) DO NOTHING RETURNING id) "
    "SELECT (SELECT id FROM claim), passed.* FROM (SELECT 1) AS one LEFT JOIN passed ON TRUE"
)


def _claim_unless_passed_params(att: Attempt) -> list[Any]:
    """The claim's values for ``_CLAIM_UNLESS_PASSED``: a value that differs between a
    claim seen with a pass and a pending one is given twice, seen first."""
    seen = _sql_values(att, rows.ledger_row(att, _SEEN_OUTCOME))
    pending = _sql_values(att, rows.ledger_row(att))
    out: list[Any] = []
    for name, s, p in zip(rows.LEDGER_COLUMNS, seen, pending, strict=True):
        out += [s, p] if name in ("state", "allowed", "code") else [p]
    return out


#: How often a claim met, then gone before it could be read, is tried again.
_CLAIM_TRIES = 3


def claim_unless_passed(att: Attempt) -> Claim:
    """The fast path and the claim at once (PostgreSQL)."""
    key = att.scope.key
    try:
        with connections[att.db].cursor() as cursor:
            # (1+2) the fast path and the claim: one statement.
            params = [*passed_params(att.db, key), *_claim_unless_passed_params(att)]
            cursor.execute(_CLAIM_UNLESS_PASSED, params)
            claim_id, *checkpoint = cursor.fetchone()
        if checkpoint[0] is not None:
            # A claim already made for the token is left as it is (not read).
            held = Held.OURS if claim_id is not None else Held.NOTHING
            return Claim(held, key, passed=from_values(att.db, checkpoint))
        if claim_id is not None:
            return Claim(Held.OURS, key)
        row = read(att)
    except DatabaseError as exc:
        return _unreachable(att, exc)
    # Met a claim that was released before we could read it: claim again.
    return met(key, row) if row is not None else claim(att, "postgresql")


def claim(att: Attempt, strategy: str) -> Claim:
    """Claim the token: one insert that may conflict.

    A claim met but gone before it could be read was released (its provider call
    gave no verdict): the insert is tried again, so the provider is never asked
    without a claim while the ledger answers.
    """
    key = att.scope.key
    try:
        for _ in range(_CLAIM_TRIES):
            if _insert(att, strategy):
                return Claim(Held.OURS, key)
            row = read(att)
            if row is not None:
                return met(key, row)
    except DatabaseError as exc:
        return _unreachable(att, exc)
    return Claim(Held.BUSY, key)


def met(key: str, row: LedgerRow) -> Claim:
    held = Held.DONE if row.state == ClaimState.DONE else Held.PENDING
    return Claim(held, key, row)


def _insert(att: Attempt, strategy: str, outcome: Outcome | None = None) -> bool:
    row = rows.ledger_row(att, outcome)
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
            f"INSERT INTO {rows.LEDGER_TABLE} ({', '.join(rows.LEDGER_COLUMNS)}) "
            f"VALUES ({', '.join(['%s'] * len(rows.LEDGER_COLUMNS))}) "
            "ON CONFLICT (token_digest) DO NOTHING RETURNING id",
            _sql_values(att, row),
        )
        return cursor.fetchone() is not None


def claim_seen(att: Attempt, strategy: str) -> bool:
    """Claim a token that a request riding a pass showed, for that request's scope.

    The provider is not asked (the pass answered), but the site has seen the token:
    anywhere else it is a replay, and here it is spent. Finished at once, so no
    answer of :mod:`.answers` ever lets it through. An existing claim is left as it
    is. True if this made a new claim (a new ledger row).
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
    return Claim(Held.UNREACHABLE, att.scope.key)


def read(att: Attempt) -> LedgerRow | None:
    claimed = PassToken.objects.using(att.db).filter(token_digest=att.digest)
    values = claimed.values(*_READ).first()
    return None if values is None else LedgerRow.of(values)


def retake(att: Attempt, claim: Claim) -> Claim | None:
    """Take back a finished claim whose valid verdict could not be written, to write it
    now: one compare-and-set, so that of several resubmissions at once exactly one
    writes it (the others wait for it, then get the answer it leaves). The claim is
    pending again, as a fresh one (a worker that dies now leaves it to take over)."""
    row = claim.row
    assert row is not None
    try:
        taken = (
            PassToken.objects.using(att.db)
            .filter(
                id=row.id,
                state=ClaimState.DONE,
                failure_class=FailureClass.PERSISTENCE,
                code=Code.OK,  # a valid verdict, never a refusal of the same class
                created_at=row.created_at,
            )
            .update(state=ClaimState.PENDING, created_at=timezone.now())
        )
    except DatabaseError:
        return None
    return Claim(Held.OURS, claim.key) if taken else None


def reread(att: Attempt, key: str) -> Claim:
    """The claim as it stands now (after another worker changed it under us); ``BUSY``
    if the ledger cannot say: the token was judged already, so it is never sent again."""
    try:
        row = read(att)
    except DatabaseError:
        return Claim(Held.BUSY, key)
    return met(key, row) if row is not None else Claim(Held.RELEASED, key)


# --------------------------------------------------------------------------- settling


def finish_sql(att: Attempt, claim: Claim, outcome: Outcome) -> tuple[str, list[Any]] | None:
    """Settle our claim in one statement (the SQL write dialects): finish it with
    ``outcome`` (an upsert, so a claim the ledger could not take is written now), release
    it, or nothing."""
    settle = settlement(claim, outcome)
    if settle is Settle.NOTHING:
        return None
    if settle is Settle.RELEASE:
        return (
            f"DELETE FROM {rows.LEDGER_TABLE} "
            "WHERE token_digest = %s AND scope_key = %s AND state = %s",
            [att.digest, claim.key, ClaimState.PENDING.value],
        )
    finished = rows.ledger_row(att, outcome)
    if claim.held is Held.OURS:
        # Our claim is there: finish it in place (fewer values to send than the upsert).
        values = rows.params(PassToken, rows.LEDGER_FINISH, finished, att.db)
        return _FINISH_OURS, [*values, att.digest, claim.key]
    return _FINISH_ANY, [*_sql_values(att, finished), claim.key]


_FINISH_OURS = (
    f"UPDATE {rows.LEDGER_TABLE} SET "
    + ", ".join(f"{name} = %s" for name in rows.LEDGER_FINISH)
    + " WHERE token_digest = %s AND scope_key = %s"
)
#: A claim the ledger could not take is written now; one another scope holds is left.
_FINISH_ANY = (
    f"INSERT INTO {rows.LEDGER_TABLE} AS p ({', '.join(rows.LEDGER_COLUMNS)}) "
    f"VALUES ({', '.join(['%s'] * len(rows.LEDGER_COLUMNS))}) "
    f"ON CONFLICT (token_digest) DO UPDATE SET "
    + ", ".join(f"{name} = excluded.{name}" for name in rows.LEDGER_FINISH)
    + " WHERE p.scope_key = %s"
)


def finish_orm(att: Attempt, claim: Claim, outcome: Outcome) -> None:
    """The same as :func:`finish_sql` through the ORM (portable writer, after a failed write)."""
    settle = settlement(claim, outcome)
    if settle is Settle.NOTHING:
        return
    tokens = PassToken.objects.using(att.db)
    claimed = tokens.filter(token_digest=att.digest, scope_key=claim.key)
    if settle is Settle.RELEASE:
        claimed.filter(state=ClaimState.PENDING).delete()
        return
    row = rows.ledger_row(att, outcome)
    finished = claimed.update(**{name: row[name] for name in rows.LEDGER_FINISH})
    if not finished and not tokens.filter(token_digest=att.digest).exists():
        tokens.create(**row)


def settle_after_failure(att: Attempt, claim: Claim, outcome: Outcome) -> None:
    """After the checkpoint write failed, finish or release the claim on its own (best
    effort): a retry within the window then gets the answer without a provider call.
    If even this fails, the claim is taken over once abandoned."""
    if not att.digest:
        return
    try:
        finish_orm(att, claim, outcome)
    except DatabaseError as exc:
        logger.warning("could not record the answer on the ledger (%s)", type(exc).__name__)
