"""Tokens shown on a request that a pass let through: claimed for that request's scope,
within the client's validate budget (DESIGN §8: a token the site has seen belongs to
the scope that showed it)."""

from __future__ import annotations

from django.db import DatabaseError
from django.http import HttpRequest

from .. import budgets
from ..exceptions import ConfigurationError
from ..scopes import ScopeArg
from ..tokens import token_format_error
from . import ledger, telemetry
from .attempt import Attempt, token_digest
from .lookup import fetch_passed
from .outcome import RATE_LIMITED
from .write import strategy

#: Scope kinds whose pass is bound to one client (its session, its user), not to what
#: it shares with others (an address) or to what a resolver says.
OWN_PASS_KINDS = frozenset({"session", "user"})
#: Tokens of one request riding a pass that are claimed as seen with it.
MAX_SHOWN = 4


def holds_own_pass(att: Attempt) -> bool:
    """Whether the client holds a live pass bound to it (then its address's validate
    budget does not apply: a neighbour's flood must not block it)."""
    if att.scope.kind not in OWN_PASS_KINDS or att.scope.anonymous:
        return False
    try:
        return fetch_passed(att.db, att.scope.key) is not None
    except DatabaseError:
        return False


def seen_within_budget(att: Attempt, dialect: str, inserted: bool | None = None) -> bool:
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
            if not seen_within_budget(att, dialect):
                telemetry.log(att, RATE_LIMITED)
                return False
    except (DatabaseError, ConfigurationError) as exc:
        telemetry.logger.warning("could not claim a token shown with a pass (%s)", exc)
    return True
